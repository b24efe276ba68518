import pytest
import torch

from memlab.models import build_model
from memlab.tasks import make_task


@pytest.fixture
def tiny_copy_scores():
    """Train a small ``model`` on 4-bit NTM copy of lengths 1–5 (Adam, batches of 16) and return
    its scores on 64 fresh sequences of length 5: after ``steps`` batches, and if those scores are
    not yet clean (bit errors >= 0.1), every 250 batches after that up to ``max_steps`` (a change
    of float32 rounding in a kernel can delay an otherwise healthy run; a broken one never gets there)."""

    def run(model_name: str, steps: int = 750, max_steps: int = 2000) -> dict:
        torch.manual_seed(0)
        task = make_task("ntm-copy", {"width": 4, "train_min": 1, "train_max": 5, "test_min": 6, "test_max": 8})
        model = build_model(model_name, task.spec, "ntm-copy", {"controller_size": 32, "memory_size": 12, "word_size": 6})
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(0)
        test = task.sample(64, 5, torch.Generator().manual_seed(123))
        for step in range(1, max_steps + 1):
            batch = task.sample_range(16, 1, 5, g)
            loss = task.loss(model(batch), batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            if step >= steps and (step - steps) % 250 == 0:
                with torch.no_grad():
                    scores = task.score(model(test), test).as_dict()
                if scores["bit_errors"] < 0.1:
                    break
        return {**scores, "steps": step}

    return run

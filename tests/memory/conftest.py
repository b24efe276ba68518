import pytest
import torch

from memlab.models import build_model
from memlab.tasks import make_task


@pytest.fixture
def tiny_copy_scores():
    """Train a small ``model`` on 4-bit NTM copy of lengths 1–5 (Adam, 750 batches of 16) and
    return its scores on 64 fresh sequences of length 5."""

    def run(model_name: str, steps: int = 750) -> dict:
        torch.manual_seed(0)
        task = make_task("ntm-copy", {"width": 4, "train_min": 1, "train_max": 5, "test_min": 6, "test_max": 8})
        model = build_model(model_name, task.spec, "ntm-copy", {"controller_size": 32, "memory_size": 12, "word_size": 6})
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(0)
        for _ in range(steps):
            batch = task.sample_range(16, 1, 5, g)
            loss = task.loss(model(batch), batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
        with torch.no_grad():
            batch = task.sample(64, 5, torch.Generator().manual_seed(123))
            return task.score(model(batch), batch).as_dict()

    return run

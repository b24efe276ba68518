import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.evaluation.evaluate import evaluate_model, parse_lengths, parse_scales
from memlab.models.base import SequenceModel
from memlab.tasks import make_task


class Oracle(SequenceModel):
    """Emits the right answer, except for the <e> of sequences longer than ``wrong_above``."""

    def __init__(self, task, wrong_above=10**9):
        super().__init__()
        self.task, self.wrong_above = task, wrong_above
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, batch):
        out = torch.nn.functional.one_hot(batch.targets, self.task.spec.n_tokens).float()
        for b in range(batch.targets.shape[1]):
            if batch.lengths[b] > self.wrong_above:
                last = int(batch.seq_len[b]) - 1
                out[last, b] = torch.roll(out[last, b], 1)
        return out


def test_scales_lengths_and_scores():
    task = make_task("copy", {"vocab": 8, "train_min": 2, "train_max": 10})
    recs = evaluate_model(Oracle(task, wrong_above=10), task, [1, 2, 3], batches=3, batch_size=8, seed=1)
    assert [r["lengths"] for r in recs] == [[2, 10], [11, 20], [21, 30]]
    assert recs[0]["fine"] == 1.0 and recs[0]["coarse"] == 1.0
    # at 2x every sequence misses exactly its <e>: coarse 0, fine = 1 - 1/(k+1) averaged over symbols
    assert recs[1]["coarse"] == 0.0
    assert recs[1]["fine"] == pytest.approx(1 - recs[1]["n_sequences"] / recs[1]["n_symbols"])
    assert all(r["n_sequences"] == 24 for r in recs)
    again = evaluate_model(Oracle(task, wrong_above=10), task, [2], batches=3, batch_size=8, seed=1)
    assert again[0]["n_symbols"] == recs[1]["n_symbols"]  # same seed, same problems


def test_parse_scales_errors():
    assert parse_scales("1, 2,8") == [1, 2, 8]
    with pytest.raises(ConfigError, match="scale=0"):
        parse_scales("0")
    with pytest.raises(ConfigError, match="not an integer"):
        parse_scales("1,x")


def test_parse_lengths_says_what_is_wrong():
    """An integer out of range is named as such (it was called 'not an integer'); text that is no
    integer or range is named as that."""
    assert parse_lengths("20, 40,1-10") == [20, 40, "1-10"]
    for bad in ("0", "5-3", "0-4", "100001"):
        with pytest.raises(ConfigError, match=rf"length '?{bad}'? is out of range; allowed: 1 <= lo <= hi <= 100000"):
            parse_lengths(bad)
    for bad in ("x", "-3", "1e9", "2-"):
        with pytest.raises(ConfigError, match=rf"length '{bad}' is not an integer or lo-hi range"):
            parse_lengths(bad)


def test_a_memory_too_big_to_evaluate_is_one_line_before_allocating():
    """The memory's state counts in the size check of an evaluation: 10⁷ slots of 1000 are 40 GB
    an example, which the model holds only once a batch runs, and none does."""
    from memlab.evaluation.evaluate import evaluate
    from memlab.models import build_model

    task = make_task("copy", {"train_min": 1, "train_max": 4, "test_min": 5, "test_max": 8})
    model = build_model("ntm", task.spec, "copy", {"controller_size": 8, "memory_size": 10**7, "word_size": 1000})
    with pytest.raises(ConfigError, match=r"a batch of 4 copy examples of length 4 needs about .* GiB") as e:
        evaluate(model, task, scales=[1, 2], batches=1, batch_size=4)
    assert "\n" not in str(e.value)

"""Task lengths are bounded and batch memory is checked before sampling."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.tasks import TASKS, make_task
from memlab.tasks.base import MAX_LENGTH


@pytest.mark.parametrize("key", ["train_min", "train_max", "test_min", "test_max"])
@pytest.mark.parametrize("value", [0, MAX_LENGTH + 1, "nan", 10**30])
def test_length_settings_are_bounded(key, value):
    cfg = {"train_min": 2, "train_max": 4, "test_min": 5, "test_max": 8, key: value}
    with pytest.raises(ConfigError, match=f"task.{key}"):
        make_task("copy", cfg)


def test_sampling_beyond_the_bound_is_refused():
    task = make_task("copy", {"train_min": 2, "train_max": 4})
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ConfigError, match="out of range"):
        task.sample(2, MAX_LENGTH + 1, g)
    with pytest.raises(ConfigError, match="out of range"):
        task.sample_range(2, 1, MAX_LENGTH + 1, g)
    with pytest.raises(ConfigError, match="scale=100000 is out of range for copy"):
        task.scale_range(100_000)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_max_steps_bounds_every_task_sequence(name):
    task = make_task(name)
    lo, hi = task.test_range
    batch = task.sample_range(16, lo, hi, torch.Generator().manual_seed(1))
    assert int(batch.seq_len.max()) <= task.max_steps(int(batch.lengths.max()))
    assert batch.inputs.shape[0] <= task.max_steps(hi)


def test_check_batch_refuses_what_cannot_fit():
    task = make_task("ntm-copy")
    task.check_batch(32, 20)
    with pytest.raises(ConfigError, match="needs about .* GiB"):
        task.check_batch(10**9, 20)
    with pytest.raises(ConfigError, match="batch_size"):
        task.check_batch(0, 20)

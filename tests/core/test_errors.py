"""Numeric checks reject NaN and ±inf; memory checks refuse what cannot be allocated."""

import math

import pytest

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError, check_alloc, check_finite, check_range


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_check_range_rejects_non_finite(bad):
    with pytest.raises(ConfigError, match="x=.* finite"):
        check_range("x", bad, 0)
    with pytest.raises(ConfigError, match="finite"):
        check_range("x", bad)  # even with no bounds at all
    with pytest.raises(ConfigError):
        check_finite("x", bad)


def test_check_range_bounds_and_types():
    check_range("x", 0.5, 0, 1)
    with pytest.raises(ConfigError, match=r"x=0 is out of range; allowed: > 0"):
        check_range("x", 0, 0, lo_open=True)
    with pytest.raises(ConfigError, match="wrong type"):
        check_range("x", "1", 0)


def test_check_alloc():
    check_alloc("small", 1024)
    with pytest.raises(ConfigError, match=r"big needs about 1\.86e\+09 GiB .* available; lower it"):
        check_alloc("big", 2e18, hint="lower it")
    with pytest.raises(ConfigError, match="needs about 2 GiB of memory but only 1 GiB"):
        check_alloc("x", 2 * 2**30, limit=2**30)


def test_config_coercion_rejects_nan_inf_and_huge_ints():
    from memlab.training.config import TrainConfig

    for key, value in [("clip_norm", "nan"), ("lr", "inf"), ("lr", "1e400"), ("max_time_s", "nan"),
                       ("target_coarse", "nan"), ("lr", float("nan")), ("lr", 10**400)]:
        with pytest.raises(ConfigError, match=f"train.{key}"):
            from_dict(TrainConfig, {key: value}, prefix="train.")
    with pytest.raises(ConfigError, match="train.batch_size=.*2\\*\\*63"):
        from_dict(TrainConfig, {"batch_size": str(2**70)}, prefix="train.")
    with pytest.raises(ConfigError, match="train.min_lr=-1.0 is out of range"):
        from_dict(TrainConfig, {"min_lr": -1}, prefix="train.")
    with pytest.raises(ConfigError, match="must be a mapping"):
        from_dict(TrainConfig, [1, 2], prefix="train.")


def test_taskspec_lives_in_core_and_is_reexported():
    from memlab.core.interfaces import TaskSpec
    from memlab.tasks import TaskSpec as T2
    from memlab.tasks.base import TaskSpec as T3

    assert TaskSpec is T2 is T3


def test_seeds_and_threads_are_checked(monkeypatch):
    from memlab.core.runtime import check_seed, seed_everything, set_threads

    assert check_seed(2**63 - 1) == 2**63 - 1
    for bad in (-1, 2**64, 1.5, True):
        with pytest.raises(ConfigError, match="seed"):
            check_seed(bad)
    with pytest.raises(ConfigError, match="seed=18446744073709551616"):
        seed_everything(2**64)
    with pytest.raises(ConfigError, match="threads=0"):
        set_threads(0)
    monkeypatch.setenv("MEMLAB_THREADS", "lots")
    with pytest.raises(ConfigError, match="not an integer"):
        set_threads()

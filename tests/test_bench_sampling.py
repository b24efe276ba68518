"""The stack-step benchmark's per-length batches: lengths spread evenly over the range, so a few
batches carry the range's mean length (what seq/s depends on), whatever the seed."""

import importlib.util

from memlab.commands.listing import benchmarks_dir


def _stack_step():
    spec = importlib.util.spec_from_file_location("stack_step", benchmarks_dir() / "stack_step.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stratified_lengths_cover_the_range_with_its_mean():
    sl = _stack_step().stratified_lengths
    assert sl(6) == [4, 11, 17, 24, 31, 37]
    for n in (1, 2, 6, 8, 40):
        ls = sl(n)
        assert len(ls) == n and ls == sorted(ls) and 1 <= ls[0] and ls[-1] <= 40
        assert abs(sum(ls) / n - 20.5) <= 0.5  # uniform over 1..40 has mean 20.5
    assert sl(40) == list(range(1, 41))

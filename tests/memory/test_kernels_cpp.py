"""The C++ kernel loader (memlab/memory/kernels/cpp.py): the switch, and a failed build falls
back with one warning instead of raising. The kernels themselves are tested against their
references in each memory's test file."""

from __future__ import annotations

import warnings

import pytest

from memlab.memory.kernels import cpp


def test_disabled_by_env(monkeypatch):
    monkeypatch.setenv("MEMLAB_NO_CPP", "1")
    assert cpp.disabled() and cpp.ops() is None and not cpp.has("anything")
    monkeypatch.setenv("MEMLAB_NO_CPP", "0")
    assert not cpp.disabled()


def test_failed_build_warns_once_and_returns_none(tmp_path):
    bad = tmp_path / "broken.cpp"
    bad.write_text('#error "this source does not compile"\n')
    with pytest.warns(RuntimeWarning, match="could not be built"):
        assert cpp.build([bad], prefix="memlab_broken_test") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cached: no second build, no second warning
        assert cpp.build([bad], prefix="memlab_broken_test") is None


def test_no_sources_is_none():
    assert cpp.build([]) is None


def test_kernels_build_where_a_compiler_exists(monkeypatch):
    """The C++ kernel tests skip where the library cannot be built; so where a C++ compiler and
    ninja exist (this machine, CI), a failed build is a failure here rather than a silent skip."""
    import shutil
    import sys
    from pathlib import Path

    monkeypatch.delenv("MEMLAB_NO_CPP", raising=False)
    ninja = shutil.which("ninja") or shutil.which("ninja", path=str(Path(sys.executable).parent))
    if not (shutil.which("c++") or shutil.which("g++")) or not ninja:
        pytest.skip("no C++ compiler or ninja here: the kernels run their Python loops")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the loader's build-failure warning
        lib = cpp.ops()
    assert lib is not None and all(cpp.has(op) for op in ("ntm_scan_fwd", "dnc_scan_forward", "lantm_tr_forward"))

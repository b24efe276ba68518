"""The fused kernels' loops in C++: optional, built once on first use.

Why. A fused kernel's Python loop issues a few hundred small ATen calls per time step, and at
the sizes of the seed-004 and NTM tasks Python's share of each call dominates the arithmetic
(issue 14's profiles). The same loops written in C++ against ATen, or as plain loops over the
data where one pass can replace several (the DNC's link matrix), remove that share.

How. Every ``csrc/*.cpp`` beside this file registers its functions as operators of the
``memlab`` namespace (``TORCH_LIBRARY_FRAGMENT(memlab, m)``). ``ops()`` compiles them all into
one library with ``torch.utils.cpp_extension.load`` the first time a kernel asks (tens of seconds
once, cached under ``$TORCH_EXTENSIONS_DIR`` or ``~/.cache/torch_extensions``; the library's
name carries a hash of the sources and the headers beside them, so an edited source is never served from a stale build) and
returns ``torch.ops.memlab``. Where that is impossible (no compiler or ninja, a failed build)
it warns once and returns None, and every kernel runs its Python loops, which compute the same
maths and stay tested against the same references. ``MEMLAB_NO_CPP=1`` skips the build and
the C++ loops altogether.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path

import torch

CSRC = Path(__file__).with_name("csrc")
_CACHE: dict[tuple[str, ...], object] = {}


def disabled() -> bool:
    """True when ``MEMLAB_NO_CPP`` is set to anything but "" or "0"."""
    return os.environ.get("MEMLAB_NO_CPP", "") not in ("", "0")


def cflags() -> list[str]:
    """Compiler flags: -O3, ``omp simd`` pragmas (no OpenMP runtime), and AVX2 + FMA where torch
    itself runs its AVX2 or AVX-512 kernels on this CPU (the plain loops are vectorized for it)."""
    flags = ["-O3", "-std=c++17", "-fopenmp-simd"]
    if platform.machine().lower() in ("x86_64", "amd64") and torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    return flags


def build(sources: list[Path], prefix: str = "memlab_kernels") -> object | None:
    """Compile ``sources`` into one operator library (once per process and content); the
    ``torch.ops.memlab`` namespace, or None (with one warning) where the build fails."""
    srcs = sorted(Path(s) for s in sources)
    key = tuple(str(s) for s in srcs)
    if key in _CACHE:
        return _CACHE[key]
    lib = None
    if srcs:
        flags = cflags()
        digest = hashlib.sha256(" ".join(flags).encode())  # a build for other flags (another CPU) is another library
        headers = sorted({h for s in srcs for h in s.parent.glob("*.h")})  # included by the sources
        for s in [*srcs, *headers]:
            digest.update(s.name.encode() + b"\0" + s.read_bytes())
        try:
            from torch.utils import cpp_extension

            venv_bin = str(Path(sys.executable).parent)  # pip's ninja, when the venv is not activated
            if shutil.which("ninja") is None and shutil.which("ninja", path=venv_bin):
                os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")

            cpp_extension.load(name=f"{prefix}_{digest.hexdigest()[:12]}", sources=[str(s) for s in srcs],
                               extra_cflags=flags, is_python_module=False, verbose=False)
            lib = torch.ops.memlab
        except Exception as e:  # noqa: BLE001 - any build failure falls back to the Python loops
            first = (str(e).strip().splitlines() or [""])[0][:200]
            warnings.warn(f"memlab: the C++ kernels could not be built ({type(e).__name__}: {first}); "
                          "the Python loops run instead (MEMLAB_NO_CPP=1 skips the build)", RuntimeWarning,
                          stacklevel=2)
    _CACHE[key] = lib
    return lib


@functools.cache
def _sources() -> list[Path]:
    """csrc/*.cpp, listed once per process (ops() runs on every kernel call)."""
    return sorted(CSRC.glob("*.cpp"))


def ops() -> object | None:
    """``torch.ops.memlab`` with every C++ kernel of ``csrc/`` loaded, or None (disabled, or
    the build failed: the kernels then run their Python loops)."""
    if disabled():
        return None
    return build(_sources())


def has(name: str) -> bool:
    """True when the C++ operator ``memlab::name`` is available (builds the library if needed)."""
    lib = ops()
    if lib is None:
        return False
    try:
        getattr(lib, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def usable(x: torch.Tensor, *names: str) -> bool:
    """True when the C++ loops can run on ``x``: a CPU tensor of float32 or float64 (the dtypes the
    operators dispatch) and every operator ``memlab::name`` built and not disabled."""
    return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and all(has(n) for n in names))

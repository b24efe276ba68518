"""Process-wide runtime settings: CPU threads, device resolution, seeding, the CPU allocator."""

from __future__ import annotations

import ctypes
import os
import random
import sys

from memlab.core.errors import ConfigError


def set_threads(n: int | None = None) -> int:
    """Use ``n`` intra-op CPU threads (default 1 unless MEMLAB_THREADS/OMP_NUM_THREADS is set).

    Two threads on a busy 2-core machine are several times slower than one for the small
    recurrent kernels memlab runs, hence the default of 1.
    """
    import torch

    if n is None:
        env = os.environ.get("MEMLAB_THREADS") or os.environ.get("OMP_NUM_THREADS")
        try:
            n = int(env) if env else 1
        except ValueError:
            raise ConfigError(f"MEMLAB_THREADS/OMP_NUM_THREADS={env!r} is not an integer") from None
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 4096:
        raise ConfigError(f"threads={n!r} is out of range; allowed: integers 1 <= threads <= 4096")
    torch.set_num_threads(n)
    return n


def resolve_device(device: str | None = None):
    """``"auto"``/None -> cuda if available else cpu; otherwise check the name is usable."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"device={device!r} is not a device; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} requested but CUDA is not available; use cpu or auto")
    return dev


def check_seed(seed: int, name: str = "seed") -> int:
    """``seed`` if it is an integer with 0 <= seed < 2**63 (what every RNG here accepts), else ConfigError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"{name}={seed!r} is out of range; allowed: integers 0 <= {name} < 2**63")
    return seed


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global RNGs."""
    check_seed(seed)
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def make_generator(seed: int, *salt: int):
    """A CPU ``torch.Generator`` seeded from ``seed`` and optional integer salts (e.g. epoch)."""
    import torch

    g = torch.Generator()
    s = seed
    for x in salt:
        s = (s * 1_000_003 + int(x) + 0x9E3779B9) % (2**63 - 1)
    g.manual_seed(s)
    return g


_MALLOC_TUNED = False
#: environment variables that leave glibc's allocator as it is (the first two are glibc's own)
MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MEMLAB_NO_MALLOPT")


def keep_freed_memory() -> bool:
    """Once per process: ask glibc to keep freed blocks up to 32 MB in its heap (M_MMAP_THRESHOLD)
    and not to hand the heap's free top back below 128 MB (M_TRIM_THRESHOLD).

    Why: a fused kernel's training step allocates ~10 MB of per-call buffers (the LANTM's at
    B = 32, T = 130); with glibc's defaults they come fresh from the system each step, ~2,700 page
    faults a step, and the zeroing of those pages costs ~10–25% of the step on a shared VM.
    Process-wide and harmless otherwise (freed memory is reused rather than returned). Skipped
    on other systems and when any of ``MALLOC_ENV`` is set. Returns whether it changed the
    settings; the LANTM kernel (``lantm_scan``) calls it on its CPU calls (a no-op after the first).
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return False
    _MALLOC_TUNED = True
    if not sys.platform.startswith("linux") or any(k in os.environ for k in MALLOC_ENV):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 128 << 20))


def malloc_keeps_freed_memory() -> bool:
    """Whether ``keep_freed_memory`` has run in this process with no ``MALLOC_ENV`` override."""
    return _MALLOC_TUNED and not any(k in os.environ for k in MALLOC_ENV)

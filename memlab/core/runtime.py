"""Process-wide runtime settings: CPU threads, device resolution, seeding."""

from __future__ import annotations

import os
import random

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

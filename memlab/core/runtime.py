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
        n = int(env) if env else 1
    if n < 1:
        raise ConfigError(f"threads={n} is out of range; allowed: >= 1")
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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global RNGs."""
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

"""NTM/DNC figures, drawn from records only.

``plot_weightings`` draws the NTM paper's Fig. 6 style: inputs and outputs over time on top,
write and read weightings over memory locations and time below (one column per step). The
results table is rendered by ``memlab.experiments.ntm_table``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _used_locations(*weightings: np.ndarray, thresh: float = 0.02, margin: int = 2) -> np.ndarray:
    """Location indices to show, in circular order: every location with a weight above
    ``thresh`` (plus a margin), cut at the longest circular run of unused locations, so a
    focus that wraps around N − 1 → 0 stays one contiguous band. (T, N) arrays -> (n,) ints."""
    N = weightings[0].shape[1]
    used = np.zeros(N, dtype=bool)
    for w in weightings:
        used |= (w > thresh).any(0)
    if not used.any():
        return np.arange(N)
    for _ in range(margin):  # widen by the margin, circularly
        used = used | np.roll(used, 1) | np.roll(used, -1)
    if used.all():
        return np.arange(N)
    start = int(np.flatnonzero(used)[0])  # walk the circle from a used location: every unused run lies inside the walk
    best_len, best_end, run = 0, start, 0
    for step in range(1, N + 1):
        i = (start + step) % N
        run = run + 1 if not used[i] else 0
        if run > best_len:
            best_len, best_end = run, i
    first_used = (best_end + 1) % N  # the band starts right after the longest unused run
    order = (first_used + np.arange(N)) % N
    return order[: N - best_len]


def plot_weightings(record: dict[str, Any], out: str | Path) -> Path:
    """Draw a weightings record (see ``memlab.commands.plot.weightings_record``) to ``out`` (PNG).

    record keys: inputs (T, D), targets (T, O), outputs (T, O) probabilities, mask (T,),
    write (T, Hw, N), read (T, Hr, N), model, task, length.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inputs = np.asarray(record["inputs"], dtype=float)  # (T, D)
    outputs = np.asarray(record["outputs"], dtype=float)  # (T, O)
    mask = np.asarray(record["mask"], dtype=bool)  # (T,)
    write = np.asarray(record["write"], dtype=float)  # (T, Hw, N)
    read = np.asarray(record["read"], dtype=float)  # (T, Hr, N)
    w0, r0 = write[:, 0], read[:, 0]  # first heads, (T, N)
    locs = _used_locations(w0, r0)  # (n,) location indices, circular order
    shown_out = np.where(mask[:, None], outputs, np.nan)

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), gridspec_kw={"height_ratios": [1, 2.5]})
    panels = [
        (axes[0, 0], inputs.T, "inputs", "input channel", "gray_r"),
        (axes[0, 1], shown_out.T, "outputs (response phase)", "output bit", "gray_r"),
        (axes[1, 0], w0[:, locs].T, "write weightings", "memory location", "gray_r"),
        (axes[1, 1], r0[:, locs].T, "read weightings", "memory location", "gray_r"),
    ]
    for ax, img, title, ylabel, cmap in panels:
        ax.imshow(img, aspect="auto", cmap=cmap, interpolation="nearest", vmin=0, vmax=1)
        if "location" in ylabel:
            ticks = np.linspace(0, len(locs) - 1, min(len(locs), 8)).round().astype(int)
            ax.set_yticks(ticks, [str(locs[i]) for i in ticks])
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("time step")
    fig.suptitle(f"{record.get('model', '?').upper()} on {record.get('task', '?')}, length {record.get('length', '?')}"
                 f" ({len(locs)} of {w0.shape[1]} locations shown, in circular order)")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

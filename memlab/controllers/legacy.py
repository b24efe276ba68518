"""Loading weights saved before the redesign, when the NTM and the DNC carried a private controller.

That controller stored ``controller.w_x`` (G, I) + bias, ``controller.w_r`` (G, R·W) and
``controller.w_h`` (G, C) with LSTM gate rows in the order i, f, o, g, and its initial state as
``h0``, ``c0`` on the core. The composed core keeps ``controller.W_x`` = [w_x | w_r] and ``W_r`` =
w_h with rows i, f, g, o (the one LSTM), or ``controller.W`` for the feed-forward layer, and its
initial state as ``init_state.*``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def rename_legacy_controller(sd: dict[str, Tensor], prefix: str, core) -> bool:
    """Rename, in place, a pre-redesign controller's weights under ``prefix`` to the composed
    core's names; False (and ``sd`` unchanged) when ``sd`` has none."""
    if prefix + "controller.w_x.weight" not in sd:
        return False
    w_x, b = sd.pop(prefix + "controller.w_x.weight"), sd.pop(prefix + "controller.w_x.bias")
    w_in = torch.cat([w_x, sd.pop(prefix + "controller.w_r.weight")], 1)  # (G, I + R·W): [x_t, r_{t−1}]
    w_h = sd.pop(prefix + "controller.w_h.weight", None)
    h0, c0 = sd.pop(prefix + "h0", None), sd.pop(prefix + "c0", None)
    if w_h is not None:  # LSTM: gate rows (i, f, o, g) -> (i, f, g, o)
        C = w_h.shape[1]
        perm = torch.cat([torch.arange(2 * C), torch.arange(3 * C, 4 * C), torch.arange(2 * C, 3 * C)])
        sd[prefix + "controller.W_x"], sd[prefix + "controller.W_r"] = w_in[perm], w_h[perm]
        sd[prefix + "controller.b"] = b[perm]
        if len(getattr(core, "init_state", ())) == 2:
            sd[prefix + "init_state.0"], sd[prefix + "init_state.1"] = h0, c0
    else:  # feed-forward: no state (h0, c0 were never read)
        sd[prefix + "controller.W"], sd[prefix + "controller.b"] = w_in, b
    return True

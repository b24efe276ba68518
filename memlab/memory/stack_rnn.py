"""Stack-RNN (Joulin & Mikolov 2015): K stacks of fixed depth p updated by soft push / pop / no-op.

Each stack k holds p cells of width m (row 0 the top). From the controller output h_t:

    a_t = softmax(A_k h_t + b_k) ∈ Δ³        (push, pop, no-op) for stack k
    c_t = σ(D_k h_t + e_k) ∈ (0, 1)^m        the value a push puts on top

    s_t[0] = a_push · c_t       + a_pop · s_{t−1}[1]   + a_noop · s_{t−1}[0]
    s_t[i] = a_push · s_{t−1}[i−1] + a_pop · s_{t−1}[i+1] + a_noop · s_{t−1}[i]     (0 < i < p)

with s_{t−1}[p] = 0 (a pop brings zeros up from below the bottom; a push drops the bottom cell).
The read r_t is the top ``top_k`` cells of every stack, flattened (B, K·top_k·m); the
composition feeds it back to the controller with x_{t+1} (the paper's P s_{t−1}[0:k] term).

``stack_rnn_update`` is the vectorised update (shifted copies of the whole stack),
``stack_rnn_update_ref`` the per-cell loop of the two equations above (tests: equal in float64,
values and gradients; a hard push then a hard pop gives back the stack).

Soft actions blur the stack a little at every step, and on sequences far longer than those
trained on the blur adds up. Joulin & Mikolov discretise the actions for that reason.
``model.eval_actions=hard`` does so at evaluation only (the module in eval mode): each stack
takes its most likely action outright, a_t = one_hot(argmax a_t); training keeps the soft actions,
so the setting changes no trained weight and can be given when a checkpoint is loaded.

Kernels (``model.kernel``): ``fused`` (the default) runs a whole sequence through
``memlab.memory.kernels.stack_rnn_scan`` (one autograd node, hand-written BPTT, the LSTM
controller inlined) where the controller is the standard LSTM, else the reference;
``reference`` loops the composed step (``compose_step_ref``). As a model, ``stack-rnn`` has the
LSTM controller by default (Joulin & Mikolov used a plain RNN: ``model.controller=elman``).

Shapes: B batch, K stacks, p depth, m cell width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_range
from memlab.memory import MemoryEntry

# --------------------------------------------------------------------------- maths


def stack_rnn_update(S: Tensor, a: Tensor, c: Tensor) -> Tensor:
    """One soft update of every stack.

    S (B, K, p, m) stacks; a (B, K, 3) action weights (push, pop, no-op); c (B, K, m) pushed
    values -> S_t (B, K, p, m).
    """
    pushed = torch.cat([c.unsqueeze(2), S[:, :, :-1]], dim=2)  # (B, K, p, m): everything moves down
    popped = torch.cat([S[:, :, 1:], torch.zeros_like(S[:, :, :1])], dim=2)  # (B, K, p, m): everything moves up
    a = a.unsqueeze(-1).unsqueeze(-1)  # (B, K, 3, 1, 1)
    return a[:, :, 0] * pushed + a[:, :, 1] * popped + a[:, :, 2] * S


def stack_rnn_update_ref(S: Tensor, a: Tensor, c: Tensor) -> Tensor:
    """Per-cell loop of the update equations."""
    B, K, p, m = S.shape
    rows = []
    for i in range(p):
        above = c if i == 0 else S[:, :, i - 1]  # what a push moves into cell i
        under = S[:, :, i + 1] if i + 1 < p else torch.zeros_like(S[:, :, 0])  # what a pop moves into cell i
        rows.append(a[..., 0:1] * above + a[..., 1:2] * under + a[..., 2:3] * S[:, :, i])
    return torch.stack(rows, dim=2)


def hard_actions(a: Tensor) -> Tensor:
    """a (B, K, 3) action weights -> (B, K, 3) one-hot at each stack's largest weight."""
    return torch.nn.functional.one_hot(a.argmax(-1), a.shape[-1]).to(a.dtype)


# --------------------------------------------------------------------------- module


@dataclass
class StackRNNConfig:
    """Stack-RNN settings (``model.*`` keys with the composition's)."""

    n_stacks: int = 1  # K
    depth: int = 64  # p, cells per stack (a push beyond it drops the bottom cell)
    cell_size: int = 8  # m
    top_k: int = 2  # cells of each stack fed back to the controller
    eval_actions: Literal["soft", "hard"] = "soft"  # hard: one-hot argmax actions in eval mode only

    def validate(self) -> None:
        check_range("model.n_stacks", self.n_stacks, 1, 1024)
        check_range("model.depth", self.depth, 1, 100_000)
        check_range("model.cell_size", self.cell_size, 1, 65_536)
        check_range("model.top_k", self.top_k, 1)
        if self.top_k > self.depth:
            raise ConfigError(f"model.top_k={self.top_k} is out of range; allowed: 1 <= top_k <= depth ({self.depth})")


class StackRNNState(NamedTuple):
    """S_t: (B, K, p, m) the stacks, row 0 the top."""

    S: Tensor


class StackRNNAccess(nn.Module):
    """``forward(h_t (B, C), state)`` -> (r_t (B, K·top_k·m), state). One linear layer C -> K·(3 + m)."""

    def __init__(self, cfg: StackRNNConfig, controller_size: int):
        super().__init__()
        self.cfg = cfg
        self.K, self.p, self.m, self.k = cfg.n_stacks, cfg.depth, cfg.cell_size, cfg.top_k
        self.read_size = self.K * self.k * self.m
        self.ctl = nn.Linear(controller_size, self.K * (3 + self.m))  # per stack: [action logits (3) | value (m)]

    def initial_state(self, batch_size: int, device=None) -> StackRNNState:
        """Empty stacks (zeros)."""
        w = self.ctl.weight
        return StackRNNState(w.new_zeros(batch_size, self.K, self.p, self.m, device=device if device is not None else w.device))

    def state_size(self) -> int:
        return self.K * self.p * self.m

    def reads(self, state: StackRNNState) -> Tensor:
        """The top ``top_k`` cells of every stack: (B, K·top_k·m)."""
        return state.S[:, :, : self.k].reshape(state.S.shape[0], -1)

    def controls(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """h_t (B, C) -> a_t (B, K, 3) on the simplex, c_t (B, K, m) in (0, 1)."""
        out = self.ctl(h).view(h.shape[0], self.K, 3 + self.m)  # (B, K, 3 + m)
        a = torch.softmax(out[..., :3], dim=-1)
        if self.hard_actions:
            a = hard_actions(a)
        return a, torch.sigmoid(out[..., 3:])

    @property
    def hard_actions(self) -> bool:
        """Whether this step takes one-hot actions: ``eval_actions=hard`` and the module in eval mode."""
        return self.cfg.eval_actions == "hard" and not self.training

    def forward(self, h: Tensor, state: StackRNNState) -> tuple[Tensor, StackRNNState]:
        a, c = self.controls(h)
        new = StackRNNState(stack_rnn_update(state.S, a, c))
        return self.reads(new), new

    def fused_sequence(self, controller, xs: Tensor, state: StackRNNState, ctrl_state):
        """The whole sequence through ``stack_rnn_scan`` with ``controller`` inlined.

        xs (T, B, I) -> (ys (T, B, C + R), final StackRNNState, final controller state), or None
        unless ``controller`` is a standard LSTM (the caller then runs the reference step).
        """
        from memlab.controllers.lstm import LSTMCore
        from memlab.memory.kernels.stack_rnn_scan import StackRNNSpec, stack_rnn_scan

        if not (isinstance(controller, LSTMCore) and controller.standard) or self.hard_actions:
            return None  # the kernel's actions are soft: hard ones take the reference step
        I = xs.shape[-1]
        W_in = controller.W_x  # (4C, I + R): the controller reads [x_t, r_{t−1}]
        W_hr = torch.cat([controller.W_r, W_in[:, I:]], 1)  # weights of y_{t−1} = [h_{t−1}, r_{t−1}]
        y0 = torch.cat([ctrl_state.r, self.reads(state)], 1)  # (B, C + R)
        spec = StackRNNSpec(controller.output_size, self.K, self.p, self.m, self.k)
        ys, S, c = stack_rnn_scan(xs, W_in[:, :I], controller.b, W_hr, self.ctl.weight, self.ctl.bias, state.S, y0,
                                  ctrl_state.c, spec)
        h = ys[-1, :, : spec.C] if ys.shape[0] else ctrl_state.r
        return ys, StackRNNState(S), type(ctrl_state)(h, c)

    def trace_step(self, state: StackRNNState) -> dict[str, Tensor]:
        """The stacks at one step (B, K, p, m), for plots."""
        return {"stacks": state.S}


ENTRY = MemoryEntry(
    config_cls=StackRNNConfig,
    build=StackRNNAccess,
    description="Stack-RNN (Joulin & Mikolov 2015): fixed-depth stacks, soft push/pop/no-op, top-k fed back",
    kernels=("fused", "reference"),
    smoke={"controller_size": 8, "depth": 6, "cell_size": 3},
)

__all__ = ["StackRNNConfig", "StackRNNState", "StackRNNAccess", "stack_rnn_update", "stack_rnn_update_ref", "hard_actions",
           "ENTRY"]

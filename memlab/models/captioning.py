"""Image captioning: a small CNN encoder + LSTM decoder, with or without soft attention.

The CNN (two 3×3 conv + ReLU + 2×2 max-pool blocks) turns a (1, H, W) canvas into a grid of
annotation vectors a_l (B, L, D), L = ⌊H/4⌋·⌊W/4⌋ locations (Xu et al. 2015, "Show, Attend and Tell" §3.1.1).
At word t the LSTM decoder reads [E y_{t−1}; ẑ_t] where the context ẑ_t is

    soft attention (Xu et al. eqs. 4–6):  e_tl = v^T tanh(W h_{t−1} + U a_l),  α_t = softmax(e_t),  ẑ_t = Σ_l α_tl a_l
    no attention (Show and Tell, Vinyals et al. 2015, with the image fed at every step):  ẑ_t = mean_l a_l

with h_0, c_0 = tanh(W_init mean_l a_l) (Xu et al. §3.1.2); p(y_t) = softmax(W_o [h_t; ẑ_t; E y_{t−1}]).
Training uses teacher forcing; ``greedy`` decodes argmax words. The scores are
``memlab.memory.attention``'s pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from memlab.core.errors import check_choice, check_range
from memlab.memory.attention import additive_scores, attend, masked_softmax


@dataclass
class CaptionerConfig:
    channels: int = 32  # D
    hidden: int = 64
    embed: int = 16
    attention: str = "soft"  # soft | none

    def validate(self) -> None:
        for name in ("channels", "hidden", "embed"):
            check_range(f"model.{name}", getattr(self, name), 1, 65536)
        check_choice("model.attention", self.attention, ("soft", "none"))


class Captioner(nn.Module):
    """``forward(images (B, 1, H, W), tokens_in (T, B)) -> (logits (T, B, V), α (T, B, L))``."""

    def __init__(self, cfg: CaptionerConfig, vocab: int):
        super().__init__()
        self.cfg = cfg
        D, Hd = cfg.channels, cfg.hidden
        self.cnn = nn.Sequential(nn.Conv2d(1, D // 2 or 1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(D // 2 or 1, D, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.embedding = nn.Embedding(vocab, cfg.embed)
        self.init = nn.Linear(D, 2 * Hd)
        self.cell = nn.LSTMCell(cfg.embed + D, Hd)
        if cfg.attention == "soft":
            self.W = nn.Linear(Hd, Hd, bias=False)
            self.U = nn.Linear(D, Hd)
            self.v = nn.Parameter(torch.randn(Hd) / Hd ** 0.5)
        self.out = nn.Linear(Hd + D + cfg.embed, vocab)

    def encode(self, images: Tensor) -> Tensor:
        """Annotations a (B, L, D) of images (B, 1, H, W)."""
        f = self.cnn(images)  # (B, D, H/4, W/4)
        return f.flatten(2).transpose(1, 2)  # (B, L, D)

    def step(self, y_prev: Tensor, state: tuple[Tensor, Tensor], a: Tensor, Ua: Tensor | None
             ) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor]:
        """One word: y_prev (B,) -> (logits (B, V), state, α (B, L))."""
        h, c = state
        if Ua is None:
            alpha = a.new_full(a.shape[:2], 1.0 / a.shape[1])  # (B, L) uniform = the mean
        else:
            alpha = masked_softmax(additive_scores(h, Ua, self.W.weight, self.v))  # (B, L)
        z = attend(alpha, a)  # (B, D)
        e = self.embedding(y_prev)  # (B, E)
        h, c = self.cell(torch.cat([e, z], -1), (h, c))
        return self.out(torch.cat([h, z, e], -1)), (h, c), alpha

    def start(self, images: Tensor) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor]]:
        a = self.encode(images)  # (B, L, D)
        h0, c0 = torch.tanh(self.init(a.mean(1))).chunk(2, -1)  # (B, Hd) each
        return a, (self.U(a) if self.cfg.attention == "soft" else None), (h0, c0)

    def forward(self, images: Tensor, tokens_in: Tensor) -> tuple[Tensor, Tensor]:
        a, Ua, state = self.start(images)
        logits, alphas = [], []
        for t in range(tokens_in.shape[0]):
            lg, state, al = self.step(tokens_in[t], state, a, Ua)
            logits.append(lg)
            alphas.append(al)
        return torch.stack(logits), torch.stack(alphas)  # (T, B, V), (T, B, L)

    @torch.no_grad()
    def greedy(self, images: Tensor, steps: int, bos: int) -> tuple[Tensor, Tensor]:
        """Argmax decoding: (tokens (steps, B), α (steps, B, L))."""
        a, Ua, state = self.start(images)
        y = torch.full((images.shape[0],), bos, dtype=torch.long, device=images.device)
        toks, alphas = [], []
        for _ in range(steps):
            lg, state, al = self.step(y, state, a, Ua)
            y = lg.argmax(-1)
            toks.append(y)
            alphas.append(al)
        return torch.stack(toks), torch.stack(alphas)

"""LSTM encoder–decoder baseline of seed 004 §4 (Sutskever et al. 2014 setup).

An encoder LSTM reads the learnable initial state, ``<s>`` and the input symbols; a
decoder LSTM starts from the encoder's final (h, c) and reads the ``</s>`` symbols of the
response phase; a softmax readout (the F box of seed 004 Fig. 1) predicts the answer and
``<e>``. Both are PyTorch's fused, stacked ``nn.LSTM``.

By default encoder and decoder share weights (``shared=True``): one stacked LSTM reads the
whole stream, which is what seed 004 Table 2's parameter count (≈1.9 M for 4×256) implies.
``shared=False`` gives the decoder its own weights (≈3.7 M), as in Sutskever et al.

Defaults are seed 004 Table 2 (``memlab.experiments.hparams.seed004``): 4 layers × 256 cells;
embedding 7 for the permutation tasks, 64 for the arithmetic ones; learning rate 2e-4 with no schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from memlab.core.errors import ConfigError
from memlab.core.interfaces import Batch
from memlab.models.base import InputEncoder, ModelEntry, SequenceModel, hparams_defaults
from memlab.tasks.base import TaskSpec


MAX_LAYERS = 256


@dataclass
class LSTMConfig:
    hidden: int = 256
    layers: int = 4
    embed: int = 7
    learn_init: bool = True  # learnable initial (h, c) of the encoder (seed 004 §4)
    shared: bool = True  # encoder and decoder share one LSTM (Table 2's parameter count)

    def validate(self) -> None:
        for name in ("hidden", "layers", "embed"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}={getattr(self, name)} is out of range; allowed: >= 1")
        if self.layers > MAX_LAYERS:  # layers are built one by one: a bound, not a memory check, keeps that short
            raise ConfigError(f"model.layers={self.layers} is out of range; allowed: 1 to {MAX_LAYERS}")


def gather_time(x: Tensor, index: Tensor) -> Tensor:
    """``out[j, b] = x[index[j, b], b]``. x: (T, B, E), index: (L, B) -> (L, B, E)."""
    return x.gather(0, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class LSTMEncoderDecoder(SequenceModel):
    """Stacked LSTM encoder–decoder. ``forward(batch)`` -> logits (T, B, output_size).

    Logits are produced only for response-phase steps (t >= n_input); other steps are 0.
    """

    def __init__(self, cfg: LSTMConfig, spec: TaskSpec):
        super().__init__()
        self.cfg, self.spec = cfg, spec
        self.encoder_in = InputEncoder(spec, cfg.embed)
        E, H, L = self.encoder_in.out_size, cfg.hidden, cfg.layers
        self.encoder = nn.LSTM(E, H, L)
        self.decoder = self.encoder if cfg.shared else nn.LSTM(E, H, L)
        self.readout = nn.Linear(H, spec.output_size)
        self.h0 = nn.Parameter(torch.zeros(L, 1, H), requires_grad=cfg.learn_init)
        self.c0 = nn.Parameter(torch.zeros(L, 1, H), requires_grad=cfg.learn_init)

    def forward(self, batch: Batch) -> Tensor:
        x = self.encoder_in(batch.inputs)  # (T, B, E)
        T, B, _ = x.shape
        n_in = batch.n_input  # (B,)
        h0 = self.h0.expand(-1, B, -1).contiguous()  # (L, B, H)
        c0 = self.c0.expand(-1, B, -1).contiguous()
        if self.cfg.shared:  # one pass over the whole stream; padding is never scored
            ys, _ = self.encoder(x, (h0, c0))  # (T, B, H)
            return self.readout(ys)  # (T, B, V)
        enc = pack_padded_sequence(x[: int(n_in.max())], n_in.cpu(), enforce_sorted=False)
        _, (h, c) = self.encoder(enc, (h0, c0))  # (L, B, H) each, at each example's last input step
        n_out = batch.seq_len - n_in  # (B,) response steps
        L_out = int(n_out.max())
        steps = torch.arange(L_out, device=x.device).unsqueeze(1)  # (L_out, 1)
        idx = (n_in.unsqueeze(0) + steps).clamp(max=T - 1)  # (L_out, B)
        dec_out, _ = self.decoder(gather_time(x, idx), (h, c))  # (L_out, B, H); padding is never scored
        logits = self.readout(dec_out)  # (L_out, B, V)
        out = logits.new_zeros(T, B, logits.shape[-1])
        valid = steps < n_out.unsqueeze(0)  # (L_out, B)
        out.index_put_((idx[valid], torch.nonzero(valid, as_tuple=True)[1]), logits[valid])
        return out  # (T, B, V)


def build(cfg: LSTMConfig, spec: TaskSpec) -> LSTMEncoderDecoder:
    return LSTMEncoderDecoder(cfg, spec)


ENTRY = ModelEntry(
    config_cls=LSTMConfig,
    build=build,
    description="LSTM encoder-decoder baseline (seed 004; 4x256, fused nn.LSTM)",
    model_defaults=hparams_defaults("lstm", "model"),  # seed 004 Table 2 (memlab.experiments.hparams.seed004)
    train_defaults=hparams_defaults("lstm", "train"),
    smoke={"hidden": 8, "layers": 1, "embed": 4},
)

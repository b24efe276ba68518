"""Single-core recurrent baselines under the seed 004 protocol: an Elman RNN and an LSTM cell
with the seed 002 variants (forget gate on/off, peepholes, recurrent projection).

Both are the composition embedding -> controller core (``memlab.controllers``) -> softmax
readout, so they are trained and scored exactly like the memory-augmented models.
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.controllers import make_controller
from memlab.core.errors import check_range
from memlab.models.base import CoreSequenceModel, InputEncoder, ModelEntry, hparams_defaults
from memlab.tasks.base import TaskSpec


@dataclass
class ElmanModelConfig:
    hidden: int = 128
    embed: int = 16
    nonlinearity: str = "tanh"
    w_scale: float = 1.0  # spectral radius of the initial recurrent matrix

    def validate(self) -> None:
        check_range("model.hidden", self.hidden, 1)
        check_range("model.embed", self.embed, 0)


@dataclass
class LSTMCellModelConfig:
    hidden: int = 128
    embed: int = 16
    forget_gate: bool = True
    peepholes: bool = False
    proj_size: int = 0  # recurrent projection r_t (LSTMP, seed 002 Fig. 1)
    nonrec_proj_size: int = 0  # non-recurrent projection p_t
    y_size: int = 0  # 0: y_t = [r_t, p_t]; K > 0: y_t = W_yr r_t + W_yp p_t + b_y
    forget_bias: float = 1.0  # initial b_f (Gers et al.: positive)
    input_bias: float | None = None  # initial b_i (seed 002: negative); None = uniform
    output_bias: float | None = None  # initial b_o (seed 002: negative); None = uniform

    def validate(self) -> None:
        check_range("model.hidden", self.hidden, 1)
        check_range("model.embed", self.embed, 0)


def _embed_size(spec: TaskSpec, embed: int) -> int:
    return InputEncoder(spec, embed or None).out_size


def build_elman(cfg: ElmanModelConfig, spec: TaskSpec) -> CoreSequenceModel:
    core = make_controller("elman", input_size=_embed_size(spec, cfg.embed), hidden_size=cfg.hidden,
                           nonlinearity=cfg.nonlinearity, w_scale=cfg.w_scale, bias=True)
    return CoreSequenceModel(spec, core, cfg.embed or None)


def build_lstm_cell(cfg: LSTMCellModelConfig, spec: TaskSpec) -> CoreSequenceModel:
    core = make_controller("lstm", input_size=_embed_size(spec, cfg.embed), hidden_size=cfg.hidden,
                           forget_gate=cfg.forget_gate, peepholes=cfg.peepholes, proj_size=cfg.proj_size,
                           nonrec_proj_size=cfg.nonrec_proj_size, y_size=cfg.y_size, forget_bias=cfg.forget_bias,
                           input_bias=cfg.input_bias, output_bias=cfg.output_bias)
    return CoreSequenceModel(spec, core, cfg.embed or None)


ELMAN = ModelEntry(ElmanModelConfig, build_elman, "Elman RNN (seed 001 §2.2) with a softmax readout",
                   model_defaults=hparams_defaults("elman", "model"), train_defaults=hparams_defaults("elman", "train"),
                   smoke={"hidden": 8, "embed": 4})
LSTM_CELL = ModelEntry(LSTMCellModelConfig, build_lstm_cell,
                       "one LSTM cell with seed-002 variants (forget gate, peepholes, projection)",
                       model_defaults=hparams_defaults("lstm-cell", "model"),
                       train_defaults=hparams_defaults("lstm-cell", "train"), smoke={"hidden": 8, "embed": 4})

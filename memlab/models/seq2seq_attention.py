"""Encoder–decoder with soft attention (Bahdanau et al. 2015; Luong et al. 2015), on any task.

A bidirectional GRU/LSTM reads the input phase (t < n_input) into annotations
h_j = [→h_j; ←h_j] (B, S, 2H). The decoder runs over the response phase; at answer step i it

    e_ij = score(s_{i-1}, h_j),  α_i = softmax_j(e_ij),  c_i = Σ_j α_ij h_j       (attention)
    s_i  = f(s_{i-1}, [x_i; c_i])                                                   (Cho et al. 2014 form:
    y_i  = W_o [s_i; c_i; x_i]                                                      the context enters every step)

where x_i is the (embedded) response-phase input (``</s>`` for symbolic tasks, the zero vector of
the NTM tasks) and s_0 = tanh(W_s ←h_1) (Bahdanau et al. App. A.2.2). ``attention`` picks the score:
``additive`` v^T tanh(W s + U h_j), ``general`` s^T W h_j, ``dot`` s^T h_j (needs the decoder size to
be 2H), or ``none``: the plain encoder–decoder of Cho et al. 2014, whose fixed summary
c = [→h_S; ←h_1] is fed at every step instead. The scores are ``memlab.memory.attention``'s pure functions.

``attention_weights(batch)`` returns α (L_out, B, S): answer position × input position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.core.interfaces import Batch
from memlab.memory.attention import additive_scores, attend, dot_scores, masked_softmax
from memlab.models.base import InputEncoder, ModelEntry, SequenceModel
from memlab.models.lstm import gather_time
from memlab.tasks.base import TaskSpec

SCORES = ("additive", "general", "dot", "none")


@dataclass
class Seq2SeqAttentionConfig:
    hidden: int = 64  # H: encoder units per direction
    decoder_hidden: int = 0  # decoder units; 0 = 2H (the size ``dot`` needs)
    attention_size: int = 64  # A of the additive score
    embed: int = 16
    cell: str = "gru"  # gru | lstm, encoder and decoder
    attention: str = "additive"  # additive | general | dot | none

    def validate(self) -> None:
        for name in ("hidden", "attention_size", "embed"):
            check_range(f"model.{name}", getattr(self, name), 1, 65536)
        check_range("model.decoder_hidden", self.decoder_hidden, 0, 65536)
        check_choice("model.cell", self.cell, ("gru", "lstm"))
        check_choice("model.attention", self.attention, SCORES)
        if self.attention == "dot" and self.decoder_hidden not in (0, 2 * self.hidden):
            raise ConfigError(f"model.decoder_hidden={self.decoder_hidden} does not fit model.attention=dot: "
                              f"s^T h_j needs decoder_hidden = 2 x hidden = {2 * self.hidden} (or 0)")


class Seq2SeqAttention(SequenceModel):
    """``forward(batch)`` -> logits (T, B, output_size); non-response steps are 0."""

    def __init__(self, cfg: Seq2SeqAttentionConfig, spec: TaskSpec):
        super().__init__()
        self.cfg, self.spec = cfg, spec
        self.embedding = InputEncoder(spec, cfg.embed)
        E, H = self.embedding.out_size, cfg.hidden
        D = cfg.decoder_hidden or 2 * H  # decoder state size
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        self.encoder = rnn(E, H, bidirectional=True)
        self.decoder = (nn.GRUCell if cfg.cell == "gru" else nn.LSTMCell)(E + 2 * H, D)
        self.init_state = nn.Linear(H, D)  # s_0 = tanh(W_s ←h_1)
        if cfg.attention == "additive":
            self.W_a = nn.Linear(D, cfg.attention_size, bias=False)
            self.U_a = nn.Linear(2 * H, cfg.attention_size)
            self.v_a = nn.Parameter(torch.randn(cfg.attention_size) / cfg.attention_size ** 0.5)
        elif cfg.attention == "general":
            self.W_a = nn.Linear(2 * H, D, bias=False)  # s^T W_a h_j
        self.readout = nn.Linear(D + 2 * H + E, spec.output_size)

    def encode(self, x: Tensor, n_in: Tensor) -> tuple[Tensor, Tensor]:
        """Annotations h (B, S, 2H) and mask (B, S) from the input phase x[:n_in] (T, B, E)."""
        S = int(n_in.max())
        packed = pack_padded_sequence(x[:S], n_in.cpu(), enforce_sorted=False)
        h, _ = self.encoder(packed)
        h, _ = pad_packed_sequence(h, total_length=S)  # (S, B, 2H), zeros on padding
        mask = torch.arange(S, device=x.device).unsqueeze(0) < n_in.unsqueeze(1)  # (B, S)
        return h.transpose(0, 1), mask  # (B, S, 2H)

    def scores(self, s: Tensor, h: Tensor, Uh: Tensor | None) -> Tensor:
        """e (B, S) of query s (B, D) against annotations h (B, S, 2H)."""
        if self.cfg.attention == "additive":
            return additive_scores(s, Uh, self.W_a.weight, self.v_a)
        if self.cfg.attention == "general":
            return dot_scores(s, h, self.W_a.weight)  # W_a.weight: (D, 2H)
        return dot_scores(s, h)

    def run(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(logits (T, B, V), α (L_out, B, S))."""
        x = self.embedding(batch.inputs)  # (T, B, E)
        T, B, _ = x.shape
        n_in = batch.n_input  # (B,)
        h, mask = self.encode(x, n_in)  # (B, S, 2H), (B, S)
        H = self.cfg.hidden
        s = torch.tanh(self.init_state(h[:, 0, H:]))  # (B, D): ←h_1
        cell = s.new_zeros(s.shape) if self.cfg.cell == "lstm" else None
        last = (n_in - 1).clamp(min=0)
        summary = torch.cat([h[torch.arange(B), last, :H], h[:, 0, H:]], -1)  # (B, 2H) [→h_S; ←h_1]
        Uh = self.U_a(h) if self.cfg.attention == "additive" else None  # (B, S, A), once per sentence
        n_out = batch.seq_len - n_in  # (B,)
        L_out = int(n_out.max())
        steps = torch.arange(L_out, device=x.device).unsqueeze(1)  # (L_out, 1)
        idx = (n_in.unsqueeze(0) + steps).clamp(max=T - 1)  # (L_out, B)
        xs = gather_time(x, idx)  # (L_out, B, E)
        logits, alphas = [], []
        for i in range(L_out):
            if self.cfg.attention == "none":
                c, a = summary, mask.to(s.dtype) / mask.sum(1, keepdim=True)  # uniform α, for plots only
            else:
                a = masked_softmax(self.scores(s, h, Uh), mask)  # (B, S)
                c = attend(a, h)  # (B, 2H)
            inp = torch.cat([xs[i], c], -1)  # (B, E + 2H)
            if cell is None:
                s = self.decoder(inp, s)
            else:
                s, cell = self.decoder(inp, (s, cell))
            logits.append(self.readout(torch.cat([s, c, xs[i]], -1)))  # (B, V)
            alphas.append(a)
        logits_t = torch.stack(logits)  # (L_out, B, V)
        out = logits_t.new_zeros(T, B, logits_t.shape[-1])
        valid = steps < n_out.unsqueeze(0)  # (L_out, B)
        out.index_put_((idx[valid], torch.nonzero(valid, as_tuple=True)[1]), logits_t[valid])
        return out, torch.stack(alphas)  # (T, B, V), (L_out, B, S)

    def forward(self, batch: Batch) -> Tensor:
        return self.run(batch)[0]

    @torch.no_grad()
    def attention_weights(self, batch: Batch) -> Tensor:
        """α (L_out, B, S): answer step i × input position j (rows sum to 1 over real positions)."""
        return self.run(batch)[1]


def build(cfg: Seq2SeqAttentionConfig, spec: TaskSpec) -> Seq2SeqAttention:
    return Seq2SeqAttention(cfg, spec)


ENTRY = ModelEntry(
    config_cls=Seq2SeqAttentionConfig,
    build=build,
    description="encoder-decoder with soft attention (bidirectional GRU/LSTM; additive/general/dot/none)",
    smoke={"hidden": 6, "attention_size": 5, "embed": 4},
)

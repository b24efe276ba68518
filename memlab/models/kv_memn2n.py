"""Key–value memory network (Miller et al. 2016) on the memory-network code of ``memn2n.py``.

Each memory slot i has a key k_i and a value v_i. On the bAbI-style stories the key is the whole
sentence and the value is the sentence (``values=sentence``) or its last word (``values=last_word``:
the place, object or direction a sentence is about). With one embedding A for question, keys and
values (Miller et al. §3, "A Φ_X", "A Φ_K", "A Φ_V") and the position encoding l_j of ``memn2n``:

    q^1 = Σ_j l_j ⊙ A q_j                                     question (B, d)
    k_i = Σ_j l_j ⊙ A x_ij + T_K(i),  v_i = Σ_{j ∈ value} l_j ⊙ A x_ij + T_V(i)      (B, N, d)
    p_i = softmax(q^h · k_i),  o = Σ_i p_i v_i                key addressing, value reading (eqs. 1–2)
    q^{h+1} = R_h (q^h + o)                                   one d×d matrix R_h per hop (eq. 3)
    answer step s: softmax(B (q^{H+1} + P_s))                 B the answer embedding, P_s as in memn2n

T_K, T_V (temporal encoding), empty slots, random noise and linear start are memn2n's. R_h starts
at the identity, so an untrained network reads as a layer-wise-tied MemN2N with A = B = C; with
``values=sentence`` and R_h = I it *is* that MemN2N (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from memlab.core.errors import check_choice
from memlab.core.interfaces import Batch
from memlab.memory.attention import memory_hop
from memlab.models.base import ModelEntry, SequenceModel
from memlab.models.memn2n import MemN2N, Sentences, answer_logits, check_memory_network, memory_vectors
from memlab.tasks.base import TaskSpec


@dataclass
class KVMemN2NConfig:
    embed: int = 20  # d
    hops: int = 3  # H
    values: str = "last_word"  # sentence | last_word
    encoding: str = "pe"  # pe | bow
    temporal: bool = True  # T_K, T_V
    memory_size: int = 50
    empty_slots: bool = True
    random_noise: float = 0.0
    linear_start: bool = False
    max_answer: int = 8
    sentence_end: int = 0
    question_end: int = 1
    init_std: float = 0.1

    def validate(self) -> None:
        check_memory_network(self)
        check_choice("model.values", self.values, ("sentence", "last_word"))


class KVMemN2N(SequenceModel):
    """``forward(batch)`` -> logits (T, B, output_size) on the response phase (0 elsewhere)."""

    read = MemN2N.read  # sentences, l and time indices exactly as memn2n
    hop_weights = MemN2N.hop_weights

    def __init__(self, cfg: KVMemN2NConfig, spec: TaskSpec):
        super().__init__()
        if spec.kind != "symbolic":
            raise ValueError("kv-memn2n reads sentences of tokens: it needs a symbolic task")
        self.cfg, self.spec = cfg, spec
        V, d = spec.n_tokens, cfg.embed
        self.A = nn.Parameter(torch.randn(V, d) * cfg.init_std)
        self.B = nn.Parameter(torch.randn(V, d) * cfg.init_std)
        self.T_K = nn.Parameter(torch.randn(cfg.memory_size, d) * cfg.init_std) if cfg.temporal else None
        self.T_V = nn.Parameter(torch.randn(cfg.memory_size, d) * cfg.init_std) if cfg.temporal else None
        self.R = nn.Parameter(torch.eye(d).repeat(cfg.hops, 1, 1))  # (H, d, d)
        self.answer_pos = nn.Parameter(torch.zeros(cfg.max_answer, d))
        self.linear = cfg.linear_start

    def run(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(logits (T, B, V), p (H, B, N): hop h's key addressing weights, slot 0 = the last sentence)."""
        cfg, tokens = self.cfg, batch.inputs
        sent, l, t_idx = self.read(batch)
        keep_v = sent.last_word if cfg.values == "last_word" else sent.in_memory
        k = memory_vectors(self.A, self.T_K, tokens, sent, l, sent.in_memory, t_idx)  # (B, N, d)
        v = memory_vectors(self.A, self.T_V, tokens, sent, l, keep_v, t_idx)  # (B, N, d)
        q = (self.A[tokens] * l * sent.in_question.unsqueeze(-1)).sum(0)  # (B, d)
        ps = []
        for h in range(cfg.hops):
            o, p = memory_hop(q, k, v, None if cfg.empty_slots else sent.mask, linear=self.linear)
            q = (q + o) @ self.R[h].T  # (B, d)
            ps.append(p)
        return answer_logits(q, self.B, self.answer_pos, batch), torch.stack(ps)

    def forward(self, batch: Batch) -> Tensor:
        return self.run(batch)[0]


def build(cfg: KVMemN2NConfig, spec: TaskSpec) -> KVMemN2N:
    return KVMemN2N(cfg, spec)


ENTRY = ModelEntry(
    config_cls=KVMemN2NConfig,
    build=build,
    description="key-value memory network (Miller et al. 2016; keys = sentences, values = sentences or last words)",
    smoke={"embed": 6, "hops": 2, "memory_size": 16, "max_answer": 80},
)

__all__ = ["KVMemN2N", "KVMemN2NConfig", "ENTRY", "Sentences"]

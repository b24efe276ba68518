"""End-to-end memory network (Sukhbaatar et al. 2015) over a symbolic token stream.

The input phase of a batch is read as sentences: the token ``sentence_end`` (the bAbI task's ``.``,
id 0) closes a sentence, and the tokens after the last one are the question (``question_end``,
the ``?``, is dropped). Sentence i (most recent first, at most ``memory_size``) with words x_ij,
j = 1..J_i, is stored as

    m_i = Σ_j l_j ⊙ A x_ij + T_A(i),     c_i = Σ_j l_j ⊙ C x_ij + T_C(i)      (§2.1, §4.1 PE, §4.1 TE)

with l_j = 1 (``encoding=bow``) or l_kj = (1 − j/J)(…) (``encoding=pe``, ``memory.attention.position_encoding``).
The question gives u^1 = Σ_j l_j ⊙ B q_j; each of K hops reads p = softmax(u^T m), o = Σ p_i c_i
and sets u^{k+1} = u^k + o^k (``tying=adjacent``: A^{k+1} = C^k, B = A^1, W^T = C^K) or
u^{k+1} = H u^k + o^k (``tying=layerwise``: one A, one C for all hops, W and B of their own).
Answer step s (the response phase, several tokens for list and path answers, then ``<e>``) is
predicted as softmax(W (u^{K+1} + P_s)), P_s a learnt answer-position vector (a memlab addition:
the paper answers one word). ``linear=True`` is the linear start of §4.2 (no softmax in the hops;
the trainer of the experiment switches it off).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.core.interfaces import Batch
from memlab.memory.attention import memory_hop
from memlab.models.base import ModelEntry, SequenceModel
from memlab.tasks.base import TaskSpec


@dataclass
class MemN2NConfig:
    embed: int = 20  # d
    hops: int = 3  # K
    tying: str = "adjacent"  # adjacent | layerwise
    encoding: str = "pe"  # pe (position encoding) | bow (bag of words)
    temporal: bool = True  # temporal encoding T_A, T_C
    memory_size: int = 50  # most recent sentences kept
    linear_start: bool = False  # start without the softmax in the hops (§4.2)
    max_answer: int = 8  # answer positions P_s (answer tokens + <e>)
    sentence_end: int = 0  # token id that ends a sentence
    question_end: int = 1  # token id that ends the question (dropped)
    init_std: float = 0.1

    def validate(self) -> None:
        if isinstance(self.hops, (int, float)) and self.hops < 1:
            raise ConfigError(f"model.hops={self.hops} is out of range; a memory network needs >= 1 hop")
        check_range("model.hops", self.hops, 1, 64)
        check_range("model.embed", self.embed, 1, 65536)
        check_range("model.memory_size", self.memory_size, 1, 100_000)
        check_range("model.max_answer", self.max_answer, 1, 10_000)
        check_range("model.init_std", self.init_std, 0, 10, lo_open=True)
        check_choice("model.tying", self.tying, ("adjacent", "layerwise"))
        check_choice("model.encoding", self.encoding, ("pe", "bow"))


def pe_weights(j: Tensor, J: Tensor, d: int) -> Tensor:
    """l_kj = (1 − j/J) − (k/d)(1 − 2j/J) per token: j, J (...) word position (1-based) and
    sentence length -> (..., d); equals ``position_encoding(J, d)[j − 1]``."""
    r = (j.float() / J.clamp(min=1).float()).unsqueeze(-1)  # (..., 1)
    k = torch.arange(1, d + 1, device=j.device, dtype=torch.float32) / d  # (d,)
    return (1 - r) - k * (1 - 2 * r)  # (..., d)


class Sentences:
    """Where each input token goes: memory slot (0 = the most recent sentence) or the question.

    tokens (T, B) and n_input (B,) -> fields, each (T, B): ``word`` (a real word), ``slot``,
    ``in_question``, ``j`` (1-based position in its sentence), ``J`` (its sentence's length); and
    ``n_sent`` (B,)."""

    def __init__(self, tokens: Tensor, n_input: Tensor, sep: int, qmark: int, memory_size: int):
        T, B = tokens.shape
        t = torch.arange(T, device=tokens.device).unsqueeze(1)  # (T, 1)
        valid = (t >= 1) & (t < n_input.unsqueeze(0))  # (T, B): after <s>, before the response
        is_sep = valid & (tokens == sep)
        self.word = valid & ~is_sep & (tokens != qmark)
        sent = torch.cumsum(is_sep.long(), 0) - is_sep.long()  # (T, B) sentences closed before t
        self.n_sent = is_sep.sum(0)  # (B,)
        self.in_question = self.word & (sent == self.n_sent.unsqueeze(0))
        last = torch.cummax(torch.where(is_sep, t.expand(T, B), torch.zeros_like(tokens)), 0).values  # (T, B)
        self.j = t - last  # 1-based: a sentence starts right after its '.' (or <s> at t = 0)
        self.slot = (self.n_sent.unsqueeze(0) - 1 - sent).clamp(min=0)  # (T, B)
        self.in_memory = self.word & ~self.in_question & (self.slot < memory_size)
        # sentence lengths (question included) by scatter: J of each token's sentence
        counts = torch.zeros(B, T + 1, dtype=torch.long, device=tokens.device)
        counts.scatter_add_(1, sent.T, self.word.T.long())  # (B, T + 1)
        self.J = counts.gather(1, sent.T).T  # (T, B)
        self.N = max(1, min(memory_size, int(self.n_sent.max()) if B else 1))
        self.mask = torch.arange(self.N, device=tokens.device).unsqueeze(0) < self.n_sent.clamp(max=memory_size).unsqueeze(1)


class MemN2N(SequenceModel):
    """``forward(batch)`` -> logits (T, B, output_size) on the response phase (0 elsewhere)."""

    def __init__(self, cfg: MemN2NConfig, spec: TaskSpec):
        super().__init__()
        if spec.kind != "symbolic":
            raise ValueError("memn2n reads sentences of tokens: it needs a symbolic task")
        self.cfg, self.spec = cfg, spec
        V, d, K = spec.n_tokens, cfg.embed, cfg.hops
        n_emb = K + 1 if cfg.tying == "adjacent" else 2  # A^1..A^{K+1} | A, C
        self.emb = nn.ParameterList([nn.Parameter(torch.randn(V, d) * cfg.init_std) for _ in range(n_emb)])
        self.time = nn.ParameterList([nn.Parameter(torch.randn(cfg.memory_size, d) * cfg.init_std)
                                      for _ in range(n_emb)]) if cfg.temporal else None
        if cfg.tying == "layerwise":
            self.B = nn.Parameter(torch.randn(V, d) * cfg.init_std)
            self.W = nn.Parameter(torch.randn(V, d) * cfg.init_std)
            self.H = nn.Linear(d, d, bias=False)
        self.answer_pos = nn.Parameter(torch.zeros(cfg.max_answer, d))
        self.linear = cfg.linear_start

    def _bags(self, tokens: Tensor, sent: Sentences, l: Tensor, which: int) -> Tensor:
        """Memory vectors (B, N, d) of embedding ``which``: Σ_j l_j ⊙ E x_ij + T_E(i)."""
        T, B = tokens.shape
        e = self.emb[which][tokens] * l * sent.in_memory.unsqueeze(-1)  # (T, B, d)
        slot = sent.slot.clamp(max=sent.N - 1)  # (T, B), masked tokens add 0 anyway
        m = e.new_zeros(B, sent.N, e.shape[-1])
        m.scatter_add_(1, slot.T.unsqueeze(-1).expand(-1, -1, e.shape[-1]), e.transpose(0, 1))  # (B, N, d)
        if self.time is not None:
            m = m + self.time[which][: sent.N].unsqueeze(0) * sent.mask.unsqueeze(-1)
        return m

    def run(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(logits (T, B, V), p (K, B, N): hop k's weights over memory slots, slot 0 = the last sentence)."""
        cfg, tokens = self.cfg, batch.inputs
        T, B = tokens.shape
        sent = Sentences(tokens, batch.n_input, cfg.sentence_end, cfg.question_end, cfg.memory_size)
        l = (pe_weights(sent.j, sent.J, cfg.embed) if cfg.encoding == "pe"
             else torch.ones(T, B, cfg.embed, device=tokens.device))  # (T, B, d)
        q_emb = self.emb[0] if cfg.tying == "adjacent" else self.B  # B = A^1 under adjacent tying
        u = (q_emb[tokens] * l * sent.in_question.unsqueeze(-1)).sum(0)  # (B, d)
        ps = []
        for k in range(cfg.hops):
            a_idx, c_idx = (k, k + 1) if cfg.tying == "adjacent" else (0, 1)
            o, p = memory_hop(u, self._bags(tokens, sent, l, a_idx), self._bags(tokens, sent, l, c_idx), sent.mask,
                              linear=self.linear)
            u = u + o if cfg.tying == "adjacent" else self.H(u) + o  # (B, d)
            ps.append(p)
        W = self.emb[cfg.hops] if cfg.tying == "adjacent" else self.W  # W^T = C^K
        n_out = batch.seq_len - batch.n_input  # (B,)
        L_out = int(n_out.max())
        if L_out > cfg.max_answer:
            raise ConfigError(f"answers of {L_out} steps exceed model.max_answer={cfg.max_answer}; raise it")
        z = u.unsqueeze(0) + self.answer_pos[:L_out].unsqueeze(1)  # (L_out, B, d)
        logits = z @ W.T  # (L_out, B, V)
        steps = torch.arange(L_out, device=tokens.device).unsqueeze(1)  # (L_out, 1)
        idx = (batch.n_input.unsqueeze(0) + steps).clamp(max=T - 1)  # (L_out, B)
        valid = steps < n_out.unsqueeze(0)
        out = logits.new_zeros(T, B, logits.shape[-1])
        out.index_put_((idx[valid], torch.nonzero(valid, as_tuple=True)[1]), logits[valid])
        return out, torch.stack(ps)

    def forward(self, batch: Batch) -> Tensor:
        return self.run(batch)[0]

    @torch.no_grad()
    def hop_weights(self, batch: Batch) -> Tensor:
        """p (K, B, N): which memory slot (0 = the most recent sentence) each hop reads."""
        return self.run(batch)[1]


def build(cfg: MemN2NConfig, spec: TaskSpec) -> MemN2N:
    return MemN2N(cfg, spec)


ENTRY = ModelEntry(
    config_cls=MemN2NConfig,
    build=build,
    description="end-to-end memory network (Sukhbaatar et al. 2015; K hops, PE/BoW, temporal encoding, tying)",
    smoke={"embed": 6, "hops": 2, "memory_size": 16, "max_answer": 80},
)

"""End-to-end memory network (Sukhbaatar et al. 2015) over a symbolic token stream.

The input phase of a batch is read as sentences: the token ``sentence_end`` (the bAbI task's ``.``,
id 0) closes a sentence, and the tokens after the last one are the question (``question_end``,
the ``?``, is dropped). Sentence i (most recent first, at most ``memory_size``) with words x_ij,
j = 1..J_i, is stored as

    m_i = Σ_j l_j ⊙ A x_ij + T_A(i),     c_i = Σ_j l_j ⊙ C x_ij + T_C(i)      (§2.1, §4.1 PE, §4.1 TE)

with l_j = 1 (``encoding=bow``) or l_kj = (1 − j/J) − (k/d)(1 − 2j/J) (``encoding=pe``, §4.1).
The question gives u^1 = Σ_j l_j ⊙ B q_j; each of K hops reads p = softmax(u^T m), o = Σ p_i c_i
and sets u^{k+1} = u^k + o^k (``tying=adjacent``: A^{k+1} = C^k, B = A^1, W^T = C^K) or
u^{k+1} = H u^k + o^k (``tying=layerwise``: one A, one C for all hops, W and B of their own).
Answer step s (the response phase, several tokens for list and path answers, then ``<e>``) is
predicted as softmax(W (u^{K+1} + P_s)), P_s a learnt answer-position vector (a memlab addition:
the paper answers one word).

Training details of §4.2 that live in the model:

* ``empty_slots``: the memory has ``memory_size`` slots and the slots past the story hold empty
  memories (m_i = c_i = 0, no temporal term) that take part in the softmax with score 0, as in the
  authors' code (the story is written into a nil-padded memory of ``sz`` slots). An empty slot is
  the "nothing matched" alternative of the softmax; without it (``empty_slots=false``) the weights
  are a distribution over the real sentences only.
* ``random_noise`` (RN): while training, the time indices i of T_A(i), T_C(i) are spread out by
  inserting up to ⌈rn·n⌉ empty memories at random among the n sentences (the authors' code).
* ``linear=True`` is linear start (LS): no softmax in the hops; the experiment's trainer puts the
  softmax back when the validation loss stops falling.
"""

from __future__ import annotations

import math
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
    empty_slots: bool = True  # slots past the story are empty memories inside the softmax (authors' code)
    random_noise: float = 0.0  # RN: fraction of empty memories inserted among the time indices while training
    linear_start: bool = False  # start without the softmax in the hops (§4.2)
    max_answer: int = 8  # answer positions P_s (answer tokens + <e>)
    sentence_end: int = 0  # token id that ends a sentence
    question_end: int = 1  # token id that ends the question (dropped)
    init_std: float = 0.1

    def validate(self) -> None:
        check_memory_network(self)
        check_choice("model.tying", self.tying, ("adjacent", "layerwise"))


def check_memory_network(cfg) -> None:
    """The settings memn2n and kv-memn2n share: hops, sizes, init, noise, sentence encoding."""
    check_hops(cfg.hops)
    check_range("model.embed", cfg.embed, 1, 65536)
    check_range("model.memory_size", cfg.memory_size, 1, 100_000)
    check_range("model.max_answer", cfg.max_answer, 1, 10_000)
    check_range("model.init_std", cfg.init_std, 0, 10, lo_open=True)
    check_range("model.random_noise", cfg.random_noise, 0, 1)
    check_choice("model.encoding", cfg.encoding, ("pe", "bow"))


def check_hops(hops) -> None:
    """One-line ConfigError unless 1 <= hops <= 64."""
    if isinstance(hops, (int, float)) and hops < 1:
        raise ConfigError(f"model.hops={hops} is out of range; a memory network needs >= 1 hop (allowed: 1..64)")
    check_range("model.hops", hops, 1, 64)


def pe_weights(j: Tensor, J: Tensor, d: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """l_kj = (1 − j/J) − (k/d)(1 − 2j/J) per token: j, J (...) word position (1-based) and
    sentence length -> (..., d) in ``dtype`` (the model's); equals ``position_encoding(J, d)[j − 1]``."""
    r = (j.to(dtype) / J.clamp(min=1).to(dtype)).unsqueeze(-1)  # (..., 1)
    k = torch.arange(1, d + 1, device=j.device, dtype=dtype) / d  # (d,)
    return (1 - r) - k * (1 - 2 * r)  # (..., d)


class Sentences:
    """Where each input token goes: memory slot (0 = the most recent sentence) or the question.

    tokens (T, B) and n_input (B,) -> fields, each (T, B): ``word`` (a real word), ``slot``,
    ``in_question``, ``j`` (1-based position in its sentence), ``J`` (its sentence's length),
    ``in_memory``, ``last_word`` (the last word of a stored sentence); ``n_sent`` (B,) sentences;
    ``N`` memory slots (``memory_size`` with ``pad``, else the most sentences in the batch) and
    ``mask`` (B, N) True on slots holding a sentence."""

    def __init__(self, tokens: Tensor, n_input: Tensor, sep: int, qmark: int, memory_size: int, pad: bool = False):
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
        self.last_word = self.in_memory & (self.j == self.J)
        self.N = memory_size if pad else max(1, min(memory_size, int(self.n_sent.max()) if B else 1))
        self.n_stored = self.n_sent.clamp(max=memory_size)  # (B,)
        self.mask = torch.arange(self.N, device=tokens.device).unsqueeze(0) < self.n_stored.unsqueeze(1)  # (B, N)


def time_index(sent: Sentences, noise: float, memory_size: int) -> Tensor:
    """Time index i of T(i) per slot (B, N): the slot itself, or under random noise (RN, the authors'
    code) the n sentences' ranks among n + n_blank positions, n_blank uniform on 0..⌈noise·n⌉, so
    empty memories sit between sentences; capped at ``memory_size − 1``. Uses torch's global RNG."""
    B, N = sent.mask.shape
    idx = torch.arange(N, device=sent.mask.device).expand(B, N).clone()  # (B, N)
    if noise <= 0:
        return idx
    for b in range(B):
        n = int(sent.n_stored[b])
        if n == 0:
            continue
        n_blank = int(torch.randint(0, math.ceil(noise * n) + 1, ()))
        ranks = torch.randperm(n + n_blank)[:n].sort().values  # n of the n + n_blank positions, in order
        idx[b, :n] = ranks.clamp(max=memory_size - 1).to(idx.device)
    return idx


def memory_vectors(E: Tensor, T_E: Tensor | None, tokens: Tensor, sent: Sentences, l: Tensor, keep: Tensor,
                   t_idx: Tensor) -> Tensor:
    """Memory vectors (B, N, d): Σ_j l_j ⊙ E x_ij over the kept tokens of slot i, + T_E(t_idx_i) on
    real slots. E (V, d), T_E (memory_size, d) or None, tokens/keep (T, B), l (T, B, d), t_idx (B, N)."""
    B, N = sent.mask.shape
    e = E[tokens] * l * keep.unsqueeze(-1)  # (T, B, d)
    slot = sent.slot.clamp(max=N - 1)  # (T, B), tokens not kept add 0 anyway
    m = e.new_zeros(B, N, e.shape[-1])
    m.scatter_add_(1, slot.T.unsqueeze(-1).expand(-1, -1, e.shape[-1]), e.transpose(0, 1))  # (B, N, d)
    if T_E is not None:
        m = m + T_E[t_idx] * sent.mask.unsqueeze(-1)  # (B, N, d)
    return m


def answer_logits(u: Tensor, W: Tensor, answer_pos: Tensor, batch: Batch) -> Tensor:
    """softmax-ready logits W (u + P_s) placed on the response steps: u (B, d), W (V, d),
    answer_pos (S_max, d) -> (T, B, V), zero outside the response phase."""
    T, B = batch.inputs.shape
    n_out = batch.seq_len - batch.n_input  # (B,)
    L_out = int(n_out.max())
    if L_out > answer_pos.shape[0]:
        raise ConfigError(f"answers of {L_out} steps exceed model.max_answer={answer_pos.shape[0]}; raise it")
    z = u.unsqueeze(0) + answer_pos[:L_out].unsqueeze(1)  # (L_out, B, d)
    logits = z @ W.T  # (L_out, B, V)
    steps = torch.arange(L_out, device=u.device).unsqueeze(1)  # (L_out, 1)
    idx = (batch.n_input.unsqueeze(0) + steps).clamp(max=T - 1)  # (L_out, B)
    valid = steps < n_out.unsqueeze(0)
    out = logits.new_zeros(T, B, logits.shape[-1])
    out.index_put_((idx[valid], torch.nonzero(valid, as_tuple=True)[1]), logits[valid])
    return out


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

    def read(self, batch: Batch) -> tuple[Sentences, Tensor, Tensor]:
        """The parsed sentences, l (T, B, d) and the time indices (B, N) of one batch."""
        cfg, tokens = self.cfg, batch.inputs
        T, B = tokens.shape
        sent = Sentences(tokens, batch.n_input, cfg.sentence_end, cfg.question_end, cfg.memory_size,
                         pad=cfg.empty_slots)
        dtype = self.answer_pos.dtype  # the model's (float64 after ``.double()``)
        l = (pe_weights(sent.j, sent.J, cfg.embed, dtype) if cfg.encoding == "pe"
             else torch.ones(T, B, cfg.embed, device=tokens.device, dtype=dtype))  # (T, B, d)
        t_idx = time_index(sent, cfg.random_noise if self.training else 0.0, cfg.memory_size)
        return sent, l, t_idx

    def run(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(logits (T, B, V), p (K, B, N): hop k's weights over memory slots, slot 0 = the last sentence)."""
        cfg, tokens = self.cfg, batch.inputs
        sent, l, t_idx = self.read(batch)
        hop_mask = None if cfg.empty_slots else sent.mask  # empty slots score 0 inside the softmax
        q_emb = self.emb[0] if cfg.tying == "adjacent" else self.B  # B = A^1 under adjacent tying
        u = (q_emb[tokens] * l * sent.in_question.unsqueeze(-1)).sum(0)  # (B, d)

        def bag(i: int) -> Tensor:
            return memory_vectors(self.emb[i], None if self.time is None else self.time[i], tokens, sent, l,
                                  sent.in_memory, t_idx)

        ps = []
        for k in range(cfg.hops):
            a_idx, c_idx = (k, k + 1) if cfg.tying == "adjacent" else (0, 1)
            o, p = memory_hop(u, bag(a_idx), bag(c_idx), hop_mask, linear=self.linear)
            u = u + o if cfg.tying == "adjacent" else self.H(u) + o  # (B, d)
            ps.append(p)
        W = self.emb[cfg.hops] if cfg.tying == "adjacent" else self.W  # W^T = C^K
        return answer_logits(u, W, self.answer_pos, batch), torch.stack(ps)

    def forward(self, batch: Batch) -> Tensor:
        return self.run(batch)[0]

    @torch.no_grad()
    def hop_weights(self, batch: Batch) -> Tensor:
        """p (K, B, N): which memory slot (0 = the most recent sentence) each hop reads."""
        return self.run(batch)[1]


def hop_story(model: nn.Module, task, x: Tensor, y: Tensor) -> dict:
    """One story read by a memory network: its sentences (story order), question, answer, the
    model's predicted answer and each hop's weight on each sentence (``weights`` (K, n), rows summing
    to 1 minus the weight on empty slots). x, y: the story's input and answer tokens (1-D)."""
    from memlab.tasks.babi import decode

    was = model.training
    model.eval()
    batch = task.assemble([(x, y)], torch.tensor([int((x == 0).sum())])).to(model.answer_pos.device)
    with torch.no_grad():
        logits, p = model.run(batch)  # p (K, 1, N)
    model.train(was)
    words = decode(x).split(" . ")
    sentences, question = [s + " ." for s in words[:-1]], words[-1]
    n = len(sentences)
    stored = min(n, p.shape[-1])
    pred = logits.argmax(-1)[batch.mask[:, 0], 0][:-1]
    return {"sentences": sentences, "question": question, "answer": decode(y), "predicted": decode(pred),
            "weights": [[round(float(w[n - 1 - i]), 4) if n - 1 - i < stored else 0.0 for i in range(n)]
                        for w in p[:, 0]]}


def hop_record(run, length: int, seed: int) -> dict:
    """Record of ``memlab plot RUN`` for a trained memory-network run (``memlab.evaluation.load_run``):
    one story of ``length`` sentences drawn with ``seed``, read by the run's model (``hop_story``)."""
    from memlab.core.errors import MemlabError
    from memlab.core.io import provenance

    if not hasattr(run.model, "hop_weights") or not hasattr(run.task, "cfg") or not hasattr(run.task.cfg, "qa"):
        raise MemlabError(f"hop plots draw memory networks on babi; run {run.run_dir} is {run.config.model} "
                          f"on {run.config.task}")
    run.task.check_lengths(torch.tensor([length]))
    x, y = run.task.make_pairs(torch.tensor([length]), torch.Generator().manual_seed(seed))[0]
    rec = {"run_id": run.run_dir.name, "model": run.config.model, "task": run.config.task, "qa": run.task.cfg.qa,
           "length": length, "checkpoint": f"{run.checkpoint_path.stem}@{run.epoch}",
           "hop_story": hop_story(run.model, run.task, x, y)}
    rec.update(provenance(seed=seed))
    return rec


def build(cfg: MemN2NConfig, spec: TaskSpec) -> MemN2N:
    return MemN2N(cfg, spec)


ENTRY = ModelEntry(
    config_cls=MemN2NConfig,
    build=build,
    description="end-to-end memory network (Sukhbaatar et al. 2015; K hops, PE/BoW, temporal encoding, tying)",
    smoke={"embed": 6, "hops": 2, "memory_size": 16, "max_answer": 80},
)

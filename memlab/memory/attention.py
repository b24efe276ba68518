"""Soft attention as pure functions: additive (Bahdanau), dot / general (Luong), memory hops (MemN2N).

Notation of the papers, batch first:

* annotations h_j (B, S, D_h), j = 1..S source positions, ``mask`` (B, S) True where h_j is real;
* query s (B, D_s): the decoder state s_{i-1} (Bahdanau et al. 2015) or u^k (Sukhbaatar et al. 2015).

Scores e_j, then weights α = softmax(e) over the unmasked positions, then the context c = Σ_j α_j h_j:

    additive (Bahdanau et al. 2015, eq. 6, App. A.1.2):  e_j = v_a^T tanh(W_a s + U_a h_j)
    dot      (Luong et al. 2015, eq. 8):                  e_j = s^T h_j
    general  (Luong et al. 2015, eq. 8):                  e_j = s^T W_a h_j

End-to-end memory networks (Sukhbaatar et al. 2015, eqs. 1–2, §2.2): one hop reads memory
vectors m_i (B, N, d) with query u (B, d): p = softmax(u^T m_i), o = Σ_i p_i c_i, u' = u + o
(or H u + o with layer-wise tying); ``position_encoding`` is their §4.1 l_kj.

Each vectorised function has a ``*_ref`` loop over positions beside it (tests compare them in float64).
Padding: masked positions get weight exactly 0; a row with no real position gets all-zero
weights (and so a zero context) rather than NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

NEG = -1e30  # finite "minus infinity": exp underflows to 0 and gradients stay finite


def masked_softmax(e: Tensor, mask: Tensor | None = None) -> Tensor:
    """α_j = exp(e_j) / Σ_{k real} exp(e_k) over the last axis; 0 where ``mask`` is False.

    e: (..., S) scores; mask: (..., S) bool or None. Rows with no real position are all 0.
    """
    if mask is None:
        return torch.softmax(e, -1)
    e = e.masked_fill(~mask, NEG)
    a = torch.softmax(e, -1) * mask  # (..., S); zeroes an all-masked row (softmax of NEGs is uniform)
    return a


def attend(alpha: Tensor, h: Tensor) -> Tensor:
    """Context c = Σ_j α_j h_j. alpha (B, S), h (B, S, D) -> (B, D)."""
    return torch.bmm(alpha.unsqueeze(1), h).squeeze(1)  # (B, 1, S) @ (B, S, D) -> (B, D)


def additive_scores(s: Tensor, Uh: Tensor, W_a: Tensor, v_a: Tensor) -> Tensor:
    """Bahdanau scores e_j = v_a^T tanh(W_a s + U_a h_j).

    s (B, D_s) query; Uh (B, S, A) the precomputed U_a h_j (computed once per source sentence,
    Bahdanau et al. App. A.1.2); W_a (A, D_s); v_a (A,). Returns e (B, S).
    """
    return torch.tanh(Uh + (s @ W_a.T).unsqueeze(1)) @ v_a  # (B, S, A) @ (A,) -> (B, S)


def additive_scores_ref(s: Tensor, h: Tensor, W_a: Tensor, U_a: Tensor, v_a: Tensor) -> Tensor:
    """Reference loop over batch and positions of ``additive_scores`` (U_a (A, D_h) applied here)."""
    B, S, _ = h.shape
    e = s.new_zeros(B, S)
    for b in range(B):
        for j in range(S):
            e[b, j] = v_a @ torch.tanh(W_a @ s[b] + U_a @ h[b, j])
    return e


def dot_scores(s: Tensor, h: Tensor, W_a: Tensor | None = None) -> Tensor:
    """Luong scores: e_j = s^T h_j (dot, W_a None) or s^T W_a h_j (general; W_a (D_s, D_h)).

    s (B, D_s), h (B, S, D_h) -> e (B, S).
    """
    q = s if W_a is None else s @ W_a  # (B, D_h)
    return torch.bmm(h, q.unsqueeze(-1)).squeeze(-1)  # (B, S, D_h) @ (B, D_h, 1) -> (B, S)


def dot_scores_ref(s: Tensor, h: Tensor, W_a: Tensor | None = None) -> Tensor:
    """Reference loop of ``dot_scores``."""
    B, S, _ = h.shape
    e = s.new_zeros(B, S)
    for b in range(B):
        for j in range(S):
            e[b, j] = s[b] @ (h[b, j] if W_a is None else W_a @ h[b, j])
    return e


def attention_ref(e: Tensor, h: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Reference loop of ``masked_softmax`` + ``attend``: (α (B, S), c (B, D))."""
    B, S, D = h.shape
    alpha, c = e.new_zeros(B, S), e.new_zeros(B, D)
    for b in range(B):
        real = [j for j in range(S) if mask is None or bool(mask[b, j])]
        if not real:
            continue
        top = max(float(e[b, j]) for j in real)  # shift for a stable exp
        z = sum(torch.exp(e[b, j] - top) for j in real)
        for j in real:
            alpha[b, j] = torch.exp(e[b, j] - top) / z
            c[b] = c[b] + alpha[b, j] * h[b, j]
    return alpha, c


# --------------------------------------------------------------------------- memory networks


def position_encoding(J: int, d: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Sukhbaatar et al. 2015 §4.1: l_kj = (1 − j/J) − (k/d)(1 − 2j/J), j = 1..J words, k = 1..d.

    Returns l (J, d); a sentence's memory vector is m_i = Σ_j l_j ⊙ A x_ij.
    """
    j = torch.arange(1, J + 1, dtype=dtype).unsqueeze(1) / J  # (J, 1)
    k = torch.arange(1, d + 1, dtype=dtype).unsqueeze(0) / d  # (1, d)
    return (1 - j) - k * (1 - 2 * j)  # (J, d)


def memory_hop(u: Tensor, m: Tensor, c: Tensor, mask: Tensor | None = None, *, linear: bool = False
               ) -> tuple[Tensor, Tensor]:
    """One MemN2N hop (eqs. 1–2): p_i = softmax(u^T m_i), o = Σ_i p_i c_i.

    u (B, d) query; m, c (B, N, d) input and output memory vectors; mask (B, N) True on real
    sentences. ``linear`` (linear start, §4.2) drops the softmax: p_i = u^T m_i on real slots.
    Returns (o (B, d), p (B, N)).
    """
    e = dot_scores(u, m)  # (B, N)
    p = (e * mask if mask is not None else e) if linear else masked_softmax(e, mask)
    return attend(p, c), p


def memory_hop_ref(u: Tensor, m: Tensor, c: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Reference loop of ``memory_hop`` (softmax form)."""
    p, o = attention_ref(dot_scores_ref(u, m), c, mask)
    return o, p

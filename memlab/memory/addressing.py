"""NTM and DNC memory addressing as pure functions.

Notation follows Graves et al. 2014 (NTM, §3.3) and Graves et al. 2016 (DNC, Methods).
Shapes: B batch, H heads, N memory locations, W word size, S = 2R + 1 shift offsets,
R read heads (DNC), Hw write heads.

Every normaliser carries an ``eps`` so that an all-zero memory, an all-zero weighting or a
zero key gives finite values *and* finite gradients. Where the fast version is vectorised
(content weighting, circular shift, erase/add, allocation, links), a slow ``*_ref`` loop over
the paper's formula sits beside it; ``tests/memory/test_addressing.py`` checks they agree in
float64, values and gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-6


# --------------------------------------------------------------------------- NTM (§3.3)


def cosine_similarity(memory: Tensor, keys: Tensor, eps: float = EPS) -> Tensor:
    """K[k, M(i)] = k·M(i) / (‖k‖‖M(i)‖ + ε)  (NTM eq. 6).

    memory: (B, N, W), keys: (B, H, W) -> (B, H, N).

    The norms are sqrt(Σx² + ε) rather than ‖x‖, so the gradient at a zero vector is finite.
    """
    dot = torch.einsum("bhw,bnw->bhn", keys, memory)  # (B, H, N)
    k_norm = torch.sqrt((keys * keys).sum(-1) + eps)  # (B, H)
    m_norm = torch.sqrt((memory * memory).sum(-1) + eps)  # (B, N)
    return dot / (k_norm.unsqueeze(-1) * m_norm.unsqueeze(1) + eps)  # (B, H, N)


def content_weighting(memory: Tensor, keys: Tensor, beta: Tensor, eps: float = EPS) -> Tensor:
    """w^c_t(i) = softmax_i(β_t K[k_t, M_t(i)])  (NTM eq. 5, DNC C(M, k, β)).

    memory: (B, N, W), keys: (B, H, W), beta: (B, H) with β ≥ 0 -> (B, H, N).
    """
    return torch.softmax(beta.unsqueeze(-1) * cosine_similarity(memory, keys, eps), dim=-1)


def content_weighting_ref(memory: Tensor, keys: Tensor, beta: Tensor, eps: float = EPS) -> Tensor:
    """Slow loop form of :func:`content_weighting` (same ε placement)."""
    B, N, _ = memory.shape
    H = keys.shape[1]
    out = []
    for b in range(B):
        rows = []
        for h in range(H):
            k = keys[b, h]
            sims = []
            for i in range(N):
                m = memory[b, i]
                cos = (k * m).sum() / (torch.sqrt((k * k).sum() + eps) * torch.sqrt((m * m).sum() + eps) + eps)
                sims.append(beta[b, h] * cos)
            e = torch.exp(torch.stack(sims) - torch.stack(sims).max())
            rows.append(e / e.sum())
        out.append(torch.stack(rows))
    return torch.stack(out)


def interpolate(w_content: Tensor, w_prev: Tensor, g: Tensor) -> Tensor:
    """w^g_t = g_t w^c_t + (1 − g_t) w_{t−1}  (NTM eq. 7).

    w_content, w_prev: (B, H, N); g: (B, H) in [0, 1] -> (B, H, N).
    """
    g = g.unsqueeze(-1)  # (B, H, 1)
    return g * w_content + (1.0 - g) * w_prev


def shift_offsets(shift_range: int) -> list[int]:
    """The allowed integer shifts −R … R, in the order of the shift weighting's entries."""
    return list(range(-shift_range, shift_range + 1))


def _shift_index(n: int, shift_range: int, device) -> Tensor:
    """idx[k, i] = (i − o_k) mod N for offsets o_k = k − R: (S, N) long."""
    offsets = torch.arange(-shift_range, shift_range + 1, device=device).unsqueeze(1)  # (S, 1)
    return (torch.arange(n, device=device).unsqueeze(0) - offsets) % n  # (S, N)


def circular_shift(w: Tensor, s: Tensor) -> Tensor:
    """w̃_t(i) = Σ_j w^g_t(j) s_t(i − j)  (indices mod N; NTM eq. 8).

    w: (B, H, N); s: (B, H, S) with S = 2R + 1 odd, s_t[k] the weight of shifting by k − R
    (a positive shift moves the focus to higher locations) -> (B, H, N).
    Requires S ≤ N so that no two offsets land on the same location.
    """
    S, N = s.shape[-1], w.shape[-1]
    if S % 2 != 1 or S > N:
        raise ValueError(f"shift weighting size {S} must be odd and <= memory size {N}")
    idx = _shift_index(N, S // 2, w.device)  # (S, N)
    shifted = w[..., idx]  # (B, H, S, N): shifted[..., k, i] = w[(i − o_k) mod N]
    return torch.einsum("bhsn,bhs->bhn", shifted, s)


def circular_shift_ref(w: Tensor, s: Tensor) -> Tensor:
    """Slow double loop of NTM eq. 8."""
    B, H, N = w.shape
    R = s.shape[-1] // 2
    out = torch.zeros_like(w)
    for i in range(N):
        for j in range(N):
            d = (i - j) % N  # shift that carries location j to i
            for k, o in enumerate(range(-R, R + 1)):
                if o % N == d:
                    out[:, :, i] = out[:, :, i] + w[:, :, j] * s[:, :, k]
    return out


def sharpen(w: Tensor, gamma: Tensor, eps: float = EPS) -> Tensor:
    """w_t(i) = w̃_t(i)^γ_t / Σ_j w̃_t(j)^γ_t  (NTM eq. 9), γ ≥ 1.

    w: (B, H, N) non-negative; gamma: (B, H) -> (B, H, N).
    Computed as softmax_i(γ log(w̃(i) + ε)), which is the same ratio for w̃ + ε: finite in value
    and in its γ-gradient where w̃ = 0 (w^γ log w is 0·(−∞) there otherwise), and free of
    underflow for large γ (0.75^100 vanishes next to any ε in a plain normaliser).
    """
    return torch.softmax(gamma.unsqueeze(-1) * torch.log(w + eps), dim=-1)  # (B, H, N)


def sharpen_ref(w: Tensor, gamma: Tensor, eps: float = EPS) -> Tensor:
    """Slow loop form of :func:`sharpen`."""
    B, H, N = w.shape
    out = torch.zeros_like(w)
    for b in range(B):
        for h in range(H):
            p = torch.stack([(w[b, h, i] + eps) ** gamma[b, h] for i in range(N)])
            out[b, h] = p / p.sum()
    return out


def ntm_address(
    memory: Tensor, w_prev: Tensor, k: Tensor, beta: Tensor, g: Tensor, s: Tensor, gamma: Tensor,
    eps: float = EPS,
) -> Tensor:
    """The full NTM addressing pipeline (NTM Fig. 2): content → interpolate → shift → sharpen.

    memory: (B, N, W); w_prev: (B, H, N); k: (B, H, W); beta, g, gamma: (B, H); s: (B, H, S)
    -> w_t: (B, H, N).
    """
    w_c = content_weighting(memory, k, beta, eps)
    w_g = interpolate(w_c, w_prev, g)
    return sharpen(circular_shift(w_g, s), gamma, eps)


def read_memory(memory: Tensor, w: Tensor) -> Tensor:
    """r_t = Σ_i w_t(i) M_t(i)  (NTM eq. 2). memory: (B, N, W), w: (B, H, N) -> (B, H, W)."""
    return torch.einsum("bhn,bnw->bhw", w, memory)


def erase_add(memory: Tensor, w: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """M_t = M_{t−1} ∘ Π_h (1 − w^h_t e^h_tᵀ) + Σ_h w^h_t a^h_tᵀ  (NTM eqs. 3–4, DNC eq. 1).

    All heads erase first, then all add (so head order does not matter).
    memory: (B, N, W); w: (B, H, N); erase e_t: (B, H, W) in [0, 1]; add a_t: (B, H, W)
    -> (B, N, W).
    """
    if w.shape[1] == 1:  # the common case, without the product over heads
        keep = 1.0 - w[:, 0].unsqueeze(-1) * erase[:, 0].unsqueeze(1)  # (B, N, W)
    else:
        keep = (1.0 - w.unsqueeze(-1) * erase.unsqueeze(2)).prod(1)  # (B, H, N, W) -> (B, N, W)
    return memory * keep + torch.einsum("bhn,bhw->bnw", w, add)


def erase_add_ref(memory: Tensor, w: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Slow loop form of :func:`erase_add`."""
    B, N, W = memory.shape
    H = w.shape[1]
    out = memory.clone()
    for b in range(B):
        for i in range(N):
            for j in range(W):
                keep = memory.new_ones(())
                for h in range(H):
                    keep = keep * (1 - w[b, h, i] * erase[b, h, j])
                val = memory[b, i, j] * keep
                for h in range(H):
                    val = val + w[b, h, i] * add[b, h, j]
                out[b, i, j] = val
    return out


# --------------------------------------------------------------------------- DNC (Methods)


def retention(free_gates: Tensor, read_weights_prev: Tensor) -> Tensor:
    """ψ_t = Π_r (1 − f^r_t w^{r}_{t−1})  (DNC memory retention vector).

    free_gates f_t: (B, R) in [0, 1]; read_weights_prev: (B, R, N) -> ψ_t: (B, N).
    """
    return (1.0 - free_gates.unsqueeze(-1) * read_weights_prev).prod(1)


def usage_update(usage_prev: Tensor, write_weights_prev: Tensor, psi: Tensor) -> Tensor:
    """u_t = (u_{t−1} + w^w_{t−1} − u_{t−1} ∘ w^w_{t−1}) ∘ ψ_t  (DNC usage vector).

    Several write heads combine as w^w = 1 − Π_h (1 − w^{w,h}).
    usage_prev: (B, N); write_weights_prev: (B, Hw, N); psi: (B, N) -> (B, N).
    """
    w = 1.0 - (1.0 - write_weights_prev).prod(1)  # (B, N)
    return (usage_prev + w - usage_prev * w) * psi


def allocation_weighting(usage: Tensor, eps: float = EPS) -> Tensor:
    """a_t[φ_t[j]] = (1 − u_t[φ_t[j]]) Π_{i<j} u_t[φ_t[i]]  (DNC allocation weighting).

    φ_t sorts the locations by ascending usage (the free list). Usage is first mapped to
    ε + (1 − ε) u, so a fully used memory still allocates a little and the product never
    multiplies exact zeros (as in DeepMind's dnc). The sort order is piecewise constant,
    so gradients flow through the usage values only.
    usage: (B, N) in [0, 1] -> (B, N).
    """
    u = eps + (1.0 - eps) * usage  # (B, N)
    sorted_u, phi = torch.sort(u, dim=-1, stable=True)  # (B, N) each, ascending; ties by index
    prod_before = torch.cumprod(
        torch.cat([torch.ones_like(sorted_u[:, :1]), sorted_u[:, :-1]], dim=1), dim=1
    )  # (B, N): Π_{i<j} u[φ[i]]
    a_sorted = (1.0 - sorted_u) * prod_before  # (B, N)
    return torch.zeros_like(a_sorted).scatter(1, phi, a_sorted)  # back to location order


def allocation_weighting_ref(usage: Tensor, eps: float = EPS) -> Tensor:
    """Slow loop form of :func:`allocation_weighting` (stable sort, same tie order)."""
    B, N = usage.shape
    out = torch.zeros_like(usage)
    for b in range(B):
        u = eps + (1 - eps) * usage[b]
        order = sorted(range(N), key=lambda i: (float(u[i].detach()), i))
        prod = usage.new_ones(())
        for j in order:
            out[b, j] = (1 - u[j]) * prod
            prod = prod * u[j]
    return out


def write_allocations(usage: Tensor, write_gates: Tensor, eps: float = EPS) -> Tensor:
    """Allocation weightings for several write heads, allocated one after another.

    After head h allocates a^h, usage is updated as u ← u + (1 − u) g^w_h a^h so the next head
    picks a different free slot (DeepMind dnc's multi-head scheme).
    usage: (B, N); write_gates: (B, Hw) -> (B, Hw, N).
    """
    out = []
    for h in range(write_gates.shape[1]):
        a = allocation_weighting(usage, eps)  # (B, N)
        out.append(a)
        usage = usage + (1.0 - usage) * write_gates[:, h : h + 1] * a
    return torch.stack(out, 1)  # (B, Hw, N)


def write_weighting(w_content: Tensor, w_alloc: Tensor, alloc_gate: Tensor, write_gate: Tensor) -> Tensor:
    """w^w_t = g^w_t [g^a_t a_t + (1 − g^a_t) c^w_t]  (DNC write weighting).

    w_content, w_alloc: (B, Hw, N); alloc_gate, write_gate: (B, Hw) -> (B, Hw, N).
    """
    ga, gw = alloc_gate.unsqueeze(-1), write_gate.unsqueeze(-1)
    return gw * (ga * w_alloc + (1.0 - ga) * w_content)


def precedence_update(p_prev: Tensor, write_weights: Tensor) -> Tensor:
    """p_t = (1 − Σ_i w^w_t[i]) p_{t−1} + w^w_t  (DNC precedence weighting).

    p_prev, write_weights: (B, Hw, N) -> (B, Hw, N).
    """
    return (1.0 - write_weights.sum(-1, keepdim=True)) * p_prev + write_weights


def link_update(link_prev: Tensor, p_prev: Tensor, write_weights: Tensor) -> Tensor:
    """L_t[i, j] = (1 − w^w_t[i] − w^w_t[j]) L_{t−1}[i, j] + w^w_t[i] p_{t−1}[j]; L_t[i, i] = 0.

    (DNC temporal link matrix; one per write head.) L[i, j] ≈ 1 means "i was written right
    after j". link_prev: (B, Hw, N, N); p_prev, write_weights: (B, Hw, N) -> (B, Hw, N, N).
    """
    B, H, N, _ = link_prev.shape
    w_i = write_weights.unsqueeze(-1)  # (B, Hw, N, 1)
    w_j = write_weights.unsqueeze(-2)  # (B, Hw, 1, N)
    kept = ((1.0 - w_i) - w_j) * link_prev  # (B, Hw, N, N)
    # + w_i p_jᵀ as one fused batched outer product (few N × N passes: this is the DNC's hot spot)
    link = torch.baddbmm(
        kept.reshape(B * H, N, N), w_i.reshape(B * H, N, 1), p_prev.reshape(B * H, 1, N)
    ).view(B, H, N, N)
    link.diagonal(dim1=-2, dim2=-1).zero_()  # L_t[i, i] = 0 (baddbmm does not need its output for backward)
    return link


def link_update_ref(link_prev: Tensor, p_prev: Tensor, write_weights: Tensor) -> Tensor:
    """Slow loop form of :func:`link_update`."""
    B, H, N, _ = link_prev.shape
    out = torch.zeros_like(link_prev)
    for b in range(B):
        for h in range(H):
            w, p = write_weights[b, h], p_prev[b, h]
            for i in range(N):
                for j in range(N):
                    if i != j:
                        out[b, h, i, j] = (1 - w[i] - w[j]) * link_prev[b, h, i, j] + w[i] * p[j]
    return out


def directional_weightings(link: Tensor, read_weights_prev: Tensor) -> tuple[Tensor, Tensor]:
    """f^r_t = L_t w^r_{t−1} and b^r_t = L_tᵀ w^r_{t−1}  (DNC forward/backward weightings).

    link: (B, Hw, N, N); read_weights_prev: (B, R, N) -> (forward, backward), each (B, R, Hw, N).
    """
    fwd = torch.einsum("bhij,brj->brhi", link, read_weights_prev)
    bwd = torch.einsum("bhji,brj->brhi", link, read_weights_prev)
    return fwd, bwd


def directional_weightings_ref(link: Tensor, read_weights_prev: Tensor) -> tuple[Tensor, Tensor]:
    """Slow loop form of :func:`directional_weightings`."""
    B, H, N, _ = link.shape
    R = read_weights_prev.shape[1]
    fwd = link.new_zeros(B, R, H, N)
    bwd = link.new_zeros(B, R, H, N)
    for b in range(B):
        for r in range(R):
            for h in range(H):
                for i in range(N):
                    fwd[b, r, h, i] = sum(link[b, h, i, j] * read_weights_prev[b, r, j] for j in range(N))
                    bwd[b, r, h, i] = sum(link[b, h, j, i] * read_weights_prev[b, r, j] for j in range(N))
    return fwd, bwd


def read_weighting(w_content: Tensor, fwd: Tensor, bwd: Tensor, modes: Tensor) -> Tensor:
    """w^r_t = π_t[content] c^r_t + Σ_h π_t[fwd_h] f^{r,h}_t + Σ_h π_t[bwd_h] b^{r,h}_t  (DNC).

    w_content: (B, R, N); fwd, bwd: (B, R, Hw, N); modes π_t: (B, R, 1 + 2 Hw), a softmax laid
    out as [backward_1..Hw, forward_1..Hw, content] -> (B, R, N).
    """
    Hw = fwd.shape[2]
    pi_b, pi_f, pi_c = modes[..., :Hw], modes[..., Hw : 2 * Hw], modes[..., 2 * Hw :]
    return (
        pi_c * w_content
        + torch.einsum("brh,brhn->brn", pi_f, fwd)
        + torch.einsum("brh,brhn->brn", pi_b, bwd)
    )


def oneplus(x: Tensor) -> Tensor:
    """1 + softplus(x): the DNC's map onto [1, ∞) (used for γ ≥ 1 and for DNC key strengths)."""
    return 1.0 + F.softplus(x)

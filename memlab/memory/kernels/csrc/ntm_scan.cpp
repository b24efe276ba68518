// The fused NTM kernel's forward and backward loops in C++ (memlab/memory/kernels/ntm_scan.py
// calls them on CPU tensors; its Python loops compute the same maths and are the fallback).
//
// Why. At NTM sizes (N = 128, W = 20, B = 1 … 32) a step is ~100 small ATen calls, and their
// per-call cost (Python, dispatch, TensorIterator set-up) was most of a training step. Here the
// matrix products stay ATen calls (at::addmm: the controller W_hr y_{t−1} and the head layer,
// and their transposes backward) and everything else of a step, the head activations, the whole
// addressing chain (NTM eqs. 5–9), the reads and erase/add (eqs. 2–4), is one plain loop nest
// per batch row over contiguous rows of N, forward and backward.
//
// Layout. The memory is TRANSPOSED, Mt (B, W, N), as in the Python kernel, so every loop over
// locations runs along a contiguous row. Every sequence buffer lives in one flat block
// (``Layout``): the forward takes a block from the caller (its arena) and returns the one it
// used (a new one when the given one is too small); the backward reads the same block.
//
// Shapes: T time, B batch, C controller size, G gate rows (4C LSTM, C feed-forward),
// Hr read and Hw write heads (H = Hr + Hw, reads first), memory N × W, S = 2R + 1 shifts,
// P head outputs [k (H·W) | β (H) | g (H) | s (H·S) | γ (H) | e (Hw·W) | a (Hw·W)],
// CY = C + Hr·W (y_t = [h_t, r_t]).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "scalar_math.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

using memlab_scalar::sigm;
using memlab_scalar::softplus;

using at::Tensor;

struct Dims {
  int64_t T, B, C, G, Hr, Hw, H, N, W, S, R, P, CY;
  int64_t ok, ob, og, os, oy, oe;  // end columns of k, β, g, s, γ, e in the head outputs
  bool lstm, save;
  double clip, eps;
};

Dims make_dims(int64_t T, int64_t B, at::IntArrayRef dims, bool lstm, bool save, double clip, double eps) {
  TORCH_CHECK(dims.size() == 6, "ntm_scan: dims = [C, Hr, Hw, N, W, S]");
  Dims d{};
  d.T = T, d.B = B, d.C = dims[0], d.Hr = dims[1], d.Hw = dims[2], d.N = dims[3], d.W = dims[4], d.S = dims[5];
  d.H = d.Hr + d.Hw, d.R = d.S / 2, d.G = lstm ? 4 * d.C : d.C, d.CY = d.C + d.Hr * d.W;
  d.ok = d.H * d.W, d.ob = d.ok + d.H, d.og = d.ob + d.H, d.os = d.og + d.H * d.S, d.oy = d.os + d.H;
  d.oe = d.oy + d.Hw * d.W, d.P = d.oe + d.Hw * d.W;
  d.lstm = lstm, d.save = save, d.clip = clip, d.eps = eps;
  return d;
}

// Offsets (in elements) of the sequence buffers in the block. With ``save`` every step keeps its
// own rows (the backward reads them); without, the state alternates between two rows and the
// step's intermediates share one.
struct Layout {
  int64_t Y, M, w, c, gate, tc, act, slope, K, wc, wg, ws, lw, kn, mn, gout, gpre, total;
  int64_t Tm, Ts;
};

Layout make_layout(const Dims& d) {
  Layout L{};
  L.Tm = d.save ? d.T + 1 : 2;  // rows of the carried state (M, w, c)
  L.Ts = d.save ? d.T : 1;      // rows of a step's intermediates
  int64_t at = 0;
  auto put = [&](int64_t n) {  // 64-byte aligned for the vector loops and BLAS
    int64_t o = at;
    at += (n + 15) / 16 * 16;
    return o;
  };
  const int64_t B = d.B, HN = d.H * d.N;
  L.Y = put((d.T + 1) * B * d.CY);
  L.M = put(L.Tm * B * d.W * d.N);
  L.w = put(L.Tm * B * HN);
  L.c = put(L.Tm * B * d.C);
  L.gate = put(L.Ts * B * d.G);  // LSTM: σ(i), σ(f), tanh(g), σ(o); feed-forward: h
  L.tc = put(L.Ts * B * d.C);    // tanh(c_t)
  L.act = put(L.Ts * B * d.P);   // activated head outputs (s: its softmax)
  L.slope = put(L.Ts * B * d.P); // d(activation)/d(head output), 0 where clipping bit (s: 1)
  L.K = put(L.Ts * B * HN);      // cosine similarity K
  L.wc = put(L.Ts * B * HN);     // content weighting w^c
  L.wg = put(L.Ts * B * HN);     // interpolated w^g
  L.ws = put(L.Ts * B * HN);     // shifted w̃ + ε
  L.lw = put(L.Ts * B * HN);     // log(w̃ + ε)
  L.kn = put(L.Ts * B * d.H);    // ‖k‖
  L.mn = put(L.Ts * B * d.N);    // ‖M_i‖
  L.gout = d.save ? put(d.T * B * d.P) : 0;  // the backward's ∂/∂(head outputs)
  L.gpre = d.save ? put(d.T * B * d.G) : 0;  // and ∂/∂(controller pre-activations)
  L.total = at;
  return L;
}

// Σ_i term(i) over 8 interleaved partial sums: one running sum is a chain of dependent adds
// (the compiler may not reorder them), 8 independent ones fill a vector register
template <typename T_, typename F>
inline T_ sum8(int64_t n, F term) {
  T_ acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += term(i + j);
  T_ s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += term(i);
  return s;
}

template <typename T_>
inline T_ dot(const T_* a, const T_* b, int64_t n) {
  return sum8<T_>(n, [&](int64_t i) { return a[i] * b[i]; });
}

template <typename T_>
inline void softmax_(T_* x, int64_t n) {
  T_ mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - mx);
  const T_ sum = sum8<T_>(n, [&](int64_t i) { return x[i]; });
  const T_ inv = T_(1) / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// out(i) += v · x((i + o) mod N) for i in 0 … N−1 (a circular read, |o| < N)
template <typename T_>
inline void add_rolled(T_* out, const T_* x, T_ v, int64_t o, int64_t N) {
  o = ((o % N) + N) % N;
  const int64_t n1 = N - o;
  for (int64_t i = 0; i < n1; ++i) out[i] += v * x[i + o];
  for (int64_t i = n1; i < N; ++i) out[i] += v * x[i + o - N];
}

// A forward step per batch row, after the head layer, in phases: between them ATen's vector
// kernels take the exponentials and logarithms of the whole (B, H, N) buffers at once (a scalar
// exp, tanh or log per element was most of the forward). Pointers are this row's slices:
// act, slope (P); th, so (P): tanh and σ of the clipped head outputs; Mp, Mn (W, N): Mt_{t−1},
// Mt_t; wp, wn (H, N): w_{t−1}, w_t; K, wc, wg, ws, lw (H, N), kn (H), mn (N): kept for the
// backward; r (Hr·W): the reads r_t.

// Phase 1: activations and slopes, content similarity; wc ← β K − max_i β K (exp'd next).
template <typename T_>
void fwd_row_content(const Dims& d, T_* act, T_* slope, const T_* th, const T_* so, const T_* Mp, T_* K, T_* wc,
                     T_* kn, T_* mn) {
  const int64_t N = d.N, W = d.W, S = d.S;
  const T_ clip = T_(d.clip), eps = T_(d.eps);
  // [k | β | g | s | γ | e | a]: k, a = tanh; β, γ − 1 = softplus; g, e = σ; s = softmax per head
  for (int64_t j = 0; j < d.P; ++j) {
    const T_ x = act[j];  // clipped by the caller
    T_ a, sl;
    if (j < d.ok || j >= d.oe) {  // k, a
      a = th[j], sl = T_(1) - a * a;
    } else if (j < d.ob || (j >= d.os && j < d.oy)) {  // β, γ: softplus' = σ (1 past its threshold)
      a = softplus(x) + (j >= d.os ? T_(1) : T_(0)), sl = x > T_(20) ? T_(1) : so[j];
    } else if (j < d.og || j >= d.oy) {  // g, e
      a = so[j], sl = a * (T_(1) - a);
    } else {  // s: the softmax below, its Jacobian applied in the backward
      a = x, sl = T_(1);
    }
    act[j] = a;
    slope[j] = (clip > 0 && !(std::abs(x) < clip)) ? T_(0) : sl;  // clamp passes no gradient where it bit
  }
  for (int64_t h = 0; h < d.H; ++h) softmax_(act + d.og + h * S, S);
  // ‖M_i‖ = sqrt(Σ_w M(i, w)² + ε) (eq. 6's norms)
  std::fill(mn, mn + N, T_(0));
  for (int64_t w = 0; w < W; ++w) {
    const T_* m = Mp + w * N;
    for (int64_t i = 0; i < N; ++i) mn[i] += m[i] * m[i];
  }
  for (int64_t i = 0; i < N; ++i) mn[i] = std::sqrt(mn[i] + eps);
  for (int64_t h = 0; h < d.H; ++h) {
    const T_* k = act + h * W;
    const T_ beta = act[d.ok + h];
    T_ *Kh = K + h * N, *wch = wc + h * N;
    kn[h] = std::sqrt(dot(k, k, W) + eps);
    // K(i) = k·M_i / (‖k‖‖M_i‖ + ε); w^c = softmax_i(β K) (eqs. 5–6)
    std::fill(Kh, Kh + N, T_(0));
    for (int64_t w = 0; w < W; ++w) {
      const T_ kw = k[w];
      const T_* m = Mp + w * N;
      for (int64_t i = 0; i < N; ++i) Kh[i] += kw * m[i];
    }
    for (int64_t i = 0; i < N; ++i) {
      Kh[i] /= kn[h] * mn[i] + eps;
      wch[i] = beta * Kh[i];
    }
    const T_ mx = *std::max_element(wch, wch + N);
    for (int64_t i = 0; i < N; ++i) wch[i] -= mx;
  }
}

// Phase 2: normalise w^c, interpolate and shift; ws ← w̃ + ε (its log is taken next).
template <typename T_>
void fwd_row_shift(const Dims& d, const T_* act, const T_* wp, T_* wc, T_* wg, T_* ws) {
  const int64_t N = d.N, S = d.S, R = d.R;
  for (int64_t h = 0; h < d.H; ++h) {
    const T_ g = act[d.ob + h];
    const T_* s = act + d.og + h * S;
    T_ *wch = wc + h * N, *wgh = wg + h * N, *wsh = ws + h * N;
    const T_* wph = wp + h * N;
    const T_ inv = T_(1) / sum8<T_>(N, [&](int64_t i) { return wch[i]; });
    for (int64_t i = 0; i < N; ++i) {
      wch[i] *= inv;
      wgh[i] = wph[i] + g * (wch[i] - wph[i]);  // w^g = g w^c + (1 − g) w_{t−1} (eq. 7)
    }
    // w̃(i) = Σ_k s_k w^g(i − o_k), o_k = k − R (eq. 8), + ε for the log
    std::fill(wsh, wsh + N, T_(d.eps));
    for (int64_t q = 0; q < S; ++q) add_rolled(wsh, wgh, s[q], R - q, N);
  }
}

// Phase 3: sharpen's logits; wn ← γ log(w̃ + ε) − max (exp'd next).
template <typename T_>
void fwd_row_sharpen(const Dims& d, const T_* act, const T_* lw, T_* wn) {
  const int64_t N = d.N;
  for (int64_t h = 0; h < d.H; ++h) {
    const T_ gam = act[d.os + h];
    const T_* lwh = lw + h * N;
    T_* wnh = wn + h * N;
    for (int64_t i = 0; i < N; ++i) wnh[i] = gam * lwh[i];
    const T_ mx = *std::max_element(wnh, wnh + N);
    for (int64_t i = 0; i < N; ++i) wnh[i] -= mx;
  }
}

// Phase 4: normalise w_t = softmax(γ log(w̃ + ε)) (eq. 9); read; write.
template <typename T_>
void fwd_row_access(const Dims& d, const T_* act, const T_* Mp, T_* Mn, T_* wn, T_* r) {
  const int64_t N = d.N, W = d.W;
  for (int64_t h = 0; h < d.H; ++h) {
    T_* wnh = wn + h * N;
    const T_ inv = T_(1) / sum8<T_>(N, [&](int64_t i) { return wnh[i]; });
    for (int64_t i = 0; i < N; ++i) wnh[i] *= inv;
  }
  // reads r = w^r M_{t−1} (eq. 2): they see the memory before this step's write
  for (int64_t h = 0; h < d.Hr; ++h)
    for (int64_t w = 0; w < W; ++w) r[h * W + w] = dot(wn + h * N, Mp + w * N, N);
  // erase then add: M_t = M_{t−1} ∘ Π_h (1 − w_h e_hᵀ) + Σ_h w_h a_hᵀ (eqs. 3–4), transposed
  const T_ *ww = wn + d.Hr * N, *e = act + d.oy, *a = act + d.oe;
  for (int64_t w = 0; w < W; ++w) {
    const T_* m = Mp + w * N;
    T_* mo = Mn + w * N;
    if (d.Hw == 1) {
      const T_ ew = e[w], aw = a[w];
      for (int64_t i = 0; i < N; ++i) mo[i] = m[i] - ww[i] * (ew * m[i] - aw);
    } else {
      for (int64_t i = 0; i < N; ++i) {
        T_ keep = 1, add = 0;
        for (int64_t h = 0; h < d.Hw; ++h) {
          keep *= T_(1) - e[h * W + w] * ww[h * N + i];
          add += a[h * W + w] * ww[h * N + i];
        }
        mo[i] = m[i] * keep + add;
      }
    }
  }
}

// One batch row of a backward step, up to the head layer. gM (W, N): ∂/∂Mt_t in, ∂/∂Mt_{t−1}
// out (the part through this row's access; in place); gw (H, N): ∂/∂w_t in, ∂/∂w_{t−1} out;
// gr (Hr·W): ∂/∂r_t; gout (P): ∂/∂(head outputs) out. The rest as saved by ``fwd_row``.
template <typename T_>
void bwd_row(const Dims& d, T_* gM, T_* gw, const T_* gr, T_* gout, const T_* act, const T_* slope, const T_* Mp,
             const T_* wt, const T_* wp, const T_* K, const T_* wc, const T_* wg, const T_* ws, const T_* lw,
             const T_* kn, const T_* mn, std::vector<T_>& scratch) {
  const int64_t N = d.N, W = d.W, S = d.S, R = d.R, H = d.H, Hr = d.Hr, Hw = d.Hw;
  const T_ eps = T_(d.eps);
  scratch.assign(H * N + 4 * N + 2 * Hw, T_(0));
  T_* gwt = scratch.data();   // ∂/∂w_t (H, N)
  T_* gmn = gwt + H * N;      // ∂/∂‖M_i‖ (N)
  T_* gz = gmn + N;           // per head: ∂/∂(γ log w̃), then ∂/∂w̃ (N)
  T_* gwg = gz + N;           // ∂/∂w^g (N)
  T_* gdot = gwg + N;         // ∂/∂(k·M_i) (N)
  T_* f = gdot + N;           // the write heads' erase factors at one (w, i), and their prefix products
  T_* fp = f + Hw;
  const T_ *ww = wt + Hr * N, *e = act + d.oy, *a = act + d.oe;
  T_ *ge = gout + d.oy, *ga = gout + d.oe, *gww = gwt + Hr * N;
  std::fill(ge, ge + 2 * Hw * W, T_(0));  // e and a: accumulated over locations below
  // erase then add, backward: ∂a_h = Σ_i gM w_h; ∂w_h = Σ_w gM (a_h − e_h M Π_{j≠h} f_j);
  // ∂e_h = −Σ_i gM M w_h Π_{j≠h} f_j; ∂M_{t−1} = gM Π_h f_h, f_h = 1 − w_h e_hᵀ
  for (int64_t w = 0; w < W; ++w) {
    const T_* m = Mp + w * N;
    T_* g = gM + w * N;
    if (Hw == 1) {
      const T_ ew = e[w], aw = a[w];
      const T_ se = sum8<T_>(N, [&](int64_t i) { return g[i] * m[i] * ww[i]; });
      const T_ sa = sum8<T_>(N, [&](int64_t i) {
        const T_ gm = g[i], u = ww[i];
        gww[i] += gm * (aw - ew * m[i]);
        g[i] = gm * (T_(1) - ew * u);
        return gm * u;
      });
      ga[w] = sa, ge[w] = -se;
    } else {
      for (int64_t i = 0; i < N; ++i) {
        const T_ gm = g[i];
        T_ pre = 1;
        for (int64_t h = 0; h < Hw; ++h) {
          fp[h] = pre;  // Π_{j<h} f_j
          f[h] = T_(1) - e[h * W + w] * ww[h * N + i];
          pre *= f[h];
        }
        T_ suf = 1;  // Π_{j>h} f_j
        for (int64_t h = Hw - 1; h >= 0; --h) {
          const T_ others = fp[h] * suf, u = ww[h * N + i];
          ga[h * W + w] += gm * u;
          ge[h * W + w] -= gm * m[i] * others * u;
          gww[h * N + i] += gm * (a[h * W + w] - e[h * W + w] * m[i] * others);
          suf *= f[h];
        }
        g[i] = gm * pre;
      }
    }
  }
  // reads r_h = Σ_i w_h(i) M_i: ∂w_h(i) = gr_h · M_i, ∂M_i += Σ_h gr_h w_h(i)
  for (int64_t h = 0; h < Hr; ++h) {
    for (int64_t w = 0; w < W; ++w) {
      const T_ grw = gr[h * W + w];
      const T_* m = Mp + w * N;
      T_* g = gM + w * N;
      T_* gwh = gwt + h * N;
      const T_* wth = wt + h * N;
      for (int64_t i = 0; i < N; ++i) {
        gwh[i] += grw * m[i];
        g[i] += grw * wth[i];
      }
    }
  }
  for (int64_t j = 0; j < H * N; ++j) gwt[j] += gw[j];
  for (int64_t h = 0; h < H; ++h) {
    const T_* k = act + h * W;
    const T_ beta = act[d.ok + h], g = act[d.ob + h], gam = act[d.os + h];
    const T_* s = act + d.og + h * S;
    const T_ *wth = wt + h * N, *lwh = lw + h * N, *wsh = ws + h * N, *wgh = wg + h * N, *wch = wc + h * N;
    const T_ *wph = wp + h * N, *Kh = K + h * N;
    const T_* gwth = gwt + h * N;
    // sharpen w = softmax(z), z = γ log(w̃ + ε): ∂z = w (∂w − w·∂w); ∂γ = ∂z·log(w̃ + ε); ∂w̃ = ∂z γ / (w̃ + ε)
    const T_ dv = dot(gwth, wth, N);
    const T_ g_gam = sum8<T_>(N, [&](int64_t i) {
      const T_ z = wth[i] * (gwth[i] - dv);
      gz[i] = z * gam / wsh[i];
      return z * lwh[i];
    });
    // shift w̃(i) = Σ_k s_k w^g(i − o_k): ∂w^g(m) = Σ_k s_k ∂w̃(m + o_k), ∂s_k = Σ_m w^g(m) ∂w̃(m + o_k)
    std::fill(gwg, gwg + N, T_(0));
    T_ gs[64];
    T_* gsp = S <= 64 ? gs : nullptr;
    std::vector<T_> gs_big;
    if (!gsp) gs_big.resize(S), gsp = gs_big.data();
    for (int64_t q = 0; q < S; ++q) {
      const int64_t o = q - R;
      add_rolled(gwg, gz, s[q], o, N);
      const int64_t oo = ((o % N) + N) % N, n1 = N - oo;
      gsp[q] = dot(wgh, gz + oo, n1) + dot(wgh + n1, gz, N - n1);
    }
    const T_ sv = dot(gsp, s, S);  // softmax backward of s
    for (int64_t q = 0; q < S; ++q) gout[d.og + h * S + q] = s[q] * (gsp[q] - sv);
    // interpolation w^g = w_{t−1} + g (w^c − w_{t−1}): ∂g, ∂w^c = g ∂w^g, ∂w_{t−1} = (1 − g) ∂w^g
    T_* gwh = gw + h * N;
    const T_ g_g = sum8<T_>(N, [&](int64_t i) {
      gwh[i] = (T_(1) - g) * gwg[i];
      return gwg[i] * (wch[i] - wph[i]);
    });
    // content w^c = softmax(β K), K = k·M / D, D = ‖k‖‖M‖ + ε
    const T_ dv2 = g * dot(gwg, wch, N);
    const T_ knh = kn[h];
    const T_ g_beta = sum8<T_>(N, [&](int64_t i) {
      const T_ gbK = wch[i] * (g * gwg[i] - dv2);  // ∂(βK)
      gdot[i] = gbK * beta / (knh * mn[i] + eps);  // ∂(k·M_i); −∂D = ∂(k·M_i) K
      return gbK * Kh[i];
    });
    const T_ g_kn = -sum8<T_>(N, [&](int64_t i) {
      const T_ gD = gdot[i] * Kh[i];
      gmn[i] -= gD * knh;
      return gD * mn[i];
    });
    T_* gk = gout + h * W;
    for (int64_t w = 0; w < W; ++w) {
      const T_* m = Mp + w * N;
      T_* gm = gM + w * N;
      const T_ kw = k[w];
      const T_ acc = sum8<T_>(N, [&](int64_t i) {
        gm[i] += kw * gdot[i];
        return gdot[i] * m[i];
      });
      gk[w] = acc + g_kn * kw / knh;  // + ∂‖k‖ k / ‖k‖
    }
    gout[d.ok + h] = g_beta;
    gout[d.ob + h] = g_g;
    gout[d.os + h] = g_gam;
  }
  // ‖M_i‖: ∂M_i += ∂‖M_i‖ M_i / ‖M_i‖
  for (int64_t i = 0; i < N; ++i) gmn[i] /= mn[i];
  for (int64_t w = 0; w < W; ++w) {
    const T_* m = Mp + w * N;
    T_* g = gM + w * N;
    for (int64_t i = 0; i < N; ++i) g[i] += gmn[i] * m[i];
  }
  for (int64_t j = 0; j < d.P; ++j) gout[j] *= slope[j];
}

Tensor carve(const Tensor& block, int64_t offset, at::IntArrayRef shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return block.narrow(0, offset, n).view(shape);
}

std::vector<Tensor> ntm_scan_fwd(const Tensor& xproj_, const Tensor& W_hrT_, const Tensor& W_headsT_,
                                 const Tensor& b_heads_, const Tensor& Mt0, const Tensor& w0, const Tensor& y0,
                                 const Tensor& c0, const Tensor& block_, at::IntArrayRef dims, double clip, double eps,
                                 bool lstm, bool save) {
  TORCH_CHECK(xproj_.device().is_cpu(), "ntm_scan_fwd: CPU tensors only");
  const Tensor xproj = xproj_.contiguous(), W_hrT = W_hrT_.contiguous(), W_headsT = W_headsT_.contiguous();
  const Tensor b_heads = b_heads_.contiguous();
  const Dims d = make_dims(xproj.size(0), xproj.size(1), dims, lstm, save, clip, eps);
  TORCH_CHECK(xproj.size(2) == d.G && W_hrT.size(0) == d.CY && W_headsT.size(1) == d.P, "ntm_scan_fwd: sizes");
  const Layout L = make_layout(d);
  Tensor block = block_;
  if (!block.defined() || block.dim() != 1 || block.numel() < L.total || block.scalar_type() != xproj.scalar_type())
    block = at::empty({L.total}, xproj.options());
  const int64_t B = d.B, N = d.N, W = d.W, H = d.H, C = d.C, G = d.G, P = d.P, CY = d.CY;
  const Tensor Y = carve(block, L.Y, {d.T + 1, B, CY}), Ms = carve(block, L.M, {L.Tm, B, W, N});
  const Tensor ws_ = carve(block, L.w, {L.Tm, B, H, N}), cs = carve(block, L.c, {L.Tm, B, C});
  const Tensor gate = carve(block, L.gate, {L.Ts, B, G}), act = carve(block, L.act, {L.Ts, B, P});
  const Tensor tcs = carve(block, L.tc, {L.Ts, B, C});
  Y[0].copy_(y0), Ms[0].copy_(Mt0), ws_[0].copy_(w0), cs[0].copy_(c0);
  // scratch of a step: tanh of the g gates; tanh and σ of the clipped head outputs
  Tensor tmp_c = at::empty({B, C}, xproj.options()), tmp_th = at::empty({B, P}, xproj.options());
  Tensor tmp_so = at::empty({B, P}, xproj.options());
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "ntm_scan_fwd", [&] {
    using T_ = scalar_t;
    T_* base = block.data_ptr<T_>();
    T_* Yp = base + L.Y;
    for (int64_t t = 0; t < d.T; ++t) {
      const int64_t sm = save ? t : t % 2, sn = save ? t + 1 : (t + 1) % 2, st = save ? t : 0;
      T_* Mp = base + L.M + sm * B * W * N;
      T_* Mn = base + L.M + sn * B * W * N;
      T_* wp = base + L.w + sm * B * H * N;
      T_* wn = base + L.w + sn * B * H * N;
      T_* cp = base + L.c + sm * B * C;
      T_* cn = base + L.c + sn * B * C;
      T_* gt = base + L.gate + st * B * G;
      T_* tc = base + L.tc + st * B * C;
      T_* yn = Yp + (t + 1) * B * CY;
      // controller: pre = W_x x_t + b + [W_h | W_r] y_{t−1}
      Tensor gate_t = gate[st];
      at::addmm_out(gate_t, xproj[t], Y[t], W_hrT);
      if (lstm) {  // gate order i, f, g, o; c_t = f c + i g, h_t = o tanh(c_t)
        at::tanh_out(tmp_c, gate_t.narrow(1, 2 * C, C));
        at::sigmoid_(gate_t);
        const T_* gg = tmp_c.data_ptr<T_>();
        for (int64_t b = 0; b < B; ++b) {
          T_* q = gt + b * G;
          for (int64_t j = 0; j < C; ++j) {
            q[2 * C + j] = gg[b * C + j];
            cn[b * C + j] = q[C + j] * cp[b * C + j] + q[j] * q[2 * C + j];
          }
        }
        Tensor tc_t = tcs[st];
        at::tanh_out(tc_t, cs[sn]);
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < C; ++j) yn[b * CY + j] = gt[b * G + 3 * C + j] * tc[b * C + j];
      } else {  // one tanh layer; c is carried unchanged (unused)
        at::tanh_(gate_t);
        for (int64_t b = 0; b < B; ++b) {
          std::copy(gt + b * G, gt + b * G + C, yn + b * CY);
          std::copy(cp + b * C, cp + (b + 1) * C, cn + b * C);
        }
      }
      // head layer: out = W_heads h_t + b_heads, clipped, then activated by phase 1
      Tensor act_t = act[st];
      at::addmm_out(act_t, b_heads, Y[t + 1].narrow(1, 0, C), W_headsT);
      if (clip > 0) act_t.clamp_(-clip, clip);
      at::tanh_out(tmp_th, act_t);
      at::sigmoid_out(tmp_so, act_t);
      const int64_t HN = H * N, off = st * B;
      T_ *Kt = base + L.K + off * HN, *wct = base + L.wc + off * HN, *wgt = base + L.wg + off * HN;
      T_ *wst = base + L.ws + off * HN, *lwt = base + L.lw + off * HN, *actp = base + L.act + off * P;
      const T_ *thp = tmp_th.data_ptr<T_>(), *sop = tmp_so.data_ptr<T_>();
      at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          fwd_row_content<T_>(d, actp + b * P, base + L.slope + (off + b) * P, thp + b * P, sop + b * P,
                              Mp + b * W * N, Kt + b * HN, wct + b * HN, base + L.kn + (off + b) * H,
                              base + L.mn + (off + b) * N);
      });
      Tensor wc_t = carve(block, L.wc + off * HN, {B * HN}), ws_t = carve(block, L.ws + off * HN, {B * HN});
      Tensor lw_t = carve(block, L.lw + off * HN, {B * HN}), wn_t = carve(block, L.w + sn * B * HN, {B * HN});
      wc_t.exp_();
      at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          fwd_row_shift<T_>(d, actp + b * P, wp + b * HN, wct + b * HN, wgt + b * HN, wst + b * HN);
      });
      at::log_out(lw_t, ws_t);
      at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) fwd_row_sharpen<T_>(d, actp + b * P, lwt + b * HN, wn + b * HN);
      });
      wn_t.exp_();
      at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          fwd_row_access<T_>(d, actp + b * P, Mp + b * W * N, Mn + b * W * N, wn + b * HN, yn + b * CY + C);
      });
    }
  });
  const int64_t last = save ? d.T : d.T % 2;
  return {Y, Ms[last], ws_[last], cs[last], block};
}

std::vector<Tensor> ntm_scan_bwd(const Tensor& gys_, const Tensor& gM_, const Tensor& gw_, const Tensor& gc_,
                                 const Tensor& W_hr_, const Tensor& W_heads_, const Tensor& block, at::IntArrayRef dims,
                                 double clip, double eps, bool lstm) {
  const Tensor gys = gys_.contiguous(), W_hr = W_hr_.contiguous(), W_heads = W_heads_.contiguous();
  const Dims d = make_dims(gys.size(0), gys.size(1), dims, lstm, true, clip, eps);
  const Layout L = make_layout(d);
  TORCH_CHECK(block.numel() >= L.total, "ntm_scan_bwd: the block is not the forward's");
  const int64_t T = d.T, B = d.B, N = d.N, W = d.W, H = d.H, C = d.C, G = d.G, P = d.P, CY = d.CY;
  const Tensor Y = carve(block, L.Y, {T + 1, B, CY});
  const Tensor gout = carve(block, L.gout, {T, B, P}), gpre = carve(block, L.gpre, {T, B, G});
  Tensor gM = gM_.contiguous().clone(), gw = gw_.contiguous().clone(), gc = gc_.contiguous().clone();
  Tensor gY = gys[T - 1].clone();
  AT_DISPATCH_FLOATING_TYPES(gys.scalar_type(), "ntm_scan_bwd", [&] {
    using T_ = scalar_t;
    const T_* base = block.data_ptr<T_>();
    T_* gMp = gM.data_ptr<T_>();
    T_* gwp = gw.data_ptr<T_>();
    T_* gcp = gc.data_ptr<T_>();
    T_* gout_p = gout.data_ptr<T_>();
    T_* gpre_p = gpre.data_ptr<T_>();
    for (int64_t t = T - 1; t >= 0; --t) {
      const T_* gYp = gY.data_ptr<T_>();
      T_* go = gout_p + t * B * P;
      at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        std::vector<T_> scratch;
        const int64_t HN = H * N;
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t r = t * B + b;  // this step's row of the intermediates
          bwd_row<T_>(d, gMp + b * W * N, gwp + b * HN, gYp + b * CY + C, go + b * P, base + L.act + r * P,
                      base + L.slope + r * P, base + L.M + r * W * N, base + L.w + (r + B) * HN, base + L.w + r * HN,
                      base + L.K + r * HN, base + L.wc + r * HN, base + L.wg + r * HN, base + L.ws + r * HN,
                      base + L.lw + r * HN, base + L.kn + r * H, base + L.mn + r * N, scratch);
        }
      });
      // ∂h_t = ∂y_t[:C] + W_headsᵀ ∂out
      const Tensor gh_t = at::addmm(gY.narrow(1, 0, C), gout[t], W_heads);
      const T_* gh = gh_t.data_ptr<T_>();
      T_* gp = gpre_p + t * B * G;
      const T_* q = base + L.gate + t * B * G;
      const T_* cprev = base + L.c + t * B * C;
      const T_* tc = base + L.tc + t * B * C;
      const T_* hs = base + L.Y + (t + 1) * B * CY;
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t j = 0; j < C; ++j) {
          const int64_t bj = b * C + j, bg = b * G;
          if (lstm) {  // c_t = f c + i g, h_t = o tanh(c_t)
            const T_ i_ = q[bg + j], f_ = q[bg + C + j], g_ = q[bg + 2 * C + j], o_ = q[bg + 3 * C + j];
            const T_ th = tc[bj], ghj = gh[bj];
            const T_ gct = gcp[bj] + ghj * o_ * (T_(1) - th * th);
            gp[bg + j] = gct * g_ * i_ * (T_(1) - i_);
            gp[bg + C + j] = gct * cprev[bj] * f_ * (T_(1) - f_);
            gp[bg + 2 * C + j] = gct * i_ * (T_(1) - g_ * g_);
            gp[bg + 3 * C + j] = ghj * th * o_ * (T_(1) - o_);
            gcp[bj] = gct * f_;
          } else {
            const T_ h = hs[b * CY + j];
            gp[bg + j] = gh[bj] * (T_(1) - h * h);
          }
        }
      }
      // ∂y_{t−1} = ∂L/∂y_{t−1} (the output) + [W_h | W_r]ᵀ ∂pre
      if (t > 0)
        at::addmm_out(gY, gys[t - 1], gpre[t], W_hr);
      else
        gY = at::mm(gpre[0], W_hr);
    }
  });
  const Tensor gpre_f = gpre.view({T * B, G}), gout_f = gout.view({T * B, P});
  const Tensor g_W_hr = at::mm(gpre_f.t(), Y.narrow(0, 0, T).reshape({T * B, CY}));
  const Tensor g_W_heads = at::mm(gout_f.t(), Y.narrow(0, 1, T).view({T * B, CY}).narrow(1, 0, C));
  return {gpre, g_W_hr, g_W_heads, gout_f.sum(0), gM, gw, gY, gc};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(memlab, m) {
  m.def("ntm_scan_fwd(Tensor xproj, Tensor W_hrT, Tensor W_headsT, Tensor b_heads, Tensor Mt0, Tensor w0, Tensor y0, "
        "Tensor c0, Tensor block, int[] dims, float clip, float eps, bool lstm, bool save) -> Tensor[]",
        &ntm_scan_fwd);
  m.def("ntm_scan_bwd(Tensor gys, Tensor gMt, Tensor gw, Tensor gc, Tensor W_hr, Tensor W_heads, Tensor block, "
        "int[] dims, float clip, float eps, bool lstm) -> Tensor[]",
        &ntm_scan_bwd);
}

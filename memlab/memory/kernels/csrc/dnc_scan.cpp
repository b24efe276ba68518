// The DNC kernel's forward and backward loops (memlab/memory/kernels/dnc_scan.py) in C++.
//
// The maths is that of ``_fwd_step`` / ``_bwd_step`` there (and of memlab/memory/dnc.py). Per
// time step the controller's and the interface's matrix products are one ATen GEMM each over
// the batch; everything else (usage, allocation, content weightings, erase/add, the link
// matrix, both directional reads, and their gradients) is plain loops over one batch element's
// data, so a step is a handful of dispatches instead of ~56 forward and ~85 backward. The link
// matrix is one pass over L per step forward (update L_t and read f = L_t w^r_{t−1},
// b = L_tᵀ w^r_{t−1} from the same element) and one backward (∂L_t, ∂w^w, ∂p, ∂w^r_{t−1} and
// ∂L_{t−1} from one read of L_{t−1}; L_t is recomputed from it on the fly).
//
// Buffers are allocated by the caller (its reused pool) and passed in; their time dimension
// may be shorter than T (ring buffers of a forward that saves nothing): step t uses index
// t mod length. Contiguous CPU tensors, float32 or float64.
//
// Shapes: T steps, B batch, C controller size, G = 4C (LSTM, gates i, f, g, o) or C (ff),
// R read heads, N locations, W word size, P interface width; the parts of ξ_t, in order,
// [k^r (R·W) | β^r (R) | k^w (W) | β^w | e (W) | v (W) | f (R) | g^a | g^w | π (3R)].

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "scalar_math.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <vector>

namespace {

using memlab_scalar::sigm;
using memlab_scalar::softplus;

using at::Tensor;

struct Dims {
  int64_t T, B, C, R, N, W, P, G, seg;
  bool lstm;
  int64_t c1, c2, c3, c4, c5, c6, c7, c8, c9;  // ends of the interface parts
};

Dims make_dims(const Tensor& xproj, at::IntArrayRef d, int64_t P) {
  Dims s{};
  s.T = xproj.size(0);
  s.B = xproj.size(1);
  s.G = xproj.size(2);
  s.C = d[0];
  s.R = d[1];
  s.N = d[2];
  s.W = d[3];
  s.lstm = d[4] != 0;
  s.seg = d[5];
  s.P = P;
  s.c1 = s.R * s.W;
  s.c2 = s.c1 + s.R;
  s.c3 = s.c2 + s.W;
  s.c4 = s.c3 + 1;
  s.c5 = s.c4 + s.W;
  s.c6 = s.c5 + s.W;
  s.c7 = s.c6 + s.R;
  s.c8 = s.c7 + 1;
  s.c9 = s.c8 + 1;
  TORCH_CHECK(s.c9 + 3 * s.R == P, "dnc_scan: interface width ", P, " does not match R, W");
  return s;
}

template <typename T>
inline void softmax(const T* z, T* y, int64_t n) {
  T m = z[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, z[i]);
  T s = 0;
  for (int64_t i = 0; i < n; ++i) s += (y[i] = std::exp(z[i] - m));
  for (int64_t i = 0; i < n; ++i) y[i] /= s;
}

// A step's data pointer: buffer x (len, B, …) at step t (mod len), batch element b.
template <typename T>
inline T* at_step(const Tensor& x, int64_t t, int64_t b) {
  const int64_t len = x.size(0), B = x.size(1), row = x.numel() / (len * B);
  return x.data_ptr<T>() + ((t % len) * B + b) * row;
}

// The (B, …) carried gradient x at batch element b.
template <typename T>
inline T* at_b(const Tensor& x, int64_t b) {
  return x.data_ptr<T>() + b * (x.numel() / x.size(0));
}

// L_t(i, j) = (1 − w_i − w_j) L_{t−1}(i, j) + w_i p_j off the diagonal, 0 on it; the one
// expression the forward, the backward's recomputation and its on-the-fly L_t all use.
template <typename T>
inline T link_new(T Lp, T wi, T wj, T pj) {
  return (T(1) - wi - wj) * Lp + wi * pj;
}

// The forward's buffers, in the order the Python caller passes them.
enum FwdBuf {
  kY, kGT, kCS, kPRE, kXI, kMs, kWRs, kWWs, kPs, kUs, kMN, kKW, kCW, kKNW, kSU, kPC, kPHI, kFWD, kBWD, kCR,
  kKR, kKNR, kLB, kNumFwd
};

// The parts of ξ_t that forward and backward both read: read keys k^r (R, W), write key k^w (W),
// write vector v (W), write strength β^w = 1 + softplus, allocation gate g^a, write gate g^w.
template <typename T>
inline std::tuple<const T*, const T*, const T*, T, T, T> interface_parts(const Dims& s, const T* xi) {
  return {xi, xi + s.c2, xi + s.c5, softplus(xi[s.c3]) + T(1), sigm(xi[s.c7]), sigm(xi[s.c8])};
}

// Memory access of step t for batch element b: ξ_t (clipped in place) and the state at t − 1 ->
// the state at t, r_t into y_t, and what the backward reads.
template <typename T>
void access_forward(const Dims& s, const std::vector<Tensor>& bf, int64_t t, int64_t b, double clip_, double eps_,
                    const T* Lsrc, T* Ldst, std::vector<T>& tmp, std::vector<int64_t>& idx) {
  const int64_t R = s.R, N = s.N, W = s.W, P = s.P, C = s.C;
  const T clip = T(clip_), eps = T(eps_);
  T* xi = at_step<T>(bf[kXI], t, b);
  if (clip > 0)
    for (int64_t k = 0; k < P; ++k) xi[k] = std::min(std::max(xi[k], -clip), clip);
  const auto [kr, kw, v, bw, ga, gw] = interface_parts<T>(s, xi);
  const T *M = at_step<T>(bf[kMs], t, b), *wr = at_step<T>(bf[kWRs], t, b), *ww = at_step<T>(bf[kWWs], t, b);
  const T *p = at_step<T>(bf[kPs], t, b), *u = at_step<T>(bf[kUs], t, b), *mn = at_step<T>(bf[kMN], t, b);
  T *Mn = at_step<T>(bf[kMs], t + 1, b), *wrn = at_step<T>(bf[kWRs], t + 1, b), *wwn = at_step<T>(bf[kWWs], t + 1, b);
  T *pn = at_step<T>(bf[kPs], t + 1, b), *un = at_step<T>(bf[kUs], t + 1, b), *mnn = at_step<T>(bf[kMN], t + 1, b);
  T *Kw = at_step<T>(bf[kKW], t, b), *cw = at_step<T>(bf[kCW], t, b), *knw = at_step<T>(bf[kKNW], t, b);
  T *su = at_step<T>(bf[kSU], t, b), *Pc = at_step<T>(bf[kPC], t, b);
  int64_t* phi = at_step<int64_t>(bf[kPHI], t, b);
  T *fwd = at_step<T>(bf[kFWD], t, b), *bwd = at_step<T>(bf[kBWD], t, b), *cr = at_step<T>(bf[kCR], t, b);
  T *Kr = at_step<T>(bf[kKR], t, b), *knr = at_step<T>(bf[kKNR], t, b);
  T* rd = at_step<T>(bf[kY], t + 1, b) + C;
  T *e = tmp.data(), *f = e + W, *z = f + R, *a = z + N;  // scratch: W + R + 2N
  for (int64_t k = 0; k < W; ++k) e[k] = sigm(xi[s.c4 + k]);
  for (int64_t r = 0; r < R; ++r) f[r] = sigm(xi[s.c6 + r]);
  // usage: ψ = Π_r (1 − f_r w^r_{t−1}), u_t = (u + w^w − u w^w) ψ
  for (int64_t i = 0; i < N; ++i) {
    T psi = 1;
    for (int64_t r = 0; r < R; ++r) psi *= T(1) - f[r] * wr[r * N + i];
    un[i] = (u[i] + ww[i] - u[i] * ww[i]) * psi;
  }
  // write content c^w = softmax(β^w K(M_{t−1}, k^w)), K = k·M / (‖k‖‖M‖ + ε), ‖x‖ = sqrt(Σ x² + ε)
  T kk = 0;
  for (int64_t k = 0; k < W; ++k) kk += kw[k] * kw[k];
  knw[0] = std::sqrt(kk + eps);
  for (int64_t i = 0; i < N; ++i) {
    T dot = 0;
    const T* __restrict mi = M + i * W;
#pragma omp simd reduction(+ : dot)
    for (int64_t k = 0; k < W; ++k) dot += kw[k] * mi[k];
    Kw[i] = dot / (knw[0] * mn[i] + eps);
    z[i] = bw * Kw[i];
  }
  softmax(z, cw, N);
  // allocation over the free list φ (ascending û = ε + (1 − ε) u_t, stable): a[φ_j] = (1 − û_φj) Π_{i<j} û_φi
  for (int64_t i = 0; i < N; ++i) z[i] = eps + un[i] * (T(1) - eps);
  std::iota(idx.begin(), idx.end(), int64_t(0));
  std::stable_sort(idx.begin(), idx.end(), [z](int64_t i, int64_t j) { return z[i] < z[j]; });
  T prod = 1;
  for (int64_t j = 0; j < N; ++j) {
    phi[j] = idx[j];
    su[j] = z[idx[j]];
    Pc[j] = prod;
    a[idx[j]] = (T(1) - su[j]) * prod;
    prod *= su[j];
  }
  // w^w = g^w [g^a a + (1 − g^a) c^w]
  T S = 0;
  for (int64_t i = 0; i < N; ++i) S += (wwn[i] = gw * (ga * a[i] + (T(1) - ga) * cw[i]));
  // memory M_t = M_{t−1} ∘ (1 − w eᵀ) + w vᵀ, and its row norms
  for (int64_t i = 0; i < N; ++i) {
    T nn = 0;
    const T wi = wwn[i];
    const T *__restrict mi = M + i * W, *__restrict ee = e, *__restrict vv = v;
    T* __restrict mo = Mn + i * W;
#pragma omp simd reduction(+ : nn)
    for (int64_t k = 0; k < W; ++k) {
      const T m = mi[k] * (T(1) - wi * ee[k]) + wi * vv[k];
      mo[k] = m;
      nn += m * m;
    }
    mnn[i] = std::sqrt(nn + eps);
  }
  // links and both directional reads in one pass: f = L_t w^r_{t−1}, b = L_tᵀ w^r_{t−1}
  std::fill(fwd, fwd + R * N, T(0));
  std::fill(bwd, bwd + R * N, T(0));
  for (int64_t i = 0; i < N; ++i) {
    const T wi = wwn[i];
    const T* Li = Lsrc + i * N;  // may be Lo itself (in place): elementwise, no carried dependence
    T* Lo = Ldst + i * N;
#pragma omp simd
    for (int64_t j = 0; j < N; ++j) Lo[j] = link_new(Li[j], wi, wwn[j], p[j]);
    Lo[i] = 0;
    for (int64_t r = 0; r < R; ++r) {
      const T* __restrict x = wr + r * N;
      T* __restrict br = bwd + r * N;
      const T xi_ = x[i];
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < N; ++j) {
        acc += Lo[j] * x[j];
        br[j] += Lo[j] * xi_;
      }
      fwd[r * N + i] = acc;
    }
  }
  // precedence p_t = (1 − Σ w) p_{t−1} + w
  for (int64_t i = 0; i < N; ++i) pn[i] = (T(1) - S) * p[i] + wwn[i];
  // read content c^r = softmax(β^r K(M_t, k^r)); w^r_t = π_b b + π_f f + π_c c; r_t = w^r_t M_t
  for (int64_t r = 0; r < R; ++r) {
    const T* k = kr + r * W;
    const T br = softplus(xi[s.c1 + r]) + T(1);
    T kk2 = 0;
    for (int64_t q = 0; q < W; ++q) kk2 += k[q] * k[q];
    knr[r] = std::sqrt(kk2 + eps);
    for (int64_t i = 0; i < N; ++i) {
      T dot = 0;
      const T* __restrict mi = Mn + i * W;
#pragma omp simd reduction(+ : dot)
      for (int64_t q = 0; q < W; ++q) dot += k[q] * mi[q];
      Kr[r * N + i] = dot / (knr[r] * mnn[i] + eps);
      z[i] = br * Kr[r * N + i];
    }
    softmax(z, cr + r * N, N);
    T pi[3];
    softmax(xi + s.c9 + 3 * r, pi, 3);
    for (int64_t i = 0; i < N; ++i)
      wrn[r * N + i] = pi[0] * bwd[r * N + i] + pi[1] * fwd[r * N + i] + pi[2] * cr[r * N + i];
    T* __restrict out = rd + r * W;
    std::fill(out, out + W, T(0));
    for (int64_t i = 0; i < N; ++i) {
      const T wi = wrn[r * N + i];
      const T* __restrict mi = Mn + i * W;
#pragma omp simd
      for (int64_t q = 0; q < W; ++q) out[q] += wi * mi[q];
    }
  }
}

template <typename T>
void forward_impl(const Dims& s, const Tensor& xproj, const Tensor& Wc, const Tensor& W_if, const Tensor& b_if,
                  const std::vector<Tensor>& bf, const std::vector<Tensor>& links, double clip, double eps) {
  const int64_t T_ = s.T, B = s.B, C = s.C, N = s.N, W = s.W, RW = s.R * s.W, G = s.G;
  const Tensor &Y = bf[kY], &XI = bf[kXI], &LB = bf[kLB];
  Tensor PRE = bf[kPRE];
  const Tensor WcT = Wc.t(), W_ifT = W_if.t();
  for (int64_t b = 0; b < B; ++b) {  // ‖M_0(i)‖
    const T* M = at_step<T>(bf[kMs], 0, b);
    T* mn = at_step<T>(bf[kMN], 0, b);
    for (int64_t i = 0; i < N; ++i) {
      T nn = 0;
      for (int64_t k = 0; k < W; ++k) nn += M[i * W + k] * M[i * W + k];
      mn[i] = std::sqrt(nn + T(eps));
    }
  }
  const T* Lsrc = links[0].data_ptr<T>();
  for (int64_t t = 0; t < T_; ++t) {
    // controller: pre = W_x x_t + b + [W_h | W_r] y_{t−1}
    const Tensor yt = Y.select(0, t), yn = Y.select(0, t + 1);
    if (s.lstm) {
      at::addmm_out(PRE, xproj.select(0, t), yt, WcT);
    } else {
      at::addmm_out(PRE, xproj.select(0, t), yt.narrow(1, C, RW), WcT);
    }
    for (int64_t b = 0; b < B; ++b) {
      const T* pre = PRE.data_ptr<T>() + b * G;
      T* h = yn.data_ptr<T>() + b * (C + RW);
      if (s.lstm) {  // gates i, f, g, o -> σ(i), σ(f), tanh(g), σ(o); c_t = f c + i g; h_t = o tanh(c_t)
        T* gt = at_step<T>(bf[kGT], t, b);
        const T* c = at_step<T>(bf[kCS], t, b);
        T* cn = at_step<T>(bf[kCS], t + 1, b);
        for (int64_t k = 0; k < C; ++k) {
          const T gi = sigm(pre[k]), gf = sigm(pre[C + k]), gg = std::tanh(pre[2 * C + k]), go = sigm(pre[3 * C + k]);
          gt[k] = gi, gt[C + k] = gf, gt[2 * C + k] = gg, gt[3 * C + k] = go;
          cn[k] = gf * c[k] + gi * gg;
          h[k] = go * std::tanh(cn[k]);
        }
      } else {
        for (int64_t k = 0; k < C; ++k) h[k] = std::tanh(pre[k]);
      }
    }
    // interface ξ_t = W_ξ h_t + b_ξ (clipped per element below)
    Tensor xit = XI.select(0, t % XI.size(0));
    at::addmm_out(xit, b_if, yn.narrow(1, 0, C), W_ifT);
    // the link matrix: a kept checkpoint at every segment start, else the working buffer (in place)
    const int64_t k = (t + 1) / s.seg;
    T* Ldst = ((t + 1) % s.seg == 0 && k < (int64_t)links.size()) ? links[k].data_ptr<T>() : LB.data_ptr<T>();
    const int64_t BN2 = N * N;
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<T> tmp(W + s.R + 2 * N);
      std::vector<int64_t> idx(N);
      for (int64_t b = b0; b < b1; ++b)
        access_forward<T>(s, bf, t, b, clip, eps, Lsrc + b * BN2, Ldst + b * BN2, tmp, idx);
    });
    Lsrc = Ldst;
  }
}

void dnc_scan_forward(const Tensor& xproj, const Tensor& Wc, const Tensor& W_if, const Tensor& b_if,
                      at::TensorList bufs, at::TensorList links, at::IntArrayRef dims, double clip, double eps) {
  TORCH_CHECK(bufs.size() == kNumFwd, "dnc_scan_forward: expected ", int(kNumFwd), " buffers");
  const Dims s = make_dims(xproj, dims, W_if.size(0));
  std::vector<Tensor> bf(bufs.begin(), bufs.end());
  std::vector<Tensor> lk(links.begin(), links.end());
  for (const auto& x : bf) TORCH_CHECK(!x.defined() || x.numel() == 0 || x.is_contiguous(), "dnc_scan: buffers must be contiguous");
  TORCH_CHECK(xproj.is_contiguous() && !xproj.is_cuda(), "dnc_scan_forward: contiguous CPU tensors only");
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "dnc_scan_forward",
                             [&] { forward_impl<scalar_t>(s, xproj, Wc, W_if, b_if, bf, lk, clip, eps); });
}

// The backward's own buffers, in the order the Python caller passes them: the gradients of the
// outputs (updated with the next step's controller terms), of ξ and of the controller
// pre-activations per step, the carried gradients of the state, and a (B, C) scratch.
enum BwdBuf { kGY, kGOUT, kGPRE, kgM, kgWR, kgWW, kgL, kgP, kgU, kgC, kGHT, kNumBwd };

// Memory access backward of step t for batch element b: the carried gradients of the state
// after step t -> those before it (in place), and ∂ξ_t times the activation slopes into GOUT.
template <typename T>
void access_backward(const Dims& s, const std::vector<Tensor>& sv, const std::vector<Tensor>& gb, int64_t t,
                     int64_t b, double eps_, double clip_, const T* Lp, std::vector<T>& tmp) {
  const int64_t R = s.R, N = s.N, W = s.W, C = s.C, RN = R * N;
  const T eps = T(eps_), clip = T(clip_);
  const T* xi = at_step<T>(sv[kXI], t, b);
  const auto [kr, kw, v, bw, ga, gw] = interface_parts<T>(s, xi);
  const T *M = at_step<T>(sv[kMs], t, b), *wr = at_step<T>(sv[kWRs], t, b), *ww = at_step<T>(sv[kWWs], t, b);
  const T *p = at_step<T>(sv[kPs], t, b), *u = at_step<T>(sv[kUs], t, b), *mn = at_step<T>(sv[kMN], t, b);
  const T *Mn = at_step<T>(sv[kMs], t + 1, b), *wrn = at_step<T>(sv[kWRs], t + 1, b);
  const T *wwn = at_step<T>(sv[kWWs], t + 1, b), *mnn = at_step<T>(sv[kMN], t + 1, b);
  const T *Kw = at_step<T>(sv[kKW], t, b), *cw = at_step<T>(sv[kCW], t, b), knw = *at_step<T>(sv[kKNW], t, b);
  const T *su = at_step<T>(sv[kSU], t, b), *Pc = at_step<T>(sv[kPC], t, b);
  const int64_t* phi = at_step<int64_t>(sv[kPHI], t, b);
  const T *fwd = at_step<T>(sv[kFWD], t, b), *bwd = at_step<T>(sv[kBWD], t, b), *cr = at_step<T>(sv[kCR], t, b);
  const T *Kr = at_step<T>(sv[kKR], t, b), *knr = at_step<T>(sv[kKNR], t, b);
  const T* gr = at_step<T>(gb[kGY], t, b) + C;  // ∂r_t (R, W)
  T* go = at_step<T>(gb[kGOUT], t, b);          // ∂ξ_t (P)
  T *gM = at_b<T>(gb[kgM], b), *gwr = at_b<T>(gb[kgWR], b), *gww = at_b<T>(gb[kgWW], b);
  T *gL = at_b<T>(gb[kgL], b), *gp = at_b<T>(gb[kgP], b), *gu = at_b<T>(gb[kgU], b);
  // scratch
  T* q = tmp.data();
  T *g_fwd = q, *g_bwd = q + RN, *g_wrp = q + 2 * RN, *g_dot = q + 3 * RN;
  q += 4 * RN;
  T *g_ww = q, *g_pp = q + N, *g_mn2 = q + 2 * N, *a = q + 3 * N, *g_a = q + 4 * N, *gz = q + 5 * N;
  T* Ln = q + 6 * N;  // a row of L_t
  q += 7 * N;
  T *e = q, *g_v = q + W, *g_e = q + 2 * W;
  q += 3 * W;
  T *f = q, *g_pi = q + R, *g_br = q + 4 * R, *g_knr = q + 5 * R;
  for (int64_t k = 0; k < W; ++k) e[k] = sigm(xi[s.c4 + k]), g_v[k] = 0, g_e[k] = 0;
  for (int64_t r = 0; r < R; ++r) f[r] = sigm(xi[s.c6 + r]);
  T* g_kr = go;  // ∂k^r, ∂k^w straight into their columns of ∂ξ
  T* g_kw = go + s.c2;
  // r_t = w^r_t M_t; w^r_t = π_b b + π_f f + π_c c^r
  std::fill(g_mn2, g_mn2 + N, T(0));
  for (int64_t r = 0; r < R; ++r) {
    const T* g = gr + r * W;
    T pi[3];
    softmax(xi + s.c9 + 3 * r, pi, 3);
    T gpb = 0, gpf = 0, gpc = 0, gcs = 0;
    T* gdr = g_dot + r * N;
    for (int64_t i = 0; i < N; ++i) {
      T gw_ = 0;
      const T* __restrict mi = Mn + i * W;
#pragma omp simd reduction(+ : gw_)
      for (int64_t k = 0; k < W; ++k) gw_ += g[k] * mi[k];
      gw_ += gwr[r * N + i];
      gpb += gw_ * bwd[r * N + i], gpf += gw_ * fwd[r * N + i], gpc += gw_ * cr[r * N + i];
      g_bwd[r * N + i] = pi[0] * gw_, g_fwd[r * N + i] = pi[1] * gw_;
      gdr[i] = pi[2] * gw_ * cr[r * N + i];  // ∂c^r ∘ c^r
      gcs += gdr[i];
    }
    // π: softmax backward
    const T gps = gpb * pi[0] + gpf * pi[1] + gpc * pi[2];
    g_pi[3 * r] = pi[0] * (gpb - gps), g_pi[3 * r + 1] = pi[1] * (gpf - gps), g_pi[3 * r + 2] = pi[2] * (gpc - gps);
    // read content c^r = softmax(β K), K = k·M / D, D = ‖k‖‖M‖ + ε
    const T br = softplus(xi[s.c1 + r]) + T(1);
    T gb_ = 0, gkn = 0;
    for (int64_t i = 0; i < N; ++i) {
      const T gzi = gdr[i] - gcs * cr[r * N + i];  // ∂(β K)
      const T K = Kr[r * N + i], D = knr[r] * mnn[i] + eps;
      gb_ += gzi * K;
      gdr[i] = gzi * br / D;     // ∂(k·M)
      const T gD = gdr[i] * K;   // −∂D
      gkn -= gD * mnn[i];
      g_mn2[i] -= gD * knr[r];
    }
    g_br[r] = gb_;
    g_knr[r] = gkn / knr[r];
  }
  for (int64_t r = 0; r < R; ++r) {
    T* gk = g_kr + r * W;
    for (int64_t k = 0; k < W; ++k) gk[k] = g_knr[r] * kr[r * W + k];
  }
  for (int64_t i = 0; i < N; ++i) {
    const T sc = g_mn2[i] / mnn[i];
    T* __restrict gm = gM + i * W;
    const T* __restrict mi = Mn + i * W;
#pragma omp simd
    for (int64_t k = 0; k < W; ++k) gm[k] += sc * mi[k];
    for (int64_t r = 0; r < R; ++r) {
      const T a1 = wrn[r * N + i], a2 = g_dot[r * N + i];
      const T *__restrict grr = gr + r * W, *__restrict krr = kr + r * W;
      T* __restrict gk = g_kr + r * W;
#pragma omp simd
      for (int64_t k = 0; k < W; ++k) {
        gm[k] += a1 * grr[k] + a2 * krr[k];
        gk[k] += a2 * mi[k];
      }
    }
  }
  // precedence p_t = (1 − Σ w) p_{t−1} + w
  T gps = 0, S = 0;
  for (int64_t i = 0; i < N; ++i) gps += gp[i] * p[i], S += wwn[i];
  for (int64_t i = 0; i < N; ++i) g_ww[i] = gww[i] + gp[i] - gps, g_pp[i] = gp[i] * (T(1) - S);
  // links, one pass: L_t (recomputed from L_{t−1}) gives ∂w^r_{t−1} of both reads;
  // G = ∂L_t + Σ_r (∂f_r x_rᵀ + x_r ∂b_rᵀ) (x = w^r_{t−1}), 0 on the diagonal;
  // ∂w_i += Σ_j G_ij p_j − (G ∘ L_{t−1})_ij − (G ∘ L_{t−1})_ji, ∂p_j += Σ_i G_ij w_i, ∂L_{t−1} = G ∘ F
  std::fill(g_wrp, g_wrp + RN, T(0));
  for (int64_t i = 0; i < N; ++i) {
    const T wi = wwn[i];
    const T* __restrict Li = Lp + i * N;
    T* __restrict Gi = gL + i * N;
#pragma omp simd
    for (int64_t j = 0; j < N; ++j) Ln[j] = link_new(Li[j], wi, wwn[j], p[j]);
    Ln[i] = 0;
    for (int64_t r = 0; r < R; ++r) {
      const T* __restrict x = wr + r * N;
      const T gfi = g_fwd[r * N + i], xi_ = x[i];
      const T* __restrict gbr = g_bwd + r * N;
      T* __restrict gx = g_wrp + r * N;
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < N; ++j) {
        gx[j] += gfi * Ln[j];
        acc += gbr[j] * Ln[j];
        Gi[j] += gfi * x[j] + xi_ * gbr[j];
      }
      gx[i] += acc;
    }
    Gi[i] = 0;  // L_t[i, i] ≡ 0 passes nothing back
    T gwi = 0;
#pragma omp simd reduction(+ : gwi)
    for (int64_t j = 0; j < N; ++j) {
      const T G = Gi[j], Q = G * Li[j];
      gwi += G * p[j] - Q;
      g_ww[j] -= Q;
      g_pp[j] += G * wi;
      Gi[j] = G * (T(1) - wi - wwn[j]);
    }
    g_ww[i] += gwi;
  }
  // memory M_t = M_{t−1} ∘ (1 − w eᵀ) + w vᵀ
  for (int64_t i = 0; i < N; ++i) {
    T acc = 0;
    const T wi = wwn[i];
    T *__restrict gm = gM + i * W, *__restrict gv = g_v, *__restrict ge = g_e;
    const T *__restrict mi = M + i * W, *__restrict vv = v, *__restrict ee = e;
#pragma omp simd reduction(+ : acc)
    for (int64_t k = 0; k < W; ++k) {
      const T g = gm[k], Qm = g * mi[k];
      gv[k] += g * wi;
      ge[k] -= Qm * wi;
      acc += g * vv[k] - Qm * ee[k];
      gm[k] = g * (T(1) - wi * ee[k]);
    }
    g_ww[i] += acc;
  }
  // w^w = g^w [g^a a + (1 − g^a) c^w]
  for (int64_t j = 0; j < N; ++j) a[phi[j]] = (T(1) - su[j]) * Pc[j];
  T g_gw = 0, g_ga = 0;
  for (int64_t i = 0; i < N; ++i) {
    const T gm = g_ww[i] * gw;
    g_gw += g_ww[i] * (ga * a[i] + (T(1) - ga) * cw[i]);
    g_ga += gm * (a[i] - cw[i]);
    g_a[i] = gm * ga;
    gz[i] = gm * (T(1) - ga);  // ∂c^w
  }
  // allocation a[φ_j] = (1 − û_φj) Π_{i<j} û_φi: ∂û_k = Σ_{j>k} ∂a_j a_j / û_k − ∂a_k Π_{i<k} û_i
  T tail = 0;
  for (int64_t k = N - 1; k >= 0; --k) {
    const T gak = g_a[phi[k]];
    const T gsu = tail / su[k] - gak * Pc[k];
    tail += gak * (T(1) - su[k]) * Pc[k];
    gu[phi[k]] += gsu * (T(1) - eps);
  }
  // write content c^w = softmax(β^w K(M_{t−1}, k^w))
  T gcs = 0;
  for (int64_t i = 0; i < N; ++i) gcs += gz[i] * cw[i];
  T g_bw = 0, gkn = 0;
  for (int64_t i = 0; i < N; ++i) {
    const T gzi = (gz[i] - gcs) * cw[i];
    const T D = knw * mn[i] + eps;
    g_bw += gzi * Kw[i];
    gz[i] = gzi * bw / D;  // ∂(k·M)
    const T gD = gz[i] * Kw[i];
    gkn -= gD * mn[i];
    g_mn2[i] = -gD * knw / mn[i];  // ∂‖M_{t−1}(i)‖ / ‖M_{t−1}(i)‖
  }
  gkn /= knw;
  for (int64_t k = 0; k < W; ++k) g_kw[k] = gkn * kw[k];
  for (int64_t i = 0; i < N; ++i) {
    const T a1 = gz[i], a2 = g_mn2[i];
    T *__restrict gm = gM + i * W, *__restrict gk = g_kw;
    const T *__restrict mi = M + i * W, *__restrict kk = kw;
#pragma omp simd
    for (int64_t k = 0; k < W; ++k) {
      gk[k] += a1 * mi[k];
      gm[k] += a1 * kk[k] + a2 * mi[k];
    }
  }
  // usage u_t = (u + w − u w) ψ, ψ = Π_r (1 − f_r w^r_{t−1})
  for (int64_t r = 0; r < R; ++r) go[s.c6 + r] = 0;
  for (int64_t i = 0; i < N; ++i) {
    const T uw = u[i] + ww[i] - u[i] * ww[i];
    T psi = 1;
    for (int64_t r = 0; r < R; ++r) psi *= T(1) - f[r] * wr[r * N + i];
    const T guw = gu[i] * psi, gpsi = gu[i] * uw;
    gu[i] = guw * (T(1) - ww[i]);
    gww[i] = guw * (T(1) - u[i]);
    for (int64_t r = 0; r < R; ++r) {  // Π_{r' ≠ r} (1 − f_r' w^r'), without dividing
      T oth = 1;
      for (int64_t r2 = 0; r2 < R; ++r2)
        if (r2 != r) oth *= T(1) - f[r2] * wr[r2 * N + i];
      const T gt = gpsi * oth;
      go[s.c6 + r] -= gt * wr[r * N + i];  // ∂f
      g_wrp[r * N + i] -= gt * f[r];
    }
  }
  std::copy(g_wrp, g_wrp + RN, gwr);
  std::copy(g_pp, g_pp + N, gp);
  // ∂ξ_t by part, times the activation slopes (keys, v, π: 1; β: σ; e, f, g^a, g^w: σ(1 − σ))
  for (int64_t r = 0; r < R; ++r) go[s.c1 + r] = g_br[r] * sigm(xi[s.c1 + r]);
  go[s.c3] = g_bw * sigm(xi[s.c3]);
  for (int64_t k = 0; k < W; ++k) {
    go[s.c4 + k] = g_e[k] * e[k] * (T(1) - e[k]);
    go[s.c5 + k] = g_v[k];
  }
  for (int64_t r = 0; r < R; ++r) go[s.c6 + r] *= f[r] * (T(1) - f[r]);
  go[s.c7] = g_ga * ga * (T(1) - ga);
  go[s.c8] = g_gw * gw * (T(1) - gw);
  for (int64_t k = 0; k < 3 * R; ++k) go[s.c9 + k] = g_pi[k];
  if (clip > 0)  // clamp passes no gradient where it bit
    for (int64_t k = 0; k < s.P; ++k)
      if (!(std::abs(xi[k]) < clip)) go[k] = 0;
}

template <typename T>
void backward_impl(const Dims& s, const Tensor& Wc, const Tensor& W_if, const std::vector<Tensor>& gb,
                   const std::vector<Tensor>& sv, const std::vector<Tensor>& links, const Tensor& LS, double clip,
                   double eps) {
  const int64_t T_ = s.T, B = s.B, C = s.C, N = s.N, RW = s.R * s.W, BN2 = N * N;
  const Tensor &GY = gb[kGY], &GOUT = gb[kGOUT], &GPRE = gb[kGPRE];
  Tensor GHT = gb[kGHT];
  const int64_t nseg = (T_ + s.seg - 1) / s.seg;
  TORCH_CHECK((int64_t)links.size() >= nseg, "dnc_scan_backward: missing link checkpoints");
  const int64_t ntmp = 4 * s.R * N + 7 * N + 3 * s.W + 6 * s.R;
  for (int64_t k = nseg - 1; k >= 0; --k) {
    const int64_t s0 = k * s.seg, e0 = std::min(s0 + s.seg, T_);
    // L_{s0+1} … L_{e0−1}, recomputed from the checkpoint
    const T* Lc = links[k].data_ptr<T>();
    for (int64_t t = s0; t < e0 - 1; ++t) {
      T* Lo = LS.data_ptr<T>() + (t - s0) * B * BN2;
      at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const T *w = at_step<T>(sv[kWWs], t + 1, b), *p = at_step<T>(sv[kPs], t, b);
          const T* Li = Lc + b * BN2;
          T* L = Lo + b * BN2;
          for (int64_t i = 0; i < N; ++i) {
#pragma omp simd
            for (int64_t j = 0; j < N; ++j) L[i * N + j] = link_new(Li[i * N + j], w[i], w[j], p[j]);
            L[i * N + i] = 0;
          }
        }
      });
      Lc = Lo;
    }
    for (int64_t t = e0 - 1; t >= s0; --t) {
      const T* Lp = t == s0 ? links[k].data_ptr<T>() : LS.data_ptr<T>() + (t - s0 - 1) * B * BN2;
      const Tensor gyt = GY.select(0, t);
      if (t < T_ - 1) {  // + ∂pre_{t+1} [W_h | W_r] (LSTM) or W_r (ff)
        if (s.lstm)
          gyt.addmm_(GPRE.select(0, t + 1), Wc);
        else
          gyt.narrow(1, C, RW).addmm_(GPRE.select(0, t + 1), Wc);
      }
      at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        std::vector<T> tmp(ntmp);
        for (int64_t b = b0; b < b1; ++b) access_backward<T>(s, sv, gb, t, b, eps, clip, Lp + b * BN2, tmp);
      });
      // ∂h_t = ∂y_t[h] + ∂ξ_t W_ξ
      at::addmm_out(GHT, gyt.narrow(1, 0, C), GOUT.select(0, t), W_if);
      for (int64_t b = 0; b < B; ++b) {
        const T* gh = GHT.data_ptr<T>() + b * C;
        T* gp = at_step<T>(GPRE, t, b);
        if (s.lstm) {  // ∂pre = [∂c g σ'(i), ∂c c_{t−1} σ'(f), ∂c i tanh'(g), ∂h tanh(c) σ'(o)]; ∂c_{t−1} = ∂c f
          const T* gt = at_step<T>(sv[kGT], t, b);
          const T *c = at_step<T>(sv[kCS], t, b), *cn = at_step<T>(sv[kCS], t + 1, b);
          T* gc = at_b<T>(gb[kgC], b);
          for (int64_t q = 0; q < C; ++q) {
            const T gi = gt[q], gf = gt[C + q], gg = gt[2 * C + q], go = gt[3 * C + q], tc = std::tanh(cn[q]);
            const T g = gc[q] + gh[q] * go * (T(1) - tc * tc);
            gp[q] = g * gg * gi * (T(1) - gi);
            gp[C + q] = g * c[q] * gf * (T(1) - gf);
            gp[2 * C + q] = g * gi * (T(1) - gg * gg);
            gp[3 * C + q] = gh[q] * tc * go * (T(1) - go);
            gc[q] = g * gf;
          }
        } else {
          const T* h = at_step<T>(sv[kY], t + 1, b);
          for (int64_t q = 0; q < C; ++q) gp[q] = gh[q] * (T(1) - h[q] * h[q]);
        }
      }
    }
  }
}

void dnc_scan_backward(const Tensor& Wc, const Tensor& W_if, at::TensorList grads, at::TensorList saved,
                       at::TensorList links, const Tensor& LS, at::IntArrayRef dims, double clip, double eps) {
  TORCH_CHECK(grads.size() == kNumBwd && saved.size() == kNumFwd, "dnc_scan_backward: wrong number of buffers");
  std::vector<Tensor> gb(grads.begin(), grads.end()), sv(saved.begin(), saved.end());
  std::vector<Tensor> lk(links.begin(), links.end());
  const Dims s = make_dims(gb[kGPRE], dims, W_if.size(0));
  for (const auto& x : gb) TORCH_CHECK(x.is_contiguous() && !x.is_cuda(), "dnc_scan_backward: contiguous CPU tensors only");
  AT_DISPATCH_FLOATING_TYPES(W_if.scalar_type(), "dnc_scan_backward",
                             [&] { backward_impl<scalar_t>(s, Wc, W_if, gb, sv, lk, LS, clip, eps); });
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(memlab, m) {
  m.def("dnc_scan_forward(Tensor xproj, Tensor Wc, Tensor W_if, Tensor b_if, Tensor(a!)[] bufs, Tensor(b!)[] links, "
        "int[] dims, float clip, float eps) -> ()");
  m.def("dnc_scan_backward(Tensor Wc, Tensor W_if, Tensor(a!)[] grads, Tensor[] saved, Tensor[] links, "
        "Tensor(b!) LS, int[] dims, float clip, float eps) -> ()");
  m.impl("dnc_scan_forward", c10::DispatchKey::CPU, &dnc_scan_forward);
  m.impl("dnc_scan_backward", c10::DispatchKey::CPU, &dnc_scan_backward);
}

// The fused LANTM kernel's step loops for the translation group, in C++ (issue 14).
//
// Same recurrence and the same buffers as the Python/TorchScript loops ``_fwd_steps_tr`` and
// ``_bwd_steps_tr`` of memlab/memory/kernels/lantm_scan.py (read its docstring first): the Python
// side allocates the workspace (reused between calls) and hands its buffers here; the weight
// gradients after the loop stay there. Why C++: at the seed-004 sizes a step of the Python loops
// is ~55 small ATen calls whose dispatch costs more than their arithmetic. Here only the four
// matrix products of a step (controller and instruction layer, forward and backward) and three
// sigmoids over whole rows (ATen's are vectorised) go through ATen; the rest (gates, heads, the
// read weighting over the slots and its backward) are plain loops over the data. The backward
// also forms, row by row where it uses them, what the Python loops prepare for all steps before
// theirs (activation derivatives, [k̃ − k_prev, ṽ − v_prev], ∂ṽ/∂r), and recomputes the key
// differences and squared distances instead of saving them.
//
// Every tensor is a CPU tensor of the kernel's dtype (float32 or float64), contiguous except the
// weight matrices (checked on entry). Shapes (as in the Python kernel): T time, B batch, H cells,
// m memory width, n key dim (= P for the translation group), W write heads, R read heads,
// A = W + R (writes first), N0 initial slots, L = N0 + T·W slots, Q instruction size, Hr = H + R·m.

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "scalar_math.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#if defined(_MSC_VER)
#define RESTRICT __restrict
#else
#define RESTRICT __restrict__
#endif

namespace {

using memlab_scalar::sigm;
using memlab_scalar::softplus;

using at::Tensor;

// Asks for ``count`` elements from ``p`` on to be brought into cache (a hint; nothing where unsupported).
template <typename s_t>
inline void prefetch(const s_t* p, int64_t count) {
#if defined(__GNUC__)
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t o = 0; o < count * int64_t(sizeof(s_t)); o += 64) __builtin_prefetch(c + o, 0, 2);
#endif
}

// y (n) += Σ_i a_i X_i over the rows X_i = X + i·ld (n each), i < k: four rows per pass over y, so y
// is read and written k/4 times rather than k (y is ρ over the slots, or ∂L/∂w over the memory's columns).
template <typename s_t>
void accumulate_rows(s_t* RESTRICT y, const s_t* RESTRICT a, const s_t* RESTRICT X, int64_t k, int64_t n,
                     int64_t ld = -1) {
  if (ld < 0) ld = n;
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const s_t a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3];
    const s_t *x0 = X + i * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
    for (int64_t j = 0; j < n; ++j) y[j] += a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
  }
  for (; i < k; ++i) {
    const s_t ai = a[i], *xi = X + i * ld;
    for (int64_t j = 0; j < n; ++j) y[j] += ai * xi[j];
  }
}

template <typename s_t>
inline s_t* ptr(const Tensor& x) {
  return x.data_ptr<s_t>();
}

template <typename s_t>
inline s_t* ptr(const std::optional<Tensor>& x) {
  return x.has_value() ? x->data_ptr<s_t>() : nullptr;
}

void check(const Tensor& x, const char* name, at::ScalarType dt) {
  TORCH_CHECK(x.device().is_cpu() && x.is_contiguous() && x.scalar_type() == dt, "lantm: ", name,
              " must be a contiguous CPU tensor of the kernel's dtype");
}

void check(const std::optional<Tensor>& x, const char* name, at::ScalarType dt) {
  if (x.has_value()) check(*x, name, dt);
}

// Column offsets of the instruction q and the settings, in the order the Python caller packs them.
struct Cfg {
  int64_t H, m, n, W, R, N0, ok0, os0, og0, om0, ot0;
  bool read_first, interp, norm_steps, invnorm, rescale, inverse_temp;
};

Cfg unpack(at::IntArrayRef v) {
  TORCH_CHECK(v.size() == 17, "lantm: 17 integer settings expected");
  return Cfg{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10],
             v[11] != 0, v[12] != 0, v[13] != 0, v[14] != 0, v[15] != 0, v[16] != 0};
}

// ---------------------------------------------------------------------------------------------- forward

template <typename s_t>
void forward_impl(const Tensor& xg, const Tensor& U, const Tensor& Wq, const Tensor& bq, const Tensor& HR,
                  const Tensor& C, const Tensor& SIG, const Tensor& TC, const Tensor& QB,
                  const Tensor& SQ, const Tensor& K, const Tensor& V, const std::optional<Tensor>& VT,
                  const std::optional<Tensor>& TEMP, const Tensor& aP, const Tensor& M, const Tensor& S,
                  const std::optional<Tensor>& Wd, const std::optional<Tensor>& MASK, const Cfg& c,
                  at::ArrayRef<double> f) {
  const int64_t T = xg.size(0), B = xg.size(1), H = c.H, m = c.m, n = c.n, W = c.W, R = c.R, A = W + R;
  const int64_t G4 = 4 * H, Hr = H + R * m, Q = QB.size(2), L = aP.size(2), Nsq = 2 * A + W, N0 = c.N0;
  const bool save = Wd.has_value();  // else SIG, TC, QB (and VT) are one step deep
  const s_t nhalf = s_t(f[0]), eps = s_t(f[1]), delta = s_t(f[2]), temp_min = s_t(f[3]), zf = s_t(f[4]);
  s_t *hr = ptr<s_t>(HR), *cc = ptr<s_t>(C), *sig = ptr<s_t>(SIG), *tc = ptr<s_t>(TC);
  s_t *qb = ptr<s_t>(QB), *sq = ptr<s_t>(SQ), *kk = ptr<s_t>(K), *vv = ptr<s_t>(V), *vt_buf = ptr<s_t>(VT);
  s_t *temp_buf = ptr<s_t>(TEMP), *ap = ptr<s_t>(aP), *mm = ptr<s_t>(M), *ss = ptr<s_t>(S), *wd = ptr<s_t>(Wd);
  const s_t* mask = ptr<s_t>(MASK);
  std::vector<s_t> u_buf(std::max<int64_t>(L, 1)), vt(n);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t s = save ? t : 0;
    // ---- controller: z = xg_t + [h_{t-1}, ρ_{t-1}] U, gates i, f, g, o (the g block doubled: tanh g = 2σ(2g) − 1)
    Tensor sig_s = SIG.select(0, s);
    at::addmm_out(sig_s, xg.select(0, t), HR.select(0, t), U);
    sig_s.sigmoid_();  // ATen's sigmoid is vectorised; a scalar std::exp loop here costs more than the matmul
    const s_t* z = sig + s * B * G4;
    for (int64_t b = 0; b < B; ++b) {
      const s_t* zb = z + b * G4;
      const s_t* c_prev = cc + (t * B + b) * H;
      s_t* c_new = cc + ((t + 1) * B + b) * H;  // 2c: tanh c = 2σ(2c) − 1
      for (int64_t j = 0; j < H; ++j) {  // tanh g is not stored: the backward forms it from σ(2g) again
        const s_t tgv = 2 * zb[2 * H + j] - 1;
        c_new[j] = zb[H + j] * c_prev[j] + 2 * zb[j] * tgv;
      }
    }
    Tensor tc_s = TC.select(0, s);
    at::sigmoid_out(tc_s, C.select(0, t + 1));
    for (int64_t b = 0; b < B; ++b) {
      const s_t* zb = z + b * G4;
      s_t *tcb = tc + (s * B + b) * H, *h = hr + ((t + 1) * B + b) * Hr;
      for (int64_t j = 0; j < H; ++j) {
        tcb[j] = 2 * tcb[j] - 1;
        h[j] = zb[3 * H + j] * tcb[j];
      }
    }
    // ---- instructions q = h_t Wq + bq
    Tensor qb_s = QB.select(0, s);
    at::addmm_out(qb_s, bq, HR.select(0, t + 1).narrow(1, 0, H), Wq);
    const int64_t slot0 = N0 + t * W;  // this step's slots
    const int64_t N = N0 + (c.read_first ? t : t + 1) * W;  // the slots this step's reads see
    for (int64_t b = 0; b < B; ++b) {
      const s_t* q = qb + (s * B + b) * Q;
      s_t* sqb = sq + (t * B + b) * Nsq;
      for (int64_t j = 0; j < Nsq; ++j) sqb[j] = sigm(q[c.og0 + j]);  // g, h, strengths
      const s_t keep = mask ? mask[t * B + b] : s_t(1);  // no write: strength 0, invisible to every read
      for (int64_t w = 0; w < W; ++w) {
        ss[b * L + slot0 + w] = sqb[2 * A + w] * keep;
        s_t* mrow = mm + (b * L + slot0 + w) * m;
        for (int64_t j = 0; j < m; ++j) mrow[j] = 2 * q[c.om0 + w * m + j];  // tanh x = 2σ(2x) − 1, below
      }
    }
    // the memory vectors M = tanh(q_mem) of every row at once: a vectorised sigmoid (scalar tanh costs ~10x)
    Tensor m_new = M.narrow(1, slot0, W);
    m_new.sigmoid_();
    for (int64_t b = 0; b < B; ++b) {
      s_t* mrow = mm + (b * L + slot0) * m;
      for (int64_t j = 0; j < W * m; ++j) mrow[j] = 2 * mrow[j] - 1;
    }
    for (int64_t b = 0; b < B; ++b) {
      const s_t* q = qb + (s * B + b) * Q;
      const s_t* sqb = sq + (t * B + b) * Nsq;
      // ---- heads: ṽ = r / sqrt(‖r‖² + δ),  v = lerp(v_prev, ṽ, h),  k = lerp(k_prev, k̃, g) + v
      const s_t* kprev = kk + (t * B + b) * A * n;
      s_t* knew = kk + ((t + 1) * B + b) * A * n;
      const s_t* vprev = vv + (t * B + b) * A * n;
      s_t* vnew = vv + ((t + 1) * B + b) * A * n;
      for (int64_t a = 0; a < A; ++a) {
        const s_t* r = q + c.os0 + a * n;
        s_t den = 1;
        if (c.norm_steps) {
          s_t r2 = 0;
          for (int64_t i = 0; i < n; ++i) r2 += r[i] * r[i];
          den = std::sqrt(r2 + delta);
        }
        for (int64_t i = 0; i < n; ++i) vt[i] = c.norm_steps ? r[i] / den : r[i];
        const s_t hg = sqb[A + a], g = sqb[a];
        for (int64_t i = 0; i < n; ++i) {
          const int64_t ai = a * n + i;
          if (c.interp) {
            if (vt_buf) vt_buf[((s * B + b) * A + a) * n + i] = vt[i];
            vnew[ai] = vprev[ai] + hg * (vt[i] - vprev[ai]);
          } else {
            vnew[ai] = vt[i];
          }
          knew[ai] = kprev[ai] + g * (q[c.ok0 + ai] - kprev[ai]) + vnew[ai];
        }
      }
      for (int64_t w = 0; w < W; ++w)  // append the write heads' addresses (planar: k − a runs along slots)
        for (int64_t i = 0; i < n; ++i) ap[(b * n + i) * L + slot0 + w] = knew[w * n + i];
      if (!c.invnorm) {  // T = softplus(z) + T_min (softplus as torch's: z beyond 20 is z), or 1/T
        for (int64_t r = 0; r < R; ++r) {
          const s_t zt = q[c.ot0 + r];
          s_t temp = (zt > 20 ? zt : std::log1p(std::exp(zt))) + temp_min;
          temp_buf[(t * B + b) * R + r] = c.inverse_temp ? 1 / temp : temp;
        }
      }
      // ---- read: w = u / Σu,  u = S φ(‖k − a‖²),  ρ = w M
      for (int64_t r = 0; r < R; ++r) {
        s_t* rho = hr + ((t + 1) * B + b) * Hr + H + r * m;
        std::fill(rho, rho + m, s_t(0));
        if (N == 0) continue;  // nothing written yet: ρ = 0
        const s_t* kr = knew + (W + r) * n;
        s_t* u = save ? wd + ((b * T + t) * R + r) * L : u_buf.data();
        std::fill(u, u + N, c.invnorm ? eps : s_t(0));
        for (int64_t j = 0; j < n; ++j) {
          const s_t kj = kr[j], *arow = ap + (b * n + j) * L;
          for (int64_t i = 0; i < N; ++i) {
            const s_t d = kj - arow[i];
            u[i] += d * d;  // d2
          }
        }
        const s_t* sb = ss + b * L;
        if (c.invnorm) {
          if (c.rescale) {  // powers relative to the nearest slot, so large α cannot overflow
            const s_t mn = *std::min_element(u, u + N);
            for (int64_t i = 0; i < N; ++i) u[i] = std::pow(u[i] / mn, nhalf) * sb[i];
          } else if (nhalf == s_t(-1)) {
            for (int64_t i = 0; i < N; ++i) u[i] = sb[i] / u[i];
          } else {
            for (int64_t i = 0; i < N; ++i) u[i] = std::pow(u[i], nhalf) * sb[i];
          }
        } else {
          const s_t temp = temp_buf[(t * B + b) * R + r];
          for (int64_t i = 0; i < N; ++i) u[i] = -u[i] / temp;
          const s_t mx = *std::max_element(u, u + N);
          for (int64_t i = 0; i < N; ++i) u[i] = std::exp(u[i] - mx) * sb[i];
        }
        s_t zs = zf;
        for (int64_t i = 0; i < N; ++i) zs += u[i];
        for (int64_t i = 0; i < N; ++i) u[i] /= zs;
        accumulate_rows(rho, u, mm + b * L * m, N, m);
      }
    }
  }
}

void lantm_tr_forward(const Tensor& xg, const Tensor& U, const Tensor& Wq, const Tensor& bq, const Tensor& HR,
                      const Tensor& C, const Tensor& SIG, const Tensor& TC, const Tensor& QB,
                      const Tensor& SQ, const Tensor& K, const Tensor& V, const std::optional<Tensor>& VT,
                      const std::optional<Tensor>& TEMP, const Tensor& aP, const Tensor& M, const Tensor& S,
                      const std::optional<Tensor>& Wd, const std::optional<Tensor>& MASK, at::IntArrayRef ints,
                      at::ArrayRef<double> floats) {
  const Cfg c = unpack(ints);
  TORCH_CHECK(floats.size() == 5, "lantm_tr_forward: 5 float settings expected");
  TORCH_CHECK(c.invnorm || TEMP.has_value(), "lantm_tr_forward: softmax weighting needs TEMP");
  const auto dt = xg.scalar_type();
  for (auto& [x, name] : std::vector<std::pair<const Tensor*, const char*>>{
           {&xg, "xg"}, {&HR, "HR"}, {&C, "C"}, {&SIG, "SIG"}, {&TC, "TC"}, {&QB, "QB"},
           {&SQ, "SQ"}, {&K, "K"}, {&V, "V"}, {&aP, "aP"}, {&M, "M"}, {&S, "S"}})
    check(*x, name, dt);
  check(VT, "VT", dt);
  check(TEMP, "TEMP", dt);
  check(Wd, "Wd", dt);
  check(MASK, "MASK", dt);
  AT_DISPATCH_FLOATING_TYPES(dt, "lantm_tr_forward", [&] {
    forward_impl<scalar_t>(xg, U, Wq, bq, HR, C, SIG, TC, QB, SQ, K, V, VT, TEMP, aP, M, S, Wd, MASK, c, floats);
  });
}

// ---------------------------------------------------------------------------------------------- backward

// One row of the controller's backward. With Y = [tanh g · σ'(i), c_prev · σ'(f), i (1 − tanh² g)/2,
// tanh c · σ'(o)] (z's g block doubled, g′ = 2g; σ' = σ − σ²): ∂L/∂c_t += ∂L/∂h_t · o (1 − tanh² c),
// ∂L/∂z_t = [gc, gc, gc, gh] · Y, then ∂L/∂c_t carried to c_{t−1} (times f). ``c2p`` holds 2c_{t−1}
// (halved with the f block). The Python loops form Y for all steps before the loop; here it is formed
// where it is used, one pass over the row instead of ten over the (T, B, H) arrays; tanh g = 2σ(2g) − 1 comes
// from ``sg`` again rather than from a stored copy.
template <typename s_t>
void lstm_bwd_row(s_t* RESTRICT z, s_t* RESTRICT gc, const s_t* RESTRICT gh,
                  const s_t* RESTRICT sg, const s_t* RESTRICT tc, const s_t* RESTRICT c2p, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const s_t i = sg[j], f = sg[H + j], o = sg[3 * H + j], tgj = 2 * sg[2 * H + j] - 1, tcj = tc[j];
    const s_t g = gc[j] + gh[j] * (o - o * tcj * tcj);
    z[j] = g * ((i - i * i) * tgj);
    z[H + j] = g * ((f - f * f) * c2p[j] * s_t(0.5));
    z[2 * H + j] = g * ((i - i * tgj * tgj) * s_t(0.5));
    z[3 * H + j] = gh[j] * ((o - o * o) * tcj);
    gc[j] = g * f;
  }
}

template <typename s_t>
void backward_impl(const std::optional<Tensor>& GHS, const std::optional<Tensor>& GRS, const Tensor& GQ,
                   const Tensor& GX, const Tensor& QB, const Tensor& K, const Tensor& V,
                   const std::optional<Tensor>& VT, const Tensor& SQ, const Tensor& aP, const Tensor& M,
                   const Tensor& S, const Tensor& MT, const Tensor& Wd, const std::optional<Tensor>& TEMP,
                   const Tensor& GA, const Tensor& GM, const Tensor& GS, const Tensor& XC, const Tensor& X,
                   const Tensor& WqT, const Tensor& GHB, const Tensor& GCB, const Tensor& C,
                   const Tensor& TC, const Tensor& GZ, const Tensor& SIG, const Tensor& UT, const Cfg& c,
                   at::ArrayRef<double> f) {
  const int64_t T = GQ.size(0), B = GQ.size(1), Q = GQ.size(2), H = c.H, m = c.m, n = c.n, W = c.W, R = c.R;
  const int64_t A = W + R, G4 = 4 * H, Hr = H + R * m, L = aP.size(2), Nsq = 2 * A + W, N0 = c.N0, Rm = R * m;
  const s_t scale = s_t(f[0]), eps = s_t(f[1]), delta = s_t(f[2]);
  const s_t *ghs = ptr<s_t>(GHS), *grs = ptr<s_t>(GRS), *qb = ptr<s_t>(QB), *vv = ptr<s_t>(V), *vt_buf = ptr<s_t>(VT);
  const s_t *mm = ptr<s_t>(M), *ss = ptr<s_t>(S);
  s_t *gq = ptr<s_t>(GQ), *gx = ptr<s_t>(GX), *kk = ptr<s_t>(K), *ap = ptr<s_t>(aP);
  s_t *mt = ptr<s_t>(MT), *wd = ptr<s_t>(Wd), *temp_buf = ptr<s_t>(TEMP), *ga = ptr<s_t>(GA), *gm = ptr<s_t>(GM);
  s_t *gs = ptr<s_t>(GS), *sq = ptr<s_t>(SQ), *xc = ptr<s_t>(XC), *xx = ptr<s_t>(X), *ghb = ptr<s_t>(GHB);
  s_t *gcb = ptr<s_t>(GCB), *gz = ptr<s_t>(GZ), *sig = ptr<s_t>(SIG), *tcp = ptr<s_t>(TC);
  s_t* cp = ptr<s_t>(C);
  const int64_t An = A * n;
  std::vector<s_t> e(std::max<int64_t>(L, 1)), d2(std::max<int64_t>(L, 1)), tmp(n), dk(2 * An);
  // ---- before the loop: the transposed memory (the per-step ∂L/∂w run along slots), zeroed accumulators
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j < m; ++j) mt[(b * m + j) * L + i] = mm[(b * L + i) * m + j];
  std::fill(ga, ga + GA.numel(), s_t(0));  // −Σ G (planar like the addresses)
  std::fill(gm, gm + GM.numel(), s_t(0));  // ∂L/∂Mᵀ
  std::fill(gs, gs + GS.numel(), s_t(0));  // ∂L/∂log S
  std::fill(gcb, gcb + B * H, s_t(0));  // ∂L/∂c_t carried
  std::fill(xc, xc + B * 2 * An, s_t(0));  // carried [∂L/∂k_t, ∂L/∂k_t + ∂L/∂v_t] through step t+1
  std::fill(xx, xx + B * 2 * An, s_t(0));  // step 0's X (zero when T = 0)
  // row t+1 of GX: ∂L/∂[h_t, ρ_t], seeded with the outputs' own gradients (row t before step t's product adds to it)
  auto seed_gx = [&](int64_t row) {
    for (int64_t b = 0; b < B; ++b) {
      s_t* g = gx + (row * B + b) * Hr;
      if (row == 0 || !ghs) std::fill(g, g + H, s_t(0));
      else std::copy(ghs + ((row - 1) * B + b) * H, ghs + ((row - 1) * B + b) * H + H, g);
      if (row == 0 || !grs) std::fill(g + H, g + Hr, s_t(0));
      else std::copy(grs + ((row - 1) * B + b) * Rm, grs + ((row - 1) * B + b) * Rm + Rm, g + H);
    }
  };
  seed_gx(T);
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t slot0 = N0 + t * W, N = N0 + (c.read_first ? t : t + 1) * W;
    seed_gx(t);
    std::fill(gq + t * B * Q, gq + (t + 1) * B * Q, s_t(0));
    if (t > 0) {  // the loop runs backwards through buffers written forwards: ask for step t−1's rows early
      prefetch(sig + (t - 1) * B * G4, B * G4);
      for (const s_t* x : {tcp, cp}) prefetch(x + (t - 1) * B * H, B * H);
      for (int64_t b = 0; b < B; ++b) {
        prefetch(wd + (b * T + t - 1) * R * L, R * L);
        prefetch(mm + (b * L + slot0 - W) * m, W * m);
      }
    }
    for (int64_t b = 0; b < B; ++b) {
      s_t* gqb = gq + (t * B + b) * Q;  // ∂L/∂q_t
      const s_t* q = qb + (t * B + b) * Q;
      // ---- read: ρ = w M,  w = u/Σu,  u = φ(d2) S
      for (int64_t r = 0; r < R && N > 0; ++r) {
        const s_t* gr = gx + ((t + 1) * B + b) * Hr + H + r * m;  // ∂L/∂ρ_t
        const s_t* w = wd + ((b * T + t) * R + r) * L;
        const s_t* kr = kk + ((t + 1) * B + b) * An + (W + r) * n;
        for (int64_t j = 0; j < m; ++j) {  // ∂L/∂M_i += g_ρ w_i (planar: ∂L/∂Mᵀ)
          const s_t g = gr[j];
          s_t* gmrow = gm + (b * m + j) * L;
          for (int64_t i = 0; i < N; ++i) gmrow[i] += g * w[i];
        }
        std::fill(e.begin(), e.begin() + N, s_t(0));
        accumulate_rows(e.data(), gr, mt + b * m * L, m, N, L);  // ∂L/∂w_i = g_ρ·M_i
        s_t gdot = 0;  // Σ_i ∂L/∂w_i w_i (= g_ρ·ρ, without reading ρ back)
        for (int64_t i = 0; i < N; ++i) gdot += e[i] * w[i];
        for (int64_t i = 0; i < N; ++i) {  // e_i = ∂L/∂log u_i = (∂L/∂w_i − Σ_j ∂L/∂w_j w_j) w_i
          e[i] = (e[i] - gdot) * w[i];
          gs[b * L + i] += e[i];  // also ∂L/∂log S_i
        }
        std::fill(d2.begin(), d2.begin() + N, c.invnorm ? eps : s_t(0));  // recomputed, not saved
        for (int64_t j = 0; j < n; ++j) {
          const s_t kj = kr[j], *arow = ap + (b * n + j) * L;
          for (int64_t i = 0; i < N; ++i) {
            const s_t d = kj - arow[i];
            d2[i] += d * d;
          }
        }
        // ∂ log φ/∂d2: InvNorm (−α/2)/d2, SoftMax −1/T; the constant factor (with ∂d2/∂k = 2 diff) is ``scale``
        if (c.invnorm) {
          for (int64_t i = 0; i < N; ++i) e[i] /= d2[i];
        } else {
          const s_t temp = temp_buf[(t * B + b) * R + r];
          s_t acc = 0;
          for (int64_t i = 0; i < N; ++i) acc += e[i] * d2[i];
          gqb[c.ot0 + r] = acc / (temp * temp);  // ∂ log φ/∂T = d2/T²
          for (int64_t i = 0; i < N; ++i) e[i] /= temp;
        }
        for (int64_t j = 0; j < n; ++j) {  // G_ij = e_i (k_j − a_ij): Σ_i G to the key, −G to the address
          const s_t kj = kr[j], *arow = ap + (b * n + j) * L;
          s_t* garow = ga + (b * n + j) * L;
          s_t gk = 0;
          for (int64_t i = 0; i < N; ++i) {
            const s_t g = e[i] * (kj - arow[i]);
            gk += g;
            garow[i] -= g;
          }
          gqb[c.ok0 + (W + r) * n + j] = gk;
        }
      }
      // ---- the slots of step t: every read of them has been seen
      // ∂L/∂q of a slot's columns, times the activations' derivatives: tanh' = 1 − M², (log σ)' = 1 − σ
      for (int64_t w = 0; w < W; ++w) {
        const int64_t slot = slot0 + w;
        for (int64_t j = 0; j < n; ++j) gqb[c.ok0 + w * n + j] = ga[(b * n + j) * L + slot];
        const s_t* mrow = mm + (b * L + slot) * m;
        for (int64_t j = 0; j < m; ++j) gqb[c.om0 + w * m + j] = gm[(b * m + j) * L + slot] * (1 - mrow[j] * mrow[j]);
        gqb[c.og0 + 2 * A + w] = gs[b * L + slot] * (1 - ss[b * L + slot]);
      }
      // ---- heads, both chains at once: X = [∂L/∂k_t, ∂L/∂v_t];  k = lerp(k_prev, k̃, g) + v,  v = lerp(v_prev, ṽ, h)
      s_t *xb = xx + b * 2 * An, *xcb = xc + b * 2 * An;
      const s_t* sqb = sq + (t * B + b) * Nsq;  // [g | h] (h ≡ 1 without interpolation)
      const s_t *kprev = kk + (t * B + b) * An, *vprev = vv + (t * B + b) * An;
      const s_t* vtb = vt_buf ? vt_buf + (t * B + b) * An : q + c.os0;  // ṽ (raw steps when not normalised)
      for (int64_t a = 0; a < A; ++a) {  // dk = [k̃ − k_prev, ṽ − v_prev] · σ'(gate): ∂L/∂q_g, ∂L/∂q_h are dot products with X
        const s_t g = sqb[a], h = sqb[A + a];
        for (int64_t j = 0; j < n; ++j) {
          dk[a * n + j] = (q[c.ok0 + a * n + j] - kprev[a * n + j]) * (g - g * g);
          dk[An + a * n + j] = c.interp ? (vtb[a * n + j] - vprev[a * n + j]) * (h - h * h) : s_t(0);
        }
      }
      for (int64_t ch = 0; ch < 2; ++ch)
        for (int64_t ai = 0; ai < An; ++ai) xb[ch * An + ai] = xcb[ch * An + ai] + scale * gqb[c.ok0 + ai];
      for (int64_t ch = 0; ch < 2; ++ch) {
        for (int64_t a = 0; a < A; ++a) {
          const s_t* xa = xb + ch * An + a * n;
          s_t dot = 0;
          for (int64_t j = 0; j < n; ++j) dot += xa[j] * dk[ch * An + a * n + j];
          gqb[c.og0 + ch * A + a] = dot;  // ∂L/∂q_g, ∂L/∂q_h
          const s_t gate = sqb[ch * A + a], keep = 1 - gate;
          for (int64_t j = 0; j < n; ++j) {
            gqb[c.ok0 + ch * An + a * n + j] = xa[j] * gate;  // ∂L/∂k̃, ∂L/∂ṽ
            xcb[ch * An + a * n + j] = xa[j] * keep;  // through k_{t−1}, v_{t−1}
          }
        }
      }
      for (int64_t ai = 0; ai < An; ++ai) xcb[An + ai] += xcb[ai];  // k_t = k̄_t + v_t: ∂L/∂k also reaches v
      if (c.norm_steps) {  // ∂L/∂r = ∂ṽ/∂r ∂L/∂ṽ, ṽ = r s, ∂ṽ/∂r = s (I − ṽ ṽᵀ), s = (‖r‖² + δ)^(−1/2)
        for (int64_t a = 0; a < A; ++a) {
          const s_t* r = q + c.os0 + a * n;
          s_t* gsa = gqb + c.os0 + a * n;
          s_t r2 = 0;
          for (int64_t j = 0; j < n; ++j) r2 += r[j] * r[j];
          const s_t st = 1 / std::sqrt(r2 + delta);
          s_t vg = 0;
          for (int64_t j = 0; j < n; ++j) vg += r[j] * st * gsa[j];
          for (int64_t j = 0; j < n; ++j) gsa[j] = st * (gsa[j] - r[j] * st * vg);
        }
      }
      if (!c.invnorm) {  // ∂T/∂z = softplus' = σ(z); with T = 1/β: −σ(z) T²
        for (int64_t r = 0; r < R; ++r) {
          const s_t dz = sigm(q[c.ot0 + r]), temp = temp_buf[(t * B + b) * R + r];
          gqb[c.ot0 + r] *= c.inverse_temp ? -dz * temp * temp : dz;
        }
      }
    }
    // ---- LSTM: h = o tanh(c),  c = f c_prev + i g;  ∂L/∂h_t = ∂L/∂q_t Wqᵀ + what came from step t+1
    Tensor gh_t = GHB;
    at::addmm_out(gh_t, GX.select(0, t + 1).narrow(1, 0, H), GQ.select(0, t), WqT);
    for (int64_t b = 0; b < B; ++b)
      lstm_bwd_row(gz + (t * B + b) * G4, gcb + b * H, ghb + b * H, sig + (t * B + b) * G4,
                   tcp + (t * B + b) * H, cp + (t * B + b) * H, H);
    Tensor gx_t = GX.select(0, t);
    gx_t.addmm_(GZ.select(0, t), UT);  // ∂L/∂[h_{t−1}, ρ_{t−1}]
  }
}

void lantm_tr_backward(const std::optional<Tensor>& GHS, const std::optional<Tensor>& GRS, const Tensor& GQ,
                       const Tensor& GX, const Tensor& QB, const Tensor& K, const Tensor& V,
                       const std::optional<Tensor>& VT, const Tensor& SQ, const Tensor& aP, const Tensor& M,
                       const Tensor& S, const Tensor& MT, const Tensor& Wd, const std::optional<Tensor>& TEMP,
                       const Tensor& GA, const Tensor& GM, const Tensor& GS, const Tensor& XC, const Tensor& X,
                       const Tensor& WqT, const Tensor& GHB, const Tensor& GCB, const Tensor& C,
                       const Tensor& TC, const Tensor& GZ, const Tensor& SIG, const Tensor& UT, at::IntArrayRef ints,
                       at::ArrayRef<double> floats) {
  const Cfg c = unpack(ints);
  TORCH_CHECK(floats.size() == 3, "lantm_tr_backward: 3 float settings expected");
  TORCH_CHECK(c.invnorm || TEMP.has_value(), "lantm_tr_backward: softmax weighting needs TEMP");
  TORCH_CHECK(QB.size(0) == GQ.size(0), "lantm_tr_backward: the forward must have saved every step");
  const auto dt = GQ.scalar_type();
  for (auto& [x, name] : std::vector<std::pair<const Tensor*, const char*>>{
           {&GQ, "GQ"}, {&GX, "GX"}, {&QB, "QB"}, {&K, "K"}, {&V, "V"}, {&SQ, "SQ"}, {&aP, "aP"},
           {&M, "M"}, {&S, "S"}, {&MT, "MT"}, {&Wd, "Wd"}, {&GA, "GA"}, {&GM, "GM"}, {&GS, "GS"}, {&XC, "XC"},
           {&X, "X"}, {&GHB, "GHB"}, {&GCB, "GCB"}, {&C, "C"}, {&TC, "TC"}, {&GZ, "GZ"}, {&SIG, "SIG"}})
    check(*x, name, dt);
  check(GHS, "ghs", dt);
  check(GRS, "grs", dt);
  check(VT, "VT", dt);
  check(TEMP, "TEMP", dt);
  for (const Tensor* x : {&WqT, &UT})
    TORCH_CHECK(x->device().is_cpu() && x->scalar_type() == dt && x->dim() == 2,
                "lantm_tr_backward: WqT, UT: 2-D CPU, the kernel's dtype");
  AT_DISPATCH_FLOATING_TYPES(dt, "lantm_tr_backward", [&] {
    backward_impl<scalar_t>(GHS, GRS, GQ, GX, QB, K, V, VT, SQ, aP, M, S, MT, Wd, TEMP, GA, GM, GS, XC, X, WqT,
                            GHB, GCB, C, TC, GZ, SIG, UT, c, floats);
  });
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(memlab, m) {
  // Both write into the buffers they are given (the Python kernel's workspace) and return nothing.
  m.def(
      "lantm_tr_forward(Tensor xg, Tensor U, Tensor Wq, Tensor bq, Tensor HR, Tensor C, Tensor SIG, "
      "Tensor TC, Tensor QB, Tensor SQ, Tensor K, Tensor V, Tensor? VT, Tensor? TEMP, Tensor aP, Tensor M, "
      "Tensor S, Tensor? Wd, Tensor? MASK, int[] ints, float[] floats) -> ()",
      &lantm_tr_forward);
  m.def(
      "lantm_tr_backward(Tensor? ghs, Tensor? grs, Tensor GQ, Tensor GX, Tensor QB, Tensor K, Tensor V, "
      "Tensor? VT, Tensor SQ, Tensor aP, Tensor M, Tensor S, Tensor MT, Tensor Wd, Tensor? TEMP, Tensor GA, "
      "Tensor GM, Tensor GS, Tensor XC, Tensor X, Tensor WqT, Tensor GHB, Tensor GCB, Tensor C, "
      "Tensor TC, Tensor GZ, Tensor SIG, Tensor UT, int[] ints, float[] floats) -> ()",
      &lantm_tr_backward);
}

// The fused Stack-RNN kernel's two loops (memlab/memory/kernels/stack_rnn_scan.py) in C++.
//
// The same maths, buffers and layouts as the Python loops ``_scan_forward`` and ``_scan_backward``
// (see that file's docstrings for the derivation): per step, the LSTM gates as one product and one
// sigmoid, the soft push / pop / no-op update of the (p, K, m, B) stacks over their active rows
// n_t, and, backward, the step's gate gradient used at once for the weight and input gradients.
// What changes is where the ~50 small ATen calls a step are issued from: here the dispatcher is
// entered from C++, not from Python, which at the benchmark's sizes (LSTM 256, batch 128) was a
// sizeable share of a step beside its three products. The LSTM cell's elementwise work is plain
// loops over the (B, C) block: forward c_t and h_t around one vectorized sigmoid (tanh c_t =
// 2σ(2 c_t) − 1, as the Python loop takes it), backward the four gate slopes and the carry to c_{t−1}.
//
// Operators (schema at the end):
//   stack_rnn_scan_fwd(xs, W_x, b, W_hr, W_ctl, b_ctl, S0, y0, c0, dims, ns, save)
//     -> [Y, Ss, cs, Z, OUT, TC]      (the Python forward's buffers; ``last`` is T or T % 2)
//   stack_rnn_scan_bwd(gys, gS?, gc?, W_x, W_hr, W_ctl, dims, ns, Y, Ss, cs, Z, OUT, TC)
//     -> [g_xs, g_W_x, g_b, g_W_hr, g_W_ctl, g_b_ctl, gS_0 (in the (p, K, m, B) layout), g_y0, g_c0]
// dims = [C, K, p, m, k]; ns = n_0 … n_T, the active rows (``_active_rows``).

#include <ATen/ATen.h>
#include <torch/library.h>

#include <array>
#include <cmath>
#include <optional>
#include <vector>

namespace {

using at::Tensor;

// c_t = f c_{t-1} + i g over one step's rows, and 2 c_t into tc (for tanh c_t = 2σ(2 c_t) − 1: torch's
// vectorized sigmoid, ~6× cheaper than its tanh on CPU); z = [σi, σf, g, σo] (B, 4C)
template <typename T>
void lstm_cell_c(const T* z, const T* c_prev, T* c, T* tc, int64_t B, int64_t C, int64_t z_ld) {
  for (int64_t b = 0; b < B; ++b) {
    const T* zi = z + b * z_ld;
    const T* zf = zi + C;
    const T* zg = zi + 2 * C;
    const T* cp = c_prev + b * C;
    T* cb = c + b * C;
    T* tb = tc + b * C;
#pragma omp simd
    for (int64_t j = 0; j < C; ++j) {
      T cn = zf[j] * cp[j] + zi[j] * zg[j];
      cb[j] = cn;
      tb[j] = cn + cn;
    }
  }
}

// tc ← 2 tc − 1 (tc held σ(2 c_t): now tanh c_t) and h_t = o tanh(c_t)
template <typename T>
void lstm_cell_h(const T* z, T* tc, T* h, int64_t B, int64_t C, int64_t z_ld, int64_t h_ld) {
  for (int64_t b = 0; b < B; ++b) {
    const T* zo = z + b * z_ld + 3 * C;
    T* tb = tc + b * C;
    T* hb = h + b * h_ld;
#pragma omp simd
    for (int64_t j = 0; j < C; ++j) {
      T th = tb[j] + tb[j] - T(1);
      tb[j] = th;
      hb[j] = zo[j] * th;
    }
  }
}

// the gate pre-activation gradients of one step into gp (B, 4C), and gc ← gc f (the carry to c_{t-1});
// gh (B, C) the gradient of h_t, gc (B, C) that of c_t (updated in place)
template <typename T>
void lstm_cell_bwd(const T* z, const T* tc, const T* c_prev, const T* gh, T* gc, T* gp, int64_t B, int64_t C,
                   int64_t gh_ld) {
  for (int64_t b = 0; b < B; ++b) {
    const T* i = z + b * 4 * C;
    const T* f = i + C;
    const T* g = i + 2 * C;
    const T* o = i + 3 * C;
    const T* t = tc + b * C;
    const T* cp = c_prev + b * C;
    const T* ghb = gh + b * gh_ld;
    T* gcb = gc + b * C;
    T* gpi = gp + b * 4 * C;
    T* gpf = gpi + C;
    T* gpg = gpi + 2 * C;
    T* gpo = gpi + 3 * C;
#pragma omp simd
    for (int64_t j = 0; j < C; ++j) {
      T ho = ghb[j] * o[j];
      T gcj = gcb[j] + ho * (T(1) - t[j] * t[j]);  // + ∂h/∂c = o (1 − tanh² c)
      gpo[j] = ho * t[j] * (T(1) - o[j]);           // ∂/∂o = gh tanh(c) o (1 − o)
      gpi[j] = gcj * g[j] * i[j] * (T(1) - i[j]);   // ∂/∂i = gc g i (1 − i)
      gpf[j] = gcj * cp[j] * f[j] * (T(1) - f[j]);  // ∂/∂f = gc c_{t−1} f (1 − f)
      gpg[j] = gcj * i[j] * (T(1) - g[j] * g[j]);   // ∂/∂g = gc i (1 − g²)
      gcb[j] = gcj * f[j];
    }
  }
}

void check_dims(at::IntArrayRef dims, at::IntArrayRef ns, int64_t T) {
  TORCH_CHECK(dims.size() == 5, "stack_rnn_scan: dims must be [C, K, p, m, k]");
  TORCH_CHECK(static_cast<int64_t>(ns.size()) == T + 1, "stack_rnn_scan: ns must hold T + 1 row counts");
}

std::vector<Tensor> stack_rnn_scan_fwd(const Tensor& xs, const Tensor& W_x, const Tensor& b, const Tensor& W_hr,
                                       const Tensor& W_ctl, const Tensor& b_ctl, const Tensor& S0, const Tensor& y0,
                                       const Tensor& c0, at::IntArrayRef dims, at::IntArrayRef ns, bool save) {
  const int64_t T = xs.size(0), B = xs.size(1), I = xs.size(2), G = W_x.size(0);
  check_dims(dims, ns, T);
  const int64_t C = dims[0], K = dims[1], p = dims[2], m = dims[3], k = dims[4];
  const int64_t R = K * k * m, CR = C + R;
  TORCH_CHECK(xs.is_contiguous() && xs.device().is_cpu(), "stack_rnn_scan_fwd: xs must be a contiguous CPU tensor");
  const int64_t n = save ? T + 1 : 2;
  Tensor Y = at::empty({T + 1, B, CR + I}, xs.options());
  Y.narrow(0, 0, T).narrow(2, CR, I).copy_(xs);
  Tensor Ss = at::empty({n, p, K, m, B}, xs.options());
  Tensor cs = at::empty({n, B, C}, xs.options());
  // the g rows of both weights doubled: one sigmoid gives σ(2 z_g), and tanh(z_g) = 2σ(2 z_g) − 1
  Tensor W_f = W_hr.clone(), b_f = b.clone(), W_xf = W_x.clone();
  for (Tensor* w : {&W_f, &b_f, &W_xf}) w->narrow(0, 2 * C, C).mul_(2.0);
  Tensor Z = at::addmm(b_f, xs.reshape({T * B, I}), W_xf.t()).view({T, B, G});
  Tensor OUT = at::empty({save ? T : 1, K, 3 + m, B}, xs.options());
  Tensor TC = at::empty({save ? T : 1, B, C}, xs.options());
  Y[0].narrow(1, 0, CR).copy_(y0);
  cs[0].copy_(c0);
  Ss[0].narrow(0, 0, ns[0]).copy_(S0.narrow(2, 0, ns[0]).permute({2, 1, 3, 0}));
  Tensor W_fT = W_f.t(), b_ctl2 = b_ctl.unsqueeze(1);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t j = save ? t + 1 : (t + 1) % 2, j1 = save ? t : t % 2;
    Tensor o = OUT[save ? t : 0], tc = TC[save ? t : 0];
    Tensor z = Z[t];
    z.addmm_(Y[t].narrow(1, 0, CR), W_fT).sigmoid_();  // (B, 4C) σ(i), σ(f), σ(2 z_g), σ(o)
    z.narrow(1, 2 * C, C).mul_(2.0).sub_(1.0);           // tanh(z_g)
    Tensor c_new = cs[j], h = Y[t + 1].narrow(1, 0, C);
    Tensor c_prev = cs[j1];
    AT_DISPATCH_FLOATING_TYPES(xs.scalar_type(), "stack_rnn_cell_c", [&] {
      lstm_cell_c<scalar_t>(z.data_ptr<scalar_t>(), c_prev.data_ptr<scalar_t>(), c_new.data_ptr<scalar_t>(),
                            tc.data_ptr<scalar_t>(), B, C, G);
    });
    tc.sigmoid_();
    AT_DISPATCH_FLOATING_TYPES(xs.scalar_type(), "stack_rnn_cell_h", [&] {
      lstm_cell_h<scalar_t>(z.data_ptr<scalar_t>(), tc.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), B, C, G, CR + I);
    });
    Tensor out = at::addmm(b_ctl2, W_ctl, h.t()).view({K, 3 + m, B});
    o.narrow(1, 0, 3).copy_(at::softmax(out.narrow(1, 0, 3), 1));  // (K, 3, B) push, pop, no-op
    Tensor cv = o.narrow(1, 3, m);
    at::sigmoid_out(cv, out.narrow(1, 3, m));  // (K, m, B) the pushed value
    Tensor push = o.narrow(1, 0, 1), pop = o.narrow(1, 1, 1), noop = o.narrow(1, 2, 1);
    const int64_t n_in = ns[t], n_out = ns[t + 1];
    Tensor S = Ss[j1], Sn = Ss[j];
    Tensor Sn_in = Sn.narrow(0, 0, n_in);
    at::mul_out(Sn_in, S.narrow(0, 0, n_in), noop);  // no-op keeps S_{t−1}
    if (n_out > n_in) Sn[n_in].zero_();
    Sn.narrow(0, 1, n_out - 1).addcmul_(S.narrow(0, 0, n_out - 1), push);  // a push moves everything down …
    Sn[0].addcmul_(cv, push);                                                // … and puts c_t on top
    Sn.narrow(0, 0, n_in - 1).addcmul_(S.narrow(0, 1, n_in - 1), pop);      // a pop moves everything up
    Y[t + 1].narrow(1, C, R).view({B, K, k, m}).copy_(Sn.narrow(0, 0, k).permute({3, 1, 0, 2}));  // r_t
  }
  return {Y, Ss, cs, Z, OUT, TC};
}

std::vector<Tensor> stack_rnn_scan_bwd(const Tensor& gys, const std::optional<Tensor>& gS_in,
                                       const std::optional<Tensor>& gc_in, const Tensor& W_x, const Tensor& W_hr,
                                       const Tensor& W_ctl, at::IntArrayRef dims, at::IntArrayRef ns, const Tensor& Y,
                                       const Tensor& Ss, const Tensor& cs, const Tensor& Z, const Tensor& OUT,
                                       const Tensor& TC) {
  const int64_t T = gys.size(0), B = gys.size(1);
  check_dims(dims, ns, T);
  const int64_t C = dims[0], K = dims[1], p = dims[2], m = dims[3], k = dims[4];
  const int64_t R = K * k * m, CR = C + R, P = K * (3 + m);
  TORCH_CHECK(gys.is_contiguous(), "stack_rnn_scan_bwd: gys must be contiguous");
  Tensor A = OUT.narrow(2, 0, 3), CV = OUT.narrow(2, 3, m);
  Tensor slope_cv = CV * (1 - CV);  // σ' of the pushed values, all steps at once (small)
  Tensor GOUT = at::empty({T, K, 3 + m, B}, gys.options());
  Tensor W_cat = at::cat({W_hr, W_x}, 1);  // (4C, C + R + I): the weights of Y's rows
  Tensor g_W = at::zeros_like(W_cat);
  Tensor GU = at::empty({T, B, W_cat.size(1)}, gys.options());
  Tensor g_b = at::zeros({B, 4 * C}, gys.options());
  Tensor gp = at::empty({B, 4 * C}, gys.options());
  Tensor gS_prev = at::empty({p, K, m, B}, gys.options());
  Tensor gS = (gS_in.has_value() && gS_in->defined()) ? gS_in->permute({2, 1, 3, 0}).contiguous().clone()
                                                       : at::zeros_like(gS_prev);
  Tensor prod = at::empty_like(gS_prev);
  Tensor g_a = at::empty({K, 3, B}, gys.options());
  Tensor gc = (gc_in.has_value() && gc_in->defined()) ? gc_in->contiguous().clone() : at::zeros({B, C}, gys.options());
  Tensor gh = at::empty({B, C}, gys.options());
  Tensor gY = gys[T - 1];
  const std::array<int64_t, 2> rows_cells{0, 2};  // (rows, K, cells, B) summed to (K, B)
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t n_in = ns[t], n_out = ns[t + 1];
    // r_t = S_t[:k]
    gS.narrow(0, 0, k).add_(gY.narrow(1, C, R).view({B, K, k, m}).permute({2, 1, 3, 0}));
    // S_t = a_push [c_t; S_{t−1}[:−1]] + a_pop [S_{t−1}[1:]; 0] + a_noop S_{t−1}
    Tensor S = Ss[t], a = A[t], cv = CV[t];
    Tensor push = a.narrow(1, 0, 1), pop = a.narrow(1, 1, 1), noop = a.narrow(1, 2, 1);
    Tensor ga_push = g_a.select(1, 0), ga_pop = g_a.select(1, 1), ga_noop = g_a.select(1, 2);
    Tensor pr_out = prod.narrow(0, 0, n_out - 1), pr_in1 = prod.narrow(0, 0, n_in - 1), pr_in = prod.narrow(0, 0, n_in);
    at::sum_out(ga_push, at::mul_out(pr_out, gS.narrow(0, 1, n_out - 1), S.narrow(0, 0, n_out - 1)), rows_cells);
    at::sum_out(ga_pop, at::mul_out(pr_in1, gS.narrow(0, 0, n_in - 1), S.narrow(0, 1, n_in - 1)), rows_cells);
    at::sum_out(ga_noop, at::mul_out(pr_in, gS.narrow(0, 0, n_in), S.narrow(0, 0, n_in)), rows_cells);
    ga_push.add_((gS[0] * cv).sum(1));
    Tensor go = GOUT[t];
    go.narrow(1, 0, 3).copy_(at::_softmax_backward_data(g_a, a, 1, a.scalar_type()));
    Tensor go_v = go.narrow(1, 3, m);
    at::mul_out(go_v, gS[0], push).mul_(slope_cv[t]);
    Tensor gSp_in = gS_prev.narrow(0, 0, n_in);
    at::mul_out(gSp_in, gS.narrow(0, 0, n_in), noop);
    gS_prev.narrow(0, 0, n_out - 1).addcmul_(gS.narrow(0, 1, n_out - 1), push);
    gS_prev.narrow(0, 1, n_in - 1).addcmul_(gS.narrow(0, 0, n_in - 1), pop);
    std::swap(gS, gS_prev);
    // h_t feeds the action/value layer and the output; then the LSTM cell
    at::addmm_out(gh, gY.narrow(1, 0, C), go.view({P, B}).t(), W_ctl);  // (B, C)
    Tensor z = Z[t], tc = TC[t], c_prev = cs[t];
    AT_DISPATCH_FLOATING_TYPES(gys.scalar_type(), "stack_rnn_cell_bwd", [&] {
      lstm_cell_bwd<scalar_t>(z.data_ptr<scalar_t>(), tc.data_ptr<scalar_t>(), c_prev.data_ptr<scalar_t>(),
                              gh.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), gp.data_ptr<scalar_t>(), B, C, C);
    });
    // the step's gate gradient reaches the weights [W_hr | W_x] and the row [y_{t−1}, x_t]
    g_W.addmm_(gp.t(), Y[t]);
    g_b.add_(gp);
    Tensor gu = GU[t];
    at::mm_out(gu, gp, W_cat);
    gY = gu.narrow(1, 0, CR);  // ∂/∂y_{t−1}
    if (t > 0) gY.add_(gys[t - 1]);
  }
  Tensor gout = GOUT.view({T, P, B});
  Tensor g_W_ctl = at::mm(gout.permute({1, 0, 2}).reshape({P, T * B}), Y.narrow(0, 1, T).narrow(2, 0, C).reshape({T * B, C}));
  return {GU.narrow(2, CR, GU.size(2) - CR), g_W.narrow(1, CR, g_W.size(1) - CR), g_b.sum(0), g_W.narrow(1, 0, CR),
          g_W_ctl, gout.sum(rows_cells), gS, gY, gc};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(memlab, m) {
  m.def("stack_rnn_scan_fwd(Tensor xs, Tensor W_x, Tensor b, Tensor W_hr, Tensor W_ctl, Tensor b_ctl, Tensor S0, "
        "Tensor y0, Tensor c0, int[] dims, int[] ns, bool save) -> Tensor[]");
  m.def("stack_rnn_scan_bwd(Tensor gys, Tensor? gS, Tensor? gc, Tensor W_x, Tensor W_hr, Tensor W_ctl, int[] dims, "
        "int[] ns, Tensor Y, Tensor Ss, Tensor cs, Tensor Z, Tensor OUT, Tensor TC) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(memlab, CPU, m) {
  m.impl("stack_rnn_scan_fwd", &stack_rnn_scan_fwd);
  m.impl("stack_rnn_scan_bwd", &stack_rnn_scan_bwd);
}

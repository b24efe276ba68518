// Scalar activations shared by the kernels' C++ loops, written as torch computes them so the
// C++ and Python loops agree to rounding.
#pragma once

#include <cmath>

namespace memlab_scalar {

// σ(x) = 1 / (1 + e^{−x})
template <typename T>
inline T sigm(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// softplus(x) = log(1 + e^x), as torch's (β = 1, threshold 20: x itself beyond 20)
template <typename T>
inline T softplus(T x) {
  return x > T(20) ? x : std::log1p(std::exp(x));
}

}  // namespace memlab_scalar

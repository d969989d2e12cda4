// broadcast_to and sum_to on tensors (each the adjoint of the other), and the strided row walk under them.
#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/autograd/kernels/shape.hpp>

namespace tapegrad::kernels {

/// Calls inner(offset_a, offset_b, count, stride_a, stride_b) for every run along the last
/// axis of `out`, where a and b are indexed by the strides given (row-major odometer).
template <class Inner>
void for_each_row(const Shape& out, const std::vector<std::ptrdiff_t>& sa, const std::vector<std::ptrdiff_t>& sb,
                  Inner&& inner) {
    const std::size_t nd = out.size();
    const std::size_t total = shape_size(out);
    if (total == 0) return;
    if (nd == 0) {
        inner(std::ptrdiff_t(0), std::ptrdiff_t(0), std::size_t(1), std::ptrdiff_t(0), std::ptrdiff_t(0));
        return;
    }
    const std::size_t last = out[nd - 1];
    std::vector<std::size_t> idx(nd, 0);
    std::ptrdiff_t oa = 0, ob = 0;
    for (std::size_t row = 0, rows = total / last; row < rows; ++row) {
        inner(oa, ob, last, sa[nd - 1], sb[nd - 1]);
        for (std::size_t d = nd - 1; d-- > 0;) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < out[d]) break;
            oa -= sa[d] * std::ptrdiff_t(out[d]);
            ob -= sb[d] * std::ptrdiff_t(out[d]);
            idx[d] = 0;
        }
    }
}

/// x repeated along broadcast dimensions to `shape` (x must broadcast to it).
template <class T>
Tensor<T> broadcast_to(const Tensor<T>& x, const Shape& shape);

/// The sum of x over the dimensions that were broadcast to make x's shape from `shape`
/// (the adjoint of broadcast_to).
template <class T>
Tensor<T> sum_to(const Tensor<T>& x, const Shape& shape);

}  // namespace tapegrad::kernels

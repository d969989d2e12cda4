// Reductions over axes (sum, max, min), and softmax / log-softmax / logsumexp computed stably.
#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/autograd/kernels/shape.hpp>

namespace tapegrad::kernels {

/// Sum over `axes` (sorted, distinct).
template <class T>
Tensor<T> reduce_sum(const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims);
/// Max (or min, if `want_max` is false) over `axes` (sorted, distinct); a NaN wins. An error
/// naming `op` if an axis has size 0.
template <class T>
Tensor<T> reduce_extreme(const char* op, const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims,
                         bool want_max);
/// log(sum(exp(x))) over `axes`, shifted by the maximum (never overflows).
template <class T>
Tensor<T> logsumexp(const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims);
/// Softmax (or, if `log`, log-softmax) of x along `axis`, shifted by the row maximum.
template <class T>
Tensor<T> softmax(const Tensor<T>& x, std::size_t axis, bool log);

}  // namespace tapegrad::kernels

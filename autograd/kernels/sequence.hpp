// Loops for the sequence ops: softmax under a mask, cumulative sums, arg-extremes and top-k along an axis.
#pragma once

#include <cstddef>

#include <xtensor/xarray.hpp>

#include <tapegrad/autograd/kernels/shape.hpp>

namespace tapegrad::kernels {

/// Softmax (or, if `log`, log-softmax) of scale * x along `axis` over the positions where `masked`
/// (broadcastable to x's shape; null for none) is false and, if `causal` (axis the last of at least
/// two), where column <= row of the last two axes. Left-out positions give 0 (log: -inf); a row with
/// every position left out gives zeros (log: -inf everywhere).
template <class T>
Tensor<T> masked_softmax(const Tensor<T>& x, const xt::xarray<bool>* masked, std::size_t axis, bool log,
                         bool causal = false, T scale = T(1));

/// g replaced by scale * y (g - sum(g y)) along `axis` (g has y's shape): the softmax VJP, one pass per row.
template <class T>
void softmax_backward_inplace(const Tensor<T>& y, Tensor<T>& g, std::size_t axis, T scale);

/// Running sum along `axis`: y[k] = x[0] + ... + x[k], or, if `reverse`, x[k] + ... + x[n-1].
template <class T>
Tensor<T> cumsum(const Tensor<T>& x, std::size_t axis, bool reverse);

/// The position of the largest (or, if not `want_max`, smallest) element along `axis`; the first
/// one among ties, and the first NaN if there is one (NaN counts as the extreme, as in PyTorch).
/// `axis` has size >= 1. keepdims leaves the axis with size 1.
template <class T>
Tensor<std::size_t> arg_extreme(const Tensor<T>& x, std::size_t axis, bool keepdims, bool want_max);

/// The positions of the k largest (or smallest) elements along `axis`, in order from the most
/// extreme (NaN counts as the largest; ties keep their order). The result has k along `axis`.
template <class T>
Tensor<std::size_t> topk_indices(const Tensor<T>& x, std::size_t k, std::size_t axis, bool largest);

}  // namespace tapegrad::kernels

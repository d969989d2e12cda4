// Loops for self-attention heads read straight from the packed q|k|v rows: strided GEMMs, no permutes.
#pragma once

#include <cstddef>

#include <xtensor/xarray.hpp>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::kernels {

/// For x (N, L, 3E) holding q, k and v side by side in each row (E = heads * d): the attention
/// weights p = softmax(scale q k^T) per sequence and head, over the keys left in by `masked`
/// (broadcastable to (N, heads, L, L), or null) and, if `causal`, keys j <= query i; written to
/// `probs` (N, heads, L, L). Returns y (N, L, E), y[n, i, head h] = p[n, h, i, :] v[n, :, head h].
template <class T>
Tensor<T> attention_forward(const Tensor<T>& x, std::size_t heads, T scale, bool causal, const xt::xarray<bool>* masked,
                            Tensor<T>& probs);

/// The VJP of attention_forward for the output gradient g (N, L, E): dx (N, L, 3E).
template <class T>
Tensor<T> attention_backward(const Tensor<T>& x, const Tensor<T>& probs, const Tensor<T>& g, std::size_t heads,
                             T scale);

}  // namespace tapegrad::kernels

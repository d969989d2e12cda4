// Loops for the fused LSTM cell: the gate activations, the new state and its VJP, one pass per row.
#pragma once

#include <cstddef>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::kernels {

/// One LSTM step from `gates` (N, 4H), the pre-activations in PyTorch's order i, f, g, o (plus
/// `more` (N, 4H) if not null: the pre-activations are then gates + more), and `c_prev` (N, H): returns y (2, N, H),
/// y[0] = h = o tanh(c), y[1] = c = f c_prev + i g, with i, f, o = sigmoid and g = tanh of their quarters. If `act` is
/// not null it receives (N, 5H): sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) and tanh(c) per row, what the VJP reads.
template <class T>
Tensor<T> lstm_cell_forward(const Tensor<T>& gates, const Tensor<T>* more, const Tensor<T>& c_prev, Tensor<T>* act);

/// The VJP of lstm_cell_forward from its `act` and `c_prev` and the gradient `gy` (2, N, H) of
/// y: returns dgates (N, 4H); if `dc_prev` is not null, fills it with dc_prev (N, H).
template <class T>
Tensor<T> lstm_cell_backward(const Tensor<T>& act, const Tensor<T>& c_prev, const Tensor<T>& gy, Tensor<T>* dc_prev);

/// One GRU step from `xg` and `hg` (N, 3H), the input's and the hidden state's projections in
/// PyTorch's order r, z, n, and `h` (N, H): returns h' = n + z (h - n) with r = sigmoid(xr + hr),
/// z = sigmoid(xz + hz), n = tanh(xn + r hn). If `act` is not null it receives (N, 3H): r, z, n.
template <class T>
Tensor<T> gru_cell_forward(const Tensor<T>& xg, const Tensor<T>& hg, const Tensor<T>& h, Tensor<T>* act);

/// The VJP of gru_cell_forward from its `act`, `hg`, `h` and the gradient `g` (N, H) of h': fills
/// the non-null ones of dxg, dhg (N, 3H) and dh (N, H).
template <class T>
void gru_cell_backward(const Tensor<T>& act, const Tensor<T>& hg, const Tensor<T>& h, const Tensor<T>& g,
                       Tensor<T>* dxg, Tensor<T>* dhg, Tensor<T>* dh);

/// Block k of x (K, ...) along axis 0, as a tensor of x's shape without that axis.
template <class T>
Tensor<T> take_block(const Tensor<T>& x, std::size_t k);

/// Zeros of `shape` (K, ...) with `src` (shape without axis 0) at block k.
template <class T>
Tensor<T> place_block(const Tensor<T>& src, std::size_t k, const Shape& shape);

}  // namespace tapegrad::kernels

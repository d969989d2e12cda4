// Anomaly checks: find NaN/Inf in op outputs and gradients and describe where they came from.
// Internal (not installed): included by the library's own .cpp files only.
#pragma once

#include <cstddef>
#include <string>

#include <tapegrad/autograd/node.hpp>

namespace tapegrad::detail {

/// Flat index of the first NaN or Inf in `t`, or -1.
template <class T>
std::ptrdiff_t first_non_finite(const Tensor<T>& t);

/// "leaf (3,) -> mul (3,) -> log (3,)": the ops that led to `node`, from the forward pass.
template <class T>
std::string forward_chain(const Node<T>& node);

/// Throws if a gradient computed by `node`'s VJP for input `input` holds NaN or Inf.
template <class T>
void check_backward_anomaly(const Node<T>& node, std::size_t input, const Tensor<T>& grad);

}  // namespace tapegrad::detail

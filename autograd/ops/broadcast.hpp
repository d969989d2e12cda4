// broadcast_to and sum_to: the pair of ops that NumPy broadcasting and its gradient rest on.
#pragma once

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// x repeated along its size-1 (or missing leading) dimensions to `shape`.
template <class T> Variable<T> broadcast_to(const Variable<T>& x, const Shape& shape);
/// The sum of x down to `shape`, where `shape` broadcasts to x's shape (the gradient of
/// broadcast_to, and of every broadcasting op).
template <class T> Variable<T> sum_to(const Variable<T>& x, const Shape& shape);


}  // namespace tapegrad

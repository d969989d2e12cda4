// Matrix products: matmul (NumPy semantics, batched) and linear (x W^T + b, one fused op).
#pragma once

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// Matrix product with NumPy's rules: 1-D x 1-D is the dot product, 2-D x 1-D the
/// matrix-vector product, and N-D operands are stacks of matrices whose leading
/// dimensions broadcast.
template <class T> Variable<T> matmul(const Variable<T>& a, const Variable<T>& b);

/// x W^T + b for x of shape (..., in), W (out, in), b (out): a dense layer as one op.
template <class T> Variable<T> linear(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias);
/// x W^T (no bias).
template <class T> Variable<T> linear(const Variable<T>& x, const Variable<T>& weight);

}  // namespace tapegrad

// Gradient clipping: clip_grad_norm (joint norm of all gradients) and clip_grad_value (elementwise).
#pragma once

#include <limits>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::optim {

/// Scales the gradients of `params` together so that their joint norm (the norm of all their
/// elements as one vector) is at most max_norm, as PyTorch's clip_grad_norm_: each gradient
/// is multiplied by min(1, max_norm / (norm + 1e-6)). Parameters without a gradient are
/// skipped. norm_type is p > 0, or infinity for the largest |element|. Returns the norm before
/// clipping (0 if no parameter has a gradient). A NaN or infinite norm throws when
/// error_if_nonfinite is set (otherwise the gradients become NaN, as in PyTorch).
template <class T>
double clip_grad_norm(const std::vector<Variable<T>>& params, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false);

/// Clamps every gradient element of `params` into [-clip_value, clip_value].
template <class T>
void clip_grad_value(const std::vector<Variable<T>>& params, double clip_value);

extern template double clip_grad_norm(const std::vector<Variable<float>>&, double, double, bool);
extern template double clip_grad_norm(const std::vector<Variable<double>>&, double, double, bool);
extern template void clip_grad_value(const std::vector<Variable<float>>&, double);
extern template void clip_grad_value(const std::vector<Variable<double>>&, double);

}  // namespace tapegrad::optim

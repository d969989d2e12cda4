// The gradient each output of backward() or grad() starts from.
#pragma once

#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::detail {

/// One per output: the one given (checked against the output's shape), or ones for a
/// one-element output when none are given. G: Tensor<T> for a plain pass, Variable<T> under
/// create_graph; Given: what the caller passed (backward takes tensors, grad Variables). `fn`
/// names the caller in errors. The caller checks that there are as many as outputs.
template <class G, class T, class Given>
std::vector<G> seed_gradients(const char* fn, const std::vector<Variable<T>>& outputs, const std::vector<Given>& given);

}  // namespace tapegrad::detail

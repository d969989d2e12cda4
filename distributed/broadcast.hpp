// broadcast_parameters: every rank takes one rank's parameters and buffers, after checking that the models match.
#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/autograd/variable.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::distributed {

/// Copies the values of module.state() — every parameter and buffer — from rank `root` to
/// every other rank, so that all ranks start from the same weights (and batch-norm
/// statistics). Every rank must call it. Gradients are not touched.
///
/// First the ranks compare their models (element type, names and shapes, in order). If any
/// rank's model differs from root's, every rank throws the same Error, which names the first
/// rank and entry that differ, e.g.
///   "broadcast_parameters: rank 1's model differs from root rank 0's: '0.weight' has shape
///    (64,784) on rank 1 but (128,784) on rank 0"
/// and no value is changed. Values travel in one flat buffer (bucketed by bucket_bytes).
template <class T>
void broadcast_parameters(nn::Module<T>& module, std::size_t root = 0, std::size_t bucket_bytes = 4u << 20);
/// The same for named Variables (e.g. a module's named_parameters()).
template <class T>
void broadcast_parameters(const nn::NamedVariables<T>& state, std::size_t root = 0,
                          std::size_t bucket_bytes = 4u << 20);
/// The same for unnamed Variables; error messages call them "#0", "#1", ...
template <class T>
void broadcast_parameters(const std::vector<Variable<T>>& params, std::size_t root = 0,
                          std::size_t bucket_bytes = 4u << 20);

/// Checks, with every rank taking part, that every rank's module.state() has root's element
/// type, names and shapes, in order; otherwise every rank throws the Error described above,
/// starting with `fn`.
template <class T>
void check_same_model(const nn::Module<T>& module, std::size_t root = 0, const char* fn = "check_same_model");

extern template void check_same_model(const nn::Module<float>&, std::size_t, const char*);
extern template void check_same_model(const nn::Module<double>&, std::size_t, const char*);
extern template void broadcast_parameters(nn::Module<float>&, std::size_t, std::size_t);
extern template void broadcast_parameters(nn::Module<double>&, std::size_t, std::size_t);
extern template void broadcast_parameters(const nn::NamedVariables<float>&, std::size_t, std::size_t);
extern template void broadcast_parameters(const nn::NamedVariables<double>&, std::size_t, std::size_t);
extern template void broadcast_parameters(const std::vector<Variable<float>>&, std::size_t, std::size_t);
extern template void broadcast_parameters(const std::vector<Variable<double>>&, std::size_t, std::size_t);

}  // namespace tapegrad::distributed

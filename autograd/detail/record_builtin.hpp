// Internal (not installed): the definition of record_builtin, which the library compiles for every built-in op.
#pragma once

#include <tuple>
#include <vector>

#include <tapegrad/autograd/op.hpp>

namespace tapegrad::detail {

template <class Op, class T, std::size_t N>
Variable<T> record_builtin(const MakeValue<T>& make, const Variable<T>* const* inputs, std::size_t count, Op&& op) {
    return record_node<Op, T, N>(make, inputs, count, std::move(op));
}

// The addresses of every record_builtin a family needs, taken in an emitted function so that each
// one is compiled into the library (programs that use the op call it from outside).
using AnyFunction = void (*)();

template <class T, template <class> class Op>
void instantiate_op(std::vector<AnyFunction>& keep) {
    using O = Op<T>;
    using Tn = Tensor<T>;
    if constexpr (has_forward<O, std::tuple<std::vector<const Tn*>>>)
        keep.push_back(reinterpret_cast<AnyFunction>(&record_builtin<O, T, 0>));
    if constexpr (has_forward<O, std::tuple<Tn>>)
        keep.push_back(reinterpret_cast<AnyFunction>(&record_builtin<O, T, 1>));
    if constexpr (has_forward<O, std::tuple<Tn, Tn>>)
        keep.push_back(reinterpret_cast<AnyFunction>(&record_builtin<O, T, 2>));
    if constexpr (has_forward<O, std::tuple<Tn, Tn, Tn>>)
        keep.push_back(reinterpret_cast<AnyFunction>(&record_builtin<O, T, 3>));
}

template <template <class> class... Ops>
void instantiate_ops(OpList<Ops...>, std::vector<AnyFunction>& keep) {
    (instantiate_op<float, Ops>(keep), ...);
    (instantiate_op<double, Ops>(keep), ...);
}

/// Compiles the nodes of every op in one family's list (one autograd/ops/<family>.cpp each).
template <OpFamily family>
std::vector<AnyFunction> instantiate_family() {
    std::vector<AnyFunction> keep;
    instantiate_ops(typename BuiltinOps<family>::type{}, keep);
    return keep;
}

}  // namespace tapegrad::detail

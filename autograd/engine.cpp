// backward(), grad() and backward_order(): argument checks, then order -> targets -> sweep (autograd/engine/).
#include <tapegrad/autograd/engine.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/engine/grad_targets.hpp>
#include <tapegrad/autograd/engine/order.hpp>
#include <tapegrad/autograd/engine/seeds.hpp>
#include <tapegrad/autograd/engine/sweep.hpp>
#include <tapegrad/autograd/grad_mode.hpp>

namespace tapegrad {
namespace {

template <class T>
void check_outputs(const char* fn, const std::vector<Variable<T>>& outputs) {
    if (outputs.empty()) throw Error(fmt::format("{}: no outputs given", fn));
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!outputs[i].defined()) throw Error(fmt::format("{}: output {} is an empty Variable", fn, i));
        if (!outputs[i].requires_grad())
            throw Error(
                fmt::format("{}: output {} (shape {}) does not require grad: nothing it was computed from "
                            "requires grad, or it was computed under NoGradGuard",
                            fn, i, shape_string(outputs[i].shape())));
    }
}

template <class T>
std::vector<const Variable<T>*> roots_of(const std::vector<Variable<T>>& outputs) {
    std::vector<const Variable<T>*> roots;
    roots.reserve(outputs.size());
    for (const auto& o : outputs) roots.push_back(&o);
    return roots;
}

template <class T, class G>
void run_backward(const std::vector<Variable<T>>& outputs, std::vector<G> seeds, bool retain) {
    const auto graph = detail::order_graph(roots_of(outputs), std::is_same_v<G, Variable<T>>);
    detail::Sweep<T, G> sweep(graph, nullptr, retain);
    for (std::size_t i = 0; i < outputs.size(); ++i) sweep.seed(outputs[i], std::move(seeds[i]));
    sweep.run();
    sweep.add_to_leaves();
}

template <class T, class G>
std::vector<Variable<T>> run_grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                                  std::vector<G> seeds, const GradOptions& options) {
    const auto graph = detail::order_graph(roots_of(outputs), std::is_same_v<G, Variable<T>>);
    const detail::GradTargets<T> targets(graph, inputs);
    detail::Sweep<T, G> sweep(graph, &targets, options.retain_graph());
    for (std::size_t i = 0; i < outputs.size(); ++i) sweep.seed(outputs[i], std::move(seeds[i]));
    sweep.run();
    auto results = sweep.take_results();

    std::vector<Variable<T>> out;
    out.reserve(inputs.size());
    for (std::size_t j = 0; j < inputs.size(); ++j) {
        if (targets.same_as(j) >= 0) {
            out.push_back(out[std::size_t(targets.same_as(j))]);
        } else if (results[j]) {
            if constexpr (std::is_same_v<G, Tensor<T>>)
                out.emplace_back(std::move(*results[j]));
            else
                out.push_back(std::move(*results[j]));
        } else if (options.allow_unused() || targets.reachable(j)) {
            // Reachable but no gradient flowed (e.g. every path was multiplied by a constant
            // that stops gradients) is a true zero; unreachable needs allow_unused.
            out.push_back(Variable<T>(Tensor<T>(inputs[j].shape(), T(0))));
        } else {
            throw Error(
                fmt::format("grad: input {} (shape {}) is not used to compute the outputs; pass "
                            "GradOptions().allow_unused(true) to get zeros for it",
                            j, shape_string(inputs[j].shape())));
        }
    }
    return out;
}

}  // namespace

template <class T>
void backward(const std::vector<Variable<T>>& outputs, const std::vector<Tensor<T>>& grad_outputs,
              const BackwardOptions& options) {
    check_outputs("backward", outputs);
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
        throw Error(fmt::format("backward: {} outputs but {} gradients", outputs.size(), grad_outputs.size()));
    if (!options.create_graph()) {
        run_backward<T>(outputs, detail::seed_gradients<Tensor<T>>("backward", outputs, grad_outputs),
                        options.retain_graph());
    } else {
        GradModeGuard record(true);
        run_backward<T>(outputs, detail::seed_gradients<Variable<T>>("backward", outputs, grad_outputs), true);
    }
}

template <class T>
std::vector<Variable<T>> grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                              const std::vector<Variable<T>>& grad_outputs, const GradOptions& options) {
    check_outputs("grad", outputs);
    if (inputs.empty()) throw Error("grad: no inputs given");
    for (std::size_t j = 0; j < inputs.size(); ++j) {
        if (!inputs[j].defined()) throw Error(fmt::format("grad: input {} is an empty Variable", j));
        if (!inputs[j].requires_grad())
            throw Error(
                fmt::format("grad: input {} (shape {}) does not require grad", j, shape_string(inputs[j].shape())));
    }
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
        throw Error(fmt::format("grad: {} outputs but {} grad_outputs", outputs.size(), grad_outputs.size()));
    if (!options.create_graph())
        return run_grad<T>(outputs, inputs, detail::seed_gradients<Tensor<T>>("grad", outputs, grad_outputs), options);
    GradModeGuard record(true);
    return run_grad<T>(outputs, inputs, detail::seed_gradients<Variable<T>>("grad", outputs, grad_outputs), options);
}

template <class T>
std::vector<Variable<T>> backward_order(const Variable<T>& output) {
    if (!output.defined()) throw Error("backward_order: the Variable is empty");
    std::vector<Variable<T>> out;
    if (!output.requires_grad()) return out;
    const auto graph = detail::order_graph<T>({&output}, true);
    out.reserve(graph.order.size());
    for (const std::uint32_t id : graph.order) out.push_back(*graph.handles[id]);
    return out;
}

template std::vector<Variable<float>> backward_order(const Variable<float>&);
template std::vector<Variable<double>> backward_order(const Variable<double>&);
template std::vector<Variable<float>> grad(const std::vector<Variable<float>>&, const std::vector<Variable<float>>&,
                                           const std::vector<Variable<float>>&, const GradOptions&);
template std::vector<Variable<double>> grad(const std::vector<Variable<double>>&, const std::vector<Variable<double>>&,
                                            const std::vector<Variable<double>>&, const GradOptions&);
template void backward(const std::vector<Variable<float>>&, const std::vector<Tensor<float>>&, const BackwardOptions&);
template void backward(const std::vector<Variable<double>>&, const std::vector<Tensor<double>>&,
                       const BackwardOptions&);

}  // namespace tapegrad

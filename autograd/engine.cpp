// The reverse sweep: topological order, VJPs, accumulation of gradients, release of the graph.
#include <tapegrad/autograd/engine.hpp>

#include <algorithm>
#include <atomic>
#include <fmt/format.h>
#include <memory>

#include <tapegrad/autograd/detail/anomaly.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/ops/arithmetic.hpp>

namespace tapegrad {
namespace {

// Every pass gets a fresh mark, so "visited" needs no clearing afterwards.
std::atomic<std::uint64_t> pass_counter{0};
std::uint64_t new_pass_mark() { return pass_counter.fetch_add(1, std::memory_order_relaxed) + 1; }

template <class T>
[[noreturn]] void throw_released(const Node<T>& n) {
    throw Error(fmt::format(
        "backward: the graph through '{}' (output shape {}) was already freed by an earlier backward; pass "
        "BackwardOptions().retain_graph(true) to the first backward to go through a graph twice",
        n.op_name(), shape_string(n.value.shape())));
}

/// Non-leaf nodes reachable from `roots` through Variables that require grad, every
/// consumer before its inputs. Each entry points at the handle (a root, or an input slot of
/// a consumer) so that the VJP can be handed its output as a Variable.
template <class T>
std::vector<const Variable<T>*> topological_order(const std::vector<const Variable<T>*>& roots, std::uint64_t mark) {
    struct Frame {
        const Variable<T>* v;
        std::uint32_t next;
    };
    std::vector<const Variable<T>*> order;
    std::vector<Frame> stack;
    for (const Variable<T>* root : roots) {
        Node<T>* r = root->node();
        if (r->is_leaf || r->visit_mark == mark) continue;
        if (r->released) throw_released(*r);
        r->visit_mark = mark;
        stack.push_back({root, 0});
        while (!stack.empty()) {
            Frame& top = stack.back();
            const Node<T>* n = top.v->node();
            if (top.next < n->num_inputs) {
                const Variable<T>* in = &n->inputs[top.next++];
                Node<T>* m = in->node();
                if (m->requires_grad && !m->is_leaf && m->visit_mark != mark) {
                    if (m->released) throw_released(*m);
                    m->visit_mark = mark;
                    stack.push_back({in, 0});  // invalidates `top`
                }
            } else {
                order.push_back(top.v);
                stack.pop_back();
            }
        }
    }
    std::reverse(order.begin(), order.end());
    for (std::size_t i = 0; i < order.size(); ++i) order[i]->node()->visit_index = std::uint32_t(i);
    return order;
}

template <class T>
void release_graph(const std::vector<const Variable<T>*>& order) noexcept {
    // From the inputs' end: what a node releases was already released itself, so nothing
    // is freed recursively, and the handles still ahead in `order` stay valid.
    for (std::size_t i = order.size(); i-- > 0;) order[i]->node()->release();
}

template <class T>
void add_in_place(Tensor<T>& acc, const Tensor<T>& g) {
    T* a = acc.data();
    const T* b = g.data();
    const std::size_t n = acc.size();
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
}

// What differs between the plain sweep (G = Tensor) and the recorded one (G = Variable).
template <class T>
const Tensor<T>& value_of(const Tensor<T>& g) { return g; }
template <class T>
const Tensor<T>& value_of(const Variable<T>& g) { return g.value(); }

template <class T>
const Tensor<T>& output_of(const Variable<T>& v, const Tensor<T>*) { return v.value(); }
template <class T>
const Variable<T>& output_of(const Variable<T>& v, const Variable<T>*) { return v; }

template <class T>
void accumulate(std::optional<Tensor<T>>& slot, Tensor<T>&& g) {
    if (!slot)
        slot.emplace(std::move(g));
    else
        add_in_place(*slot, g);
}
template <class T>
void accumulate(std::optional<Variable<T>>& slot, Variable<T>&& g) {
    if (!slot)
        slot.emplace(std::move(g));
    else
        *slot = add(*slot, g);
}

template <class T>
void accumulate_leaf_grad(Node<T>* node, const Tensor<T>& g, Tensor<T>&& owned, bool can_move) {
    auto& leaf = static_cast<Leaf<T>&>(*node);
    if (!leaf.grad) {
        if (can_move)
            leaf.grad.emplace(std::move(owned));
        else
            leaf.grad.emplace(g);
        return;
    }
    if (!shape_equal(leaf.grad->shape(), g.shape()))
        throw Error(fmt::format("backward: cannot add a gradient of shape {} to the existing gradient of shape {} "
                                "(the leaf's value changed shape; call zero_grad() first)",
                                shape_string(g.shape()), shape_string(leaf.grad->shape())));
    add_in_place(*leaf.grad, g);
}
template <class T>
void to_leaf_grad(Node<T>* node, Tensor<T>&& g) {
    accumulate_leaf_grad(node, g, std::move(g), true);
}
template <class T>
void to_leaf_grad(Node<T>* node, Variable<T>&& g) {
    accumulate_leaf_grad(node, g.value(), Tensor<T>(), false);
}

/// The reverse sweep proper. `wanted(node)` says whether a gradient is needed for an input
/// node; `to_leaf` receives gradients of leaves; `at_node` sees each non-leaf's complete
/// gradient before its VJP runs.
template <class T, class G, class Wanted, class ToLeaf, class AtNode>
void sweep(const std::vector<const Variable<T>*>& order, std::vector<std::optional<G>>& grads, Wanted&& wanted,
           ToLeaf&& to_leaf, AtNode&& at_node) {
    std::vector<std::optional<G>> dx;
    std::unique_ptr<bool[]> wants;
    std::size_t wants_capacity = 0;
    const bool anomaly = anomaly_enabled();
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (!grads[i]) continue;  // nothing flowed here (only into paths no target needs)
        // The gradient is used where it lies and dropped when this node is done: moving a
        // tensor costs about as much as a tiny op's arithmetic.
        G& g = *grads[i];
        struct Drop {
            std::optional<G>& slot;
            ~Drop() { slot.reset(); }
        } drop{grads[i]};
        const Variable<T>& out = *order[i];
        Node<T>* node = out.node();
        if (!at_node(i, g)) continue;

        const std::size_t n = node->num_inputs;
        if (n > wants_capacity) {
            wants.reset(new bool[n]);
            wants_capacity = n;
        }
        bool any = false;
        for (std::size_t k = 0; k < n; ++k) {
            const Node<T>* m = node->inputs[k].node();
            wants[k] = m->requires_grad && wanted(m);
            any = any || wants[k];
        }
        if (!any) continue;
        node->check_versions();
        dx.clear();
        dx.resize(n);
        VjpArgs<G> args{nullptr, output_of(out, static_cast<const G*>(nullptr)), g, dx.data(), wants.get()};
        node->vjp(args);
        for (std::size_t k = 0; k < n; ++k) {
            if (!wants[k]) continue;
            Node<T>* m = node->inputs[k].node();
            if (!dx[k])
                throw Error(fmt::format("backward: '{}' gave no gradient for its input {}", node->op_name(), k));
            const Tensor<T>& gv = value_of(*dx[k]);
            if (!shape_equal(gv.shape(), m->value.shape()))
                throw Error(fmt::format("backward: '{}' gave a gradient of shape {} for its input {} of shape {}",
                                        node->op_name(), shape_string(gv.shape()), k,
                                        shape_string(m->value.shape())));
            if (anomaly) detail::check_backward_anomaly(*node, k, gv);
            if (m->is_leaf)
                to_leaf(m, std::move(*dx[k]));
            else
                accumulate(grads[m->visit_index], std::move(*dx[k]));
        }
    }
}

template <class T>
void check_outputs(const char* fn, const std::vector<Variable<T>>& outputs) {
    if (outputs.empty()) throw Error(fmt::format("{}: no outputs given", fn));
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!outputs[i].defined()) throw Error(fmt::format("{}: output {} is an empty Variable", fn, i));
        if (!outputs[i].requires_grad())
            throw Error(fmt::format("{}: output {} (shape {}) does not require grad: nothing it was computed from "
                                    "requires grad, or it was computed under NoGradGuard",
                                    fn, i, shape_string(outputs[i].shape())));
    }
}

template <class T>
Tensor<T> default_grad_output(const char* fn, const Variable<T>& out) {
    if (out.size() != 1)
        throw Error(fmt::format("{}: the output has shape {}, not one element; pass its upstream gradient, e.g. "
                                "y.backward(dL_dy)",
                                fn, shape_string(out.shape())));
    return Tensor<T>(out.shape(), T(1));
}

void check_grad_output_shape(const char* fn, std::size_t i, const Shape& got, const Shape& expected) {
    if (got != expected)
        throw Error(fmt::format("{}: gradient for output {} has shape {}, the output has shape {}", fn, i,
                                shape_string(got), shape_string(expected)));
}

}  // namespace

template <class T>
void backward(const std::vector<Variable<T>>& outputs, const std::vector<Tensor<T>>& grad_outputs,
              const BackwardOptions& options) {
    check_outputs("backward", outputs);
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
        throw Error(fmt::format("backward: {} outputs but {} gradients", outputs.size(), grad_outputs.size()));
    std::vector<Tensor<T>> seeds;
    seeds.reserve(outputs.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (grad_outputs.empty()) {
            seeds.push_back(default_grad_output("backward", outputs[i]));
        } else {
            check_grad_output_shape("backward", i, grad_outputs[i].shape(), outputs[i].shape());
            seeds.push_back(grad_outputs[i]);
        }
    }

    std::vector<const Variable<T>*> roots;
    for (const auto& o : outputs) roots.push_back(&o);
    const auto order = topological_order(roots, new_pass_mark());
    auto everything = [](const Node<T>*) { return true; };
    auto every_node = [](std::size_t, const auto&) { return true; };

    if (!options.create_graph()) {
        std::vector<std::optional<Tensor<T>>> grads(order.size());
        for (std::size_t i = 0; i < outputs.size(); ++i) {
            Node<T>* r = outputs[i].node();
            if (r->is_leaf)
                to_leaf_grad(r, std::move(seeds[i]));
            else
                accumulate(grads[r->visit_index], std::move(seeds[i]));
        }
        sweep<T>(order, grads, everything, [](Node<T>* m, Tensor<T>&& g) { to_leaf_grad(m, std::move(g)); },
                 every_node);
    } else {
        GradModeGuard record(true);
        std::vector<std::optional<Variable<T>>> grads(order.size());
        for (std::size_t i = 0; i < outputs.size(); ++i) {
            Node<T>* r = outputs[i].node();
            Variable<T> seed(std::move(seeds[i]));
            if (r->is_leaf)
                to_leaf_grad(r, std::move(seed));
            else
                accumulate(grads[r->visit_index], std::move(seed));
        }
        sweep<T>(order, grads, everything, [](Node<T>* m, Variable<T>&& g) { to_leaf_grad(m, std::move(g)); },
                 every_node);
    }
    if (!options.retain_graph()) release_graph(order);
}

namespace {

template <class T>
Variable<T> as_result(Tensor<T>&& g) { return Variable<T>(std::move(g)); }
template <class T>
Variable<T> as_result(Variable<T>&& g) { return std::move(g); }

template <class T, class G>
std::vector<Variable<T>> grad_with(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                                   std::vector<G> seeds, const GradOptions& options) {
    std::vector<const Variable<T>*> roots;
    for (const auto& o : outputs) roots.push_back(&o);
    const std::uint64_t mark = new_pass_mark();
    const auto order = topological_order(roots, mark);

    // Which input each leaf or non-leaf stands for. A leaf's scratch fields are free (leaves
    // are never in `order`), so a target leaf carries this pass's mark and its input number.
    std::vector<int> target_of(order.size(), -1);
    std::vector<int> same_as(inputs.size(), -1);  // repeated inputs copy the first one's result
    std::vector<char> reachable(inputs.size(), 0);
    for (std::size_t j = 0; j < inputs.size(); ++j) {
        Node<T>* m = inputs[j].node();
        for (std::size_t k = 0; k < j; ++k)
            if (inputs[k].node() == m) same_as[j] = int(k);
        if (same_as[j] >= 0) continue;
        if (m->is_leaf) {
            m->visit_mark = mark;
            m->visit_index = std::uint32_t(j);
        } else if (m->visit_mark == mark) {
            target_of[m->visit_index] = int(j);
            reachable[j] = 1;
        }
    }
    // leads[i]: some target lies at or below order[i]. Inputs come after their consumers.
    std::vector<char> leads(order.size(), 0);
    for (std::size_t i = order.size(); i-- > 0;) {
        const Node<T>* n = order[i]->node();
        bool l = target_of[i] >= 0;
        for (std::uint32_t k = 0; k < n->num_inputs; ++k) {
            const Node<T>* m = n->inputs[k].node();
            if (!m->requires_grad) continue;
            if (m->is_leaf) {
                if (m->visit_mark == mark) reachable[m->visit_index] = 1, l = true;
            } else {
                l = l || leads[m->visit_index];
            }
        }
        leads[i] = l;
    }
    for (const auto& o : outputs)
        if (o.node()->is_leaf && o.node()->visit_mark == mark) reachable[o.node()->visit_index] = 1;
    for (std::size_t j = 0; j < inputs.size(); ++j) {
        Node<T>* m = inputs[j].node();
        if (!m->is_leaf && m->visit_mark == mark && !leads[m->visit_index]) reachable[j] = 0;
    }

    std::vector<std::optional<G>> results(inputs.size());
    std::vector<std::optional<G>> grads(order.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        Node<T>* r = outputs[i].node();
        if (r->is_leaf) {
            if (r->visit_mark == mark) accumulate(results[r->visit_index], std::move(seeds[i]));
        } else {
            accumulate(grads[r->visit_index], std::move(seeds[i]));
        }
    }
    auto wanted = [&](const Node<T>* m) { return m->is_leaf ? m->visit_mark == mark : bool(leads[m->visit_index]); };
    auto to_leaf = [&](Node<T>* m, G&& g) { accumulate(results[m->visit_index], std::move(g)); };
    auto at_node = [&](std::size_t i, const G& g) {
        if (target_of[i] >= 0) results[std::size_t(target_of[i])].emplace(g);
        return bool(leads[i]);
    };
    sweep<T>(order, grads, wanted, to_leaf, at_node);
    if (!options.retain_graph()) release_graph(order);

    std::vector<Variable<T>> out;
    out.reserve(inputs.size());
    for (std::size_t j = 0; j < inputs.size(); ++j) {
        if (same_as[j] >= 0) {
            out.push_back(out[std::size_t(same_as[j])]);
        } else if (results[j]) {
            out.push_back(as_result<T>(std::move(*results[j])));
        } else if (options.allow_unused() || reachable[j]) {
            // Reachable but no gradient flowed (e.g. every path was multiplied by a constant
            // that stops gradients) is a true zero; unreachable needs allow_unused.
            out.push_back(Variable<T>(Tensor<T>(inputs[j].shape(), T(0))));
        } else {
            throw Error(fmt::format("grad: input {} (shape {}) is not used to compute the outputs; pass "
                                    "GradOptions().allow_unused(true) to get zeros for it",
                                    j, shape_string(inputs[j].shape())));
        }
    }
    return out;
}

}  // namespace

template <class T>
std::vector<Variable<T>> grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                              const std::vector<Variable<T>>& grad_outputs, const GradOptions& options) {
    check_outputs("grad", outputs);
    if (inputs.empty()) throw Error("grad: no inputs given");
    for (std::size_t j = 0; j < inputs.size(); ++j) {
        if (!inputs[j].defined()) throw Error(fmt::format("grad: input {} is an empty Variable", j));
        if (!inputs[j].requires_grad())
            throw Error(fmt::format("grad: input {} (shape {}) does not require grad", j,
                                    shape_string(inputs[j].shape())));
    }
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
        throw Error(fmt::format("grad: {} outputs but {} grad_outputs", outputs.size(), grad_outputs.size()));

    if (!options.create_graph()) {
        std::vector<Tensor<T>> seeds;
        for (std::size_t i = 0; i < outputs.size(); ++i) {
            if (grad_outputs.empty()) {
                seeds.push_back(default_grad_output("grad", outputs[i]));
            } else {
                check_grad_output_shape("grad", i, grad_outputs[i].shape(), outputs[i].shape());
                seeds.push_back(grad_outputs[i].value());
            }
        }
        return grad_with<T, Tensor<T>>(outputs, inputs, std::move(seeds), options);
    }
    GradModeGuard record(true);
    std::vector<Variable<T>> seeds;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (grad_outputs.empty()) {
            seeds.emplace_back(default_grad_output("grad", outputs[i]));
        } else {
            check_grad_output_shape("grad", i, grad_outputs[i].shape(), outputs[i].shape());
            seeds.push_back(grad_outputs[i]);
        }
    }
    return grad_with<T, Variable<T>>(outputs, inputs, std::move(seeds), options);
}

template <class T>
std::vector<Variable<T>> backward_order(const Variable<T>& output) {
    if (!output.defined()) throw Error("backward_order: the Variable is empty");
    std::vector<Variable<T>> out;
    if (!output.requires_grad()) return out;
    const std::vector<const Variable<T>*> roots{&output};
    for (const Variable<T>* v : topological_order(roots, new_pass_mark())) out.push_back(*v);
    return out;
}

template std::vector<Variable<float>> backward_order(const Variable<float>&);
template std::vector<Variable<double>> backward_order(const Variable<double>&);
template std::vector<Variable<float>> grad(const std::vector<Variable<float>>&, const std::vector<Variable<float>>&,
                                           const std::vector<Variable<float>>&, const GradOptions&);
template std::vector<Variable<double>> grad(const std::vector<Variable<double>>&,
                                            const std::vector<Variable<double>>&,
                                            const std::vector<Variable<double>>&, const GradOptions&);
template void backward(const std::vector<Variable<float>>&, const std::vector<Tensor<float>>&,
                       const BackwardOptions&);
template void backward(const std::vector<Variable<double>>&, const std::vector<Tensor<double>>&,
                       const BackwardOptions&);

}  // namespace tapegrad

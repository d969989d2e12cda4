// The reverse sweep: VJPs consumers first, gradients summed in recycled slots, nodes released as passed.
#include <tapegrad/autograd/engine/sweep.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <type_traits>

#include <tapegrad/autograd/detail/anomaly.hpp>
#include <tapegrad/autograd/engine/leaf_grad.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/ops/arithmetic.hpp>

namespace tapegrad::detail {
namespace {

constexpr std::uint32_t none = NodeIndex::none;

template <class T>
const Tensor<T>& value_of(const Tensor<T>& g) {
    return g;
}
template <class T>
const Tensor<T>& value_of(const Variable<T>& g) {
    return g.value();
}

/// slot += g (the first gradient is taken over). Shapes were checked when g was made.
template <class T>
void accumulate(std::optional<Tensor<T>>& slot, Tensor<T>&& g) {
    if (!slot)
        slot.emplace(std::move(g));
    else
        kernels::add_into(*slot, g);
}
template <class T>
void accumulate(std::optional<Variable<T>>& slot, Variable<T>&& g) {
    if (!slot)
        slot.emplace(std::move(g));
    else
        *slot = add(*slot, g);  // recorded: the sum is differentiated too
}

template <class T>
Tensor<T> value_for_leaf(Tensor<T>&& g) {
    return std::move(g);
}
template <class T>
Tensor<T> value_for_leaf(Variable<T>&& g) {
    return g.value();
}  // a leaf's grad() is a plain tensor

}  // namespace

template <class T, class G>
std::uint32_t PendingGrads<T, G>::make_slot(std::uint32_t id) {
    slots_.emplace_back();
    free_.reserve(slots_.capacity());  // so that drop() never fails to give a slot back
    return slot_of_[id] = std::uint32_t(slots_.size() - 1);
}

template <class T, class G>
void PendingGrads<T, G>::add_room(std::size_t n) {
    const std::size_t need = slots_.size() + (n - free_.size());
    slots_.reserve(std::max(need, 2 * slots_.capacity()));
    free_.reserve(slots_.capacity());
}

template <class T, class G>
Sweep<T, G>::Sweep(const GraphOrder<T>& graph, const GradTargets<T>* targets, bool retain)
    : graph_(graph),
      targets_(targets),
      retain_(retain),
      anomaly_(anomaly_enabled()),
      pending_(graph.nodes.size()),
      captured_(targets ? targets->count() : 0) {}

template <class T, class G>
void Sweep<T, G>::seed(const Variable<T>& output, G&& g) {
    accumulate(pending_[pending_.ensure(graph_.id_of(output.node()))].grad, std::move(g));
}

template <class T, class G>
const G& Sweep<T, G>::output_of(std::uint32_t id, const Node<T>& node) const {
    if constexpr (std::is_same_v<G, Tensor<T>>) {
        (void)id;
        return node.value;
    } else {
        (void)node;
        return *graph_.handles[id];  // create_graph retains the graph: the handle is still there
    }
}

template <class T, class G>
template <bool Plain>
inline bool Sweep<T, G>::visit_any(std::uint32_t id, Node<T>& node, const std::uint32_t* ids, std::uint32_t slot) {
    // Most ops have one or two inputs: their loops below unrolled, with the count known.
    switch (node.num_inputs) {
        case 1:
            return visit<1, Plain>(id, node, ids, slot);
        case 2:
            return visit<2, Plain>(id, node, ids, slot);
        default:
            return visit<0, Plain>(id, node, ids, slot);
    }
}

template <class T, class G>
template <std::size_t N, bool Plain>
inline bool Sweep<T, G>::visit(std::uint32_t id, Node<T>& node, const std::uint32_t* ids, std::uint32_t slot) {
    // Plain: no grad() targets, no anomaly mode, no retain (the flags' members are then not read).
    const GradTargets<T>* const targets = Plain ? nullptr : targets_;
    const bool anomaly = !Plain && anomaly_;
    // Kept out of the Plain instance's code altogether (GCC's -Wnonnull sees a null `targets` there).
    const auto wanted = [targets](std::uint32_t m) {
        if constexpr (Plain)
            return true;
        else
            return !targets || targets->wanted(m);
    };
    if constexpr (!Plain) {
        if (targets) {
            const int j = targets->target_of(id);
            if (j >= 0) captured_[std::size_t(j)].emplace(*pending_[slot].grad);
            if (!targets->wanted(id)) return false;
        }
    }
    const std::size_t n = N ? N : node.num_inputs;
    if (n > capacity_) grow_scratch(n);
    pending_.make_room(n);

    // The first gradient to reach an input is written straight into its slot; one arriving
    // where a gradient already is goes to scratch and is added, or, in a plain backward, the VJP
    // adds it into that sum itself (vjp::add_to_sum: no tensor made for it). (Moving a tensor into a
    // slot costs about as much as a tiny op's arithmetic.) No slot moves once make_room is done, so
    // the pointers into them stay good through the VJP. Anomaly mode checks each VJP's own
    // gradient, so it gets no sums.
    constexpr bool plain = std::is_same_v<G, Tensor<T>>;  // plain tensors (not only the Plain pass)
    bool any = false;
    // The three loops over the inputs unrolled for one and two (GCC leaves a loop with throws in its body
    // rolled even when N is known): 6 instructions per op of a tiny chain.
#pragma GCC unroll 2
    for (std::size_t k = 0; k < n; ++k) {
        const std::uint32_t mid = ids[k];
        const bool w = mid != none && wanted(mid);
        wants_[k] = w;
        added_[k] = false;
        sums_[k] = nullptr;
        if (!w) {
            dest_[k] = &scratch_[k];
            scratch_[k].reset();  // empty even if an earlier VJP wrote a gradient nobody wanted
            continue;
        }
        any = true;
        const std::uint32_t s = pending_.ensure(mid);
        input_slot_[k] = s;
        Pending<T, G>& p = pending_[s];
        if (!p.grad && !p.claimed) {  // claimed: the same node is an earlier input of this op too
            p.claimed = true;
            dest_[k] = &p.grad;
        } else {
            dest_[k] = &scratch_[k];
            scratch_[k].reset();
            if (plain && p.grad && !anomaly) sums_[k] = &p.grad;
        }
    }
    if (!any) return false;

    G& g = *pending_[slot].grad;  // after make_room, which may have moved the slots
    const GradSlots<G> slots{dest_.data(), plain ? sums_.data() : nullptr, added_.get()};
    VjpArgs<G> args{nullptr, output_of(id, node), g, slots, wants_.get()};
    node.vjp(args);  // which first checks that no input was modified in place

#pragma GCC unroll 2
    for (std::size_t k = 0; k < n; ++k) {
        if (!wants_[k]) continue;
        Pending<T, G>& p = pending_[input_slot_[k]];
        p.claimed = false;
        std::optional<G>& d = *dest_[k];
        if (!d && added_[k]) continue;  // added into the sum by the VJP
        if (!d) throw Error(fmt::format("backward: '{}' gave no gradient for its input {}", node.op_name(), k));
        const Node<T>* m = node.inputs[k].node();
        const Tensor<T>& gv = value_of(*d);
        if (!shape_equal(gv.shape(), m->value.shape()))
            throw Error(fmt::format("backward: '{}' gave a gradient of shape {} for its input {} of shape {}",
                                    node.op_name(), shape_string(gv.shape()), k, shape_string(m->value.shape())));
        if (anomaly) check_backward_anomaly(node, k, gv);
        if (&d != &p.grad) {
            accumulate(p.grad, std::move(*d));
            d.reset();
        }
    }
    // Released only after every check above, so that a VJP's error leaves the graph whole.
    if (!Plain && retain_) return true;
    if (targets) {
        release(node, ids);  // inputs grad() wants no gradient for may be reached later all the same
        return true;
    }
    // In backward() every input with an id is wanted, and its slot is known: handed on without release()'s
    // look-ups.
#pragma GCC unroll 2
    for (std::size_t k = 0; k < n; ++k) {
        if (!wants_[k]) continue;
        Pending<T, G>& p = pending_[input_slot_[k]];
        if (!p.holder.defined()) p.holder = std::move(node.inputs[k]);
    }
    node.release();
    return true;
}

template <class T, class G>
void Sweep<T, G>::run() {
    // The usual pass (backward() on plain tensors, no anomaly mode, no retain_graph) compiled on its own, so that
    // none of the per-input checks for the other cases is made on its path.
    if constexpr (std::is_same_v<G, Tensor<T>>) {
        if (!targets_ && !anomaly_ && !retain_) return run_pass<true>();
    }
    run_pass<false>();
}

template <class T, class G>
template <bool Plain>
void Sweep<T, G>::run_pass() {
    for (const std::uint32_t id : graph_.order) {
        // Without retain_graph, a node the sweep reaches is held by its slot's holder (moved
        // there when its first consumer was released) or by the caller (an output).
        Node<T>& node = *graph_.nodes[id];
        const std::uint32_t* ids = graph_.input_ids_of(id);
        const std::uint32_t s = pending_.slot(id);
        if (s == none || !pending_[s].grad || !visit_any<Plain>(id, node, ids, s))
            if (Plain || !retain_) release(node, ids);
        pending_.drop(id);  // the node's gradient, and the node itself unless the caller holds it
    }
}

template <class T, class G>
void Sweep<T, G>::grow_scratch(std::size_t n) {
    wants_.reset(new bool[n]);
    added_.reset(new bool[n]);
    sums_.resize(n);
    input_slot_.resize(n);
    dest_.resize(n);
    scratch_.resize(n);
    capacity_ = n;
}

template <class T, class G>
void Sweep<T, G>::release(Node<T>& node, const std::uint32_t* ids) {
    // Inputs the sweep will reach later move into their slots' holders, which keep them alive
    // until then; node.release() drops the rest and the op's saved values.
    for (std::size_t k = 0; k < node.num_inputs; ++k) {
        const std::uint32_t mid = ids[k];
        if (mid == none) continue;
        Variable<T>& in = node.inputs[k];
        if (targets_ && in.node()->is_leaf && !targets_->wanted(mid)) continue;  // a leaf grad() was not asked about
        Pending<T, G>& p = pending_[pending_.ensure(mid)];
        if (!p.holder.defined()) p.holder = std::move(in);
    }
    node.release();
}

template <class T, class G>
void Sweep<T, G>::add_to_leaves() {
    for (const std::uint32_t id : graph_.leaves) {
        const std::uint32_t s = pending_.slot(id);
        if (s == none || !pending_[s].grad) continue;
        add_to_leaf_grad(static_cast<Leaf<T>&>(*graph_.nodes[id]), value_for_leaf(std::move(*pending_[s].grad)));
        pending_.drop(id);
    }
}

template <class T, class G>
std::vector<std::optional<G>> Sweep<T, G>::take_results() {
    std::vector<std::optional<G>> results(captured_.size());
    for (std::size_t j = 0; j < results.size(); ++j) {
        const std::uint32_t id = targets_->id_of_input(j);
        if (id == none) continue;
        if (captured_[j]) {
            results[j] = std::move(captured_[j]);
        } else if (const std::uint32_t s = pending_.slot(id); s != none && pending_[s].grad) {
            results[j] = std::move(pending_[s].grad);  // a leaf (an op's slot is gone once passed)
        }
    }
    return results;
}

template class PendingGrads<float, Tensor<float>>;
template class PendingGrads<float, Variable<float>>;
template class PendingGrads<double, Tensor<double>>;
template class PendingGrads<double, Variable<double>>;
template class Sweep<float, Tensor<float>>;
template class Sweep<float, Variable<float>>;
template class Sweep<double, Tensor<double>>;
template class Sweep<double, Variable<double>>;

}  // namespace tapegrad::detail

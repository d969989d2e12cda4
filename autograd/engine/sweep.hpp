// The reverse sweep: each VJP once its gradient is complete, sums per node, the graph released behind it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <tapegrad/autograd/engine/grad_targets.hpp>
#include <tapegrad/autograd/engine/order.hpp>

namespace tapegrad::detail {

/// A node's entry while the sweep has not passed it yet.
template <class T, class G>
struct Pending {
    std::optional<G> grad;  // the sum of the gradients that reached the node so far
    Variable<T> holder;     // keeps the node alive once its consumers are released (no retain_graph)
    bool claimed = false;   // a VJP running now writes this node's first gradient straight into `grad`
};

/// The entries of the nodes ahead of the sweep, in slots recycled as it passes nodes: a chain of
/// a million ops needs a handful of slots, not a million gradients.
template <class T, class G>
class PendingGrads {
public:
    static constexpr std::uint32_t none = NodeIndex::none;
    explicit PendingGrads(std::size_t ids) : slot_of_(ids, none) {}

    /// The slot of node `id`, or none.
    std::uint32_t slot(std::uint32_t id) const { return slot_of_[id]; }
    Pending<T, G>& operator[](std::uint32_t slot) { return slots_[slot]; }
    /// The slot of node `id`, made when it has none (which may move every slot: see make_room).
    std::uint32_t ensure(std::uint32_t id) {
        std::uint32_t& s = slot_of_[id];
        if (s != none) return s;
        if (free_.empty()) return make_slot(id);
        s = free_.back();  // a recycled slot: the usual case once the sweep is under way
        free_.pop_back();
        return s;
    }
    /// So that the next `n` calls of ensure() move no slot.
    void make_room(std::size_t n) {
        // Recycled slots are usually enough, and new ones usually fit where the vector is.
        if (free_.size() < n && slots_.size() + (n - free_.size()) > slots_.capacity()) add_room(n);
    }
    /// Frees node `id`'s slot: its gradient, and its holder (maybe the last handle to the node).
    void drop(std::uint32_t id) {
        const std::uint32_t s = slot_of_[id];
        if (s == none) return;
        slot_of_[id] = none;
        Pending<T, G>& p = slots_[s];
        p.grad.reset();
        p.holder.reset();
        free_.push_back(s);  // never grows: make_slot reserved room for every slot
    }

private:
    std::uint32_t make_slot(std::uint32_t id);  // a new slot (none is free)
    void add_room(std::size_t n);

    std::vector<std::uint32_t> slot_of_;  // by id
    std::vector<Pending<T, G>> slots_;
    std::vector<std::uint32_t> free_;
};

/// One reverse sweep over a GraphOrder. G is Tensor<T> for a plain pass and Variable<T> under
/// create_graph (the VJPs are then recorded).
template <class T, class G>
class Sweep {
public:
    /// `targets`: grad()'s side table, or null for backward(), where every leaf that requires grad
    /// gets its gradient. Without `retain`, each node is released as soon as the sweep has passed
    /// it, and freed unless the caller holds it: backward's memory falls as it goes.
    Sweep(const GraphOrder<T>& graph, const GradTargets<T>* targets, bool retain);

    /// Adds the gradient an output starts from.
    void seed(const Variable<T>& output, G&& g);
    /// Runs every VJP that some wanted gradient depends on, every consumer before its inputs.
    void run();
    /// backward(): adds each reached leaf's gradient into its grad(), under the leaf's lock.
    void add_to_leaves();
    /// grad(): the gradient of each input asked for, by input number (none where no gradient
    /// flowed, or where an earlier input is the same node).
    std::vector<std::optional<G>> take_results();

private:
    template <bool Plain>  // Plain: backward() on tensors, no anomaly mode, no retain
    void run_pass();
    /// Runs node `id`'s VJP (false when grad() needs none of its gradients, or none of its inputs
    /// needs one) and, without retain, releases it. Inlined into run_pass: a call per op cost its
    /// prologue and epilogue (six registers saved and restored, ~30 instructions of a tiny op).
    template <bool Plain>
    [[gnu::always_inline]] bool visit_any(std::uint32_t id, Node<T>& node, const std::uint32_t* ids,
                                          std::uint32_t slot);
    template <std::size_t N, bool Plain>  // N inputs (0: node.num_inputs)
    [[gnu::always_inline]] bool visit(std::uint32_t id, Node<T>& node, const std::uint32_t* ids, std::uint32_t slot);
    void grow_scratch(std::size_t n);
    void release(Node<T>& node, const std::uint32_t* ids);
    const G& output_of(std::uint32_t id, const Node<T>& node) const;

    const GraphOrder<T>& graph_;
    const GradTargets<T>* targets_;
    const bool retain_;
    const bool anomaly_;
    PendingGrads<T, G> pending_;
    std::vector<std::optional<G>> captured_;  // grad(): the gradients of op nodes asked for, by input number

    // Scratch for the node being visited, one entry per input, reused from node to node.
    std::size_t capacity_ = 0;
    std::unique_ptr<bool[]> wants_;
    std::vector<std::uint32_t> input_slot_;
    std::vector<std::optional<G>*> dest_;    // where the VJP writes each input's gradient
    std::vector<std::optional<G>*> sums_;    // plain backward: the gradient already summed, which a VJP may add to
    std::unique_ptr<bool[]> added_;          // the VJP added input k's gradient into sums_[k]
    std::vector<std::optional<G>> scratch_;  // for gradients to be added to one already there
};

}  // namespace tapegrad::detail

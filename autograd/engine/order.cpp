// Topological order of the recorded graph: a depth-first search with an explicit stack.
#include <tapegrad/autograd/engine/order.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace tapegrad::detail {
namespace {

constexpr std::uint32_t none = NodeIndex::none;

template <class T>
[[noreturn]] void throw_released(const Node<T>& n) {
    throw Error(
        fmt::format("backward: the graph through '{}' (output shape {}) was already freed by an earlier backward; pass "
                    "BackwardOptions().retain_graph(true) to the first backward to go through a graph twice",
                    n.op_name(), shape_string(n.value.shape())));
}

}  // namespace

// order_graph with keep_handles known at compile time: a plain backward's search makes no test for it at
// every node.
template <class T, bool keep_handles>
GraphOrder<T> order_from(const std::vector<const Variable<T>*>& roots) {
    // A training loop goes through a graph of the same size step after step: the tables start at
    // the size of the previous pass on this thread instead of growing (and rehashing) from nothing.
    static thread_local std::size_t previous_size = 0;
    GraphOrder<T> g;
    g.nodes.reserve(previous_size);
    g.order.reserve(previous_size);
    g.first_input.reserve(previous_size);
    g.input_ids.reserve(2 * previous_size);
    g.index.reserve(previous_size, g.nodes);
    if constexpr (keep_handles) g.handles.reserve(previous_size);
    // Records new node `m` (found through `v`) as number i; true when it is an op node, to be searched.
    auto number = [&](Node<T>* m, const Variable<T>* v, std::uint32_t i) {
        if constexpr (keep_handles) g.handles.push_back(v);
        if (m->is_leaf) {
            g.first_input.push_back(none);
            g.leaves.push_back(i);
            return false;
        }
        if (m->released()) throw_released(*m);
        // Its inputs' ids are set as the search looks at each of them (none: needs no gradient).
        g.first_input.push_back(std::uint32_t(g.input_ids.size()));
        g.input_ids.append(m->num_inputs);
        return true;
    };
    // Numbers node `m` if it is new; true when it is a new op node.
    auto reach = [&](Node<T>* m, const Variable<T>* v, std::uint32_t& id) {
        const auto [i, added] = g.index.add(m, g.nodes);
        id = i;
        return added && number(m, v, i);
    };
    // The same for a node whose one owner is the input handle it was reached through: every edge
    // of the graph and every handle outside it owns its node, so no other path leads here and
    // nothing looks it up by address (the roots and grad()'s inputs are handles of their own).
    // It is new and needs no entry in the index: in a chain of ops, every node but the ends.
    auto reach_only_owner = [&](Node<T>* m, const Variable<T>* v, std::uint32_t& id) {
        id = std::uint32_t(g.nodes.size());
        g.nodes.push_back(m);
        return number(m, v, id);
    };
    struct Frame {
        std::uint32_t id;
        std::uint32_t next;   // the next input to look at
        std::uint32_t count;  // the node's number of inputs
        std::uint32_t first;  // where its inputs' ids go in input_ids
        const Variable<T>* inputs;
    };
    // The frame of op node `id` (at `n`), numbered just now: its inputs' ids start at the end of input_ids less its
    // count.
    auto frame = [&](std::uint32_t id, const Node<T>* n) {
        return Frame{id, 0, n->num_inputs, std::uint32_t(g.input_ids.size() - n->num_inputs), n->inputs};
    };
    // The stack keeps its size from pass to pass on this thread, as the tables above do.
    static thread_local std::vector<Frame> stack;
    stack.clear();
    for (const Variable<T>* root : roots) {
        std::uint32_t id;
        if (!reach(root->node(), root, id)) continue;
        stack.push_back(frame(id, root->node()));
        while (!stack.empty()) {
            Frame& top = stack.back();
            Node<T>* deeper = nullptr;
            while (top.next < top.count) {
                const std::uint32_t k = top.next++;
                const Variable<T>* in = top.inputs + k;
                Node<T>* m = in->node();
                if (!m->requires_grad) {
                    g.input_ids[top.first + k] = none;
                    continue;
                }
                const bool added = in->node_ptr().use_count() == 1 ? reach_only_owner(m, in, id) : reach(m, in, id);
                g.input_ids[top.first + k] = id;
                if (added) {
                    deeper = m;
                    break;
                }
            }
            if (deeper) {
                stack.push_back(frame(id, deeper));  // invalidates `top`
            } else {
                g.order.push_back(top.id);
                stack.pop_back();
            }
        }
    }
    std::reverse(g.order.begin(), g.order.end());
    previous_size = g.nodes.size();
    // A chain of a million ops needs a million frames once: a thread does not keep 24 MB for it.
    if (stack.capacity() > 4096) std::vector<Frame>().swap(stack);
    return g;
}

template <class T>
GraphOrder<T> order_graph(const std::vector<const Variable<T>*>& roots, bool keep_handles) {
    return keep_handles ? order_from<T, true>(roots) : order_from<T, false>(roots);
}

template GraphOrder<float> order_graph(const std::vector<const Variable<float>*>&, bool);
template GraphOrder<double> order_graph(const std::vector<const Variable<double>*>&, bool);

}  // namespace tapegrad::detail

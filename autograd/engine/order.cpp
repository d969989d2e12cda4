// Topological order of the recorded graph: a depth-first search with an explicit stack.
#include <tapegrad/autograd/engine/order.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace tapegrad::detail {
namespace {

template <class T>
[[noreturn]] void throw_released(const Node<T>& n) {
    throw Error(
        fmt::format("backward: the graph through '{}' (output shape {}) was already freed by an earlier backward; pass "
                    "BackwardOptions().retain_graph(true) to the first backward to go through a graph twice",
                    n.op_name(), shape_string(n.value.shape())));
}

}  // namespace

template <class T>
GraphOrder<T> order_graph(const std::vector<const Variable<T>*>& roots, bool keep_handles) {
    // A training loop goes through a graph of the same size step after step: the tables start at
    // the size of the previous pass on this thread instead of growing (and rehashing) from nothing.
    static thread_local std::size_t previous_size = 0;
    GraphOrder<T> g;
    g.nodes.reserve(previous_size);
    g.order.reserve(previous_size);
    g.index.reserve(previous_size, g.nodes);
    if (keep_handles) g.handles.reserve(previous_size);
    // Numbers the node behind `v` if it is new; true when it is a new op node, to be searched.
    auto reach = [&](const Variable<T>* v, std::uint32_t& id) {
        Node<T>* m = v->node();
        const auto [i, added] = g.index.add(m, g.nodes);
        id = i;
        if (!added) return false;
        if (keep_handles) g.handles.push_back(v);
        if (m->is_leaf) {
            g.leaves.push_back(i);
            return false;
        }
        if (m->released()) throw_released(*m);
        return true;
    };
    struct Frame {
        std::uint32_t id;
        std::uint32_t next;  // the next input to look at
    };
    std::vector<Frame> stack;
    for (const Variable<T>* root : roots) {
        std::uint32_t id;
        if (!reach(root, id)) continue;
        stack.push_back({id, 0});
        while (!stack.empty()) {
            Frame& top = stack.back();
            const Node<T>* n = g.nodes[top.id];
            if (top.next < n->num_inputs) {
                const Variable<T>* in = &n->inputs[top.next++];
                if (in->node()->requires_grad && reach(in, id)) stack.push_back({id, 0});  // invalidates `top`
            } else {
                g.order.push_back(top.id);
                stack.pop_back();
            }
        }
    }
    std::reverse(g.order.begin(), g.order.end());
    previous_size = g.nodes.size();
    return g;
}

template GraphOrder<float> order_graph(const std::vector<const Variable<float>*>&, bool);
template GraphOrder<double> order_graph(const std::vector<const Variable<double>*>&, bool);

}  // namespace tapegrad::detail

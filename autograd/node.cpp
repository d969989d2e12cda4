// Node defaults, the iterative release of inputs, freeing values no backward needs, and anomaly checks on
// op outputs.
#include <tapegrad/autograd/node.hpp>

#include <array>
#include <cmath>
#include <fmt/format.h>

#include <tapegrad/autograd/detail/anomaly.hpp>
#include <tapegrad/autograd/op.hpp>

namespace tapegrad {

template <class T>
void Node<T>::vjp(VjpArgs<Tensor<T>>&) const {
    throw Error(fmt::format("backward: '{}' has no vector-Jacobian product", op_name()));
}

template <class T>
void Node<T>::vjp(VjpArgs<Variable<T>>&) const {
    throw Error(fmt::format("backward: '{}' has no vector-Jacobian product", op_name()));
}

template class Node<float>;
template class Node<double>;

namespace detail {
namespace {

/// Handles waiting to be dropped by the outermost release running on a thread. A chain needs
/// two or three at a time, so a few live inline; more (wide graphs) spill to the heap.
class Worklist {
public:
    /// False when out of memory (the caller then drops the handle itself).
    bool push(NodeRef<NodeBase>& p) noexcept {
        if (n_ < inline_.size()) {
            inline_[n_++] = std::move(p);
            return true;
        }
        try {
            more_.push_back(std::move(p));
            return true;
        } catch (...) {
            return false;
        }
    }
    bool empty() const noexcept { return n_ == 0 && more_.empty(); }
    NodeRef<NodeBase> pop() noexcept {
        if (!more_.empty()) {
            NodeRef<NodeBase> p = std::move(more_.back());
            more_.pop_back();
            return p;
        }
        return std::move(inline_[--n_]);
    }

private:
    std::array<NodeRef<NodeBase>, 8> inline_;
    std::size_t n_ = 0;
    std::vector<NodeRef<NodeBase>> more_;
};

// The worklist of the outermost release running on this thread, or null. A plain pointer to a
// local of that call: nothing thread-local to construct or destroy, so releasing stays
// iterative while the thread or the program exits, after other thread-local objects are gone
// (a graph held by a thread_local or a global Variable is released then).
thread_local Worklist* current_worklist = nullptr;

/// Moves every input handle onto the worklist, shared or not: an input shared with a sibling
/// dies with whichever of the two goes last, and that must not happen inside a destructor.
template <class T>
void defer(Worklist& w, Variable<T>* inputs, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
        if (inputs[i].node()) {
            NodeRef<NodeBase> p = inputs[i].take_node();
            if (!w.push(p)) p.reset();  // out of memory for the worklist: released recursively
        }
    }
}

}  // namespace

template <class T>
void release_iteratively(Variable<T>* inputs, std::size_t count) noexcept {
    // A node a backward went through has handed its inputs on already: nothing to set up a worklist for.
    std::size_t held = 0;
    for (std::size_t i = 0; i < count; ++i) held += inputs[i].node() != nullptr;
    if (held == 0) return;
    if (Worklist* outer = current_worklist) {
        defer(*outer, inputs, count);
        return;
    }
    Worklist w;
    defer(w, inputs, count);
    current_worklist = &w;
    while (!w.empty()) w.pop().reset();  // may push the popped node's own inputs
    current_worklist = nullptr;
}

template void release_iteratively(Variable<float>*, std::size_t) noexcept;
template void release_iteratively(Variable<double>*, std::size_t) noexcept;

void throw_modified_in_place(const char* op, std::size_t input, const std::string& shape, std::uint32_t recorded,
                             std::uint32_t now) {
    throw Error(
        fmt::format("backward: input {} of '{}' (shape {}) was modified in place after '{}' recorded it "
                    "(version {} when recorded, {} now); backward needs the old value — modify a copy, or "
                    "recompute the forward pass after the change",
                    input, op, shape, op, recorded, now));
}

void throw_output_modified_in_place(const char* op, const std::string& shape, std::uint32_t now) {
    throw Error(fmt::format(
        "backward: the output of '{}' (shape {}) was modified in place after '{}' computed it "
        "(version 0 when computed, {} now); its backward may need the value it computed — modify a copy, or "
        "recompute the forward pass after the change",
        op, shape, op, now));
}

void throw_too_many_inputs(const char* op, std::size_t count) {
    throw Error(
        fmt::format("{}: got {} inputs; a recorded op takes at most {} (join them in groups, e.g. a concat "
                    "of concats)",
                    op, count, Node<float>::max_inputs));
}

template <class T>
std::string forward_chain(const Node<T>& node) {
    std::vector<const Node<T>*> path{&node};
    const Node<T>* n = &node;
    while (path.size() < 16 && n->num_inputs > 0) {
        const Node<T>* next = nullptr;
        // Follow an input that is not finite if there is one: that is where the trouble came from.
        for (std::uint32_t k = 0; k < n->num_inputs && !next; ++k) {
            const Node<T>* m = n->inputs[k].node();
            if (m && first_non_finite(m->value) >= 0) next = m;
        }
        for (std::uint32_t k = 0; k < n->num_inputs && !next; ++k) {
            const Node<T>* m = n->inputs[k].node();
            if (m && !m->is_leaf) next = m;
        }
        if (!next) next = n->inputs[0].node();
        if (!next) break;
        path.push_back(next);
        n = next;
    }
    std::string s = path.back()->num_inputs > 0 ? "... -> " : "";
    for (std::size_t i = path.size(); i-- > 0;) {
        s += fmt::format("{} {}", path[i]->op_name(), shape_string(path[i]->value.shape()));
        if (i) s += " -> ";
    }
    return s;
}

template <class T>
std::ptrdiff_t first_non_finite(const Tensor<T>& t) {
    const T* p = t.data();
    for (std::size_t i = 0; i < t.size(); ++i)
        if (!std::isfinite(p[i])) return std::ptrdiff_t(i);
    return -1;
}

template <class T>
void check_forward_anomaly(const Node<T>& node) {
    const std::ptrdiff_t at = first_non_finite(node.value);
    if (at < 0) return;
    throw Error(fmt::format("anomaly: '{}' produced {} in its output of shape {} (flat index {}); chain: {}",
                            node.op_name(), std::isnan(node.value.data()[at]) ? "NaN" : "Inf",
                            shape_string(node.value.shape()), at, forward_chain(node)));
}

template <class T>
void check_backward_anomaly(const Node<T>& node, std::size_t input, const Tensor<T>& grad) {
    const std::ptrdiff_t at = first_non_finite(grad);
    if (at < 0) return;
    throw Error(
        fmt::format("anomaly: backward of '{}' produced {} in the gradient of its input {} (shape {}, flat index {}); "
                    "forward chain: {}",
                    node.op_name(), std::isnan(grad.data()[at]) ? "NaN" : "Inf", input, shape_string(grad.shape()), at,
                    forward_chain(node)));
}

// Called as each op is recorded, one step behind: an input n of the new op whose VJP reads no input
// elements may hold the last reference to its own input m (the user's Variable was reassigned, as in
// y = y * w; y = y + w; y = tanh(y)). Then nothing can read m's elements again — no Variable holds m,
// its one consumer n does not read them and m's own VJP does not either — so they are freed at once,
// back to the allocator while still in cache, and the shape stays for the VJPs that read it.
// Small values are kept: freeing saves little there, and printouts of small graphs show every value.
template <class T>
void free_unneeded_values(const Node<T>& consumer) noexcept {
    for (std::uint32_t i = 0; i < consumer.num_inputs; ++i) {
        const Node<T>* n = consumer.inputs[i].node();
        if (!n->frees_input_values) continue;  // a leaf, a VJP that reads its inputs, or no input worth freeing
        for (std::uint32_t k = 0; k < n->num_inputs; ++k) {
            const Variable<T>& edge = n->inputs[k];
            Node<T>* m = edge.node();
            if (!m->value_freeable || m->value_freed.load(std::memory_order_relaxed)) continue;
            if (edge.node_ptr().use_count() != 1) continue;  // a Variable or another op still holds it
            if (m->value_freed.exchange(true)) continue;     // another thread got there first
            m->value.storage() = typename Tensor<T>::storage_type();
        }
    }
}

template std::ptrdiff_t first_non_finite(const Tensor<float>&);
template std::ptrdiff_t first_non_finite(const Tensor<double>&);
template std::string forward_chain(const Node<float>&);
template std::string forward_chain(const Node<double>&);
template void check_forward_anomaly(const Node<float>&);
template void check_forward_anomaly(const Node<double>&);
template void free_unneeded_values(const Node<float>&) noexcept;
template void free_unneeded_values(const Node<double>&) noexcept;
template void check_backward_anomaly(const Node<float>&, std::size_t, const Tensor<float>&);
template void check_backward_anomaly(const Node<double>&, std::size_t, const Tensor<double>&);

}  // namespace detail
}  // namespace tapegrad

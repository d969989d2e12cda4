// Node<T>: what a Variable points to — a value, and for a recorded op its inputs and VJP.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad {

template <class T>
class Variable;

namespace detail {
// Nodes made minus nodes freed on this thread: leak tests check it returns to where it was.
inline thread_local long live_nodes = 0;
}  // namespace detail

/// Nodes created and not yet freed by the calling thread (for tests that look for leaks).
inline long live_node_count() noexcept { return detail::live_nodes; }

/// What an op's VJP receives. G is Tensor<T> in an ordinary backward (nothing is
/// recorded) and Variable<T> under create_graph (everything is recorded, so the
/// gradient can itself be differentiated).
template <class G>
struct VjpArgs {
    const G* const* inputs;  // the op's inputs, in order
    const G& y;              // the op's own output, passed in rather than captured
    G& g;                    // gradient of the loss with respect to y; an op may move from it
    std::optional<G>* dx;    // one slot per input, to be filled where wants[i]
    const bool* wants;       // wants[i]: input i needs a gradient

    const G& x(std::size_t i) const { return *inputs[i]; }
    bool want(std::size_t i) const { return wants[i]; }
};

/// One node of the recorded graph. Leaves hold data; op nodes add their inputs and a VJP.
/// Ownership runs one way: a node owns its inputs, never its consumers.
template <class T>
class Node {
public:
    explicit Node(bool leaf) noexcept : is_leaf(leaf) { ++detail::live_nodes; }
    virtual ~Node() { --detail::live_nodes; }
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// "tanh", "matmul", ... ("leaf" for data).
    virtual const char* op_name() const noexcept { return "leaf"; }
    virtual const char* formula() const noexcept { return ""; }

    /// Gradients of the inputs from the gradient of the output.
    virtual void vjp(VjpArgs<Tensor<T>>& args) const;
    virtual void vjp(VjpArgs<Variable<T>>& args) const;

    /// Throws if an input was modified in place after this op recorded it.
    virtual void check_versions() const {}

    /// Drops the inputs (and anything saved for the VJP) once backward is done with them.
    virtual void release() noexcept {}

    /// A short description of the op's settings for printouts, e.g. "axis=1".
    virtual std::string describe() const { return {}; }

    Tensor<T> value;
    const Variable<T>* inputs = nullptr;  // points into the op's own storage
    std::uint32_t num_inputs = 0;
    std::uint32_t version = 0;  // bumped by every in-place change of `value`
    bool requires_grad = false;
    const bool is_leaf;
    bool released = false;

    // Scratch for the engine: the backward pass that last visited this node, and the
    // node's position in that pass's order.
    std::uint64_t visit_mark = 0;
    std::uint32_t visit_index = 0;
};

/// Data: a Variable made from an array, a parameter, or a result computed without recording.
template <class T>
class Leaf final : public Node<T> {
public:
    Leaf() noexcept : Node<T>(true) {}
    std::optional<Tensor<T>> grad;  // none until a backward reaches it; zero_grad resets to none
};

}  // namespace tapegrad

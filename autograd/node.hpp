// Node<T>: what a Variable points to — a value, and for a recorded op its inputs and VJP.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include <tapegrad/autograd/node_ref.hpp>
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

/// Where a VJP writes the gradient of each input: `dx[i] = ...` fills input i's slot. The engine
/// points a slot straight at the place the gradient is summed when it is the first to arrive
/// there, so that it is never moved afterwards.
template <class G>
struct GradSlots {
    /// One pointer per input to the place its gradient goes.
    std::optional<G>* const* slots;
    /// Per input, in a plain backward, the gradient already summed for it (null: none yet): a VJP may add
    /// its own into it instead of assigning a new tensor (vjp::add_to_sum). Null as a whole when recording.
    std::optional<G>* const* sums = nullptr;
    /// Set for each input whose gradient the VJP added into its sum (then dx[i] may stay empty).
    bool* added = nullptr;

    /// The slot of input i: assign the gradient to it (`dx[i] = ...`).
    std::optional<G>& operator[](std::size_t i) const { return *slots[i]; }
    /// The gradient already summed for input i, or null.
    G* sum(std::size_t i) const { return sums && sums[i] ? &**sums[i] : nullptr; }
};

/// What an op's VJP receives. G is Tensor<T> in an ordinary backward (nothing is
/// recorded) and Variable<T> under create_graph (everything is recorded, so the
/// gradient can itself be differentiated).
template <class G>
struct VjpArgs {
    /// The fields: `inputs` the op's inputs in order (read them with x(i)), `y` its output, `g` dL/dy (an op may
    /// move from it), `dx` the slots for dL/dx_i, `wants` which inputs need a gradient (read it with want(i)).
    ///@{
    const G* const* inputs;  // the op's inputs, in order
    const G& y;              // the op's own output, passed in rather than captured
    G& g;                    // gradient of the loss with respect to y; an op may move from it
    GradSlots<G> dx;         // one empty slot per input, to be filled where wants[i]
    const bool* wants;       // wants[i]: input i needs a gradient
    ///@}

    /// Input i (i < the op's number of inputs).
    const G& x(std::size_t i) const { return *inputs[i]; }
    /// True when input i needs a gradient: skip the work for the others.
    bool want(std::size_t i) const { return wants[i]; }
};

/// One node of the recorded graph. Leaves hold data; op nodes add their inputs and a VJP.
/// Ownership runs one way: a node owns its inputs, never its consumers.
template <class T>
class Node : public NodeBase {
public:
    /// A leaf (data) or, for a derived op node, not.
    explicit Node(bool leaf) noexcept : is_leaf(leaf) { ++detail::live_nodes; }
    /// A node taking over `value` (a default Tensor would allocate its one element, only to be replaced).
    Node(bool leaf, Tensor<T>&& value) noexcept : value(std::move(value)), is_leaf(leaf) { ++detail::live_nodes; }
    /// A node whose value make() returns, made where the node keeps it (an op's forward writes its output
    /// straight into its node: no Tensor moved in).
    template <class Make>
    Node(bool leaf, std::in_place_t, const Make& make) : value(make()), is_leaf(leaf) {
        ++detail::live_nodes;
    }
    ~Node() override { --detail::live_nodes; }

    /// "tanh", "matmul", ... ("leaf" for data).
    virtual const char* op_name() const noexcept { return "leaf"; }
    /// The op's formula line (y and its VJP) for printouts; "" for a leaf.
    virtual const char* formula() const noexcept { return ""; }

    /// Gradients of the inputs from the gradient of the output; throws first, as check_versions(), if an
    /// input was modified in place after the op recorded it.
    virtual void vjp(VjpArgs<Tensor<T>>& args) const;
    /// The same under create_graph: the gradients are recorded, so they can be differentiated.
    virtual void vjp(VjpArgs<Variable<T>>& args) const;

    /// Throws if an input was modified in place after this op recorded it.
    virtual void check_versions() const {}

    /// Drops the inputs (and anything saved for the VJP) once backward is done with them.
    /// Called by one thread at a time: a graph other threads still go through is retained.
    virtual void release() noexcept {}

    /// A short description of the op's settings for printouts, e.g. "axis=1".
    virtual std::string describe() const { return {}; }

    /// At most this many inputs per op (num_inputs is 16 bits: it keeps a two-input node in a
    /// smaller allocation class, 64 bytes less per node of a long chain).
    static constexpr std::size_t max_inputs = 65535;

    /// True once a backward without retain_graph has dropped this op's inputs (an op node always
    /// has at least one input until then).
    bool released() const noexcept { return !is_leaf && num_inputs == 0; }

    /// The node's data: `value` (a leaf's data or the op's output), `inputs` and `num_inputs` (the op's inputs;
    /// none for a leaf or once released()), `version` (counts in-place changes of value, so that a VJP never reads
    /// a changed input), `requires_grad`, and `is_leaf` (data, not an op's output).
    ///@{
    Tensor<T> value;
    Variable<T>* inputs = nullptr;  // points into the op's own storage; backward moves handles out as it releases
    std::uint32_t version = 0;      // bumped by every in-place change of `value`
    std::uint16_t num_inputs = 0;
    bool requires_grad = false;
    const bool is_leaf;
    ///@}

    /// What the op's VJP reads, so that the forward can free values no backward needs:
    /// `vjp_reads_inputs` (the elements of its inputs), `vjp_reads_output` (the elements of its
    /// own output), and `value_freed` (the elements of `value` were freed; its shape is kept).
    ///@{
    bool vjp_reads_inputs = true;
    bool vjp_reads_output = true;
    std::atomic<bool> value_freed{false};  // two threads recording on one shared node may both try
    ///@}
    /// Set once when the op is recorded, so that recording the next op tests one flag per input instead of
    /// walking two levels of nodes (free_unneeded_values): `value_freeable` (an op node whose VJP does not
    /// read its output and whose value is large enough to be worth freeing) and `frees_input_values` (its
    /// VJP reads no input, and some input is value_freeable).
    ///@{
    bool value_freeable = false;
    bool frees_input_values = false;
    ///@}
    // No scratch for the engine here: a backward pass keeps its bookkeeping to itself, so that
    // passes on several threads can go through the same graph.
};

/// Data: a Variable made from an array, a parameter, or a result computed without recording.
template <class T>
class Leaf final : public Node<T> {
public:
    Leaf() noexcept : Node<T>(true) {}
    /// A leaf holding `value`.
    explicit Leaf(Tensor<T>&& value) noexcept : Node<T>(true, std::move(value)) {}
    void delete_self() noexcept override { detail::delete_node(this); }
    // None until a backward reaches it; zero_grad resets to none. Backward adds to it under a
    // lock (several threads may backpropagate into one leaf); reading or resetting it while
    // another thread's backward may write it is the caller's to avoid.
    /// The accumulated gradient: none until a backward reaches the leaf; zero_grad resets it.
    std::optional<Tensor<T>> grad;
};

}  // namespace tapegrad

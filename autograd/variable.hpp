// Variable<T>: a cheap, copyable handle to a node of the recorded graph.
#pragma once

#include <iosfwd>
#include <memory>
#include <type_traits>
#include <vector>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/node.hpp>
#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad {

/// Settings of Variable::backward().
struct BackwardOptions {
    /// Keep the graph so that backward can run through it again.
    BackwardOptions& retain_graph(bool v) {
        retain_graph_ = v;
        return *this;
    }
    /// Record the backward pass itself, so the gradients can be differentiated again
    /// (implies retain_graph).
    BackwardOptions& create_graph(bool v) {
        create_graph_ = v;
        return *this;
    }
    /// True when set, or implied by create_graph.
    bool retain_graph() const { return retain_graph_ || create_graph_; }
    /// The value set by create_graph(bool) (default false).
    bool create_graph() const { return create_graph_; }

private:
    bool retain_graph_ = false;
    bool create_graph_ = false;
};

/// A value in a define-by-run computation. Copies share the node: a Variable behaves like a
/// shared_ptr to its value, its gradient and (for a result of an op) the op that made it.
/// Like a shared_ptr, const applies to the handle: a const Variable can still have its
/// gradient reset or its value updated in place.
template <class T>
class Variable {
public:
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "tapegrad::Variable<T> is compiled for float and double");
    /// The element type, float or double.
    using value_type = T;

    /// An empty handle; give it a value by assignment.
    Variable() noexcept = default;
    /// A leaf holding `value`.
    explicit Variable(Tensor<T> value, bool requires_grad = false);
    /// A leaf holding a copy of any xtensor expression (xarray, xtensor, views, ...).
    template <class E, class = std::enable_if_t<!std::is_same_v<std::decay_t<E>, Tensor<T>>>>
    explicit Variable(const xt::xexpression<E>& value, bool requires_grad = false)
        : Variable(Tensor<T>(value), requires_grad) {}
    /// Wraps an existing node (used by ops).
    explicit Variable(NodeRef<Node<T>> node) noexcept : node_(std::move(node)) {}

    /// False for an empty handle (default-constructed, reset or moved from).
    bool defined() const noexcept { return bool(node_); }

    /// The value; throws tapegrad::Error for an empty handle (as every accessor below that reads the node).
    const Tensor<T>& value() const { return checked_value().value; }
    /// The value for changing in place. Ops recorded with the old value notice the change
    /// and refuse to run backward through it.
    Tensor<T>& mutable_value() const;
    /// Replaces the value of a leaf (same shape, or any shape for a leaf without a graph).
    void set_value(Tensor<T> value) const;
    /// The value's shape, number of dimensions and number of elements.
    ///@{
    const Shape& shape() const { return checked().value.shape(); }
    std::size_t dim() const { return checked().value.dimension(); }
    std::size_t size() const { return xt::compute_size(checked().value.shape()); }
    ///@}
    /// The single element of a one-element value.
    T item() const;

    /// True for a parameter, and for a result computed from one with grad mode on.
    bool requires_grad() const noexcept { return node_ && node_->requires_grad; }
    /// Marks a leaf as a parameter (or not); an op's result always requires grad.
    const Variable& set_requires_grad(bool requires_grad) const;
    /// True for data (not made by a recorded op).
    bool is_leaf() const { return checked().is_leaf; }
    /// "leaf" or the name of the op that produced this value.
    const char* op_name() const { return checked().op_name(); }
    /// The inputs of the op that produced this value (none for a leaf).
    std::vector<Variable> inputs() const;

    /// True once a backward pass has reached this leaf (and zero_grad has not run since).
    bool has_grad() const;
    /// dLoss/dthis, accumulated over backward calls. Only leaves keep gradients; for an
    /// intermediate value use tapegrad::grad(output, {value}).
    const Tensor<T>& grad() const;
    /// The gradient for changing in place (an optimizer's update, clipping); throws tapegrad::Error when there is none.
    Tensor<T>& mutable_grad() const;
    /// Replaces the gradient (it must have the value's shape).
    void set_grad(Tensor<T> grad) const;
    /// Forgets the gradient ("set to none"): the next backward writes a fresh one.
    void zero_grad() const;

    /// A new leaf with a copy of the value and no history.
    Variable detach() const;

    /// Backward from a one-element value: fills grad() of every leaf that requires grad.
    void backward(const BackwardOptions& options = {}) const;
    /// Backward from any shape, given dLoss/dthis.
    void backward(const Tensor<T>& grad_output, const BackwardOptions& options = {}) const;

    /// The node this handle points to (null when empty): for graph printing and custom engines.
    Node<T>* node() const noexcept { return node_.get(); }
    /// The owning pointer to that node.
    const NodeRef<Node<T>>& node_ptr() const noexcept { return node_; }
    /// Drops this handle (the node lives on while others hold it).
    void reset() noexcept { node_.reset(); }
    /// Moves the node out of this handle, leaving it empty.
    NodeRef<Node<T>> take_node() noexcept { return std::move(node_); }

private:
    Node<T>& checked() const {
        if (!node_) throw_empty();  // out of line: the check stays two instructions on every op's path
        return *node_;
    }
    [[noreturn]] static void throw_empty();
    Leaf<T>& leaf(const char* what) const;
    Node<T>& checked_value() const {
        Node<T>& n = checked();
        if (n.value_freed) throw_value_freed();
        return n;
    }
    [[noreturn]] void throw_value_freed() const;

    NodeRef<Node<T>> node_;
};

/// A leaf that does not require grad (data, targets).
template <class E>
auto constant(const xt::xexpression<E>& value) {
    using T = typename E::value_type;
    return Variable<T>(Tensor<T>(value), false);
}
template <class T>
Variable<T> constant(Tensor<T> value) {
    return Variable<T>(std::move(value), false);
}

/// A leaf that requires grad (a parameter or an input to differentiate with respect to).
template <class E>
auto parameter(const xt::xexpression<E>& value) {
    using T = typename E::value_type;
    return Variable<T>(Tensor<T>(value), true);
}
template <class T>
Variable<T> parameter(Tensor<T> value) {
    return Variable<T>(std::move(value), true);
}

/// A one-element, zero-dimensional leaf.
template <class T>
Variable<T> scalar(T value, bool requires_grad = false) {
    Tensor<T> t = Tensor<T>::from_shape({});
    t() = value;
    return Variable<T>(std::move(t), requires_grad);
}

/// Prints the op, shape and value, e.g. "tanh (2,) [0.4621, -0.7616]".
template <class T>
std::ostream& operator<<(std::ostream& os, const Variable<T>& v);

extern template class Variable<float>;
extern template class Variable<double>;

}  // namespace tapegrad

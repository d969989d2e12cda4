// Variable<T>: construction, access to value and gradient, and the entry to backward.
#include <tapegrad/autograd/variable.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.hpp>

namespace tapegrad {

template <class T>
Variable<T>::Variable(Tensor<T> value, bool requires_grad) {
    NodeRef<Leaf<T>> leaf = NodeRef<Leaf<T>>::make(std::move(value));
    leaf->requires_grad = requires_grad;
    node_ = std::move(leaf);
}

template <class T>
Leaf<T>& Variable<T>::leaf(const char* what) const {
    Node<T>& n = checked();
    if (!n.is_leaf)
        throw Error(
            fmt::format("{}: only leaves keep gradients; this value of shape {} is the output of '{}' "
                        "(use tapegrad::grad(output, {{value}}) for the gradient of an intermediate value)",
                        what, shape_string(n.value.shape()), n.op_name()));
    return static_cast<Leaf<T>&>(n);
}

template <class T>
void Variable<T>::throw_empty() {
    throw Error("Variable: this Variable is empty (default-constructed or moved from)");
}

template <class T>
void Variable<T>::throw_value_freed() const {
    const Node<T>& n = *node_;
    throw Error(fmt::format(
        "value: the value of this '{}' output (shape {}) was freed during the forward pass: no Variable held it "
        "and no backward reads it; keep a Variable to it, or record it inside a tapegrad::KeepValuesGuard",
        n.op_name(), shape_string(n.value.shape())));
}

template <class T>
Tensor<T>& Variable<T>::mutable_value() const {
    Node<T>& n = checked_value();
    ++n.version;
    return n.value;
}

template <class T>
void Variable<T>::set_value(Tensor<T> value) const {
    Node<T>& n = checked();
    if (!n.is_leaf)
        throw Error(
            fmt::format("set_value: only a leaf's value can be replaced; this is the output of '{}'", n.op_name()));
    auto& l = static_cast<Leaf<T>&>(n);
    if (l.grad && l.grad->shape() != value.shape()) l.grad.reset();
    n.value = std::move(value);
    ++n.version;
}

template <class T>
T Variable<T>::item() const {
    const Tensor<T>& v = value();
    if (v.size() != 1)
        throw Error(fmt::format("item: expected a one-element value, got shape {}", shape_string(v.shape())));
    return v.data()[0];
}

template <class T>
const Variable<T>& Variable<T>::set_requires_grad(bool requires_grad) const {
    Node<T>& n = checked();
    if (!n.is_leaf)
        throw Error(
            fmt::format("set_requires_grad: only a leaf can be marked; this value of shape {} is the output "
                        "of '{}' (detach() makes a leaf from it)",
                        shape_string(n.value.shape()), n.op_name()));
    n.requires_grad = requires_grad;
    return *this;
}

template <class T>
std::vector<Variable<T>> Variable<T>::inputs() const {
    const Node<T>& n = checked();
    return std::vector<Variable<T>>(n.inputs, n.inputs + n.num_inputs);
}

template <class T>
bool Variable<T>::has_grad() const {
    const Node<T>& n = checked();
    return n.is_leaf && static_cast<const Leaf<T>&>(n).grad.has_value();
}

template <class T>
const Tensor<T>& Variable<T>::grad() const {
    Leaf<T>& l = leaf("grad");
    if (!l.grad)
        throw Error(fmt::format("grad: this leaf of shape {} has no gradient yet: {}", shape_string(l.value.shape()),
                                l.requires_grad ? "run backward() on a result that depends on it first (zero_grad() "
                                                  "also resets it to none)"
                                                : "it does not require grad (set_requires_grad(true) or parameter())"));
    return *l.grad;
}

template <class T>
Tensor<T>& Variable<T>::mutable_grad() const {
    return const_cast<Tensor<T>&>(grad());
}

template <class T>
void Variable<T>::set_grad(Tensor<T> grad) const {
    Leaf<T>& l = leaf("set_grad");
    if (grad.shape() != l.value.shape())
        throw Error(fmt::format("set_grad: gradient of shape {} does not match the value's shape {}",
                                shape_string(grad.shape()), shape_string(l.value.shape())));
    l.grad = std::move(grad);
}

template <class T>
void Variable<T>::zero_grad() const {
    Node<T>& n = checked();
    if (n.is_leaf) static_cast<Leaf<T>&>(n).grad.reset();
}

template <class T>
Variable<T> Variable<T>::detach() const {
    return Variable<T>(Tensor<T>(value()), false);
}

template <class T>
void Variable<T>::backward(const BackwardOptions& options) const {
    tapegrad::backward(std::vector<Variable<T>>{*this}, std::vector<Tensor<T>>{}, options);
}

template <class T>
void Variable<T>::backward(const Tensor<T>& grad_output, const BackwardOptions& options) const {
    tapegrad::backward(std::vector<Variable<T>>{*this}, std::vector<Tensor<T>>{grad_output}, options);
}

template class Variable<float>;
template class Variable<double>;

}  // namespace tapegrad

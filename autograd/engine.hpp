// backward() and grad(): the reverse sweep over the recorded graph.
#pragma once

#include <initializer_list>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// Settings of tapegrad::grad().
struct GradOptions {
    /// Keep the graph so that backward can run through it again.
    GradOptions& retain_graph(bool v) {
        retain_graph_ = v;
        return *this;
    }
    /// Return gradients that are themselves recorded (for second derivatives, Hessian-vector
    /// products); implies retain_graph.
    GradOptions& create_graph(bool v) {
        create_graph_ = v;
        return *this;
    }
    /// Return zeros for an input the outputs do not depend on, instead of throwing.
    GradOptions& allow_unused(bool v) {
        allow_unused_ = v;
        return *this;
    }
    /// True when set, or implied by create_graph.
    bool retain_graph() const { return retain_graph_ || create_graph_; }
    /// The value set by create_graph(bool) (default false).
    bool create_graph() const { return create_graph_; }
    /// The value set by allow_unused(bool) (default false).
    bool allow_unused() const { return allow_unused_; }

private:
    bool retain_graph_ = false;
    bool create_graph_ = false;
    bool allow_unused_ = false;
};

/// Gradients of `outputs` with respect to `inputs` (leaves or intermediate values), weighted
/// by `grad_outputs` (default: ones, for one-element outputs). Nothing is added to any
/// Variable's grad(). Under create_graph the results are recorded and can be
/// differentiated again, also with respect to `grad_outputs`.
template <class T>
std::vector<Variable<T>> grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                              const std::vector<Variable<T>>& grad_outputs = {}, const GradOptions& options = {});

/// grad() of a single one-element output.
template <class T>
std::vector<Variable<T>> grad(const Variable<T>& output, const std::vector<Variable<T>>& inputs,
                              const GradOptions& options = {}) {
    return grad(std::vector<Variable<T>>{output}, inputs, {}, options);
}

/// grad({y}, {x}) and grad({y, z}, {x, w}, {gy, gz}, options): braced lists, element type deduced.
template <class T>
std::vector<Variable<T>> grad(std::initializer_list<Variable<T>> outputs, std::initializer_list<Variable<T>> inputs,
                              const std::vector<Variable<T>>& grad_outputs = {}, const GradOptions& options = {}) {
    return grad(std::vector<Variable<T>>(outputs), std::vector<Variable<T>>(inputs), grad_outputs, options);
}
template <class T>
std::vector<Variable<T>> grad(std::initializer_list<Variable<T>> outputs, std::initializer_list<Variable<T>> inputs,
                              const GradOptions& options) {
    return grad(std::vector<Variable<T>>(outputs), std::vector<Variable<T>>(inputs), {}, options);
}
/// grad({y}, params): a braced list of outputs, the inputs in a vector.
template <class T>
std::vector<Variable<T>> grad(std::initializer_list<Variable<T>> outputs, const std::vector<Variable<T>>& inputs,
                              const std::vector<Variable<T>>& grad_outputs = {}, const GradOptions& options = {}) {
    return grad(std::vector<Variable<T>>(outputs), inputs, grad_outputs, options);
}

/// Backward from several outputs at once, each with its upstream gradient (none given:
/// every output must have one element and gets 1).
template <class T>
void backward(const std::vector<Variable<T>>& outputs, const std::vector<Tensor<T>>& grad_outputs,
              const BackwardOptions& options = {});

/// The recorded ops behind `output` in the order backward visits them: `output` first, every
/// op before the ops that produced its inputs. Leaves are not included.
template <class T>
std::vector<Variable<T>> backward_order(const Variable<T>& output);

}  // namespace tapegrad

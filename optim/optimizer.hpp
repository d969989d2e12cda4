// Optimizer<T>: the base of every optimizer — parameter groups, zero_grad, step, step(closure), state.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::optim {

/// What step(closure) calls: it zeroes the gradients, recomputes the loss, runs backward
/// and returns the loss (as PyTorch's closures do). BFGS and LBFGS call it many times per step.
using Closure = std::function<double()>;

/// An optimizer's state as named arrays ("state.0.momentum_buffer", "state.0.step", ...):
/// what optim::save writes through io/checkpoint.
template <class T>
using StateDict = std::vector<std::pair<std::string, Tensor<T>>>;

/// What every optimizer offers, whatever its element type: enough for a learning-rate
/// scheduler to drive it.
class OptimizerBase {
public:
    virtual ~OptimizerBase() = default;

    /// "SGD", "Adam", ...: the first word of every error message.
    virtual const char* name() const noexcept = 0;

    /// Updates the parameters from their gradients. Parameters without a gradient are skipped.
    void step() { update(); }
    /// Calls the closure (with recording on) and then steps; returns the closure's loss.
    /// BFGS and LBFGS call it as often as they need and return the first loss.
    double step(const Closure& closure);

    /// Resets every parameter's gradient to "none" (set_to_none, the default) or to zeros.
    virtual void zero_grad(bool set_to_none = true) = 0;

    /// Parameter groups (1 unless add_param_group was used).
    virtual std::size_t num_param_groups() const noexcept = 0;
    /// The learning rate of a parameter group.
    virtual double lr(std::size_t group = 0) const = 0;
    /// Sets the learning rate of one group (must be >= 0).
    virtual void set_lr(std::size_t group, double lr) = 0;
    /// Sets the learning rate of every group.
    void set_lr(double lr);

protected:
    OptimizerBase() = default;
    /// Copies are for the derived classes only (an optimizer is not copied through its base).
    ///@{
    OptimizerBase(const OptimizerBase&) = default;
    OptimizerBase& operator=(const OptimizerBase&) = default;
    ///@}

    /// One update from the current gradients.
    virtual void update() = 0;
    /// step(closure); the default evaluates the closure once, then calls update().
    virtual double run(const Closure& closure);

    /// Throws Error("<name>: <what>").
    [[noreturn]] void fail(const std::string& what) const;
};

/// The base of the optimizers over Variable<T> parameters (T = float or double).
template <class T>
class Optimizer : public OptimizerBase {
public:
    /// The element type of the parameters.
    using value_type = T;

    void zero_grad(bool set_to_none = true) override;
    /// The number of groups added so far.
    std::size_t num_param_groups() const noexcept override { return groups_.size(); }

    /// The parameters of one group, in the order given.
    const std::vector<Variable<T>>& params(std::size_t group = 0) const;
    /// Number of parameters over all groups; state entries number them in this order.
    std::size_t num_params() const noexcept;

    /// The optimizer's state as named arrays, for save() or for a checkpoint of your own.
    virtual StateDict<T> state_dict() const = 0;
    /// Restores what state_dict() gave, for an optimizer over parameters of the same shapes.
    /// Throws (and changes nothing) if an entry is unknown, misnamed or of the wrong shape.
    virtual void load_state_dict(const StateDict<T>& state) = 0;

protected:
    /// Checks a new group (each a leaf that requires grad, none given before) and appends it.
    void add_params(std::vector<Variable<T>> params);
    /// The group index checked against the number of groups.
    std::size_t checked_group(std::size_t group) const;

    /// The parameters, group by group, in the order given.
    std::vector<std::vector<Variable<T>>> groups_;
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace tapegrad::optim

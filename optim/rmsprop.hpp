// RMSprop: gradients scaled by a running RMS, optionally centered and with momentum.
#pragma once

#include <tapegrad/optim/grouped_optimizer.hpp>

namespace tapegrad::optim {

/// Options of RMSprop; chain the setters: RMSpropOptions(0.01).momentum(0.9).centered(true).
struct RMSpropOptions {
    /// Learning rate `lr`; the rest at PyTorch's defaults.
    explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}

    /// The learning rate (default 1e-2).
    RMSpropOptions& lr(double v) {
        lr_ = v;
        return *this;
    }
    /// Smoothing constant of the running averages.
    RMSpropOptions& alpha(double v) {
        alpha_ = v;
        return *this;
    }
    /// Added to the denominator for numerical stability.
    RMSpropOptions& eps(double v) {
        eps_ = v;
        return *this;
    }
    /// L2 penalty added to the gradient.
    RMSpropOptions& weight_decay(double v) {
        weight_decay_ = v;
        return *this;
    }
    /// Momentum mu of the scaled step (default 0: none).
    RMSpropOptions& momentum(double v) {
        momentum_ = v;
        return *this;
    }
    /// Divide by an estimate of the gradient's variance (mean square minus squared mean).
    RMSpropOptions& centered(bool v) {
        centered_ = v;
        return *this;
    }

    /// The values set by the setters of the same names, or the defaults: 1e-2, 0.99, 1e-8, 0, 0, false.
    ///@{
    double lr() const { return lr_; }
    double alpha() const { return alpha_; }
    double eps() const { return eps_; }
    double weight_decay() const { return weight_decay_; }
    double momentum() const { return momentum_; }
    bool centered() const { return centered_; }
    ///@}

private:
    double lr_;
    double alpha_ = 0.99;
    double eps_ = 1e-8;
    double weight_decay_ = 0;
    double momentum_ = 0;
    bool centered_ = false;
};

/// PyTorch's RMSprop, step for step:
///   g <- grad + lambda theta
///   v <- alpha v + (1 - alpha) g^2;   centered: a <- alpha a + (1 - alpha) g, and v - a^2 below
///   s <- sqrt(v) + eps
///   momentum mu > 0:  b <- mu b + g / s;  theta <- theta - lr b
///   otherwise:        theta <- theta - lr g / s
/// State: "step", "square_avg", "momentum_buffer" (momentum), "grad_avg" (centered).
template <class T>
class RMSprop final : public GroupedOptimizer<T, RMSpropOptions> {
public:
    /// Trains `params` (one group) with `options`; throws tapegrad::Error for an out-of-range option or a parameter
    /// that does not require grad.
    RMSprop(std::vector<Variable<T>> params, const RMSpropOptions& options = RMSpropOptions());
    const char* name() const noexcept override { return "RMSprop"; }

private:
    void check(const RMSpropOptions& options) const override;
    void update() override;
};

extern template class GroupedOptimizer<float, RMSpropOptions>;
extern template class GroupedOptimizer<double, RMSpropOptions>;
extern template class RMSprop<float>;
extern template class RMSprop<double>;

}  // namespace tapegrad::optim

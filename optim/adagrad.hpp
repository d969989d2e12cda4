// Adagrad: per-element learning rates from the running sum of squared gradients.
#pragma once

#include <tapegrad/optim/grouped_optimizer.hpp>

namespace tapegrad::optim {

/// Options of Adagrad; chain the setters: AdagradOptions(0.1).lr_decay(1e-3).
struct AdagradOptions {
    /// Learning rate `lr`; the rest at PyTorch's defaults.
    explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}

    /// The learning rate (default 1e-2).
    AdagradOptions& lr(double v) {
        lr_ = v;
        return *this;
    }
    /// The learning rate at step t is lr / (1 + (t - 1) lr_decay).
    AdagradOptions& lr_decay(double v) {
        lr_decay_ = v;
        return *this;
    }
    /// L2 penalty added to the gradient.
    AdagradOptions& weight_decay(double v) {
        weight_decay_ = v;
        return *this;
    }
    /// Starting value of the sum of squares.
    AdagradOptions& initial_accumulator_value(double v) {
        initial_accumulator_value_ = v;
        return *this;
    }
    /// Added to the denominator for numerical stability.
    AdagradOptions& eps(double v) {
        eps_ = v;
        return *this;
    }

    /// The values set by the setters of the same names, or the defaults: 1e-2, 0, 0, 0, 1e-10.
    ///@{
    double lr() const { return lr_; }
    double lr_decay() const { return lr_decay_; }
    double weight_decay() const { return weight_decay_; }
    double initial_accumulator_value() const { return initial_accumulator_value_; }
    double eps() const { return eps_; }
    ///@}

private:
    double lr_;
    double lr_decay_ = 0;
    double weight_decay_ = 0;
    double initial_accumulator_value_ = 0;
    double eps_ = 1e-10;
};

/// PyTorch's Adagrad, step for step (t counts this parameter's steps):
///   g <- grad + lambda theta
///   s <- s + g^2                       (s starts at initial_accumulator_value)
///   theta <- theta - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
/// State: "step", "sum".
template <class T>
class Adagrad final : public GroupedOptimizer<T, AdagradOptions> {
public:
    /// Trains `params` (one group) with `options`; throws tapegrad::Error for an out-of-range option or a parameter
    /// that does not require grad.
    Adagrad(std::vector<Variable<T>> params, const AdagradOptions& options = AdagradOptions());
    const char* name() const noexcept override { return "Adagrad"; }

private:
    void check(const AdagradOptions& options) const override;
    void update() override;
};

extern template class GroupedOptimizer<float, AdagradOptions>;
extern template class GroupedOptimizer<double, AdagradOptions>;
extern template class Adagrad<float>;
extern template class Adagrad<double>;

}  // namespace tapegrad::optim

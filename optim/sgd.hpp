// SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.
#pragma once

#include <tapegrad/optim/grouped_optimizer.hpp>

namespace tapegrad::optim {

/// Options of SGD; chain the setters: SGDOptions(0.1).momentum(0.9).nesterov(true).
struct SGDOptions {
    /// Learning rate `lr` (required); no momentum, no weight decay.
    explicit SGDOptions(double lr) : lr_(lr) {}

    /// The learning rate eta: theta <- theta - eta g.
    SGDOptions& lr(double v) {
        lr_ = v;
        return *this;
    }
    /// Momentum factor mu (0: none).
    SGDOptions& momentum(double v) {
        momentum_ = v;
        return *this;
    }
    /// Dampening tau of the momentum: b = mu b + (1 - tau) g.
    SGDOptions& dampening(double v) {
        dampening_ = v;
        return *this;
    }
    /// L2 penalty lambda added to the gradient: g + lambda theta.
    SGDOptions& weight_decay(double v) {
        weight_decay_ = v;
        return *this;
    }
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    SGDOptions& nesterov(bool v) {
        nesterov_ = v;
        return *this;
    }

    /// The values set by the setters of the same names, or the defaults: momentum, dampening and weight decay 0, no
    /// Nesterov.
    ///@{
    double lr() const { return lr_; }
    double momentum() const { return momentum_; }
    double dampening() const { return dampening_; }
    double weight_decay() const { return weight_decay_; }
    bool nesterov() const { return nesterov_; }
    ///@}

private:
    double lr_;
    double momentum_ = 0;
    double dampening_ = 0;
    double weight_decay_ = 0;
    bool nesterov_ = false;
};

/// PyTorch's SGD, step for step:
///   g <- grad + lambda theta
///   if mu != 0:  b <- g at the first step, else mu b + (1 - tau) g
///                g <- g + mu b (Nesterov) or b
///   theta <- theta - lr g
/// State: "momentum_buffer" (with momentum).
template <class T>
class SGD final : public GroupedOptimizer<T, SGDOptions> {
public:
    /// Trains `params` (one group) with `options`; throws tapegrad::Error for an out-of-range option or a parameter
    /// that does not require grad.
    SGD(std::vector<Variable<T>> params, const SGDOptions& options);
    const char* name() const noexcept override { return "SGD"; }

private:
    void check(const SGDOptions& options) const override;
    void update() override;
};

extern template class GroupedOptimizer<float, SGDOptions>;
extern template class GroupedOptimizer<double, SGDOptions>;
extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace tapegrad::optim

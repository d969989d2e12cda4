// Adam (with AMSGrad) and AdamW (decoupled weight decay).
#pragma once

#include <utility>

#include <tapegrad/optim/grouped_optimizer.hpp>

namespace tapegrad::optim {

/// Options of Adam and AdamW; AdamWOptions differs only in its default weight decay (1e-2).
template <class Self>
struct AdamOptionsBase {
    /// The step size alpha (default 1e-3).
    Self& lr(double v) {
        lr_ = v;
        return self();
    }
    /// Decay rates of the first and second moment estimates, each in [0, 1).
    Self& betas(double beta1, double beta2) {
        beta1_ = beta1;
        beta2_ = beta2;
        return self();
    }
    /// Added to the denominator for numerical stability.
    Self& eps(double v) {
        eps_ = v;
        return self();
    }
    /// Adam: L2 penalty added to the gradient. AdamW: decoupled decay theta <- theta (1 - lr lambda).
    Self& weight_decay(double v) {
        weight_decay_ = v;
        return self();
    }
    /// AMSGrad: divide by the running maximum of the second moment.
    Self& amsgrad(bool v) {
        amsgrad_ = v;
        return self();
    }

    /// The step size alpha (default 1e-3).
    double lr() const { return lr_; }
    /// (beta1, beta2), default (0.9, 0.999).
    std::pair<double, double> betas() const { return {beta1_, beta2_}; }
    /// Default 1e-8.
    double eps() const { return eps_; }
    /// Default 0 (Adam) or 1e-2 (AdamW).
    double weight_decay() const { return weight_decay_; }
    /// Default false.
    bool amsgrad() const { return amsgrad_; }

protected:
    /// The derived options' defaults: step size and weight decay.
    AdamOptionsBase(double lr, double weight_decay) : lr_(lr), weight_decay_(weight_decay) {}

private:
    Self& self() { return static_cast<Self&>(*this); }
    double lr_;
    double beta1_ = 0.9;
    double beta2_ = 0.999;
    double eps_ = 1e-8;
    double weight_decay_;
    bool amsgrad_ = false;
};

/// Options of Adam: weight decay 0 by default (PyTorch's torch.optim.Adam).
struct AdamOptions : AdamOptionsBase<AdamOptions> {
    /// Step size `lr`; the other settings at PyTorch's defaults.
    explicit AdamOptions(double lr = 1e-3) : AdamOptionsBase(lr, 0.0) {}
};

/// Options of AdamW: decoupled weight decay 1e-2 by default (PyTorch's torch.optim.AdamW).
struct AdamWOptions : AdamOptionsBase<AdamWOptions> {
    /// Step size `lr`; the other settings at PyTorch's defaults.
    explicit AdamWOptions(double lr = 1e-3) : AdamOptionsBase(lr, 1e-2) {}
};

extern template class GroupedOptimizer<float, AdamOptions>;
extern template class GroupedOptimizer<double, AdamOptions>;
extern template class GroupedOptimizer<float, AdamWOptions>;
extern template class GroupedOptimizer<double, AdamWOptions>;

namespace detail {
/// The update shared by Adam and AdamW (AdamWOptions selects the decoupled weight decay).
template <class T, class Options>
class AdamFamily : public GroupedOptimizer<T, Options> {
protected:
    AdamFamily();
    void check(const Options& options) const override;
    void update() override;
};
extern template class AdamFamily<float, AdamOptions>;
extern template class AdamFamily<double, AdamOptions>;
extern template class AdamFamily<float, AdamWOptions>;
extern template class AdamFamily<double, AdamWOptions>;
}  // namespace detail

/// PyTorch's Adam, step for step (t counts this parameter's steps):
///   g <- grad + lambda theta
///   m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
///   AMSGrad: vmax <- max(vmax, v), used instead of v below
///   theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// State: "step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq" (AMSGrad).
template <class T>
class Adam final : public detail::AdamFamily<T, AdamOptions> {
public:
    /// Trains `params` (one group) with `options`; throws tapegrad::Error for an out-of-range option or a parameter
    /// that does not require grad.
    Adam(std::vector<Variable<T>> params, const AdamOptions& options = AdamOptions()) {
        this->add_param_group(std::move(params), options);
    }
    const char* name() const noexcept override { return "Adam"; }
};

/// PyTorch's AdamW: theta <- theta (1 - lr lambda) first, then Adam's update without the L2 term.
/// Same state as Adam.
template <class T>
class AdamW final : public detail::AdamFamily<T, AdamWOptions> {
public:
    /// Trains `params` (one group) with `options`; throws tapegrad::Error for an out-of-range option or a parameter
    /// that does not require grad.
    AdamW(std::vector<Variable<T>> params, const AdamWOptions& options = AdamWOptions()) {
        this->add_param_group(std::move(params), options);
    }
    const char* name() const noexcept override { return "AdamW"; }
};

extern template class Adam<float>;
extern template class Adam<double>;
extern template class AdamW<float>;
extern template class AdamW<double>;

}  // namespace tapegrad::optim

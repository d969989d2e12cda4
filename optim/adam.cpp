// Adam and AdamW: option checks and the shared update loop.
#include <tapegrad/optim/adam.hpp>

#include <algorithm>
#include <cmath>

#include <tapegrad/optim/detail/grouped_optimizer_impl.hpp>
#include <tapegrad/optim/detail/simd.hpp>

namespace tapegrad::optim {

namespace {

enum : std::size_t { kStep, kExpAvg, kExpAvgSq, kMaxExpAvgSq };

}  // namespace

template class GroupedOptimizer<float, AdamOptions>;
template class GroupedOptimizer<double, AdamOptions>;
template class GroupedOptimizer<float, AdamWOptions>;
template class GroupedOptimizer<double, AdamWOptions>;

namespace detail {

template <class T, class Options>
AdamFamily<T, Options>::AdamFamily()
    : GroupedOptimizer<T, Options>({{"step", true, Values::count},
                                    {"exp_avg", false, Values::finite},
                                    {"exp_avg_sq", false, Values::nonnegative},
                                    {"max_exp_avg_sq", false, Values::nonnegative}}) {}

template <class T, class Options>
void AdamFamily<T, Options>::check(const Options& o) const {
    const char* who = this->name();
    check_nonnegative(who, "lr", o.lr());
    check_nonnegative(who, "eps", o.eps());
    check_unit_interval(who, "beta1", o.betas().first);
    check_unit_interval(who, "beta2", o.betas().second);
    check_nonnegative(who, "weight_decay", o.weight_decay());
}

template <class T, class Options>
void AdamFamily<T, Options>::update() {
    constexpr bool decoupled = std::is_same_v<Options, AdamWOptions>;
    this->check_shapes();
    std::size_t k = 0;
    for (std::size_t group = 0; group < this->groups_.size(); ++group) {
        const Options& o = this->options_[group];
        const auto [beta1, beta2] = o.betas();
        const T b1 = T(beta1), b2 = T(beta2), keep1 = T(1 - beta1), keep2 = T(1 - beta2);
        const T eps = T(o.eps());
        const T wd = decoupled ? T(0) : T(o.weight_decay());
        const T shrink = decoupled ? T(1 - o.lr() * o.weight_decay()) : T(1);
        const bool amsgrad = o.amsgrad();
        for (auto& p : this->groups_[group]) {
            const std::size_t idx = k++;
            if (!p.has_grad()) continue;
            T& step = this->slot(idx, kStep, p)();
            step += T(1);
            const double bias1 = 1 - std::pow(beta1, double(step));
            const double bias2 = 1 - std::pow(beta2, double(step));
            const T neg_step_size = T(-(o.lr() / bias1));
            const T bias2_sqrt = T(std::sqrt(bias2));

            const T* g = p.grad().data();
            T* m = this->slot(idx, kExpAvg, p).data();
            T* v = this->slot(idx, kExpAvgSq, p).data();
            T* x = p.mutable_value().data();
            // One pass: x <- x shrink + (-step_size) m / (sqrt(v) / sqrt(1 - beta2^t) + eps), with
            // shrink = 1 - lr lambda for AdamW (PyTorch's param.mul_ first) and 1 for Adam.
            if (amsgrad) {
                T* vmax_ = this->slot(idx, kMaxExpAvgSq, p).data();
                for_each_element<T>(
                    p.size(),
                    [&](const auto& gi, auto& xi, auto& mi, auto& vi, auto& vmaxi) {
                        using V = std::decay_t<decltype(xi)>;
                        const V d = gi + V(wd) * xi;
                        mi = mi * V(b1) + V(keep1) * d;
                        vi = vi * V(b2) + V(keep2) * d * d;
                        vmaxi = vmax(vmaxi, vi);
                        xi = xi * V(shrink) + V(neg_step_size) * (mi / (vsqrt(vmaxi) / V(bias2_sqrt) + V(eps)));
                    },
                    g, x, m, v, vmax_);
            } else {
                for_each_element<T>(
                    p.size(),
                    [&](const auto& gi, auto& xi, auto& mi, auto& vi) {
                        using V = std::decay_t<decltype(xi)>;
                        const V d = gi + V(wd) * xi;
                        mi = mi * V(b1) + V(keep1) * d;
                        vi = vi * V(b2) + V(keep2) * d * d;
                        xi = xi * V(shrink) + V(neg_step_size) * (mi / (vsqrt(vi) / V(bias2_sqrt) + V(eps)));
                    },
                    g, x, m, v);
            }
        }
    }
}

template class AdamFamily<float, AdamOptions>;
template class AdamFamily<double, AdamOptions>;
template class AdamFamily<float, AdamWOptions>;
template class AdamFamily<double, AdamWOptions>;

}  // namespace detail

template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace tapegrad::optim

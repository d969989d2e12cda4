// Adam and AdamW: option checks and the shared update loop.
#include <tapegrad/optim/adam.hpp>

#include <algorithm>
#include <cmath>

#include <tapegrad/optim/grouped_optimizer_impl.hpp>

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
    : GroupedOptimizer<T, Options>(
          {{"step", true}, {"exp_avg", false}, {"exp_avg_sq", false}, {"max_exp_avg_sq", false}}) {}

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
    std::size_t k = 0;
    for (std::size_t group = 0; group < this->groups_.size(); ++group) {
        const Options& o = this->options_[group];
        const auto [beta1, beta2] = o.betas();
        const T b1 = T(beta1), b2 = T(beta2), keep1 = T(1 - beta1), keep2 = T(1 - beta2);
        const T eps = T(o.eps());
        const T wd = decoupled ? T(0) : T(o.weight_decay());
        const T shrink = T(1 - o.lr() * o.weight_decay());
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

            const std::size_t n = p.size();
            const T* __restrict g = p.grad().data();
            T* __restrict m = this->slot(idx, kExpAvg, p).data();
            T* __restrict v = this->slot(idx, kExpAvgSq, p).data();
            T* __restrict x = p.mutable_value().data();
            if (decoupled && o.weight_decay() != 0) {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) x[i] = x[i] * shrink;
            }
            if (amsgrad) {
                T* __restrict vmax = this->slot(idx, kMaxExpAvgSq, p).data();
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    m[i] = m[i] * b1 + keep1 * d;
                    v[i] = v[i] * b2 + keep2 * d * d;
                    vmax[i] = std::max(vmax[i], v[i]);
                    x[i] = x[i] + neg_step_size * (m[i] / (std::sqrt(vmax[i]) / bias2_sqrt + eps));
                }
            } else {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    m[i] = m[i] * b1 + keep1 * d;
                    v[i] = v[i] * b2 + keep2 * d * d;
                    x[i] = x[i] + neg_step_size * (m[i] / (std::sqrt(v[i]) / bias2_sqrt + eps));
                }
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

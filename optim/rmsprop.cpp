// RMSprop: option checks and the update loop.
#include <tapegrad/optim/rmsprop.hpp>

#include <cmath>

#include <tapegrad/optim/grouped_optimizer_impl.hpp>

namespace tapegrad::optim {

namespace {
enum : std::size_t { kStep, kSquareAvg, kMomentumBuffer, kGradAvg };
}

template <class T>
RMSprop<T>::RMSprop(std::vector<Variable<T>> params, const RMSpropOptions& options)
    : GroupedOptimizer<T, RMSpropOptions>(
          {{"step", true}, {"square_avg", false}, {"momentum_buffer", false}, {"grad_avg", false}}) {
    this->add_param_group(std::move(params), options);
}

template <class T>
void RMSprop<T>::check(const RMSpropOptions& o) const {
    detail::check_nonnegative(name(), "lr", o.lr());
    detail::check_nonnegative(name(), "eps", o.eps());
    detail::check_nonnegative(name(), "momentum", o.momentum());
    detail::check_nonnegative(name(), "weight_decay", o.weight_decay());
    detail::check_nonnegative(name(), "alpha", o.alpha());
}

template <class T>
void RMSprop<T>::update() {
    std::size_t k = 0;
    for (std::size_t group = 0; group < this->groups_.size(); ++group) {
        const RMSpropOptions& o = this->options_[group];
        const T neg_lr = T(-o.lr()), alpha = T(o.alpha()), keep = T(1 - o.alpha()), eps = T(o.eps());
        const T wd = T(o.weight_decay()), mu = T(o.momentum());
        const bool centered = o.centered(), momentum = o.momentum() > 0;
        for (auto& p : this->groups_[group]) {
            const std::size_t idx = k++;
            if (!p.has_grad()) continue;
            this->slot(idx, kStep, p)() += T(1);
            const std::size_t n = p.size();
            const T* __restrict g = p.grad().data();
            T* __restrict sq = this->slot(idx, kSquareAvg, p).data();
            T* __restrict a = centered ? this->slot(idx, kGradAvg, p).data() : nullptr;
            T* __restrict b = momentum ? this->slot(idx, kMomentumBuffer, p).data() : nullptr;
            T* __restrict x = p.mutable_value().data();
            if (centered && momentum) {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    sq[i] = sq[i] * alpha + keep * d * d;
                    a[i] = a[i] * alpha + keep * d;
                    b[i] = b[i] * mu + d / (std::sqrt(sq[i] - a[i] * a[i]) + eps);
                    x[i] = x[i] + neg_lr * b[i];
                }
            } else if (centered) {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    sq[i] = sq[i] * alpha + keep * d * d;
                    a[i] = a[i] * alpha + keep * d;
                    x[i] = x[i] + neg_lr * (d / (std::sqrt(sq[i] - a[i] * a[i]) + eps));
                }
            } else if (momentum) {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    sq[i] = sq[i] * alpha + keep * d * d;
                    b[i] = b[i] * mu + d / (std::sqrt(sq[i]) + eps);
                    x[i] = x[i] + neg_lr * b[i];
                }
            } else {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    sq[i] = sq[i] * alpha + keep * d * d;
                    x[i] = x[i] + neg_lr * (d / (std::sqrt(sq[i]) + eps));
                }
            }
        }
    }
}

template class GroupedOptimizer<float, RMSpropOptions>;
template class GroupedOptimizer<double, RMSpropOptions>;
template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace tapegrad::optim

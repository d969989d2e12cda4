// Adagrad: option checks and the update loop.
#include <tapegrad/optim/adagrad.hpp>

#include <cmath>

#include <tapegrad/optim/grouped_optimizer_impl.hpp>

namespace tapegrad::optim {

namespace {
enum : std::size_t { kStep, kSum };
}

template <class T>
Adagrad<T>::Adagrad(std::vector<Variable<T>> params, const AdagradOptions& options)
    : GroupedOptimizer<T, AdagradOptions>({{"step", true}, {"sum", false}}) {
    this->add_param_group(std::move(params), options);
}

template <class T>
void Adagrad<T>::check(const AdagradOptions& o) const {
    detail::check_nonnegative(name(), "lr", o.lr());
    detail::check_nonnegative(name(), "lr_decay", o.lr_decay());
    detail::check_nonnegative(name(), "weight_decay", o.weight_decay());
    detail::check_nonnegative(name(), "initial_accumulator_value", o.initial_accumulator_value());
    detail::check_nonnegative(name(), "eps", o.eps());
}

template <class T>
void Adagrad<T>::update() {
    std::size_t k = 0;
    for (std::size_t group = 0; group < this->groups_.size(); ++group) {
        const AdagradOptions& o = this->options_[group];
        const T wd = T(o.weight_decay()), eps = T(o.eps()), init = T(o.initial_accumulator_value());
        for (auto& p : this->groups_[group]) {
            const std::size_t idx = k++;
            if (!p.has_grad()) continue;
            T& step = this->slot(idx, kStep, p)();
            step += T(1);
            const T neg_clr = T(-(o.lr() / (1 + (double(step) - 1) * o.lr_decay())));
            const std::size_t n = p.size();
            const T* __restrict g = p.grad().data();
            T* __restrict s = this->slot(idx, kSum, p, init).data();
            T* __restrict x = p.mutable_value().data();
#pragma omp simd
            for (std::size_t i = 0; i < n; ++i) {
                const T d = g[i] + wd * x[i];
                s[i] = s[i] + d * d;
                x[i] = x[i] + neg_clr * (d / (std::sqrt(s[i]) + eps));
            }
        }
    }
}

template class GroupedOptimizer<float, AdagradOptions>;
template class GroupedOptimizer<double, AdagradOptions>;
template class Adagrad<float>;
template class Adagrad<double>;

}  // namespace tapegrad::optim

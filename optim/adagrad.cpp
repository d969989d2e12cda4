// Adagrad: option checks and the update loop.
#include <tapegrad/optim/adagrad.hpp>

#include <cmath>

#include <tapegrad/optim/detail/grouped_optimizer_impl.hpp>
#include <tapegrad/optim/detail/simd.hpp>

namespace tapegrad::optim {

using detail::for_each_element;
using detail::vsqrt;

namespace {
enum : std::size_t { kStep, kSum };
}

template <class T>
Adagrad<T>::Adagrad(std::vector<Variable<T>> params, const AdagradOptions& options)
    : GroupedOptimizer<T, AdagradOptions>(
          {{"step", true, detail::Values::count}, {"sum", false, detail::Values::nonnegative}}) {
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
    this->check_shapes();
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
            const T* g = p.grad().data();
            T* x = p.mutable_value().data();
            T* s = this->slot(idx, kSum, p, init).data();
            for_each_element<T>(
                p.size(),
                [&](const auto& gi, auto& xi, auto& si) {
                    using V = std::decay_t<decltype(xi)>;
                    const V d = gi + V(wd) * xi;
                    si = si + d * d;
                    xi = xi + V(neg_clr) * (d / (vsqrt(si) + V(eps)));
                },
                g, x, s);
        }
    }
}

template class GroupedOptimizer<float, AdagradOptions>;
template class GroupedOptimizer<double, AdagradOptions>;
template class Adagrad<float>;
template class Adagrad<double>;

}  // namespace tapegrad::optim

// RMSprop: option checks and the update loop.
#include <tapegrad/optim/rmsprop.hpp>

#include <cmath>

#include <tapegrad/optim/detail/grouped_optimizer_impl.hpp>
#include <tapegrad/optim/detail/simd.hpp>

namespace tapegrad::optim {

using detail::for_each_element;
using detail::vsqrt;

namespace {
enum : std::size_t { kStep, kSquareAvg, kMomentumBuffer, kGradAvg };
}

template <class T>
RMSprop<T>::RMSprop(std::vector<Variable<T>> params, const RMSpropOptions& options)
    : GroupedOptimizer<T, RMSpropOptions>({{"step", true, detail::Values::count},
                                           {"square_avg", false, detail::Values::nonnegative},
                                           {"momentum_buffer", false, detail::Values::finite},
                                           {"grad_avg", false, detail::Values::finite}}) {
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
    this->check_shapes();
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
            const T* g = p.grad().data();
            T* x = p.mutable_value().data();
            T* sq = this->slot(idx, kSquareAvg, p).data();
            // sq <- alpha sq + (1 - alpha) d^2; the denominator is sqrt(sq) + eps, or
            // sqrt(sq - a^2) + eps with the running mean a of the gradient (centered).
            auto square = [=](const auto& gi, const auto& xi, auto& sqi) {
                using V = std::decay_t<decltype(sqi)>;
                const V d = gi + V(wd) * xi;
                sqi = sqi * V(alpha) + V(keep) * d * d;
                return d;
            };
            if (centered && momentum) {
                T* a = this->slot(idx, kGradAvg, p).data();
                T* b = this->slot(idx, kMomentumBuffer, p).data();
                for_each_element<T>(
                    p.size(),
                    [&](const auto& gi, auto& xi, auto& sqi, auto& ai, auto& bi) {
                        using V = std::decay_t<decltype(xi)>;
                        const V d = square(gi, xi, sqi);
                        ai = ai * V(alpha) + V(keep) * d;
                        bi = bi * V(mu) + d / (vsqrt(sqi - ai * ai) + V(eps));
                        xi = xi + V(neg_lr) * bi;
                    },
                    g, x, sq, a, b);
            } else if (centered) {
                T* a = this->slot(idx, kGradAvg, p).data();
                for_each_element<T>(
                    p.size(),
                    [&](const auto& gi, auto& xi, auto& sqi, auto& ai) {
                        using V = std::decay_t<decltype(xi)>;
                        const V d = square(gi, xi, sqi);
                        ai = ai * V(alpha) + V(keep) * d;
                        xi = xi + V(neg_lr) * (d / (vsqrt(sqi - ai * ai) + V(eps)));
                    },
                    g, x, sq, a);
            } else if (momentum) {
                T* b = this->slot(idx, kMomentumBuffer, p).data();
                for_each_element<T>(
                    p.size(),
                    [&](const auto& gi, auto& xi, auto& sqi, auto& bi) {
                        using V = std::decay_t<decltype(xi)>;
                        const V d = square(gi, xi, sqi);
                        bi = bi * V(mu) + d / (vsqrt(sqi) + V(eps));
                        xi = xi + V(neg_lr) * bi;
                    },
                    g, x, sq, b);
            } else {
                for_each_element<T>(
                    p.size(),
                    [&](const auto& gi, auto& xi, auto& sqi) {
                        using V = std::decay_t<decltype(xi)>;
                        const V d = square(gi, xi, sqi);
                        xi = xi + V(neg_lr) * (d / (vsqrt(sqi) + V(eps)));
                    },
                    g, x, sq);
            }
        }
    }
}

template class GroupedOptimizer<float, RMSpropOptions>;
template class GroupedOptimizer<double, RMSpropOptions>;
template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace tapegrad::optim

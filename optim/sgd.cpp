// SGD: option checks and the update loop.
#include <tapegrad/optim/sgd.hpp>

#include <tapegrad/optim/detail/grouped_optimizer_impl.hpp>

namespace tapegrad::optim {

namespace {
enum : std::size_t { kMomentumBuffer };
}

template <class T>
SGD<T>::SGD(std::vector<Variable<T>> params, const SGDOptions& options)
    : GroupedOptimizer<T, SGDOptions>({{"momentum_buffer", false, detail::Values::finite}}) {
    this->add_param_group(std::move(params), options);
}

template <class T>
void SGD<T>::check(const SGDOptions& o) const {
    detail::check_nonnegative(name(), "lr", o.lr());
    detail::check_nonnegative(name(), "momentum", o.momentum());
    detail::check_nonnegative(name(), "dampening", o.dampening());
    detail::check_nonnegative(name(), "weight_decay", o.weight_decay());
    if (o.nesterov() && (o.momentum() <= 0 || o.dampening() != 0))
        this->fail(fmt::format("nesterov needs momentum > 0 and dampening 0, got momentum {} and dampening {}",
                               o.momentum(), o.dampening()));
}

template <class T>
void SGD<T>::update() {
    this->check_shapes();
    std::size_t k = 0;
    for (std::size_t group = 0; group < this->groups_.size(); ++group) {
        const SGDOptions& o = this->options_[group];
        const T lr = T(o.lr()), wd = T(o.weight_decay()), mu = T(o.momentum()), keep = T(1 - o.dampening());
        const bool nesterov = o.nesterov();
        for (auto& p : this->groups_[group]) {
            const std::size_t idx = k++;
            if (!p.has_grad()) continue;
            const std::size_t n = p.size();
            const T* __restrict g = p.grad().data();
            T* __restrict x = p.mutable_value().data();
            if (mu == 0) {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) x[i] = x[i] - lr * (g[i] + wd * x[i]);
                continue;
            }
            const bool first = !this->has_slot(idx, kMomentumBuffer);
            T* __restrict b = this->slot(idx, kMomentumBuffer, p).data();
            if (first) {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    b[i] = d;
                    x[i] = x[i] - lr * (nesterov ? d + mu * d : d);
                }
            } else {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    const T d = g[i] + wd * x[i];
                    b[i] = mu * b[i] + keep * d;
                    x[i] = x[i] - lr * (nesterov ? d + mu * b[i] : b[i]);
                }
            }
        }
    }
}

template class GroupedOptimizer<float, SGDOptions>;
template class GroupedOptimizer<double, SGDOptions>;
template class SGD<float>;
template class SGD<double>;

}  // namespace tapegrad::optim

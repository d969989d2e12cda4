// SGD: option checks and the update loop.
#include <tapegrad/optim/sgd.hpp>

#include <algorithm>

#include <tapegrad/autograd/detail/parallel.hpp>
#include <tapegrad/autograd/kernels/detail/dispatch.hpp>

#include <tapegrad/optim/detail/grouped_optimizer_impl.hpp>

namespace tapegrad::optim {

namespace {
enum : std::size_t { kMomentumBuffer };

// The update's loops over [lo, hi), each in copies for the CPU's level (AVX2 or AVX-512 where it has them;
// the library itself is baseline x86-64). x -= lr (g + wd x), without and with a momentum buffer b.
template <class T>
TAPEGRAD_HOT_LOOP_EXACT void plain_step(T* __restrict x, const T* __restrict g, std::size_t lo, std::size_t hi, T lr,
                                        T wd) {
#pragma omp simd
    for (std::size_t i = lo; i < hi; ++i) x[i] = x[i] - lr * (g[i] + wd * x[i]);
}
template <class T>
TAPEGRAD_HOT_LOOP_EXACT void first_momentum_step(T* __restrict x, const T* __restrict g, T* __restrict b,
                                                 std::size_t lo, std::size_t hi, T lr, T wd, T mu, bool nesterov) {
#pragma omp simd
    for (std::size_t i = lo; i < hi; ++i) {
        const T d = g[i] + wd * x[i];
        b[i] = d;
        x[i] = x[i] - lr * (nesterov ? d + mu * d : d);
    }
}
template <class T>
TAPEGRAD_HOT_LOOP_EXACT void momentum_step(T* __restrict x, const T* __restrict g, T* __restrict b, std::size_t lo,
                                           std::size_t hi, T lr, T wd, T mu, T keep, bool nesterov) {
#pragma omp simd
    for (std::size_t i = lo; i < hi; ++i) {
        const T d = g[i] + wd * x[i];
        b[i] = mu * b[i] + keep * d;
        x[i] = x[i] - lr * (nesterov ? d + mu * b[i] : b[i]);
    }
}
}  // namespace

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
            // Large parameters are updated by set_num_threads() threads, in blocks (elements are independent).
            const auto in_blocks = [n](auto&& body) {
                constexpr std::size_t block = 4096;
                tapegrad::detail::parallel_for((n + block - 1) / block, block * 2, [&](std::size_t b0, std::size_t b1) {
                    body(b0 * block, std::min(n, b1 * block));
                });
            };
            if (mu == 0) {
                in_blocks([&](std::size_t lo, std::size_t hi) { plain_step(x, g, lo, hi, lr, wd); });
                continue;
            }
            const bool first = !this->has_slot(idx, kMomentumBuffer);
            T* __restrict b = this->slot(idx, kMomentumBuffer, p).data();
            if (first)
                in_blocks([&](std::size_t lo, std::size_t hi) {
                    first_momentum_step(x, g, b, lo, hi, lr, wd, mu, nesterov);
                });
            else
                in_blocks([&](std::size_t lo, std::size_t hi) {
                    momentum_step(x, g, b, lo, hi, lr, wd, mu, keep, nesterov);
                });
        }
    }
}

template class GroupedOptimizer<float, SGDOptions>;
template class GroupedOptimizer<double, SGDOptions>;
template class SGD<float>;
template class SGD<double>;

}  // namespace tapegrad::optim

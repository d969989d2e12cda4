// GradientAverager: pack gradients + flags + weight, allreduce bucket by bucket, unpack the weighted mean.
#include <tapegrad/distributed/gradient_averager.hpp>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/distributed/collectives.hpp>

namespace tapegrad::distributed {

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

template <class T>
GradientAverager<T>::GradientAverager(std::vector<Variable<T>> params, std::size_t bucket_bytes)
    : params_(std::move(params)), bucket_(bucket_bytes / sizeof(T)) {
    if (bucket_ == 0)
        throw Error(fmt::format("GradientAverager: bucket_bytes {} is smaller than one element ({} bytes)",
                                bucket_bytes, sizeof(T)));
    for (std::size_t i = 0; i < params_.size(); ++i) {
        if (!params_[i].defined()) throw Error(fmt::format("GradientAverager: parameter {} is an empty Variable", i));
        grad_elements_ += params_[i].size();
    }
    flat_.resize(grad_elements_ + params_.size() + 1);
}

template <class T>
std::size_t GradientAverager<T>::buckets_per_step() const {
    return (flat_.size() + bucket_ - 1) / bucket_;
}

template <class T>
void GradientAverager<T>::average() {
    reduce(T(1));
}

template <class T>
void GradientAverager<T>::average(std::size_t samples) {
    reduce(T(samples));
}

template <class T>
void GradientAverager<T>::reduce(T weight) {
    require_mpi("GradientAverager::average");
    const double start = now();
    const std::size_t n = params_.size();
    T* grads = flat_.data();
    T* flags = grads + grad_elements_;
    T* dst = grads;
    for (std::size_t i = 0; i < n; ++i) {
        const Variable<T>& p = params_[i];
        const std::size_t size = p.size();
        if (p.has_grad()) {
            const T* g = p.grad().data();
            if (weight == T(1))
                std::copy(g, g + size, dst);
            else
                for (std::size_t k = 0; k < size; ++k) dst[k] = weight * g[k];
            flags[i] = T(1);
        } else {
            std::fill(dst, dst + size, T(0));  // the same layout on every rank: absent = zeros
            flags[i] = T(0);
        }
        dst += size;
    }
    flags[n] = weight;

    const double reduce_start = now();
    const std::size_t total = flat_.size();
    for (std::size_t first = 0; first < total; first += bucket_) {
        allreduce(flat_.data() + first, std::min(bucket_, total - first), ReduceOp::sum);
        ++stats_.calls;
    }
    stats_.allreduce_seconds += now() - reduce_start;
    stats_.bytes += total * sizeof(T);

    const T weights = flags[n];
    const T* src = grads;
    for (std::size_t i = 0; i < n; ++i) {
        const Variable<T>& p = params_[i];
        const std::size_t size = p.size();
        if (flags[i] == T(0) || weights == T(0)) {
            p.zero_grad();  // no rank had one (or no rank had a sample): no gradient, as in one process
        } else if (p.has_grad()) {
            T* g = p.mutable_grad().data();
            for (std::size_t k = 0; k < size; ++k) g[k] = src[k] / weights;
        } else {
            Tensor<T> g = Tensor<T>::from_shape(p.shape());
            for (std::size_t k = 0; k < size; ++k) g.data()[k] = src[k] / weights;
            p.set_grad(std::move(g));
        }
        src += size;
    }
    ++stats_.steps;
    stats_.seconds += now() - start;
}

template class GradientAverager<float>;
template class GradientAverager<double>;

}  // namespace tapegrad::distributed

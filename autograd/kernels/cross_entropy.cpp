// Cross-entropy on tensors: log-softmax and NLL in one pass per row, and its plain gradient.
#include <tapegrad/autograd/kernels/cross_entropy.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tapegrad::kernels {

template <class T>
Tensor<T> cross_entropy(const Tensor<T>& x, const Indices& labels, const CrossEntropyTarget& target,
                        LossReduction reduction, Tensor<T>& probs) {
    const std::size_t n = x.shape()[0], c = x.shape()[1];
    // One pass per row: max, exp and their sum (kept as softmax), then the loss.
    probs = Tensor<T>::from_shape({n, c});
    Tensor<T> losses = Tensor<T>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) {
        const T* row = x.data() + i * c;
        T* p = probs.data() + i * c;
        T m = -std::numeric_limits<T>::infinity();
        for (std::size_t k = 0; k < c; ++k) m = std::max(m, row[k]);
        if (!std::isfinite(m)) m = T(0);
        T total = 0, row_sum = 0;
        for (std::size_t k = 0; k < c; ++k) {
            p[k] = std::exp(row[k] - m);
            total += p[k];
            row_sum += row[k] - m;
        }
        const T inv = T(1) / total;
        for (std::size_t k = 0; k < c; ++k) p[k] *= inv;
        if (target.ignored(labels[i])) {
            losses.data()[i] = T(0);
            continue;
        }
        const T log_total = std::log(total);  // logsumexp - m
        // -(on x_y + off sum_k x_k) + logsumexp, written relative to m so large logits cancel exactly.
        const T at_label = row[labels[i]] - m;
        losses.data()[i] = log_total - T(target.on - target.off) * at_label - T(target.off) * row_sum;
    }
    Tensor<T> y;
    if (reduction == LossReduction::none) {
        y = std::move(losses);
    } else {
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) s += double(losses.data()[i]);
        y = Tensor<T>::from_shape({});
        y() = T(reduction == LossReduction::mean ? s / double(target.active) : s);  // 0 / 0 = NaN if all are ignored
    }
    return y;
}

template <class T>
Tensor<T> cross_entropy_grad(const Tensor<T>& probs, const Indices& labels, const CrossEntropyTarget& target,
                             LossReduction reduction, const Tensor<T>& gy) {
    const std::size_t n = probs.shape()[0], c = probs.shape()[1];
    Tensor<T> dx = Tensor<T>::from_shape({n, c});
    const T* p = probs.data();
    const T* g = gy.data();
    T* d = dx.data();
    const T off = T(target.off), on = T(target.on);
    for (std::size_t i = 0; i < n; ++i) {
        T* dr = d + i * c;
        if (target.ignored(labels[i])) {
            std::fill(dr, dr + c, T(0));
            continue;
        }
        const T w = reduction == LossReduction::none
                        ? g[i]
                        : (reduction == LossReduction::mean ? g[0] / T(target.active) : g[0]);
        const T* pr = p + i * c;
#pragma omp simd
        for (std::size_t k = 0; k < c; ++k) dr[k] = (pr[k] - off) * w;
        dr[labels[i]] -= (on - off) * w;
    }
    return dx;
}

template Tensor<float> cross_entropy(const Tensor<float>&, const Indices&, const CrossEntropyTarget&, LossReduction,
                                     Tensor<float>&);
template Tensor<double> cross_entropy(const Tensor<double>&, const Indices&, const CrossEntropyTarget&, LossReduction,
                                      Tensor<double>&);
template Tensor<float> cross_entropy_grad(const Tensor<float>&, const Indices&, const CrossEntropyTarget&,
                                          LossReduction, const Tensor<float>&);
template Tensor<double> cross_entropy_grad(const Tensor<double>&, const Indices&, const CrossEntropyTarget&,
                                           LossReduction, const Tensor<double>&);

}  // namespace tapegrad::kernels

// Reductions over axes (sum, max, min), and softmax / log-softmax / logsumexp computed stably.
#include <tapegrad/autograd/kernels/reduce.hpp>

#include <cmath>
#include <fmt/format.h>
#include <limits>

#include <tapegrad/autograd/kernels/math.hpp>

#include <tapegrad/autograd/kernels/broadcast.hpp>
#include <tapegrad/autograd/kernels/elementwise.hpp>

namespace tapegrad::kernels {

namespace {

// One axis at a time, as an (outer, n, inner) block; keeps the reduced axis as size 1.
template <class T, class Combine>
Tensor<T> reduce_axis(const Tensor<T>& x, std::size_t axis, Combine combine) {
    const AxisSplit s = split_at(x.shape(), axis);
    Shape out_shape = x.shape();
    out_shape[axis] = 1;
    Tensor<T> y = Tensor<T>::from_shape(out_shape);
    const T* px = x.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o) {
        const T* block = px + o * s.n * s.inner;
        T* out = py + o * s.inner;
        if (s.inner == 1) {
            out[0] = combine.row(block, s.n);
        } else {
            std::copy(block, block + s.inner, out);
            for (std::size_t k = 1; k < s.n; ++k) combine.into(out, block + k * s.inner, s.inner);
        }
    }
    return y;
}

template <class T>
struct SumCombine {
    T row(const T* p, std::size_t n) const {
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (std::size_t j = 0; j < n; ++j) s += p[j];
        return s;
    }
    void into(T* out, const T* p, std::size_t n) const {
#pragma omp simd
        for (std::size_t j = 0; j < n; ++j) out[j] += p[j];
    }
};

// NaN wins, as in NumPy: a max over values containing NaN is NaN.
template <class T>
struct MaxCombine {
    T row(const T* p, std::size_t n) const {
        T m = p[0];
        for (std::size_t j = 1; j < n; ++j)
            if (p[j] > m || std::isnan(p[j])) {
                m = p[j];
                if (std::isnan(m)) break;
            }
        return m;
    }
    void into(T* out, const T* p, std::size_t n) const {
        for (std::size_t j = 0; j < n; ++j)
            if (p[j] > out[j] || std::isnan(p[j])) out[j] = p[j];
    }
};
template <class T>
struct MinCombine {
    T row(const T* p, std::size_t n) const {
        T m = p[0];
        for (std::size_t j = 1; j < n; ++j)
            if (p[j] < m || std::isnan(p[j])) {
                m = p[j];
                if (std::isnan(m)) break;
            }
        return m;
    }
    void into(T* out, const T* p, std::size_t n) const {
        for (std::size_t j = 0; j < n; ++j)
            if (p[j] < out[j] || std::isnan(p[j])) out[j] = p[j];
    }
};

template <class T, class Combine>
Tensor<T> reduce(const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims, Combine combine) {
    Tensor<T> y;
    const Tensor<T>* cur = &x;
    for (std::size_t i = axes.size(); i-- > 0;) {
        y = reduce_axis(*cur, axes[i], combine);
        cur = &y;
    }
    if (axes.empty()) y = x;
    if (!keepdims) y.reshape(reduced_shape(x.shape(), axes, false));
    return y;
}

}  // namespace

template <class T>
Tensor<T> reduce_sum(const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims) {
    if (x.size() == 0) return Tensor<T>(reduced_shape(x.shape(), axes, keepdims), T(0));
    // The whole tensor: one contiguous row.
    if (axes.size() == x.dimension()) {
        Tensor<T> y = Tensor<T>::from_shape(reduced_shape(x.shape(), axes, keepdims));
        y.data()[0] = SumCombine<T>().row(x.data(), x.size());
        return y;
    }
    return reduce(x, axes, keepdims, SumCombine<T>());
}

template <class T>
Tensor<T> reduce_extreme(const char* op, const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims,
                         bool want_max) {
    for (std::size_t a : axes)
        if (x.shape()[a] == 0)
            throw Error(
                fmt::format("{}: cannot reduce over axis {} of size 0 (shape {})", op, a, shape_string(x.shape())));
    if (x.size() == 0) return Tensor<T>(reduced_shape(x.shape(), axes, keepdims), T(0));
    if (want_max) return reduce(x, axes, keepdims, MaxCombine<T>());
    return reduce(x, axes, keepdims, MinCombine<T>());
}

template <class T>
Tensor<T> logsumexp(const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims) {
    Tensor<T> m = reduce_extreme("logsumexp", x, axes, true, true);
    // An all -inf (or +inf) slice: shift by 0 so exp gives 0 (or inf) rather than NaN.
    for (std::size_t i = 0; i < m.size(); ++i)
        if (!std::isfinite(m.data()[i])) m.data()[i] = T(0);
    const Tensor<T> mb = broadcast_to(m, x.shape());
    Tensor<T> e = broadcast_binary(x, mb, x.shape(), [](T u, T v) { return u - v; });
    exp_n(e.data(), e.data(), e.size());
    Tensor<T> y = reduce_sum(e, axes, true);
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::log(y.data()[i]) + m.data()[i];
    if (!keepdims) y.reshape(reduced_shape(x.shape(), axes, false));
    return y;
}

/// Stable softmax (or log-softmax) of x along one axis.
template <class T>
Tensor<T> softmax(const Tensor<T>& x, std::size_t axis, bool log) {
    const AxisSplit s = split_at(x.shape(), axis);
    Tensor<T> y = Tensor<T>::from_shape(x.shape());
    const T* px = x.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t i = 0; i < s.inner; ++i) {
            const T* row = px + o * s.n * s.inner + i;
            T* out = py + o * s.n * s.inner + i;
            T m = -std::numeric_limits<T>::infinity();
            for (std::size_t k = 0; k < s.n; ++k) m = std::max(m, row[k * s.inner]);
            if (!std::isfinite(m)) m = T(0);
            T total = 0;
            for (std::size_t k = 0; k < s.n; ++k) {
                const T e = std::exp(row[k * s.inner] - m);
                total += e;
                if (!log) out[k * s.inner] = e;
            }
            if (log) {
                const T lse = m + std::log(total);
                for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] = row[k * s.inner] - lse;
            } else {
                const T inv = T(1) / total;
                for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] *= inv;
            }
        }
    return y;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                                    \
    template Tensor<T> reduce_sum(const Tensor<T>&, const std::vector<std::size_t>&, bool);                        \
    template Tensor<T> reduce_extreme(const char*, const Tensor<T>&, const std::vector<std::size_t>&, bool, bool); \
    template Tensor<T> logsumexp(const Tensor<T>&, const std::vector<std::size_t>&, bool);                         \
    template Tensor<T> softmax(const Tensor<T>&, std::size_t, bool);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

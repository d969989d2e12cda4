// Loops for the sequence ops: softmax under a mask, cumulative sums, arg-extremes and top-k along an axis.
#include <tapegrad/autograd/kernels/sequence.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace tapegrad::kernels {

template <class T>
Tensor<T> masked_softmax(const Tensor<T>& x, const xt::xarray<bool>& masked, std::size_t axis, bool log) {
    const AxisSplit s = split_at(x.shape(), axis);
    Tensor<T> y = Tensor<T>::from_shape(x.shape());
    const T* px = x.data();
    const bool* pm = masked.data();
    T* py = y.data();
    const T empty = log ? -std::numeric_limits<T>::infinity() : T(0);
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t i = 0; i < s.inner; ++i) {
            const std::size_t base = o * s.n * s.inner + i;
            const T* row = px + base;
            const bool* mrow = pm + base;
            T* out = py + base;
            T m = -std::numeric_limits<T>::infinity();
            bool any = false;
            for (std::size_t k = 0; k < s.n; ++k)
                if (!mrow[k * s.inner]) {
                    any = true;
                    const T v = row[k * s.inner];
                    m = (v != v || v > m) ? v : m;  // a NaN wins, so it propagates to the row
                }
            if (!any) {
                for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] = empty;
                continue;
            }
            if (std::isinf(m)) m = T(0);  // all -inf (or +inf present): the plain sums give PyTorch's values
            T total = 0;
            for (std::size_t k = 0; k < s.n; ++k) {
                if (mrow[k * s.inner]) continue;
                const T e = std::exp(row[k * s.inner] - m);
                total += e;
                if (!log) out[k * s.inner] = e;
            }
            if (log) {
                const T lse = m + std::log(total);
                for (std::size_t k = 0; k < s.n; ++k)
                    out[k * s.inner] = mrow[k * s.inner] ? empty : row[k * s.inner] - lse;
            } else {
                const T inv = T(1) / total;
                for (std::size_t k = 0; k < s.n; ++k)
                    out[k * s.inner] = mrow[k * s.inner] ? T(0) : out[k * s.inner] * inv;
            }
        }
    return y;
}

template <class T>
Tensor<T> cumsum(const Tensor<T>& x, std::size_t axis, bool reverse) {
    const AxisSplit s = split_at(x.shape(), axis);
    Tensor<T> y = Tensor<T>::from_shape(x.shape());
    const T* px = x.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o) {
        const T* in = px + o * s.n * s.inner;
        T* out = py + o * s.n * s.inner;
        for (std::size_t step = 0; step < s.n; ++step) {
            const std::size_t k = reverse ? s.n - 1 - step : step;
            const T* src = in + k * s.inner;
            T* dst = out + k * s.inner;
            if (step == 0) {
                std::copy(src, src + s.inner, dst);
            } else {
                const T* prev = reverse ? dst + s.inner : dst - s.inner;
                for (std::size_t i = 0; i < s.inner; ++i) dst[i] = prev[i] + src[i];
            }
        }
    }
    return y;
}

namespace {
// a before b in the order "most extreme first": NaN is the largest; ties keep index order
// (the caller sorts stably).
template <class T>
bool more_extreme(T a, T b, bool largest) {
    const bool na = a != a, nb = b != b;
    if (na || nb) return largest ? (na && !nb) : (nb && !na);
    return largest ? a > b : a < b;
}
}  // namespace

template <class T>
Tensor<std::size_t> arg_extreme(const Tensor<T>& x, std::size_t axis, bool keepdims, bool want_max) {
    const AxisSplit s = split_at(x.shape(), axis);
    Shape out_shape = reduced_shape(x.shape(), {axis}, keepdims);
    Tensor<std::size_t> y = Tensor<std::size_t>::from_shape(out_shape);
    const T* px = x.data();
    std::size_t* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t i = 0; i < s.inner; ++i) {
            const T* row = px + o * s.n * s.inner + i;
            std::size_t best = 0;
            for (std::size_t k = 0; k < s.n; ++k) {
                const T v = row[k * s.inner];
                if (v != v) {  // the first NaN wins, for argmax and argmin alike (as max and min)
                    best = k;
                    break;
                }
                if (more_extreme(v, row[best * s.inner], want_max)) best = k;
            }
            py[o * s.inner + i] = best;
        }
    return y;
}

template <class T>
Tensor<std::size_t> topk_indices(const Tensor<T>& x, std::size_t k, std::size_t axis, bool largest) {
    const AxisSplit s = split_at(x.shape(), axis);
    Tensor<std::size_t> y = Tensor<std::size_t>::from_shape(with_axis(x.shape(), axis, k));
    const T* px = x.data();
    std::size_t* py = y.data();
    std::vector<std::size_t> order(s.n);
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t i = 0; i < s.inner; ++i) {
            const T* row = px + o * s.n * s.inner + i;
            std::iota(order.begin(), order.end(), std::size_t(0));
            std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                return more_extreme(row[a * s.inner], row[b * s.inner], largest);
            });
            std::size_t* out = py + o * k * s.inner + i;
            for (std::size_t j = 0; j < k; ++j) out[j * s.inner] = order[j];
        }
    return y;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                      \
    template Tensor<T> masked_softmax(const Tensor<T>&, const xt::xarray<bool>&, std::size_t, bool); \
    template Tensor<T> cumsum(const Tensor<T>&, std::size_t, bool);                                  \
    template Tensor<std::size_t> arg_extreme(const Tensor<T>&, std::size_t, bool, bool);             \
    template Tensor<std::size_t> topk_indices(const Tensor<T>&, std::size_t, std::size_t, bool);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

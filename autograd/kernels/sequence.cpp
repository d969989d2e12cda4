// Loops for the sequence ops: softmax under a mask, cumulative sums, arg-extremes and top-k along an axis.
#include <tapegrad/autograd/kernels/sequence.hpp>

#include <tapegrad/autograd/kernels/math.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>

namespace tapegrad::kernels {

namespace {
/// Where a broadcast mask's element for x's position lies: a stride per dimension of x (0 where the mask
/// broadcasts), and the offsets of the dimensions before and after the softmax axis.
struct MaskIndex {
    Shape shape;
    std::vector<std::size_t> strides;
    std::size_t axis;
    MaskIndex(const Shape& x, const xt::xarray<bool>& m, std::size_t a) : shape(x), strides(x.size(), 0), axis(a) {
        const std::size_t lead = x.size() - m.dimension();
        std::size_t st = 1;
        for (std::size_t d = m.dimension(); d-- > 0;) {
            if (m.shape()[d] != 1) strides[lead + d] = st;
            st *= m.shape()[d];
        }
    }
    /// The mask offset of row (o, i) of split_at(x, axis).
    std::size_t offset(std::size_t o, std::size_t i) const {
        std::size_t off = 0;
        for (std::size_t d = shape.size(); d-- > axis + 1;) {
            off += (i % shape[d]) * strides[d];
            i /= shape[d];
        }
        for (std::size_t d = axis; d-- > 0;) {
            off += (o % shape[d]) * strides[d];
            o /= shape[d];
        }
        return off;
    }
};
}  // namespace

template <class T>
Tensor<T> masked_softmax(const Tensor<T>& x, const xt::xarray<bool>* masked, std::size_t axis, bool log, bool causal,
                         T scale) {
    const AxisSplit s = split_at(x.shape(), axis);
    const Shape xs(x.shape().begin(), x.shape().end());
    const std::size_t rows = causal ? xs[xs.size() - 2] : 1;  // causal: axis is the last, so inner = 1
    std::optional<MaskIndex> mi;
    if (masked) mi.emplace(xs, *masked, axis);
    const std::size_t mstep = mi ? mi->strides[axis] : 0;
    Tensor<T> y = Tensor<T>::from_shape(x.shape());
    const T* px = x.data();
    const bool* pm = masked ? masked->data() : nullptr;
    T* py = y.data();
    const T empty = log ? -std::numeric_limits<T>::infinity() : T(0);
    std::vector<T> buf(s.n);
    std::vector<unsigned char> keep(s.n);
    if (!masked && s.inner == 1 && !log) {
        // Contiguous rows and no mask (attention's causal case): only the first `limit` keys are
        // touched, in loops the compiler vectorises, and one exp_n per row.
        for (std::size_t o = 0; o < s.outer; ++o) {
            const T* row = px + o * s.n;
            T* out = py + o * s.n;
            const std::size_t limit = causal ? o % rows + 1 : s.n;
            T m = -std::numeric_limits<T>::infinity();
            bool nan = false;
            for (std::size_t k = 0; k < limit; ++k) {
                const T v = scale * row[k];
                nan = nan || v != v;
                m = v > m ? v : m;
            }
            if (nan) m = std::numeric_limits<T>::quiet_NaN();  // a NaN spreads to the row, as below
            if (std::isinf(m)) m = T(0);
#pragma omp simd
            for (std::size_t k = 0; k < limit; ++k) out[k] = scale * row[k] - m;
            exp_n(out, out, limit);
            T total = 0;
#pragma omp simd reduction(+ : total)
            for (std::size_t k = 0; k < limit; ++k) total += out[k];
            const T inv = T(1) / total;
#pragma omp simd
            for (std::size_t k = 0; k < limit; ++k) out[k] *= inv;
            std::fill(out + limit, out + s.n, T(0));
        }
        return y;
    }
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t i = 0; i < s.inner; ++i) {
            const std::size_t base = o * s.n * s.inner + i;
            const T* row = px + base;
            const bool* mrow = pm ? pm + mi->offset(o, i) : nullptr;
            T* out = py + base;
            const std::size_t limit = causal ? o % rows + 1 : s.n;  // keys after the row's own position are out
            T m = -std::numeric_limits<T>::infinity();
            bool any = false;
            for (std::size_t k = 0; k < s.n; ++k) {
                const bool in = k < limit && !(mrow && mrow[k * mstep]);
                keep[k] = in;
                const T v = scale * row[k * s.inner];
                buf[k] = v;
                if (in) {
                    any = true;
                    m = (v != v || v > m) ? v : m;  // a NaN wins, so it propagates to the row
                }
            }
            if (!any) {
                for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] = empty;
                continue;
            }
            if (std::isinf(m)) m = T(0);  // all -inf (or +inf present): the plain sums give PyTorch's values
            if (log) {
                T total = 0;
                for (std::size_t k = 0; k < s.n; ++k)
                    if (keep[k]) total += std::exp(buf[k] - m);
                const T lse = m + std::log(total);
                for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] = keep[k] ? buf[k] - lse : empty;
                continue;
            }
            const T minus_inf = -std::numeric_limits<T>::infinity();
            for (std::size_t k = 0; k < s.n; ++k) buf[k] = keep[k] ? buf[k] - m : minus_inf;  // exp gives 0 there
            exp_n(buf.data(), buf.data(), s.n);
            T total = 0;
            for (std::size_t k = 0; k < s.n; ++k) total += buf[k];
            const T inv = T(1) / total;
            for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] = keep[k] ? buf[k] * inv : T(0);
        }
    return y;
}

template <class T>
void softmax_backward_inplace(const Tensor<T>& y, Tensor<T>& g, std::size_t axis, T scale) {
    const AxisSplit s = split_at(y.shape(), axis);
    const T* py = y.data();
    T* pg = g.data();
    for (std::size_t o = 0; o < s.outer; ++o) {
        if (s.inner == 1) {  // the common case (the last axis): contiguous rows, loops the compiler vectorises
            const T* yr = py + o * s.n;
            T* gr = pg + o * s.n;
            T t = 0;
#pragma omp simd reduction(+ : t)
            for (std::size_t k = 0; k < s.n; ++k) t += gr[k] * yr[k];
#pragma omp simd
            for (std::size_t k = 0; k < s.n; ++k) gr[k] = scale * yr[k] * (gr[k] - t);
            continue;
        }
        for (std::size_t i = 0; i < s.inner; ++i) {
            const std::size_t base = o * s.n * s.inner + i;
            const T* yr = py + base;
            T* gr = pg + base;
            T t = 0;
            for (std::size_t k = 0; k < s.n; ++k) t += gr[k * s.inner] * yr[k * s.inner];
            for (std::size_t k = 0; k < s.n; ++k) gr[k * s.inner] = scale * yr[k * s.inner] * (gr[k * s.inner] - t);
        }
    }
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

#define TAPEGRAD_INSTANTIATE(T)                                                                               \
    template Tensor<T> masked_softmax(const Tensor<T>&, const xt::xarray<bool>*, std::size_t, bool, bool, T); \
    template void softmax_backward_inplace(const Tensor<T>&, Tensor<T>&, std::size_t, T);                     \
    template Tensor<T> cumsum(const Tensor<T>&, std::size_t, bool);                                           \
    template Tensor<std::size_t> arg_extreme(const Tensor<T>&, std::size_t, bool, bool);                      \
    template Tensor<std::size_t> topk_indices(const Tensor<T>&, std::size_t, std::size_t, bool);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

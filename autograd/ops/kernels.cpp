// Tensor-level loops: axis checks, broadcast shapes, broadcast_to/sum_to and reductions.
#include <tapegrad/autograd/ops/kernels.hpp>

#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace tapegrad::kernels {

std::size_t normalize_axis(const char* op, int axis, std::size_t ndim) {
    const long n = long(ndim);
    if (axis < -n || axis >= n)
        throw Error(fmt::format("{}: axis {} is out of range for a value with {} dimension{}", op, axis, ndim,
                                ndim == 1 ? "" : "s"));
    return std::size_t(axis < 0 ? axis + n : axis);
}

std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, std::size_t ndim) {
    std::vector<std::size_t> out;
    for (int a : axes) out.push_back(normalize_axis(op, a, ndim));
    std::sort(out.begin(), out.end());
    if (std::adjacent_find(out.begin(), out.end()) != out.end())
        throw Error(fmt::format("{}: axis {} is given twice", op, *std::adjacent_find(out.begin(), out.end())));
    return out;
}

std::vector<std::size_t> all_axes(std::size_t ndim) {
    std::vector<std::size_t> out(ndim);
    for (std::size_t i = 0; i < ndim; ++i) out[i] = i;
    return out;
}

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
    if (shape_equal(a, b)) return a;
    const std::size_t nd = std::max(a.size(), b.size());
    Shape out(nd);
    for (std::size_t i = 0; i < nd; ++i) {
        const std::size_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
        const std::size_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
        if (da != db && da != 1 && db != 1)
            throw Error(fmt::format("{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})", op,
                                    shape_string(a), shape_string(b), i, da, db));
        out[i] = da == 1 ? db : da;
    }
    shape_size(out, op);  // (2^40, 1) and (1, 2^40) broadcast to more elements than fit
    return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
    if (from.size() > to.size()) return false;
    const std::size_t off = to.size() - from.size();
    for (std::size_t i = 0; i < from.size(); ++i)
        if (from[i] != 1 && from[i] != to[off + i]) return false;
    return true;
}

Shape reduced_shape(const Shape& shape, const std::vector<std::size_t>& axes, bool keepdims) {
    Shape out;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const bool reduced = std::binary_search(axes.begin(), axes.end(), i);
        if (!reduced)
            out.push_back(shape[i]);
        else if (keepdims)
            out.push_back(1);
    }
    // Removing a 0 dimension can leave dimensions whose product wraps: (0, 2^32, 2^32) summed over axis 0.
    shape_size(out, "reduction");
    return out;
}

std::vector<std::ptrdiff_t> broadcast_strides(const Shape& shape, const Shape& out) {
    const std::size_t nd = out.size();
    const std::size_t off = nd - shape.size();
    std::vector<std::ptrdiff_t> strides(nd, 0);
    std::ptrdiff_t s = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[off + i] = shape[i] == 1 ? 0 : s;
        s *= std::ptrdiff_t(shape[i]);
    }
    return strides;
}

AxisSplit split_at(const Shape& shape, std::size_t axis) {
    AxisSplit s{1, shape[axis], 1};
    for (std::size_t i = 0; i < axis; ++i) s.outer *= shape[i];
    for (std::size_t i = axis + 1; i < shape.size(); ++i) s.inner *= shape[i];
    return s;
}

template <class T>
Tensor<T> broadcast_to(const Tensor<T>& x, const Shape& shape) {
    if (shape_equal(x.shape(), shape)) return x;
    Tensor<T> y = Tensor<T>::from_shape(shape);
    const T* px = x.data();
    T* q = y.data();
    const auto sx = broadcast_strides(x.shape(), shape);
    const std::vector<std::ptrdiff_t> none(shape.size(), 0);
    for_each_row(shape, sx, none, [&](std::ptrdiff_t ox, std::ptrdiff_t, std::size_t m, std::ptrdiff_t dx,
                                      std::ptrdiff_t) {
        const T* r = px + ox;
        if (dx == 1) {
            std::copy(r, r + m, q);
        } else {
            std::fill(q, q + m, r[0]);
        }
        q += m;
    });
    return y;
}

template <class T>
Tensor<T> sum_to(const Tensor<T>& x, const Shape& shape) {
    if (shape_equal(x.shape(), shape)) return x;
    Tensor<T> y(shape, T(0));
    const T* px = x.data();
    T* py = y.data();
    // Walk x row by row; each row adds into y at y's (zero-stride where summed) offsets.
    const auto sy = broadcast_strides(shape, x.shape());
    const std::vector<std::ptrdiff_t> none(x.shape().size(), 0);
    const T* r = px;
    for_each_row(x.shape(), sy, none, [&](std::ptrdiff_t oy, std::ptrdiff_t, std::size_t m, std::ptrdiff_t dy,
                                          std::ptrdiff_t) {
        T* out = py + oy;
        if (dy == 1) {
#pragma omp simd
            for (std::size_t j = 0; j < m; ++j) out[j] += r[j];
        } else {
            T s = 0;
#pragma omp simd reduction(+ : s)
            for (std::size_t j = 0; j < m; ++j) s += r[j];
            out[0] += s;
        }
        r += m;
    });
    return y;
}

template <class T>
Tensor<T> permute(const Tensor<T>& x, const std::vector<std::size_t>& perm) {
    const std::size_t nd = x.dimension();
    Shape out(nd);
    std::vector<std::ptrdiff_t> in_strides(nd), sa(nd);
    std::ptrdiff_t s = 1;
    for (std::size_t i = nd; i-- > 0;) {
        in_strides[i] = s;
        s *= std::ptrdiff_t(x.shape()[i]);
    }
    for (std::size_t i = 0; i < nd; ++i) {
        out[i] = x.shape()[perm[i]];
        sa[i] = in_strides[perm[i]];
    }
    Tensor<T> y = Tensor<T>::from_shape(out);
    const T* px = x.data();
    T* q = y.data();
    const std::vector<std::ptrdiff_t> none(nd, 0);
    for_each_row(out, sa, none, [&](std::ptrdiff_t ox, std::ptrdiff_t, std::size_t m, std::ptrdiff_t dx,
                                    std::ptrdiff_t) {
        const T* r = px + ox;
        for (std::size_t j = 0; j < m; ++j) q[j] = r[std::ptrdiff_t(j) * dx];
        q += m;
    });
    return y;
}

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
            throw Error(fmt::format("{}: cannot reduce over axis {} of size 0 (shape {})", op, a,
                                    shape_string(x.shape())));
    if (x.size() == 0) return Tensor<T>(reduced_shape(x.shape(), axes, keepdims), T(0));
    if (want_max) return reduce(x, axes, keepdims, MaxCombine<T>());
    return reduce(x, axes, keepdims, MinCombine<T>());
}

#define TAPEGRAD_INSTANTIATE(T)                                                                              \
    template Tensor<T> broadcast_to(const Tensor<T>&, const Shape&);                                         \
    template Tensor<T> permute(const Tensor<T>&, const std::vector<std::size_t>&);                          \
    template Tensor<T> sum_to(const Tensor<T>&, const Shape&);                                               \
    template Tensor<T> reduce_sum(const Tensor<T>&, const std::vector<std::size_t>&, bool);                  \
    template Tensor<T> reduce_extreme(const char*, const Tensor<T>&, const std::vector<std::size_t>&, bool, bool);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

// Element moves without arithmetic: permute, take/add rows, gather/scatter_add, concat.
#include <tapegrad/autograd/kernels/layout.hpp>

#include <algorithm>
#include <fmt/format.h>

#include <tapegrad/autograd/kernels/broadcast.hpp>

namespace tapegrad::kernels {

void check_indices(const char* op, const Indices& indices, std::size_t size, int axis) {
    for (std::size_t j = 0; j < indices.size(); ++j)
        if (indices[j] >= size)
            throw Error(fmt::format("{}: index {} (at position {}) is out of range for axis {} of size {}", op,
                                    indices[j], j, axis, size));
}

std::size_t check_gather_index(const char* op, const Shape& x, int axis, const Tensor<std::size_t>& index) {
    const std::size_t a = normalize_axis(op, axis, x.size());
    const auto& is = index.shape();
    bool ok = is.size() == x.size();
    for (std::size_t d = 0; ok && d < is.size(); ++d) ok = d == a || is[d] == x[d];
    if (!ok)
        throw Error(fmt::format("{}: index of shape {} must have the shape of x {} except along axis {}", op,
                                shape_string(is), shape_string(x), axis));
    const std::size_t n = x[a];
    for (std::size_t j = 0; j < index.size(); ++j)
        if (index.data()[j] >= n)
            throw Error(fmt::format("{}: index {} (flat position {}) is out of range for axis {} of size {}", op,
                                    index.data()[j], j, axis, n));
    return a;
}

std::size_t check_concat(const std::vector<Shape>& shapes, int axis) {
    if (shapes.empty()) throw Error("concat: no values given");
    const Shape& first = shapes[0];
    const std::size_t a = normalize_axis("concat", axis, first.size());
    std::size_t total = 0;
    for (std::size_t k = 0; k < shapes.size(); ++k) {
        const Shape& s = shapes[k];
        bool ok = s.size() == first.size();
        for (std::size_t d = 0; ok && d < s.size(); ++d) ok = d == a || s[d] == first[d];
        if (!ok)
            throw Error(fmt::format("concat: value {} has shape {}, which does not match {} outside axis {}", k,
                                    shape_string(s), shape_string(first), axis));
        total = checked_add("concat", "the joined dimension", total, s[a]);
    }
    shape_size(with_axis(first, a, total), "concat");
    return a;
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
    for_each_row(out, sa, none,
                 [&](std::ptrdiff_t ox, std::ptrdiff_t, std::size_t m, std::ptrdiff_t dx, std::ptrdiff_t) {
                     const T* r = px + ox;
                     for (std::size_t j = 0; j < m; ++j) q[j] = r[std::ptrdiff_t(j) * dx];
                     q += m;
                 });
    return y;
}

/// Rows of `inner` elements: x as (outer, n, inner), out as (outer, m, inner), with
/// out[o, j] = x[o, rows[j]].
template <class T>
Tensor<T> take_rows(const Tensor<T>& x, std::size_t axis, const Indices& rows, const Shape& out_shape) {
    const AxisSplit s = split_at(x.shape(), axis);
    Tensor<T> y = Tensor<T>::from_shape(out_shape);
    const T* px = x.data();
    T* py = y.data();
    const std::size_t m = rows.size();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j) {
            const T* src = px + (o * s.n + rows[j]) * s.inner;
            std::copy(src, src + s.inner, py + (o * m + j) * s.inner);
        }
    return y;
}

/// The adjoint of take_rows: out (outer, n, inner) zeros with out[o, rows[j]] += src[o, j].
template <class T>
Tensor<T> add_rows(const Tensor<T>& src, std::size_t axis, const Indices& rows, const Shape& shape) {
    const AxisSplit s = split_at(shape, axis);
    Tensor<T> y(shape, T(0));
    const T* ps = src.data();
    T* py = y.data();
    const std::size_t m = rows.size();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j) {
            T* dst = py + (o * s.n + rows[j]) * s.inner;
            const T* r = ps + (o * m + j) * s.inner;
#pragma omp simd
            for (std::size_t i = 0; i < s.inner; ++i) dst[i] += r[i];
        }
    return y;
}

Indices strided_rows(std::size_t start, std::size_t count, std::size_t step) {
    Indices rows(count);
    for (std::size_t j = 0; j < count; ++j) rows[j] = start + j * step;
    return rows;
}

/// out[o, j, i] = x[o, index[o, j, i], i] (x as (outer, n, inner), index as (outer, m, inner)).
template <class T>
Tensor<T> gather(const Tensor<T>& x, std::size_t axis, const Tensor<std::size_t>& index) {
    const AxisSplit s = split_at(x.shape(), axis);
    const std::size_t m = index.shape()[axis];
    Tensor<T> y = Tensor<T>::from_shape(Shape(index.shape().begin(), index.shape().end()));
    const T* px = x.data();
    const std::size_t* pi = index.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j)
            for (std::size_t i = 0; i < s.inner; ++i) {
                const std::size_t at = (o * m + j) * s.inner + i;
                py[at] = px[(o * s.n + pi[at]) * s.inner + i];
            }
    return y;
}

template <class T>
Tensor<T> scatter_add(const Tensor<T>& src, std::size_t axis, const Tensor<std::size_t>& index, const Shape& shape) {
    const AxisSplit s = split_at(shape, axis);
    const std::size_t m = index.shape()[axis];
    Tensor<T> y(shape, T(0));
    const T* ps = src.data();
    const std::size_t* pi = index.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j)
            for (std::size_t i = 0; i < s.inner; ++i) {
                const std::size_t at = (o * m + j) * s.inner + i;
                py[(o * s.n + pi[at]) * s.inner + i] += ps[at];
            }
    return y;
}

template <class T>
Tensor<T> concat(const std::vector<const Tensor<T>*>& xs, std::size_t axis) {
    Shape out = xs[0]->shape();
    std::size_t total = 0;
    for (const Tensor<T>* x : xs) total += x->shape()[axis];
    out[axis] = total;
    Tensor<T> y = Tensor<T>::from_shape(out);
    const AxisSplit s = split_at(out, axis);
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (const Tensor<T>* x : xs) {
            const std::size_t block = x->shape()[axis] * s.inner;
            const T* src = x->data() + o * block;
            py = std::copy(src, src + block, py);
        }
    return y;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                              \
    template Tensor<T> permute(const Tensor<T>&, const std::vector<std::size_t>&);                           \
    template Tensor<T> take_rows(const Tensor<T>&, std::size_t, const Indices&, const Shape&);               \
    template Tensor<T> add_rows(const Tensor<T>&, std::size_t, const Indices&, const Shape&);                \
    template Tensor<T> gather(const Tensor<T>&, std::size_t, const Tensor<std::size_t>&);                    \
    template Tensor<T> scatter_add(const Tensor<T>&, std::size_t, const Tensor<std::size_t>&, const Shape&); \
    template Tensor<T> concat(const std::vector<const Tensor<T>*>&, std::size_t);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

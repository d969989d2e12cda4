// Tensor-level loops shared by the op families: axis checks, broadcasting, reductions.
// Nothing here records anything; ops call these in their forward passes and plain VJPs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::kernels {

/// Axis `axis` (negative counts from the end) of a rank-`ndim` value, or an error naming `op`.
std::size_t normalize_axis(const char* op, int axis, std::size_t ndim);
/// Sorted, distinct, non-negative axes, or an error naming `op`.
std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, std::size_t ndim);
/// All axes of a rank-`ndim` value.
std::vector<std::size_t> all_axes(std::size_t ndim);

/// The NumPy broadcast of two shapes, or an error naming `op` and both shapes.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
/// True when `from` broadcasts to `to`.
bool broadcasts_to(const Shape& from, const Shape& to);
/// `shape` with `axes` removed, or set to 1 if keepdims.
Shape reduced_shape(const Shape& shape, const std::vector<std::size_t>& axes, bool keepdims);

/// Strides (in elements) of `shape` viewed inside the broadcast shape `out`: 0 where the
/// dimension is broadcast or missing.
std::vector<std::ptrdiff_t> broadcast_strides(const Shape& shape, const Shape& out);

/// Calls inner(offset_a, offset_b, count, stride_a, stride_b) for every run along the last
/// axis of `out`, where a and b are indexed by the strides given (row-major odometer).
template <class Inner>
void for_each_row(const Shape& out, const std::vector<std::ptrdiff_t>& sa, const std::vector<std::ptrdiff_t>& sb,
                  Inner&& inner) {
    const std::size_t nd = out.size();
    const std::size_t total = shape_size(out);
    if (total == 0) return;
    if (nd == 0) {
        inner(std::ptrdiff_t(0), std::ptrdiff_t(0), std::size_t(1), std::ptrdiff_t(0), std::ptrdiff_t(0));
        return;
    }
    const std::size_t last = out[nd - 1];
    std::vector<std::size_t> idx(nd, 0);
    std::ptrdiff_t oa = 0, ob = 0;
    for (std::size_t row = 0, rows = total / last; row < rows; ++row) {
        inner(oa, ob, last, sa[nd - 1], sb[nd - 1]);
        for (std::size_t d = nd - 1; d-- > 0;) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < out[d]) break;
            oa -= sa[d] * std::ptrdiff_t(out[d]);
            ob -= sb[d] * std::ptrdiff_t(out[d]);
            idx[d] = 0;
        }
    }
}

/// f applied elementwise to a and b broadcast to `out`.
template <class T, class F>
Tensor<T> broadcast_binary(const Tensor<T>& a, const Tensor<T>& b, const Shape& out, F f) {
    Tensor<T> y = Tensor<T>::from_shape(out);
    T* py = y.data();
    const T* pa = a.data();
    const T* pb = b.data();
    const std::size_t n = y.size();
    if (shape_equal(a.shape(), out) && shape_equal(b.shape(), out)) {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) py[i] = f(pa[i], pb[i]);
    } else if (b.size() == 1 && shape_equal(a.shape(), out)) {
        const T s = pb[0];
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) py[i] = f(pa[i], s);
    } else if (a.size() == 1 && shape_equal(b.shape(), out)) {
        const T s = pa[0];
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) py[i] = f(s, pb[i]);
    } else {
        const auto sa = broadcast_strides(a.shape(), out);
        const auto sb = broadcast_strides(b.shape(), out);
        T* q = py;
        for_each_row(out, sa, sb, [&](std::ptrdiff_t oa, std::ptrdiff_t ob, std::size_t m, std::ptrdiff_t da,
                                      std::ptrdiff_t db) {
            const T* ra = pa + oa;
            const T* rb = pb + ob;
            if (da == 1 && db == 1) {
#pragma omp simd
                for (std::size_t j = 0; j < m; ++j) q[j] = f(ra[j], rb[j]);
            } else if (da == 1 && db == 0) {
                const T s = rb[0];
#pragma omp simd
                for (std::size_t j = 0; j < m; ++j) q[j] = f(ra[j], s);
            } else if (da == 0 && db == 1) {
                const T s = ra[0];
#pragma omp simd
                for (std::size_t j = 0; j < m; ++j) q[j] = f(s, rb[j]);
            } else {
                for (std::size_t j = 0; j < m; ++j) q[j] = f(ra[std::ptrdiff_t(j) * da], rb[std::ptrdiff_t(j) * db]);
            }
            q += m;
        });
    }
    return y;
}

/// f applied elementwise.
template <class T, class F>
Tensor<T> map(const Tensor<T>& x, F f) {
    Tensor<T> y = Tensor<T>::from_shape(x.shape());
    T* py = y.data();
    const T* px = x.data();
    const std::size_t n = x.size();
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) py[i] = f(px[i]);
    return y;
}

/// f applied elementwise to any number of same-typed tensors broadcast together; f takes
/// scalars. One fused loop, no temporaries when the shapes agree.
template <class F, class T, class... Rest>
Tensor<T> zip(F f, const Tensor<T>& first, const Rest&... rest);

/// x repeated along broadcast dimensions to `shape` (x must broadcast to it).
template <class T>
Tensor<T> broadcast_to(const Tensor<T>& x, const Shape& shape);

/// The sum of x over the dimensions that were broadcast to make x's shape from `shape`
/// (the adjoint of broadcast_to).
template <class T>
Tensor<T> sum_to(const Tensor<T>& x, const Shape& shape);

/// Sum over `axes` (sorted, distinct).
template <class T>
Tensor<T> reduce_sum(const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims);
/// Max (or min, if `want_max` is false) over `axes` (sorted, distinct); the axes must not be empty.
template <class T>
Tensor<T> reduce_extreme(const char* op, const Tensor<T>& x, const std::vector<std::size_t>& axes, bool keepdims,
                         bool want_max);

/// Axes reordered: output axis i is input axis perm[i].
template <class T>
Tensor<T> permute(const Tensor<T>& x, const std::vector<std::size_t>& perm);

/// The sizes before, along and after one axis: the value is a (outer, n, inner) block.
struct AxisSplit {
    std::size_t outer, n, inner;
};
AxisSplit split_at(const Shape& shape, std::size_t axis);

template <class F, class T, class... Rest>
Tensor<T> zip(F f, const Tensor<T>& first, const Rest&... rest) {
    if constexpr (sizeof...(Rest) == 0) {
        return map(first, f);
    } else if constexpr (sizeof...(Rest) == 1) {
        const Tensor<T>& second = (rest, ...);
        if (shape_equal(first.shape(), second.shape())) return broadcast_binary(first, second, first.shape(), f);  // no copy
        return broadcast_binary(first, second, broadcast_shape("zip", first.shape(), second.shape()), f);
    } else {
        Shape out = first.shape();
        ((out = broadcast_shape("zip", out, rest.shape())), ...);
        if (shape_equal(first.shape(), out) && (shape_equal(rest.shape(), out) && ...)) {
            Tensor<T> y = Tensor<T>::from_shape(out);
            T* py = y.data();
            const T* p0 = first.data();
            const std::size_t n = y.size();
            auto run = [&](const auto*... pr) {
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) py[i] = f(p0[i], pr[i]...);
            };
            run(rest.data()...);
            return y;
        }
        return zip(f, broadcast_to(first, out), broadcast_to(rest, out)...);
    }
}

}  // namespace tapegrad::kernels

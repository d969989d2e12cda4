// Elementwise loops over tensors with NumPy broadcasting: map, zip, broadcast_binary, and the in-place zip_into.
// Nothing here records anything; ops call these in their forwards and plain VJPs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include <tapegrad/autograd/kernels/broadcast.hpp>
#include <tapegrad/autograd/kernels/shape.hpp>

// Loops long enough to pay for a call run in a copy built for the CPU's level (GCC's target_clones: an
// AVX-512, an AVX2 and a baseline copy, chosen when the program loads), so the library stays baseline
// x86-64 and still runs AVX-512 loops where the CPU has them; short loops stay inline. The conditions
// are those of TAPEGRAD_HOT_LOOP in kernels/detail/dispatch.hpp (this header is public and cannot
// include it): not under ThreadSanitizer, whose runtime does not exist yet when the resolver runs. No
// contraction into FMA in the copies: a result is the same whatever the CPU and the tensor's length.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define TAPEGRAD_ELEMENTWISE_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=off")))
#else
#define TAPEGRAD_ELEMENTWISE_CLONES
#endif

namespace tapegrad::kernels {

namespace cloned {
/// Elements from which a loop goes through the per-level copies (below it, the call costs more).
inline constexpr std::size_t from = 256;

/// y[i] = f(x[i]), in the copy for the CPU's level.
template <class T, class F>
TAPEGRAD_ELEMENTWISE_CLONES void map_n(const T* x, T* y, std::size_t n, F f) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] = f(x[i]);
}
/// y[i] = f(a[i], b[i]), in the copy for the CPU's level.
template <class T, class F>
TAPEGRAD_ELEMENTWISE_CLONES void zip_n(const T* a, const T* b, T* y, std::size_t n, F f) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
}
/// y[i] = f(a[i], b[i], c[i]), in the copy for the CPU's level.
template <class T, class F>
TAPEGRAD_ELEMENTWISE_CLONES void zip3_n(const T* a, const T* b, const T* c, T* y, std::size_t n, F f) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] = f(a[i], b[i], c[i]);
}
/// y0[i] = f0(a[i], b[i], c[i]) and y1[i] = f1(a[i], b[i], c[i]) in one pass, in the copy for the CPU's level.
/// y0 may be a (each element is read before either result is stored).
template <class T, class F0, class F1>
TAPEGRAD_ELEMENTWISE_CLONES void zip3_pair_n(const T* a, const T* b, const T* c, T* y0, T* y1, std::size_t n, F0 f0,
                                             F1 f1) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        const T u = a[i], v = b[i], w = c[i];
        const T r0 = f0(u, v, w), r1 = f1(u, v, w);
        y0[i] = r0;
        y1[i] = r1;
    }
}
/// y[i] = f(a[i], s), in the copy for the CPU's level.
template <class T, class F>
TAPEGRAD_ELEMENTWISE_CLONES void zip_scalar_right_n(const T* a, T s, T* y, std::size_t n, F f) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] = f(a[i], s);
}
/// y[i] = f(s, b[i]), in the copy for the CPU's level.
template <class T, class F>
TAPEGRAD_ELEMENTWISE_CLONES void zip_scalar_left_n(T s, const T* b, T* y, std::size_t n, F f) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] = f(s, b[i]);
}
}  // namespace cloned

/// f applied elementwise to a and b of one shape.
template <class T, class F>
Tensor<T> same_shape_binary(const Tensor<T>& a, const Tensor<T>& b, F f) {
    Tensor<T> y = empty_like(a);
    T* py = y.data();
    const T* pa = a.data();
    const T* pb = b.data();
    const std::size_t n = y.size();
    if (n >= cloned::from) {
        cloned::zip_n(pa, pb, py, n, f);
    } else {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) py[i] = f(pa[i], pb[i]);
    }
    return y;
}

/// f applied elementwise to a and b broadcast to `out`.
template <class T, class F>
Tensor<T> broadcast_binary(const Tensor<T>& a, const Tensor<T>& b, const Shape& out, F f) {
    const bool a_full = shape_equal(a.shape(), out), b_full = shape_equal(b.shape(), out);
    if (a_full && b_full) return same_shape_binary(a, b, f);
    Tensor<T> y = a_full ? empty_like(a) : b_full ? empty_like(b) : Tensor<T>::from_shape(out);
    T* py = y.data();
    const T* pa = a.data();
    const T* pb = b.data();
    const std::size_t n = y.size();
    const bool long_loop = n >= cloned::from;
    if (b.size() == 1 && a_full) {
        const T s = pb[0];
        if (long_loop) {
            cloned::zip_scalar_right_n(pa, s, py, n, f);
        } else {
#pragma omp simd
            for (std::size_t i = 0; i < n; ++i) py[i] = f(pa[i], s);
        }
    } else if (a.size() == 1 && b_full) {
        const T s = pa[0];
        if (long_loop) {
            cloned::zip_scalar_left_n(s, pb, py, n, f);
        } else {
#pragma omp simd
            for (std::size_t i = 0; i < n; ++i) py[i] = f(s, pb[i]);
        }
    } else {
        const auto sa = broadcast_strides(a.shape(), out);
        const auto sb = broadcast_strides(b.shape(), out);
        T* q = py;
        for_each_row(out, sa, sb,
                     [&](std::ptrdiff_t oa, std::ptrdiff_t ob, std::size_t m, std::ptrdiff_t da, std::ptrdiff_t db) {
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
                             for (std::size_t j = 0; j < m; ++j)
                                 q[j] = f(ra[std::ptrdiff_t(j) * da], rb[std::ptrdiff_t(j) * db]);
                         }
                         q += m;
                     });
    }
    return y;
}

/// f applied elementwise to a and b broadcast together (an error naming `op` if they do not).
template <class T, class F>
Tensor<T> binary(const char* op, const Tensor<T>& a, const Tensor<T>& b, F f) {
    if (shape_equal(a.shape(), b.shape())) return same_shape_binary(a, b, f);  // no shape made or compared again
    return broadcast_binary(a, b, broadcast_shape(op, a.shape(), b.shape()), f);
}

/// f applied elementwise.
template <class T, class F>
Tensor<T> map(const Tensor<T>& x, F f) {
    Tensor<T> y = empty_like(x);
    T* py = y.data();
    const T* px = x.data();
    const std::size_t n = x.size();
    if (n >= cloned::from) {
        cloned::map_n(px, py, n, f);
        return y;
    }
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) py[i] = f(px[i]);
    return y;
}

/// f applied elementwise to any number of same-typed tensors broadcast together; f takes
/// scalars. One fused loop, no temporaries when the shapes agree.
template <class F, class T, class... Rest>
Tensor<T> zip(F f, const Tensor<T>& first, const Rest&... rest) {
    if constexpr (sizeof...(Rest) == 0) {
        return map(first, f);
    } else if constexpr (sizeof...(Rest) == 1) {
        return binary("zip", first, (rest, ...), f);
    } else {
        Shape out = first.shape();
        ((out = broadcast_shape("zip", out, rest.shape())), ...);
        if (shape_equal(first.shape(), out) && (shape_equal(rest.shape(), out) && ...)) {
            Tensor<T> y = empty_like(first);
            T* py = y.data();
            const T* p0 = first.data();
            const std::size_t n = y.size();
            auto run = [&](const auto*... pr) {
                if constexpr (sizeof...(Rest) == 2) {
                    if (n >= cloned::from) return cloned::zip3_n(p0, pr..., py, n, f);
                }
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) py[i] = f(p0[i], pr[i]...);
            };
            run(rest.data()...);
            return y;
        }
        return zip(f, broadcast_to(first, out), broadcast_to(rest, out)...);
    }
}

/// f applied elementwise to y and the tensors in `rest`, written over y: y[i] = f(y[i], rest[i]...). Every
/// tensor of `rest` must have y's shape (zip() is the broadcasting form); at most two of them.
template <class F, class T, class... Rest>
void zip_into(F f, Tensor<T>& y, const Rest&... rest) {
    static_assert(sizeof...(Rest) <= 2, "zip_into: at most three operands");
    T* py = y.data();
    const std::size_t n = y.size();
    auto run = [&](const auto*... pr) {
        if (n >= cloned::from) {
            if constexpr (sizeof...(Rest) == 0) return cloned::map_n(py, py, n, f);
            if constexpr (sizeof...(Rest) == 1) return cloned::zip_n(py, pr..., py, n, f);
            if constexpr (sizeof...(Rest) == 2) return cloned::zip3_n(py, pr..., py, n, f);
        }
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) py[i] = f(py[i], pr[i]...);
    };
    run(rest.data()...);
}

/// Two results of one pass over y, b and c (all of one shape): y0 = f0(y, b, c) written over y, and
/// y1 = f1(y, b, c) returned.
template <class T, class F0, class F1>
Tensor<T> zip_pair_into(F0 f0, F1 f1, Tensor<T>& y, const Tensor<T>& b, const Tensor<T>& c) {
    Tensor<T> y1 = empty_like(y);
    T* p0 = y.data();
    T* p1 = y1.data();
    const T* pb = b.data();
    const T* pc = c.data();
    const std::size_t n = y.size();
    if (n >= cloned::from) {
        cloned::zip3_pair_n(p0, pb, pc, p0, p1, n, f0, f1);
        return y1;
    }
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        const T u = p0[i], v = pb[i], w = pc[i];
        const T r0 = f0(u, v, w), r1 = f1(u, v, w);
        p0[i] = r0;
        p1[i] = r1;
    }
    return y1;
}

/// zip_pair_into with y1 added into `sum` (sum += f1(y, b, c)) instead of returned, for the few elements
/// (below cloned::from) where making y1 costs more than the arithmetic; false, with nothing done, for more.
/// The sum is the one the engine's own `sum += y1` gives, to the bit: f1 is rounded before it is added.
template <class T, class F0, class F1>
bool zip_pair_into_sum(F0 f0, F1 f1, Tensor<T>& y, const Tensor<T>& b, const Tensor<T>& c, Tensor<T>& sum) {
    const std::size_t n = y.size();
    if (n >= cloned::from) return false;
    T* p0 = y.data();
    T* ps = sum.data();
    const T* pb = b.data();
    const T* pc = c.data();
    for (std::size_t i = 0; i < n; ++i) {
        const T u = p0[i], v = pb[i], w = pc[i];
        T r1 = f1(u, v, w);
        asm("" : "+x"(r1));  // no fused multiply-add across the two roundings, even under -march
        p0[i] = f0(u, v, w);
        ps[i] += r1;
    }
    return true;
}

/// sum += g elementwise (one shape), as the engine sums two gradients.
template <class T>
void add_into(Tensor<T>& sum, const Tensor<T>& g);

}  // namespace tapegrad::kernels

#undef TAPEGRAD_ELEMENTWISE_CLONES

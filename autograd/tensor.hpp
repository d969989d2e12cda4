// Tensor<T>: the xtensor array type every tapegrad value and gradient is stored in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include <tapegrad/autograd/allocator.hpp>
#include <tapegrad/autograd/shape_vector.hpp>
#include <tapegrad/autograd/storage.hpp>

namespace tapegrad {

/// Row-major, dynamically ranked; up to 16 bytes of data inside the object, larger blocks from the
/// per-thread block cache (memory::Storage). Any xtensor expression converts to it, and it can be used
/// wherever xtensor expects an expression.
/// The shape, strides and back-strides are ShapeVectors (cheap to move and destroy), not the
/// svectors of a plain xt::xarray; the two shape types convert and compare with each other.
template <class T>
using Tensor = xt::xarray_container<memory::Storage<T>, xt::layout_type::row_major, ShapeVector<std::size_t>>;

/// A tensor shape, e.g. {64, 784}.
using Shape = Tensor<double>::shape_type;

/// Axes given by the user; negative values count from the end, as in NumPy.
using Axes = std::vector<int>;

/// Row indices or class labels.
using Indices = std::vector<std::size_t>;

/// "(3,2)", the way shapes appear in error messages.
template <class S>
std::string shape_string(const S& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ",";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ",";
    return s + ")";
}

/// a == b for two shapes. Inline on purpose: svector's operator== calls memcmp, and on the
/// per-op path (a tiny op compares shapes five or six times) the call cost more than the one
/// to four dimensions it compares (9% of a tiny op's time).
template <class S1, class S2>
[[gnu::always_inline]] inline bool shape_equal(const S1& a, const S2& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

/// A tensor of x's shape whose elements are to be written. A tensor of a few elements is a copy of x:
/// copying them costs less than xtensor working out strides for a shape again (about 100 instructions
/// instead of 170 for one element, on every tiny op's path). A value the forward freed (no elements, its
/// shape kept) is never copied.
template <class T>
[[gnu::always_inline]] inline Tensor<T> empty_like(const Tensor<T>& x) {
    const std::size_t n = x.size();
    if (n - 1 < 16) return x;
    return Tensor<T>::from_shape(x.shape());
}

namespace detail {
[[noreturn]] void throw_shape_too_large(const char* op, const std::string& shape);
}  // namespace detail

/// Number of elements of a shape (1 for the empty shape of a scalar). Every count of a shape's
/// elements goes through here: a shape whose size would wrap (say {2^32, 2^32}, 0 elements in
/// 64 bits) is a tapegrad::Error naming `op` and the shape, never a wrapped size. The product of
/// the non-zero dimensions must fit in ptrdiff_t, as xtensor's (signed) strides are products of
/// them even when another dimension is 0.
template <class S>
std::size_t shape_size(const S& shape, const char* op = "shape") {
    std::size_t n = 1;
    bool zero = false, overflow = false;
    for (auto d : shape) {
        if (d == 0)
            zero = true;
        else
            overflow |= __builtin_mul_overflow(n, std::size_t(d), &n);
    }
    if (overflow || n > std::size_t(PTRDIFF_MAX)) detail::throw_shape_too_large(op, shape_string(shape));
    return zero ? 0 : n;
}

/// a * b for sizes (lengths, padded sizes, element counts), or an Error naming `op` and `what`.
std::size_t checked_mul(const char* op, const char* what, std::size_t a, std::size_t b);
/// a + b for sizes, or an Error naming `op` and `what`.
std::size_t checked_add(const char* op, const char* what, std::size_t a, std::size_t b);

}  // namespace tapegrad

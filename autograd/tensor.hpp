// Tensor<T>: the xtensor array type every tapegrad value and gradient is stored in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include <tapegrad/autograd/allocator.hpp>

// xtensor 0.24's svector moves by swap(), which for the small inline vectors of a shape and its strides resizes,
// swaps element by element and copies the rest: ~100 instructions a vector, 3 vectors a Tensor move, several moves
// a tiny op. These specializations for a Tensor's two vector types do it in ~30; declared here, before any use,
// as every tapegrad header reaches xtensor's containers through this one. (Not part of the API reference.)
//! @cond
namespace tapegrad::detail {
// dst[0, n) = src[0, n) for n <= 4 in straight-line code (a loop here becomes a call to memcpy), reading only
// the elements that hold values (copying the whole inline buffer read uninitialized ones: GCC warned).
template <class T>
inline void copy_small(T* dst, const T* src, std::ptrdiff_t n) noexcept {
    switch (n) {
        case 4:
            dst[3] = src[3];
            [[fallthrough]];
        case 3:
            dst[2] = src[2];
            [[fallthrough]];
        case 2:
            dst[1] = src[1];
            [[fallthrough]];
        case 1:
            dst[0] = src[0];
            [[fallthrough]];
        default:
            break;
    }
}
}  // namespace tapegrad::detail

namespace xt {
// svector<size_t, 4>::swap (a shape's vector) without the generic resize-and-copy.
template <>
template <>
inline void svector<std::size_t, 4, std::allocator<std::size_t>, true>::swap(
    svector<std::size_t, 4, std::allocator<std::size_t>, true>& rhs) {
    // The inline elements (at most 4) are swapped in straight-line code, then each side takes the other's
    // pointers, or its own buffer where the other's elements were inline.
    if (this == &rhs) return;
    const bool inline_a = m_begin == m_data, inline_b = rhs.m_begin == rhs.m_data;
    value_type* const a_begin = m_begin;
    value_type* const a_capacity = m_capacity;
    value_type* const b_begin = rhs.m_begin;
    value_type* const b_capacity = rhs.m_capacity;
    const std::ptrdiff_t na = m_end - m_begin, nb = rhs.m_end - rhs.m_begin;
    value_type saved[4] = {};  // zeros: GCC cannot see that only the first na are read back
    tapegrad::detail::copy_small(saved, m_data, inline_a ? na : 0);
    tapegrad::detail::copy_small(m_data, rhs.m_data, inline_b ? nb : 0);
    tapegrad::detail::copy_small(rhs.m_data, saved, inline_a ? na : 0);
    m_begin = inline_b ? m_data : b_begin;
    m_capacity = inline_b ? m_data + 4 : b_capacity;
    m_end = m_begin + nb;
    rhs.m_begin = inline_a ? rhs.m_data : a_begin;
    rhs.m_capacity = inline_a ? rhs.m_data + 4 : a_capacity;
    rhs.m_end = rhs.m_begin + na;
}
// svector<ptrdiff_t, 4>::swap (a Tensor's strides) without the generic resize-and-copy.
template <>
template <>
inline void svector<std::ptrdiff_t, 4, std::allocator<std::ptrdiff_t>, true>::swap(
    svector<std::ptrdiff_t, 4, std::allocator<std::ptrdiff_t>, true>& rhs) {
    // The inline elements (at most 4) are swapped in straight-line code, then each side takes the other's
    // pointers, or its own buffer where the other's elements were inline.
    if (this == &rhs) return;
    const bool inline_a = m_begin == m_data, inline_b = rhs.m_begin == rhs.m_data;
    value_type* const a_begin = m_begin;
    value_type* const a_capacity = m_capacity;
    value_type* const b_begin = rhs.m_begin;
    value_type* const b_capacity = rhs.m_capacity;
    const std::ptrdiff_t na = m_end - m_begin, nb = rhs.m_end - rhs.m_begin;
    value_type saved[4] = {};  // zeros: GCC cannot see that only the first na are read back
    tapegrad::detail::copy_small(saved, m_data, inline_a ? na : 0);
    tapegrad::detail::copy_small(m_data, rhs.m_data, inline_b ? nb : 0);
    tapegrad::detail::copy_small(rhs.m_data, saved, inline_a ? na : 0);
    m_begin = inline_b ? m_data : b_begin;
    m_capacity = inline_b ? m_data + 4 : b_capacity;
    m_end = m_begin + nb;
    rhs.m_begin = inline_a ? rhs.m_data : a_begin;
    rhs.m_capacity = inline_a ? rhs.m_data + 4 : a_capacity;
    rhs.m_end = rhs.m_begin + na;
}
}  // namespace xt
//! @endcond
namespace tapegrad {

/// Row-major, dynamically ranked, data from the per-thread block cache. Any
/// xtensor expression converts to it, and it can be used wherever xtensor
/// expects an expression.
template <class T>
using Tensor = xt::xarray<T, xt::layout_type::row_major, memory::CachingAllocator<T>>;

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

/// a == b for two shapes. Inline on purpose: svector's operator== calls memcmp,
/// and on the per-op path (a tiny op compares shapes five or six times) the
/// call cost more than the one to four dimensions it compares (9% of a tiny
/// op's time).
template <class S1, class S2>
inline bool shape_equal(const S1& a, const S2& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

namespace detail {
[[noreturn]] void throw_shape_too_large(const char* op, const std::string& shape);
}  // namespace detail

/// Number of elements of a shape (1 for the empty shape of a scalar). Every
/// count of a shape's elements goes through here: a shape whose size would wrap
/// (say {2^32, 2^32}, 0 elements in 64 bits) is a tapegrad::Error naming `op`
/// and the shape, never a wrapped size. The product of the non-zero dimensions
/// must fit in ptrdiff_t, as xtensor's (signed) strides are products of them
/// even when another dimension is 0.
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

/// a * b for sizes (lengths, padded sizes, element counts), or an Error naming
/// `op` and `what`.
std::size_t checked_mul(const char* op, const char* what, std::size_t a, std::size_t b);
/// a + b for sizes, or an Error naming `op` and `what`.
std::size_t checked_add(const char* op, const char* what, std::size_t a, std::size_t b);

}  // namespace tapegrad

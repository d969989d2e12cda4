// Sliding-window geometry shared by convolution and pooling: output sizes and valid tap ranges.
// Internal (not installed): included by the library's own .cpp files only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::kernels {

using std::ptrdiff_t;
using std::size_t;

/// Output length of a sliding window along one axis ("height" or "width"), or 0 if the window does
/// not fit even once. The padded length and the dilated window are computed with checked
/// arithmetic and must fit in ptrdiff_t (the loops index with it): absurd options are an Error
/// naming `fn` and the option, never a wrapped size.
inline size_t window_count(const char* fn, const char* axis, size_t in, size_t pad, size_t kernel, size_t dilation,
                           size_t stride) {
    constexpr size_t limit = size_t(PTRDIFF_MAX);
    size_t twice_pad, padded, reach;
    if (__builtin_mul_overflow(pad, size_t(2), &twice_pad) || __builtin_add_overflow(in, twice_pad, &padded) ||
        padded > limit)
        throw Error(fmt::format("{}: padding {} is too large for an input {} of {}: {} + 2 * {} must be below 2^63", fn,
                                pad, axis, in, in, pad));
    if (__builtin_mul_overflow(dilation, kernel - 1, &reach) || reach >= limit)
        throw Error(
            fmt::format("{}: kernel {} {} with dilation {} is too large: dilation * (kernel - 1) + 1 must be "
                        "below 2^63",
                        fn, axis, kernel, dilation));
    const size_t span = reach + 1;
    if (stride > limit) throw Error(fmt::format("{}: stride {} is too large (must be below 2^63)", fn, stride));
    return padded < span ? 0 : (padded - span) / stride + 1;
}

/// The output positions o in [lo, hi) for which o * stride + off lies inside [0, n).
struct Range {
    size_t lo, hi;
};
inline Range valid_range(ptrdiff_t off, size_t stride, size_t n, size_t count) {
    const ptrdiff_t s = ptrdiff_t(stride);
    const ptrdiff_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
    const ptrdiff_t end = ptrdiff_t(n) - off;
    const ptrdiff_t hi = end <= 0 ? 0 : (end + s - 1) / s;
    const size_t l = std::min(size_t(lo), count);
    return {l, std::max(l, std::min(size_t(hi), count))};
}

}  // namespace tapegrad::kernels

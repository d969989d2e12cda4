// Sliding-window geometry shared by convolution and pooling: output sizes and valid tap ranges.
// Internal (not installed): included by the library's own .cpp files only.
#pragma once

#include <algorithm>
#include <cstddef>

namespace tapegrad::kernels {

using std::ptrdiff_t;
using std::size_t;

/// Output length of a sliding window, or 0 if the window does not fit even once.
inline size_t window_count(size_t in, size_t pad, size_t kernel, size_t dilation, size_t stride) {
    const size_t span = dilation * (kernel - 1) + 1;
    const size_t padded = in + 2 * pad;
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

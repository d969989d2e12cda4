// im2col and col2im: a convolution's input unrolled into a column block, and its adjoint.
#include <tapegrad/autograd/kernels/detail/im2col.hpp>

#include <tapegrad/autograd/kernels/detail/dispatch.hpp>
#include <tapegrad/autograd/kernels/detail/window.hpp>

namespace tapegrad::kernels {
namespace {

/// Zeroes [p, p + n) (no call for the common n = 0).
template <class T>
inline void zero(T* p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = T(0);
}

// ---- fast path: stride 1, no padding, no dilation, output rows of at least 8 values (LeNet's
// 5x5 convolutions and most small CNNs). Every tap then copies whole output rows with no range
// checks, in fixed-size blocks of 8 values that compile to plain vector moves. On the LeNet
// benchmark's conv2 (8x12x12 input, OW = 8) im2col went from 380 to 40 us per batch of 64 and
// col2im from 250 to 110 us; conv1 (OW = 24) from 160 to 75 us.

bool plain_rows(const ConvGeom& g) {
    return g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1 && g.ow >= 8;
}

template <class T>
inline void copy8(T* __restrict d, const T* __restrict s) {
#pragma omp simd
    for (int k = 0; k < 8; ++k) d[k] = s[k];
}

template <class T>
inline void add8(T* __restrict d, const T* __restrict s) {
#pragma omp simd
    for (int k = 0; k < 8; ++k) d[k] += s[k];
}

/// n >= 8 values; the last block may overlap the one before (it writes the same values again).
template <class T>
inline void copy_row(T* __restrict d, const T* __restrict s, size_t n) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8) copy8(d + k, s + k);
    if (k < n) copy8(d + n - 8, s + n - 8);
}

template <class T>
TAPEGRAD_HOT_LOOP __attribute__((optimize("no-tree-loop-distribute-patterns"))) void im2col_plain(
    const T* __restrict src, T* __restrict col, size_t ld, const ConvGeom& g) {
    const size_t OW = g.ow, OH = g.oh, W = g.w;
    for (size_t c = 0; c < g.cg; ++c) {
        const T* plane = src + c * g.h * g.w;
        for (size_t i = 0; i < g.kh; ++i)
            for (size_t j = 0; j < g.kw; ++j) {
                T* dst = col + ((c * g.kh + i) * g.kw + j) * ld;
                const T* s = plane + i * W + j;
                if (OW == 8)  // one block per row: no loop at all
                    for (size_t oh = 0; oh < OH; ++oh) copy8(dst + oh * 8, s + oh * W);
                else
                    for (size_t oh = 0; oh < OH; ++oh) copy_row(dst + oh * OW, s + oh * W, OW);
            }
    }
}

/// The taps are visited in the order of the column rows, so two consecutive adds never touch
/// overlapping memory (overlapping read-after-write would stall store forwarding).
template <class T>
TAPEGRAD_HOT_LOOP void col2im_plain(const T* __restrict col, size_t ld, T* __restrict dst, const ConvGeom& g) {
    const size_t OW = g.ow, OH = g.oh, W = g.w, full = OW / 8 * 8;
    for (size_t c = 0; c < g.cg; ++c) {
        T* plane = dst + c * g.h * g.w;
        for (size_t i = 0; i < g.kh; ++i)
            for (size_t j = 0; j < g.kw; ++j) {
                const T* src = col + ((c * g.kh + i) * g.kw + j) * ld;
                T* base = plane + i * W + j;
                if (OW == 8) {
                    for (size_t oh = 0; oh < OH; ++oh) add8(base + oh * W, src + oh * 8);
                } else {
                    for (size_t oh = 0; oh < OH; ++oh) {
                        T* line = base + oh * W;
                        const T* s = src + oh * OW;
                        size_t k = 0;
                        for (; k < full; k += 8) add8(line + k, s + k);
                        for (; k < OW; ++k) line[k] += s[k];
                    }
                }
            }
    }
}

}  // namespace

// ---- the general case

/// Column block (cg*kh*kw, oh*ow), rows `ld` apart, of one image's group of channels starting
/// at src: row (c, i, j) holds the input pixel under kernel tap (i, j) for every output position.
/// Rows are short (one output row, 8-30 values): inline vector copies beat memcpy calls, so
/// GCC is told not to turn the copy loop into one.
template <class T>
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void im2col(const T* __restrict src, T* __restrict col,
                                                                          size_t ld, const ConvGeom& g) {
    if (plain_rows(g)) return im2col_plain(src, col, ld, g);
    const size_t P = g.p(), OW = g.ow, W = g.w, SW = g.sw;
    for (size_t c = 0; c < g.cg; ++c) {
        const T* plane = src + c * g.h * g.w;
        for (size_t i = 0; i < g.kh; ++i) {
            const ptrdiff_t offh = ptrdiff_t(i * g.dh) - ptrdiff_t(g.ph);
            const Range rh = valid_range(offh, g.sh, g.h, g.oh);
            for (size_t j = 0; j < g.kw; ++j) {
                const ptrdiff_t offw = ptrdiff_t(j * g.dw) - ptrdiff_t(g.pw);
                const Range rw = valid_range(offw, SW, W, OW);
                T* dst = col + ((c * g.kh + i) * g.kw + j) * ld;
                zero(dst, rh.lo * OW);
                const size_t lo = rw.lo, hi = rw.hi;
                for (size_t oh = rh.lo; oh < rh.hi; ++oh) {
                    const T* line = plane + (ptrdiff_t(oh * g.sh) + offh) * ptrdiff_t(W) + offw;
                    T* d = dst + oh * OW;
                    zero(d, lo);
                    if (SW == 1) {
#pragma omp simd
                        for (size_t ow = lo; ow < hi; ++ow) d[ow] = line[ow];
                    } else {
                        for (size_t ow = lo; ow < hi; ++ow) d[ow] = line[ow * SW];
                    }
                    zero(d + hi, OW - hi);
                }
                zero(dst + rh.hi * OW, P - rh.hi * OW);
            }
        }
    }
}

/// The adjoint of im2col: adds each entry of the column block back onto the pixel it came from.
template <class T>
void col2im(const T* __restrict col, size_t ld, T* __restrict dst, const ConvGeom& g) {
    if (plain_rows(g)) return col2im_plain(col, ld, dst, g);
    const size_t OW = g.ow, W = g.w, SW = g.sw;
    for (size_t c = 0; c < g.cg; ++c) {
        T* plane = dst + c * g.h * g.w;
        for (size_t i = 0; i < g.kh; ++i) {
            const ptrdiff_t offh = ptrdiff_t(i * g.dh) - ptrdiff_t(g.ph);
            const Range rh = valid_range(offh, g.sh, g.h, g.oh);
            for (size_t j = 0; j < g.kw; ++j) {
                const ptrdiff_t offw = ptrdiff_t(j * g.dw) - ptrdiff_t(g.pw);
                const Range rw = valid_range(offw, SW, W, OW);
                const T* src = col + ((c * g.kh + i) * g.kw + j) * ld;
                const size_t lo = rw.lo, hi = rw.hi;
                for (size_t oh = rh.lo; oh < rh.hi; ++oh) {
                    T* line = plane + (ptrdiff_t(oh * g.sh) + offh) * ptrdiff_t(W) + offw;
                    const T* s = src + oh * OW;
                    if (SW == 1) {
#pragma omp simd
                        for (size_t ow = lo; ow < hi; ++ow) line[ow] += s[ow];
                    } else {
                        for (size_t ow = lo; ow < hi; ++ow) line[ow * SW] += s[ow];
                    }
                }
            }
        }
    }
}

template void im2col(const float*, float*, size_t, const ConvGeom&);
template void im2col(const double*, double*, size_t, const ConvGeom&);
template void col2im(const float*, size_t, float*, const ConvGeom&);
template void col2im(const double*, size_t, double*, const ConvGeom&);

}  // namespace tapegrad::kernels

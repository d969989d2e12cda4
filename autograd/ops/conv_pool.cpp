// conv2d (im2col + GEMM per image; backward col2im + GEMM) and pooling, each forward next to its VJP.
//
// Every VJP here is itself an op whose VJP is known, so derivatives of any order work:
//   conv2d            -> conv2d_input_grad (dx), conv2d_weight_grad (dW), sum (db)
//   conv2d_input_grad -> conv2d (dg), conv2d_weight_grad (dW)
//   conv2d_weight_grad-> conv2d_input_grad (dx), conv2d (dg)
//   max_pool2d (a gather at the argmax positions) <-> pool_scatter (adds back at them)
//   avg_pool2d <-> avg_pool2d_adjoint (both linear, each the transpose of the other)
#include <tapegrad/autograd/ops/conv_pool.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fmt/format.h>
#include <limits>
#include <memory>

#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/blas.hpp>
#include <tapegrad/autograd/ops/elementwise.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>

namespace tapegrad {
namespace {

using std::ptrdiff_t;
using std::size_t;

// ---------------------------------------------------------------- geometry

/// Output length of a sliding window along one axis ("height" or "width"), or 0 if the window does
/// not fit even once. The padded length and the dilated window are computed with checked
/// arithmetic and must fit in ptrdiff_t (the loops index with it): absurd options are an Error
/// naming `fn` and the option, never a wrapped size.
size_t window_count(const char* fn, const char* axis, size_t in, size_t pad, size_t kernel, size_t dilation,
                    size_t stride) {
    constexpr size_t limit = size_t(PTRDIFF_MAX);
    size_t twice_pad, padded, reach, span;
    if (__builtin_mul_overflow(pad, size_t(2), &twice_pad) || __builtin_add_overflow(in, twice_pad, &padded) ||
        padded > limit)
        throw Error(fmt::format("{}: padding {} is too large for an input {} of {}: {} + 2 * {} must be below 2^63",
                                fn, pad, axis, in, in, pad));
    if (__builtin_mul_overflow(dilation, kernel - 1, &reach) || reach >= limit)
        throw Error(fmt::format("{}: kernel {} {} with dilation {} is too large: dilation * (kernel - 1) + 1 must be "
                                "below 2^63",
                                fn, axis, kernel, dilation));
    span = reach + 1;
    if (stride > limit) throw Error(fmt::format("{}: stride {} is too large (must be below 2^63)", fn, stride));
    return padded < span ? 0 : (padded - span) / stride + 1;
}

/// The output positions o in [lo, hi) for which o * stride + off lies inside [0, n).
struct Range {
    size_t lo, hi;
};
Range valid_range(ptrdiff_t off, size_t stride, size_t n, size_t count) {
    const ptrdiff_t s = ptrdiff_t(stride);
    const ptrdiff_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
    const ptrdiff_t end = ptrdiff_t(n) - off;
    const ptrdiff_t hi = end <= 0 ? 0 : (end + s - 1) / s;
    const size_t l = std::min(size_t(lo), count);
    return {l, std::max(l, std::min(size_t(hi), count))};
}

/// Everything the convolution loops need, computed once from the shapes and options.
struct ConvGeom {
    size_t n, c, h, w;      // input
    size_t o, kh, kw;       // output channels, kernel
    size_t groups, cg, og;  // channels per group, in and out
    size_t sh, sw, ph, pw, dh, dw;
    size_t oh, ow;

    size_t k() const { return cg * kh * kw; }  // rows of a column buffer
    size_t p() const { return oh * ow; }       // its columns: output positions
    bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
    Shape input_shape() const { return {n, c, h, w}; }
    Shape weight_shape() const { return {o, cg, kh, kw}; }
    Shape output_shape() const { return {n, o, oh, ow}; }
    std::string describe() const {
        return fmt::format("stride=({},{}), padding=({},{}), dilation=({},{}), groups={}", sh, sw, ph, pw, dh, dw,
                           groups);
    }
};

ConvGeom make_geom(const char* fn, const Shape& x, const Shape& w, const Conv2dOptions& opt) {
    ConvGeom g;
    g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
    g.o = w[0], g.kh = w[2], g.kw = w[3];
    g.groups = opt.groups(), g.cg = w[1], g.og = w[0] / opt.groups();
    g.sh = opt.stride().h, g.sw = opt.stride().w;
    g.ph = opt.padding().h, g.pw = opt.padding().w;
    g.dh = opt.dilation().h, g.dw = opt.dilation().w;
    g.oh = window_count(fn, "height", g.h, g.ph, g.kh, g.dh, g.sh);
    g.ow = window_count(fn, "width", g.w, g.pw, g.kw, g.dw, g.sw);
    return g;
}

void check_options(const char* fn, const Conv2dOptions& opt) {
    if (opt.stride().h == 0 || opt.stride().w == 0)
        throw Error(fmt::format("{}: stride must be at least 1, got ({},{})", fn, opt.stride().h, opt.stride().w));
    if (opt.dilation().h == 0 || opt.dilation().w == 0)
        throw Error(fmt::format("{}: dilation must be at least 1, got ({},{})", fn, opt.dilation().h,
                                opt.dilation().w));
    if (opt.groups() == 0) throw Error(fmt::format("{}: groups must be at least 1, got 0", fn));
}

/// Checks x (N, C, H, W) against weight (O, C/groups, KH, KW) and returns the geometry.
ConvGeom check_conv(const char* fn, const Shape& x, const Shape& w, const Conv2dOptions& opt) {
    check_options(fn, opt);
    if (w.size() != 4 || w[0] == 0 || w[1] == 0 || w[2] == 0 || w[3] == 0)
        throw Error(fmt::format("{}: weight must be (out_channels, in_channels/groups, KH, KW) with no empty "
                                "dimension, got {}",
                                fn, shape_string(w)));
    const size_t groups = opt.groups();
    if (w[0] % groups != 0)
        throw Error(fmt::format("{}: {} output channels (weight {}) do not divide into {} groups", fn, w[0],
                                shape_string(w), groups));
    if (x.size() != 4 || x[1] != w[1] * groups)
        throw Error(fmt::format("{}: expected input (N,{},H,W) for weight {} and groups={}, got {}", fn,
                                w[1] * groups, shape_string(w), groups, shape_string(x)));
    ConvGeom g = make_geom(fn, x, w, opt);
    if (g.oh == 0 || g.ow == 0)
        throw Error(fmt::format("{}: input {} with padding ({},{}) is smaller than the dilated kernel ({},{})", fn,
                                shape_string(x), g.ph, g.pw, g.dh * (g.kh - 1) + 1, g.dw * (g.kw - 1) + 1));
    shape_size(g.output_shape(), fn);
    if (!g.pointwise()) shape_size(Shape{g.k(), g.p()}, fn);  // the column buffer
    return g;
}

// ---------------------------------------------------------------- im2col / col2im

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
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void im2col_plain(const T* __restrict src,
                                                                                T* __restrict col, size_t ld,
                                                                                const ConvGeom& g) {
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
void col2im_plain(const T* __restrict col, size_t ld, T* __restrict dst, const ConvGeom& g) {
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

// ---------------------------------------------------------------- convolution kernels

// One GEMM per image and group. Measured on a LeNet-sized network, batching several images'
// column blocks side by side into one GEMM gained nothing, and the whole batch in one
// buffer was slower (it spills the cache).

/// y = conv(x, w) (+ b): per image and group, y_g (og, P) = W_g (og, K) @ col (K, P).
template <class T>
Tensor<T> conv_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g) {
    Tensor<T> y = Tensor<T>::from_shape(g.output_shape());
    const size_t K = g.k(), P = g.p(), HW = g.h * g.w;
    Tensor<T> col;
    if (!g.pointwise()) col = Tensor<T>::from_shape({K, P});
    for (size_t n = 0; n < g.n; ++n)
        for (size_t gi = 0; gi < g.groups; ++gi) {
            const T* src = x.data() + (n * g.c + gi * g.cg) * HW;
            const T* cols = src;  // a pointwise convolution's input is its own column buffer
            if (!g.pointwise()) {
                im2col(src, col.data(), P, g);
                cols = col.data();
            }
            T* out = y.data() + (n * g.o + gi * g.og) * P;
            if (b)  // rows start as the bias, and GEMM adds the product onto them
                for (size_t oc = 0; oc < g.og; ++oc)
                    std::fill(out + oc * P, out + (oc + 1) * P, b->data()[gi * g.og + oc]);
            blas::gemm(false, false, g.og, P, K, T(1), w.data() + gi * g.og * K, K, cols, P, b ? T(1) : T(0), out, P);
        }
    return y;
}

/// dW = sum over images of g_g (og, P) @ col^T (P, K).
template <class T>
Tensor<T> conv_weight_grad(const Tensor<T>& x, const Tensor<T>& gy, const ConvGeom& g) {
    Tensor<T> dw = Tensor<T>::from_shape(g.weight_shape());
    std::fill(dw.data(), dw.data() + dw.size(), T(0));
    const size_t K = g.k(), P = g.p(), HW = g.h * g.w;
    Tensor<T> col;
    if (!g.pointwise()) col = Tensor<T>::from_shape({K, P});
    for (size_t n = 0; n < g.n; ++n)
        for (size_t gi = 0; gi < g.groups; ++gi) {
            const T* src = x.data() + (n * g.c + gi * g.cg) * HW;
            const T* cols = src;
            if (!g.pointwise()) {
                im2col(src, col.data(), P, g);
                cols = col.data();
            }
            blas::gemm(false, true, g.og, K, P, T(1), gy.data() + (n * g.o + gi * g.og) * P, P, cols, P, T(1),
                       dw.data() + gi * g.og * K, K);
        }
    return dw;
}

/// dx = col2im(W_g^T (K, og) @ g_g (og, P)) per image and group.
template <class T>
Tensor<T> conv_input_grad(const Tensor<T>& gy, const Tensor<T>& w, const ConvGeom& g) {
    Tensor<T> dx = Tensor<T>::from_shape(g.input_shape());
    const size_t K = g.k(), P = g.p(), HW = g.h * g.w;
    Tensor<T> col;
    if (!g.pointwise()) {
        col = Tensor<T>::from_shape({K, P});
        std::fill(dx.data(), dx.data() + dx.size(), T(0));
    }
    for (size_t n = 0; n < g.n; ++n)
        for (size_t gi = 0; gi < g.groups; ++gi) {
            T* dst = dx.data() + (n * g.c + gi * g.cg) * HW;
            T* cols = g.pointwise() ? dst : col.data();  // pointwise: the GEMM writes dx directly
            blas::gemm(true, false, K, P, g.og, T(1), w.data() + gi * g.og * K, K,
                       gy.data() + (n * g.o + gi * g.og) * P, P, T(0), cols, P);
            if (!g.pointwise()) col2im(col.data(), P, dst, g);
        }
    return dx;
}

/// db[o] = sum of g over images and positions.
template <class T>
Tensor<T> conv_bias_grad(const Tensor<T>& gy) {
    const size_t n = gy.shape()[0], o = gy.shape()[1], p = gy.shape()[2] * gy.shape()[3];
    Tensor<T> db = Tensor<T>::from_shape({o});
    std::fill(db.data(), db.data() + o, T(0));
    for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < o; ++c) {
            const T* row = gy.data() + (i * o + c) * p;
            T s = 0;
#pragma omp simd reduction(+ : s)
            for (size_t j = 0; j < p; ++j) s += row[j];
            db.data()[c] += s;
        }
    return db;
}

// The three convolution maps for either gradient type: on Tensors they compute, on
// Variables they record an op (declared here, defined after the ops).
template <class T>
Tensor<T> conv_map(const Tensor<T>& x, const Tensor<T>& w, const ConvGeom& g) { return conv_forward<T>(x, w, nullptr, g); }
template <class T>
Variable<T> conv_map(const Variable<T>& x, const Variable<T>& w, const ConvGeom& g);
template <class T>
Tensor<T> input_grad_map(const Tensor<T>& gy, const Tensor<T>& w, const ConvGeom& g) { return conv_input_grad(gy, w, g); }
template <class T>
Variable<T> input_grad_map(const Variable<T>& gy, const Variable<T>& w, const ConvGeom& g);
template <class T>
Tensor<T> weight_grad_map(const Tensor<T>& x, const Tensor<T>& gy, const ConvGeom& g) { return conv_weight_grad(x, gy, g); }
template <class T>
Variable<T> weight_grad_map(const Variable<T>& x, const Variable<T>& gy, const ConvGeom& g);
template <class T>
Tensor<T> bias_grad_map(const Tensor<T>& gy) { return conv_bias_grad(gy); }
template <class T>
Variable<T> bias_grad_map(const Variable<T>& gy) { return sum(gy, Axes{0, 2, 3}); }

// ---------------------------------------------------------------- convolution ops

/// y = conv2d(x, W) (+ b).   dx = conv2d_input_grad(g, W), dW = conv2d_weight_grad(x, g), db = sum(g)
template <class T, size_t N>
struct Conv2dOp final : Op<Conv2dOp<T, N>, T, N> {
    explicit Conv2dOp(const ConvGeom& g) : geom(g) {}
    const char* op_name() const noexcept override { return "conv2d"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = input_grad_map(a.g, a.x(1), geom);
        if (a.want(1)) a.dx[1] = weight_grad_map(a.x(0), a.g, geom);
        if constexpr (N == 3)
            if (a.want(2)) a.dx[2] = bias_grad_map(a.g);
    }
    std::string describe() const override { return geom.describe(); }
    ConvGeom geom;
};

/// y = conv2d_input_grad(g, W) (linear in each).   dg = conv2d(h, W), dW = conv2d_weight_grad(h, g)
template <class T>
struct Conv2dInputGradOp final : Op<Conv2dInputGradOp<T>, T, 2> {
    explicit Conv2dInputGradOp(const ConvGeom& g) : geom(g) {}
    const char* op_name() const noexcept override { return "conv2d_input_grad"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = conv_map(a.g, a.x(1), geom);
        if (a.want(1)) a.dx[1] = weight_grad_map(a.g, a.x(0), geom);
    }
    std::string describe() const override { return geom.describe(); }
    ConvGeom geom;
};

/// y = conv2d_weight_grad(x, g) (linear in each).   dx = conv2d_input_grad(g, h), dg = conv2d(x, h)
template <class T>
struct Conv2dWeightGradOp final : Op<Conv2dWeightGradOp<T>, T, 2> {
    explicit Conv2dWeightGradOp(const ConvGeom& g) : geom(g) {}
    const char* op_name() const noexcept override { return "conv2d_weight_grad"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = input_grad_map(a.x(1), a.g, geom);
        if (a.want(1)) a.dx[1] = conv_map(a.x(0), a.g, geom);
    }
    std::string describe() const override { return geom.describe(); }
    ConvGeom geom;
};

template <class T>
Variable<T> conv_map(const Variable<T>& x, const Variable<T>& w, const ConvGeom& g) {
    return record<Conv2dOp<T, 2>>(conv_forward<T>(x.value(), w.value(), nullptr, g), {&x, &w}, g);
}
template <class T>
Variable<T> input_grad_map(const Variable<T>& gy, const Variable<T>& w, const ConvGeom& g) {
    return record<Conv2dInputGradOp<T>>(conv_input_grad(gy.value(), w.value(), g), {&gy, &w}, g);
}
template <class T>
Variable<T> weight_grad_map(const Variable<T>& x, const Variable<T>& gy, const ConvGeom& g) {
    return record<Conv2dWeightGradOp<T>>(conv_weight_grad(x.value(), gy.value(), g), {&x, &gy}, g);
}

// ---------------------------------------------------------------- pooling geometry

struct PoolGeom {
    size_t n, c, h, w;
    size_t kh, kw, sh, sw, ph, pw, dh, dw;
    size_t oh, ow;
    bool count_include_pad;

    Shape input_shape() const { return {n, c, h, w}; }
    Shape output_shape() const { return {n, c, oh, ow}; }
    std::string describe() const {
        return fmt::format("kernel=({},{}), stride=({},{}), padding=({},{}), dilation=({},{})", kh, kw, sh, sw, ph,
                           pw, dh, dw);
    }
};

PoolGeom check_pool(const char* fn, const Shape& x, const Pool2dOptions& opt, bool dilation_allowed) {
    const Size2 k = opt.kernel_size(), s = opt.stride(), p = opt.padding(), d = opt.dilation();
    if (k.h == 0 || k.w == 0) throw Error(fmt::format("{}: kernel size must be at least 1, got ({},{})", fn, k.h, k.w));
    if (s.h == 0 || s.w == 0) throw Error(fmt::format("{}: stride must be at least 1, got ({},{})", fn, s.h, s.w));
    if (d.h == 0 || d.w == 0) throw Error(fmt::format("{}: dilation must be at least 1, got ({},{})", fn, d.h, d.w));
    if (!dilation_allowed && (d.h != 1 || d.w != 1))
        throw Error(fmt::format("{}: dilation is for max pooling only, got ({},{})", fn, d.h, d.w));
    if (p.h > k.h / 2 || p.w > k.w / 2)
        throw Error(fmt::format("{}: padding ({},{}) must be at most half the kernel size ({},{})", fn, p.h, p.w, k.h,
                                k.w));
    if (x.size() != 4) throw Error(fmt::format("{}: expected input (N,C,H,W), got {}", fn, shape_string(x)));
    PoolGeom g{x[0], x[1], x[2], x[3], k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w, 0, 0, opt.count_include_pad()};
    g.oh = window_count(fn, "height", g.h, g.ph, g.kh, g.dh, g.sh);
    g.ow = window_count(fn, "width", g.w, g.pw, g.kw, g.dw, g.sw);
    if (g.oh == 0 || g.ow == 0)
        throw Error(fmt::format("{}: input {} with padding ({},{}) is smaller than the window ({},{})", fn,
                                shape_string(x), g.ph, g.pw, g.dh * (g.kh - 1) + 1, g.dw * (g.kw - 1) + 1));
    shape_size(g.output_shape(), fn);
    // the divisor of average pooling
    checked_mul(fn, "the window size kernel_h * kernel_w", g.kh, g.kw);
    return g;
}

// ---------------------------------------------------------------- max pooling

/// Flat positions in the pooled input (32 bits: max_pool2d refuses larger inputs), from the
/// tensor block cache, shared by the gather op and the scatter op of its VJP.
using Index = std::uint32_t;
using IndexVector = std::vector<Index, memory::CachingAllocator<Index>>;
using IndexList = std::shared_ptr<const IndexVector>;

/// The common case: 2x2 windows, stride 2, no padding, no dilation.
template <class T>
void max_pool_2x2(const T* px, T* py, Index* pi, const PoolGeom& g) {
    const size_t W = g.w, HW = g.h * g.w, OW = g.ow;
    for (size_t nc = 0; nc < g.n * g.c; ++nc) {
        const T* plane = px + nc * HW;
        const Index base = Index(nc * HW);
        for (size_t oh = 0; oh < g.oh; ++oh) {
            const T* r0 = plane + 2 * oh * W;
            const T* r1 = r0 + W;
            T* out = py + (nc * g.oh + oh) * OW;
            Index* where = pi + (nc * g.oh + oh) * OW;
            const Index row0 = base + Index(2 * oh * W), row1 = row0 + Index(W);
            for (size_t ow = 0; ow < OW; ++ow) {
                const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
                const Index pos[4] = {row0 + Index(2 * ow), row0 + Index(2 * ow + 1), row1 + Index(2 * ow),
                                      row1 + Index(2 * ow + 1)};
                // Branch-free (maxima are unpredictable): arithmetic selects the position.
                T best = v[0];
                Index at = pos[0];
                bool nan = v[0] != v[0];
                for (int k = 1; k < 4; ++k) {
                    const Index take = Index(v[k] > best);
                    nan |= v[k] != v[k];
                    best = best < v[k] ? v[k] : best;
                    at += take * (pos[k] - at);
                }
                if (nan)  // a NaN wins (the first one), as in PyTorch
                    for (int k = 3; k >= 0; --k)
                        if (v[k] != v[k]) best = v[k], at = pos[k];
                out[ow] = best;
                where[ow] = at;
            }
        }
    }
}

/// The maxima of every window, and their flat positions in x (a NaN wins, as in PyTorch).
/// Throws if a window lies entirely in the padding.
template <class T>
Tensor<T> max_pool_forward(const Tensor<T>& x, const PoolGeom& g, IndexVector& idx) {
    Tensor<T> y = Tensor<T>::from_shape(g.output_shape());
    idx.resize(y.size());
    const size_t HW = g.h * g.w, OHW = g.oh * g.ow, W = g.w;
    // Valid tap ranges per output row and column, computed once.
    std::vector<Range> rows(g.oh), cols(g.ow);
    for (size_t oh = 0; oh < g.oh; ++oh) {
        const ptrdiff_t hs = ptrdiff_t(oh * g.sh) - ptrdiff_t(g.ph);
        rows[oh] = valid_range(hs, g.dh, g.h, g.kh);
    }
    for (size_t ow = 0; ow < g.ow; ++ow) {
        const ptrdiff_t ws = ptrdiff_t(ow * g.sw) - ptrdiff_t(g.pw);
        cols[ow] = valid_range(ws, g.dw, g.w, g.kw);
    }
    for (size_t oh = 0; oh < g.oh; ++oh)
        for (size_t ow = 0; ow < g.ow; ++ow)
            if (rows[oh].lo == rows[oh].hi || cols[ow].lo == cols[ow].hi)
                throw Error(fmt::format("max_pool2d: window ({},{}) of input {} lies entirely in the padding", oh, ow,
                                        shape_string(g.input_shape())));
    const T* px = x.data();
    T* py = y.data();
    Index* pi = idx.data();
    if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1) {
        max_pool_2x2(px, py, pi, g);
        return y;
    }
    for (size_t nc = 0; nc < g.n * g.c; ++nc) {
        const T* plane = px + nc * HW;
        for (size_t oh = 0; oh < g.oh; ++oh) {
            const ptrdiff_t hs = ptrdiff_t(oh * g.sh) - ptrdiff_t(g.ph);
            const Range rh = rows[oh];
            for (size_t ow = 0; ow < g.ow; ++ow) {
                const ptrdiff_t ws = ptrdiff_t(ow * g.sw) - ptrdiff_t(g.pw);
                const Range rw = cols[ow];
                size_t at = size_t((hs + ptrdiff_t(rh.lo * g.dh)) * ptrdiff_t(W) + ws + ptrdiff_t(rw.lo * g.dw));
                T best = plane[at];
                bool nan = false;
                for (size_t i = rh.lo; i < rh.hi; ++i) {
                    const size_t line = size_t(hs + ptrdiff_t(i * g.dh)) * W;
                    for (size_t j = rw.lo; j < rw.hi; ++j) {
                        // Branch-free (maxima are unpredictable): a mask selects the position.
                        const size_t pos = line + size_t(ws + ptrdiff_t(j * g.dw));
                        const T v = plane[pos];
                        const size_t take = size_t(v > best);
                        nan |= v != v;
                        best = best < v ? v : best;
                        at += take * (pos - at);
                    }
                }
                if (nan) {  // a NaN wins, as in PyTorch: the first one
                    for (size_t i = rh.hi; i-- > rh.lo;)
                        for (size_t j = rw.hi; j-- > rw.lo;) {
                            const size_t pos = size_t(hs + ptrdiff_t(i * g.dh)) * W + size_t(ws + ptrdiff_t(j * g.dw));
                            if (plane[pos] != plane[pos]) at = pos;
                        }
                    best = plane[at];
                }
                py[nc * OHW + oh * g.ow + ow] = best;
                pi[nc * OHW + oh * g.ow + ow] = Index(nc * HW + at);
            }
        }
    }
    return y;
}

template <class T>
Tensor<T> gather_kernel(const Tensor<T>& x, const IndexVector& idx, const Shape& out_shape) {
    Tensor<T> y = Tensor<T>::from_shape(out_shape);
    const T* px = x.data();
    T* py = y.data();
    for (size_t i = 0; i < idx.size(); ++i) py[i] = px[idx[i]];
    return y;
}

template <class T>
Tensor<T> scatter_kernel(const Tensor<T>& g, const IndexVector& idx, const Shape& in_shape) {
    Tensor<T> dx = Tensor<T>::from_shape(in_shape);
    T* pd = dx.data();
    std::fill(pd, pd + dx.size(), T(0));
    const T* pg = g.data();
    for (size_t i = 0; i < idx.size(); ++i) pd[idx[i]] += pg[i];
    return dx;
}

template <class T>
Tensor<T> gather_map(const Tensor<T>& x, const IndexList& idx, const Shape& out_shape) {
    return gather_kernel(x, *idx, out_shape);
}
template <class T>
Variable<T> gather_map(const Variable<T>& x, const IndexList& idx, const Shape& out_shape);
template <class T>
Tensor<T> scatter_map(const Tensor<T>& g, const IndexList& idx, const Shape& in_shape) {
    return scatter_kernel(g, *idx, in_shape);
}
template <class T>
Variable<T> scatter_map(const Variable<T>& g, const IndexList& idx, const Shape& in_shape);

/// y = x at the kept positions (max pooling).   dx = pool_scatter(g)
template <class T>
struct PoolGatherOp final : Op<PoolGatherOp<T>, T, 1> {
    PoolGatherOp(IndexList idx, std::string info) : idx(std::move(idx)), info(std::move(info)) {}
    const char* op_name() const noexcept override { return "max_pool2d"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = scatter_map(a.g, idx, a.x(0).shape()); }
    std::string describe() const override { return info; }
    void release_saved() noexcept { idx.reset(); }
    IndexList idx;
    std::string info;
};

/// y = zeros of x's shape with g added at the kept positions.   dg = h at those positions
template <class T>
struct PoolScatterOp final : Op<PoolScatterOp<T>, T, 1> {
    explicit PoolScatterOp(IndexList idx) : idx(std::move(idx)) {}
    const char* op_name() const noexcept override { return "pool_scatter"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = gather_map(a.g, idx, a.x(0).shape()); }
    void release_saved() noexcept { idx.reset(); }
    IndexList idx;
};

template <class T>
Variable<T> gather_map(const Variable<T>& x, const IndexList& idx, const Shape& out_shape) {
    return record<PoolGatherOp<T>>(gather_kernel(x.value(), *idx, out_shape), {&x}, idx, std::string("gather"));
}
template <class T>
Variable<T> scatter_map(const Variable<T>& g, const IndexList& idx, const Shape& in_shape) {
    return record<PoolScatterOp<T>>(scatter_kernel(g.value(), *idx, in_shape), {&g}, idx);
}

// ---------------------------------------------------------------- average pooling

/// The window of output (oh, ow) clipped to the image, and its divisor.
struct Window {
    size_t h0, h1, w0, w1;
    size_t divisor;
};
Window window_at(const PoolGeom& g, size_t oh, size_t ow) {
    const ptrdiff_t hs = ptrdiff_t(oh * g.sh) - ptrdiff_t(g.ph), ws = ptrdiff_t(ow * g.sw) - ptrdiff_t(g.pw);
    const size_t h0 = size_t(std::max<ptrdiff_t>(hs, 0)), w0 = size_t(std::max<ptrdiff_t>(ws, 0));
    const size_t h1 = size_t(std::min<ptrdiff_t>(hs + ptrdiff_t(g.kh), ptrdiff_t(g.h)));
    const size_t w1 = size_t(std::min<ptrdiff_t>(ws + ptrdiff_t(g.kw), ptrdiff_t(g.w)));
    const size_t div = g.count_include_pad ? g.kh * g.kw : (h1 - h0) * (w1 - w0);
    return {h0, h1, w0, w1, div};
}

template <class T>
Tensor<T> avg_pool_forward(const Tensor<T>& x, const PoolGeom& g) {
    Tensor<T> y = Tensor<T>::from_shape(g.output_shape());
    const size_t HW = g.h * g.w, OHW = g.oh * g.ow;
    for (size_t nc = 0; nc < g.n * g.c; ++nc) {
        const T* plane = x.data() + nc * HW;
        T* out = y.data() + nc * OHW;
        for (size_t oh = 0; oh < g.oh; ++oh)
            for (size_t ow = 0; ow < g.ow; ++ow) {
                const Window win = window_at(g, oh, ow);
                T s = 0;
                for (size_t ih = win.h0; ih < win.h1; ++ih)
                    for (size_t iw = win.w0; iw < win.w1; ++iw) s += plane[ih * g.w + iw];
                out[oh * g.ow + ow] = s / T(win.divisor);
            }
    }
    return y;
}

template <class T>
Tensor<T> avg_pool_adjoint(const Tensor<T>& gy, const PoolGeom& g) {
    Tensor<T> dx = Tensor<T>::from_shape(g.input_shape());
    std::fill(dx.data(), dx.data() + dx.size(), T(0));
    const size_t HW = g.h * g.w, OHW = g.oh * g.ow;
    for (size_t nc = 0; nc < g.n * g.c; ++nc) {
        T* plane = dx.data() + nc * HW;
        const T* in = gy.data() + nc * OHW;
        for (size_t oh = 0; oh < g.oh; ++oh)
            for (size_t ow = 0; ow < g.ow; ++ow) {
                const Window win = window_at(g, oh, ow);
                const T v = in[oh * g.ow + ow] / T(win.divisor);
                for (size_t ih = win.h0; ih < win.h1; ++ih)
                    for (size_t iw = win.w0; iw < win.w1; ++iw) plane[ih * g.w + iw] += v;
            }
    }
    return dx;
}

template <class T>
Tensor<T> avg_map(const Tensor<T>& x, const PoolGeom& g) { return avg_pool_forward(x, g); }
template <class T>
Variable<T> avg_map(const Variable<T>& x, const PoolGeom& g);
template <class T>
Tensor<T> avg_adjoint_map(const Tensor<T>& gy, const PoolGeom& g) { return avg_pool_adjoint(gy, g); }
template <class T>
Variable<T> avg_adjoint_map(const Variable<T>& gy, const PoolGeom& g);

/// y = window means of x.   dx = avg_pool2d_adjoint(g)
template <class T>
struct AvgPoolOp final : Op<AvgPoolOp<T>, T, 1> {
    explicit AvgPoolOp(const PoolGeom& g) : geom(g) {}
    const char* op_name() const noexcept override { return "avg_pool2d"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = avg_adjoint_map(a.g, geom); }
    std::string describe() const override { return geom.describe(); }
    PoolGeom geom;
};

/// y = g spread evenly over each window (the transpose of avg_pool2d).   dg = avg_pool2d(h)
template <class T>
struct AvgPoolAdjointOp final : Op<AvgPoolAdjointOp<T>, T, 1> {
    explicit AvgPoolAdjointOp(const PoolGeom& g) : geom(g) {}
    const char* op_name() const noexcept override { return "avg_pool2d_adjoint"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = avg_map(a.g, geom); }
    std::string describe() const override { return geom.describe(); }
    PoolGeom geom;
};

template <class T>
Variable<T> avg_map(const Variable<T>& x, const PoolGeom& g) {
    return record<AvgPoolOp<T>>(avg_pool_forward(x.value(), g), {&x}, g);
}
template <class T>
Variable<T> avg_adjoint_map(const Variable<T>& gy, const PoolGeom& g) {
    return record<AvgPoolAdjointOp<T>>(avg_pool_adjoint(gy.value(), g), {&gy}, g);
}

void check_grad_shape(const char* fn, const char* what, const Shape& got, const Shape& expected) {
    if (got != expected)
        throw Error(fmt::format("{}: {} has shape {}, expected {}", fn, what, shape_string(got),
                                shape_string(expected)));
}

}  // namespace

// ---------------------------------------------------------------- public functions

template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Conv2dOptions& options) {
    const ConvGeom g = check_conv("conv2d", x.shape(), weight.shape(), options);
    return naming_allocation_failures("conv2d", [&] { return conv_map(x, weight, g); });
}

template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                   const Conv2dOptions& options) {
    const ConvGeom g = check_conv("conv2d", x.shape(), weight.shape(), options);
    if (bias.dim() != 1 || bias.shape()[0] != g.o)
        throw Error(fmt::format("conv2d: bias of shape {} does not match weight {}: expected ({},)",
                                shape_string(bias.shape()), shape_string(weight.shape()), g.o));
    return naming_allocation_failures("conv2d", [&] {
        return record<Conv2dOp<T, 3>>(conv_forward(x.value(), weight.value(), &bias.value(), g), {&x, &weight, &bias},
                                      g);
    });
}

template <class T>
Variable<T> max_pool2d(const Variable<T>& x, const Pool2dOptions& options) {
    const PoolGeom g = check_pool("max_pool2d", x.shape(), options, true);
    if (x.size() > std::numeric_limits<Index>::max())
        throw Error(fmt::format("max_pool2d: input {} has more than 2^32 elements", shape_string(x.shape())));
    auto idx = std::make_shared<IndexVector>();
    Tensor<T> y = max_pool_forward(x.value(), g, *idx);
    return record<PoolGatherOp<T>>(std::move(y), {&x}, IndexList(std::move(idx)), g.describe());
}

template <class T>
Variable<T> avg_pool2d(const Variable<T>& x, const Pool2dOptions& options) {
    const PoolGeom g = check_pool("avg_pool2d", x.shape(), options, false);
    return avg_map(x, g);
}

template <class T>
Variable<T> lp_pool2d(const Variable<T>& x, double p, const Pool2dOptions& options) {
    if (!(p > 0) || !std::isfinite(p)) throw Error(fmt::format("lp_pool2d: p must be positive and finite, got {}", p));
    Pool2dOptions sum_options = options;
    sum_options.count_include_pad(true);
    const PoolGeom g = check_pool("lp_pool2d", x.shape(), sum_options, false);
    const Variable<T> powered = p == 1 ? x : pow(x, T(p));
    Variable<T> sums = mul(avg_map(powered, g), T(g.kh * g.kw));
    // As PyTorch: no gradient through a window whose sum is exactly 0, where the root's derivative
    // is infinite (its inf would meet p x^(p-1) = 0 and give NaN).
    const Mask nonzero = xt::not_equal(sums.value(), T(0));
    if (!xt::all(nonzero)) sums = tapegrad::where(nonzero, sums, T(0));
    return p == 1 ? sums : pow(sums, T(1.0 / p));
}

namespace detail {
template <class T>
Variable<T> conv2d_input_grad(const Variable<T>& g, const Variable<T>& weight, const Shape& input_shape,
                              const Conv2dOptions& options) {
    const ConvGeom geom = check_conv("conv2d_input_grad", input_shape, weight.shape(), options);
    check_grad_shape("conv2d_input_grad", "the output gradient", g.shape(), geom.output_shape());
    return input_grad_map(g, weight, geom);
}
template <class T>
Variable<T> conv2d_weight_grad(const Variable<T>& x, const Variable<T>& g, const Shape& weight_shape,
                               const Conv2dOptions& options) {
    const ConvGeom geom = check_conv("conv2d_weight_grad", x.shape(), weight_shape, options);
    check_grad_shape("conv2d_weight_grad", "the output gradient", g.shape(), geom.output_shape());
    return weight_grad_map(x, g, geom);
}
}  // namespace detail

#define TAPEGRAD_INSTANTIATE(T)                                                                                   \
    template Variable<T> conv2d(const Variable<T>&, const Variable<T>&, const Conv2dOptions&);                    \
    template Variable<T> conv2d(const Variable<T>&, const Variable<T>&, const Variable<T>&, const Conv2dOptions&); \
    template Variable<T> max_pool2d(const Variable<T>&, const Pool2dOptions&);                                    \
    template Variable<T> avg_pool2d(const Variable<T>&, const Pool2dOptions&);                                    \
    template Variable<T> lp_pool2d(const Variable<T>&, double, const Pool2dOptions&);                             \
    template Variable<T> detail::conv2d_input_grad(const Variable<T>&, const Variable<T>&, const Shape&,          \
                                                   const Conv2dOptions&);                                         \
    template Variable<T> detail::conv2d_weight_grad(const Variable<T>&, const Variable<T>&, const Shape&,         \
                                                    const Conv2dOptions&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad

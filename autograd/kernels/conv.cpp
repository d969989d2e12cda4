// Convolution kernels: geometry checks, im2col + GEMM forward, the weight and input gradients.
#include <tapegrad/autograd/kernels/conv.hpp>

#include <algorithm>
#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/kernels/detail/im2col.hpp>
#include <tapegrad/autograd/kernels/detail/window.hpp>

namespace tapegrad::kernels {

std::string ConvGeom::describe() const {
    return fmt::format("stride=({},{}), padding=({},{}), dilation=({},{}), groups={}", sh, sw, ph, pw, dh, dw, groups);
}

namespace {
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
        throw Error(
            fmt::format("{}: dilation must be at least 1, got ({},{})", fn, opt.dilation().h, opt.dilation().w));
    if (opt.groups() == 0) throw Error(fmt::format("{}: groups must be at least 1, got 0", fn));
}

}  // namespace

void check_output_grad(const char* fn, const Shape& got, const Shape& expected) {
    if (got != expected)
        throw Error(fmt::format("{}: the output gradient has shape {}, expected {}", fn, shape_string(got),
                                shape_string(expected)));
}

ConvGeom check_conv(const char* fn, const Shape& x, const Shape& w, const Conv2dOptions& opt) {
    check_options(fn, opt);
    if (w.size() != 4 || w[0] == 0 || w[1] == 0 || w[2] == 0 || w[3] == 0)
        throw Error(
            fmt::format("{}: weight must be (out_channels, in_channels/groups, KH, KW) with no empty "
                        "dimension, got {}",
                        fn, shape_string(w)));
    const size_t groups = opt.groups();
    if (w[0] % groups != 0)
        throw Error(fmt::format("{}: {} output channels (weight {}) do not divide into {} groups", fn, w[0],
                                shape_string(w), groups));
    if (x.size() != 4 || x[1] != w[1] * groups)
        throw Error(fmt::format("{}: expected input (N,{},H,W) for weight {} and groups={}, got {}", fn, w[1] * groups,
                                shape_string(w), groups, shape_string(x)));
    ConvGeom g = make_geom(fn, x, w, opt);
    if (g.oh == 0 || g.ow == 0)
        throw Error(fmt::format("{}: input {} with padding ({},{}) is smaller than the dilated kernel ({},{})", fn,
                                shape_string(x), g.ph, g.pw, g.dh * (g.kh - 1) + 1, g.dw * (g.kw - 1) + 1));
    shape_size(g.output_shape(), fn);
    if (!g.pointwise()) shape_size(Shape{g.k(), g.p()}, fn);  // the column buffer
    return g;
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
            gemm(false, false, g.og, P, K, T(1), w.data() + gi * g.og * K, K, cols, P, b ? T(1) : T(0), out, P);
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
            gemm(false, true, g.og, K, P, T(1), gy.data() + (n * g.o + gi * g.og) * P, P, cols, P, T(1),
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
            gemm(true, false, K, P, g.og, T(1), w.data() + gi * g.og * K, K, gy.data() + (n * g.o + gi * g.og) * P, P,
                 T(0), cols, P);
            if (!g.pointwise()) col2im(col.data(), P, dst, g);
        }
    return dx;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                             \
    template Tensor<T> conv_forward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>*, const ConvGeom&); \
    template Tensor<T> conv_weight_grad(const Tensor<T>&, const Tensor<T>&, const ConvGeom&);               \
    template Tensor<T> conv_input_grad(const Tensor<T>&, const Tensor<T>&, const ConvGeom&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

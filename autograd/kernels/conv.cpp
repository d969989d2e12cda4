// Convolution kernels: geometry checks, im2col + GEMM forward, the weight and input gradients.
#include <tapegrad/autograd/kernels/conv.hpp>

#include <algorithm>
#include <type_traits>
#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/kernels/activation.hpp>
#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/kernels/detail/conv_onednn.hpp>
#include <tapegrad/autograd/kernels/detail/im2col.hpp>
#include <tapegrad/autograd/kernels/detail/window.hpp>
#include <tapegrad/autograd/detail/parallel.hpp>

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
// buffer was slower (it spills the cache). With several threads (set_num_threads), each takes a
// contiguous block of images and a column buffer of its own.

namespace {

/// One image's and group's forward product into the image's output y_image (rows first set to the bias, if any). With
/// `wb` (the weights with the bias as an extra column, rows K + 1 apart) the column buffer's last row holds ones, so
/// the GEMM adds the bias itself and y is written once.
template <class T>
void forward_image(const T* x, const T* w, const T* b, const T* wb, T* y_image, T* col, size_t n, size_t gi,
                   const ConvGeom& g, bool relu) {
    const size_t K = g.k(), P = g.p();
    const T* src = x + (n * g.c + gi * g.cg) * g.h * g.w;
    T* out = y_image + gi * g.og * P;
    if (wb) {
        im2col(src, col, P, g);
        gemm(false, false, g.og, P, K + 1, T(1), wb + gi * g.og * (K + 1), K + 1, col, P, T(0), out, P);
        if (relu) relu_inplace(out, g.og * P);
        return;
    }
    const T* cols = src;  // a pointwise convolution's input is its own column buffer
    if (!g.pointwise()) {
        im2col(src, col, P, g);
        cols = col;
    }
    if (b)  // rows start as the bias, and GEMM adds the product onto them
        for (size_t oc = 0; oc < g.og; ++oc) std::fill(out + oc * P, out + (oc + 1) * P, b[gi * g.og + oc]);
    gemm(false, false, g.og, P, K, T(1), w + gi * g.og * K, K, cols, P, b ? T(1) : T(0), out, P);
    if (relu) relu_inplace(out, g.og * P);
}

/// Multiply-adds of one image's products (the work estimate parallel_for weighs).
size_t image_work(const ConvGeom& g) { return g.groups * g.og * g.k() * g.p(); }

/// The weight gradient sums over images in this many fixed blocks (partial sums added in block order), so
/// that two threads can share the batch and get the bits one thread gets. Shape-only: never the thread count.
size_t weight_blocks(const ConvGeom& g) {
    const size_t size = g.o * g.k();
    return size <= (size_t(1) << 20) ? std::min<size_t>(g.n, 4) : 1;
}

}  // namespace

namespace {

/// With a bias (and a column buffer anyway), the bias rides in the GEMM as a column of the weights against a
/// row of ones, rather than a pass that fills y with it before the GEMM adds onto y: the weights with that
/// column (O, K + 1), or an empty tensor where there is no bias to fold.
template <class T>
Tensor<T> folded_weights(const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g) {
    Tensor<T> wb;
    if (!b || g.pointwise()) return wb;
    const size_t K = g.k();
    wb = Tensor<T>::from_shape({g.o, K + 1});
    for (size_t oc = 0; oc < g.o; ++oc) {
        std::copy(w.data() + oc * K, w.data() + (oc + 1) * K, wb.data() + oc * (K + 1));
        wb.data()[oc * (K + 1) + K] = b->data()[oc];
    }
    return wb;
}

/// A thread's column buffer (with the row of ones where the bias is folded), or an empty one (pointwise).
template <class T>
Tensor<T> column_buffer(const ConvGeom& g, bool fold) {
    Tensor<T> col;
    if (g.pointwise()) return col;
    const size_t K = g.k(), P = g.p();
    col = Tensor<T>::from_shape({K + (fold ? 1 : 0), P});
    if (fold) std::fill(col.data() + K * P, col.data() + (K + 1) * P, T(1));
    return col;
}

}  // namespace

/// y = conv(x, w) (+ b): per image and group, y_g (og, P) = W_g (og, K) @ col (K, P).
template <class T>
Tensor<T> im2col_conv_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g,
                              bool relu) {
    Tensor<T> y = Tensor<T>::from_shape(g.output_shape());
    const Tensor<T> wb = folded_weights(w, b, g);
    const bool fold = b && !g.pointwise();  // as folded_weights decides
    detail::parallel_for(g.n, image_work(g), [&](size_t n0, size_t n1) {
        Tensor<T> col = column_buffer<T>(g, fold);
        for (size_t n = n0; n < n1; ++n)
            for (size_t gi = 0; gi < g.groups; ++gi)
                forward_image(x.data(), w.data(), b ? b->data() : nullptr, fold ? wb.data() : nullptr,
                              y.data() + n * g.o * g.p(), col.data(), n, gi, g, relu);
    });
    return y;
}

/// max_pool(relu(conv(x, w) (+ b))): each image's activation goes to a buffer of the thread's own, is rectified
/// and pooled while it is in cache, and only the pooled values and their positions are written out.
template <class T>
Tensor<T> im2col_conv_relu_max_pool(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g,
                                    const PoolGeom& pg, PoolIndices& idx) {
    check_max_pool_windows(pg);
    Tensor<T> y = Tensor<T>::from_shape(pg.output_shape());
    idx.resize(y.size());
    const Tensor<T> wb = folded_weights(w, b, g);
    const bool fold = b && !g.pointwise();  // as folded_weights decides
    detail::parallel_for(g.n, image_work(g), [&](size_t n0, size_t n1) {
        Tensor<T> col = column_buffer<T>(g, fold);
        Tensor<T> act = Tensor<T>::from_shape({g.o, g.p()});
        for (size_t n = n0; n < n1; ++n) {
            for (size_t gi = 0; gi < g.groups; ++gi)
                forward_image(x.data(), w.data(), b ? b->data() : nullptr, fold ? wb.data() : nullptr, act.data(),
                              col.data(), n, gi, g, true);
            max_pool_planes(act.data(), y.data(), idx.data(), pg, n * g.o, (n + 1) * g.o);
        }
    });
    return y;
}

namespace {

/// Where weight_grad reads each image's rows of dL/dy: gy itself; or gy masked in place by relu's VJP from
/// relu_y (conv_relu_backward); or, with `pooled`, zeros with the pooled gradients added at their positions
/// idx, per_image of them for each image (conv_relu_max_pool_backward), in a buffer that stays in cache.
template <class T>
struct GyRows {
    const T* gy = nullptr;
    const T* relu_y = nullptr;
    const T* pooled = nullptr;
    const PoolIndex* idx = nullptr;
    size_t per_image = 0;
};

/// dW = sum over images of g_g (og, P) @ col^T (P, K), in weight_blocks(g) partial sums, as (O, K). With
/// `bias` (not for pointwise convolutions, which have no column buffer) the column buffer has a last row
/// of ones, so the result is (O, K + 1) and its last column the bias gradient, from the same GEMM.
///
/// `rows` says where each image's rows of dL/dy come from, just before its GEMM reads them (see GyRows).
template <class T>
Tensor<T> weight_grad(const Tensor<T>& x, const GyRows<T>& rows, const ConvGeom& g, bool bias) {
    const size_t K = g.k(), KB = K + (bias ? 1 : 0), P = g.p(), HW = g.h * g.w, blocks = weight_blocks(g);
    const size_t size = g.o * KB, image = g.o * P;
    Tensor<T> dw = Tensor<T>::from_shape({g.o, KB});
    Tensor<T> partial;  // blocks 1.. (block 0 sums into dw)
    if (blocks > 1) partial = Tensor<T>::from_shape({blocks - 1, size});
    detail::parallel_for(blocks, g.n / blocks * image_work(g), [&](size_t b0, size_t b1) {
        Tensor<T> col;
        if (!g.pointwise()) col = Tensor<T>::from_shape({KB, P});
        if (bias) std::fill(col.data() + K * P, col.data() + KB * P, T(1));
        Tensor<T> scattered;  // one image's dL/dy, added back at the maxima of a max pooling
        if (rows.pooled) scattered = Tensor<T>::from_shape({image});
        for (size_t blk = b0; blk < b1; ++blk) {
            T* acc = blk == 0 ? dw.data() : partial.data() + (blk - 1) * size;
            std::fill(acc, acc + size, T(0));
            for (size_t n = g.n * blk / blocks; n < g.n * (blk + 1) / blocks; ++n) {
                const T* gy = rows.gy + n * image;
                if (rows.relu_y)  // gy is the caller's own, to overwrite (conv_relu_backward)
                    relu_mask_inplace(const_cast<T*>(gy), rows.relu_y + n * image, image);
                if (rows.pooled) {
                    T* s = scattered.data();
                    std::fill(s, s + image, T(0));
                    const size_t base = n * image;
                    for (size_t i = n * rows.per_image; i < (n + 1) * rows.per_image; ++i)
                        s[rows.idx[i] - base] += rows.pooled[i];
                    gy = s;
                }
                for (size_t gi = 0; gi < g.groups; ++gi) {
                    const T* src = x.data() + (n * g.c + gi * g.cg) * HW;
                    const T* cols = src;
                    if (!g.pointwise()) {
                        im2col(src, col.data(), P, g);
                        cols = col.data();
                    }
                    gemm(false, true, g.og, KB, P, T(1), gy + gi * g.og * P, P, cols, P, T(1), acc + gi * g.og * KB,
                         KB);
                }
            }
        }
    });
    T* out = dw.data();
    for (size_t blk = 1; blk < blocks; ++blk) {
        const T* add = partial.data() + (blk - 1) * size;
        for (size_t i = 0; i < size; ++i) out[i] += add[i];
    }
    return dw;
}

/// dW and db from one im2col pass and GEMM per image (see weight_grad).
template <class T>
void im2col_conv_weight_bias_grad(const Tensor<T>& x, const GyRows<T>& rows, const ConvGeom& g, Tensor<T>& dw,
                                  Tensor<T>& db) {
    const size_t K = g.k();
    const Tensor<T> both = weight_grad(x, rows, g, true);
    dw = Tensor<T>::from_shape(g.weight_shape());
    db = Tensor<T>::from_shape({g.o});
    for (size_t oc = 0; oc < g.o; ++oc) {
        std::copy(both.data() + oc * (K + 1), both.data() + oc * (K + 1) + K, dw.data() + oc * K);
        db.data()[oc] = both.data()[oc * (K + 1) + K];
    }
}

}  // namespace

template <class T>
bool im2col_conv_relu_max_pool_weight_grad(const Tensor<T>& x, const Tensor<T>& gy, const PoolIndices& idx,
                                           const ConvGeom& g, Tensor<T>* dw, Tensor<T>* db) {
    if (!dw || (db && g.pointwise())) return false;  // a pointwise convolution has no column buffer for db's row
    const GyRows<T> rows{nullptr, nullptr, gy.data(), idx.data(), gy.size() / g.n};
    if (db) {
        im2col_conv_weight_bias_grad(x, rows, g, *dw, *db);
    } else {
        *dw = weight_grad(x, rows, g, false);
        dw->reshape(g.weight_shape());
    }
    return true;
}

template <class T>
Tensor<T> im2col_conv_weight_grad(const Tensor<T>& x, const Tensor<T>& gy, const ConvGeom& g) {
    Tensor<T> dw = weight_grad(x, GyRows<T>{gy.data()}, g, false);
    dw.reshape(g.weight_shape());
    return dw;
}

/// dx = col2im(W_g^T (K, og) @ g_g (og, P)) per image and group.
template <class T>
Tensor<T> im2col_conv_input_grad(const Tensor<T>& gy, const Tensor<T>& w, const ConvGeom& g) {
    Tensor<T> dx = Tensor<T>::from_shape(g.input_shape());
    const size_t K = g.k(), P = g.p(), HW = g.h * g.w;
    detail::parallel_for(g.n, image_work(g), [&](size_t n0, size_t n1) {
        Tensor<T> col;
        if (!g.pointwise()) {
            col = Tensor<T>::from_shape({K, P});
            std::fill(dx.data() + n0 * g.c * HW, dx.data() + n1 * g.c * HW, T(0));
        }
        for (size_t n = n0; n < n1; ++n)
            for (size_t gi = 0; gi < g.groups; ++gi) {
                T* dst = dx.data() + (n * g.c + gi * g.cg) * HW;
                T* cols = g.pointwise() ? dst : col.data();  // pointwise: the GEMM writes dx directly
                gemm(true, false, K, P, g.og, T(1), w.data() + gi * g.og * K, K, gy.data() + (n * g.o + gi * g.og) * P,
                     P, T(0), cols, P);
                if (!g.pointwise()) col2im(col.data(), P, dst, g);
            }
    });
    return dx;
}

// ---------------------------------------------------------------- the choice

// Float goes to oneDNN when it is faster for the shape (onednn_preferred) and accepts it; double (which
// oneDNN 2.6 lacks) and everything oneDNN refuses run im2col + GEMM.

template <class T>
Tensor<T> conv_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g, bool relu) {
    if constexpr (std::is_same_v<T, float>) {
        if (onednn_preferred(g)) {
            Tensor<T> y = Tensor<T>::from_shape(g.output_shape());
            if (onednn_conv_forward(x.data(), w.data(), b ? b->data() : nullptr, y.data(), g)) {
                if (relu) relu_inplace(y.data(), y.size());  // tapegrad's own: relu()'s -0 and NaN, exactly
                return y;
            }
        }
    }
    return im2col_conv_forward(x, w, b, g, relu);
}

template <class T>
Tensor<T> conv_weight_grad(const Tensor<T>& x, const Tensor<T>& gy, const ConvGeom& g) {
    if constexpr (std::is_same_v<T, float>) {
        if (onednn_preferred(g)) {
            Tensor<T> dw = Tensor<T>::from_shape(g.weight_shape());
            if (onednn_conv_weight_grad(x.data(), gy.data(), dw.data(), g)) return dw;
        }
    }
    return im2col_conv_weight_grad(x, gy, g);
}

template <class T>
Tensor<T> conv_input_grad(const Tensor<T>& gy, const Tensor<T>& w, const ConvGeom& g) {
    if constexpr (std::is_same_v<T, float>) {
        if (onednn_preferred(g)) {
            Tensor<T> dx = Tensor<T>::from_shape(g.input_shape());
            if (onednn_conv_input_grad(gy.data(), w.data(), dx.data(), g)) return dx;
        }
    }
    return im2col_conv_input_grad(gy, w, g);
}

/// db: per output channel, the sum over images of each plane's row sum (contiguous, vectorised).
template <class T>
Tensor<T> conv_bias_grad(const Tensor<T>& gy, const ConvGeom& g) {
    Tensor<T> db = Tensor<T>::from_shape({g.o});
    const size_t P = g.p();
    for (size_t oc = 0; oc < g.o; ++oc) {
        T s = 0;
        for (size_t n = 0; n < g.n; ++n) {
            const T* row = gy.data() + (n * g.o + oc) * P;
            T r = 0;
#pragma omp simd reduction(+ : r)
            for (size_t i = 0; i < P; ++i) r += row[i];
            s += r;
        }
        db.data()[oc] = s;
    }
    return db;
}

template <class T>
void conv_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& gy, const ConvGeom& g, Tensor<T>* dx,
                   Tensor<T>* dw, Tensor<T>* db) {
    if constexpr (std::is_same_v<T, float>) {
        if (onednn_preferred(g) && (dx || dw)) {
            Tensor<T> gx, gw, gb;
            if (dx) gx = Tensor<T>::from_shape(g.input_shape());
            if (dw) gw = Tensor<T>::from_shape(g.weight_shape());
            if (dw && db) gb = Tensor<T>::from_shape({g.o});
            if (onednn_conv_backward(x.data(), w.data(), gy.data(), dx ? gx.data() : nullptr, dw ? gw.data() : nullptr,
                                     dw && db ? gb.data() : nullptr, g)) {
                if (dx) *dx = std::move(gx);
                if (dw) *dw = std::move(gw);
                if (db) *db = dw ? std::move(gb) : conv_bias_grad(gy, g);
                return;
            }
        }
    }
    if (dx) *dx = conv_input_grad(gy, w, g);
    // On im2col the bias gradient comes out of the weight gradient's GEMM (a row of ones in the column
    // buffer). Where oneDNN is preferred but refused the fused call, each gradient tries it on its own.
    const bool onednn_shape = std::is_same_v<T, float> && onednn_preferred(g);
    if (dw && db && !g.pointwise() && !onednn_shape) {
        im2col_conv_weight_bias_grad(x, GyRows<T>{gy.data()}, g, *dw, *db);
        return;
    }
    if (dw) *dw = conv_weight_grad(x, gy, g);
    if (db) *db = conv_bias_grad(gy, g);
}

template <class T>
void conv_relu_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& y, Tensor<T>& gy, const ConvGeom& g,
                        Tensor<T>* dx, Tensor<T>* dw, Tensor<T>* db) {
    check_output_grad("conv2d_relu", y.shape(), g.output_shape());
    check_output_grad("conv2d_relu", gy.shape(), g.output_shape());
    // im2col's weight gradient alone (a first layer: no dx) masks each image's rows just before its GEMM
    const bool onednn_shape = std::is_same_v<T, float> && onednn_preferred(g);
    if (!dx && dw && db && !g.pointwise() && !onednn_shape) {
        im2col_conv_weight_bias_grad(x, GyRows<T>{gy.data(), y.data()}, g, *dw, *db);
        return;
    }
    relu_mask_inplace(gy.data(), y.data(), gy.size());
    conv_backward(x, w, gy, g, dx, dw, db);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                                    \
    template Tensor<T> conv_forward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>*, const ConvGeom&, bool);  \
    template void conv_relu_backward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, Tensor<T>&,             \
                                     const ConvGeom&, Tensor<T>*, Tensor<T>*, Tensor<T>*);                         \
    template Tensor<T> conv_weight_grad(const Tensor<T>&, const Tensor<T>&, const ConvGeom&);                      \
    template Tensor<T> conv_input_grad(const Tensor<T>&, const Tensor<T>&, const ConvGeom&);                       \
    template Tensor<T> conv_bias_grad(const Tensor<T>&, const ConvGeom&);                                          \
    template void conv_backward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, const ConvGeom&, Tensor<T>*, \
                                Tensor<T>*, Tensor<T>*);                                                           \
    template Tensor<T> im2col_conv_forward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>*, const ConvGeom&,  \
                                           bool);                                                                  \
    template Tensor<T> im2col_conv_weight_grad(const Tensor<T>&, const Tensor<T>&, const ConvGeom&);               \
    template Tensor<T> im2col_conv_relu_max_pool(const Tensor<T>&, const Tensor<T>&, const Tensor<T>*,             \
                                                 const ConvGeom&, const PoolGeom&, PoolIndices&);                  \
    template bool im2col_conv_relu_max_pool_weight_grad(const Tensor<T>&, const Tensor<T>&, const PoolIndices&,    \
                                                        const ConvGeom&, Tensor<T>*, Tensor<T>*);                  \
    template Tensor<T> im2col_conv_input_grad(const Tensor<T>&, const Tensor<T>&, const ConvGeom&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

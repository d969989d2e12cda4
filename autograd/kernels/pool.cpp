// Pooling kernels: geometry checks, max pooling with argmax positions, average pooling and its adjoint.
#include <tapegrad/autograd/kernels/pool.hpp>

#include <algorithm>
#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/kernels/detail/dispatch.hpp>
#include <tapegrad/autograd/kernels/detail/window.hpp>
#include <tapegrad/autograd/detail/parallel.hpp>

namespace tapegrad::kernels {

std::string PoolGeom::describe() const {
    return fmt::format("kernel=({},{}), stride=({},{}), padding=({},{}), dilation=({},{})", kh, kw, sh, sw, ph, pw, dh,
                       dw);
}

PoolGeom check_pool(const char* fn, const Shape& x, const Pool2dOptions& opt, bool dilation_allowed) {
    const Size2 k = opt.kernel_size(), s = opt.stride(), p = opt.padding(), d = opt.dilation();
    if (k.h == 0 || k.w == 0) throw Error(fmt::format("{}: kernel size must be at least 1, got ({},{})", fn, k.h, k.w));
    if (s.h == 0 || s.w == 0) throw Error(fmt::format("{}: stride must be at least 1, got ({},{})", fn, s.h, s.w));
    if (d.h == 0 || d.w == 0) throw Error(fmt::format("{}: dilation must be at least 1, got ({},{})", fn, d.h, d.w));
    if (!dilation_allowed && (d.h != 1 || d.w != 1))
        throw Error(fmt::format("{}: dilation is for max pooling only, got ({},{})", fn, d.h, d.w));
    if (p.h > k.h / 2 || p.w > k.w / 2)
        throw Error(
            fmt::format("{}: padding ({},{}) must be at most half the kernel size ({},{})", fn, p.h, p.w, k.h, k.w));
    if (x.size() != 4) throw Error(fmt::format("{}: expected input (N,C,H,W), got {}", fn, shape_string(x)));
    PoolGeom g{x[0], x[1], x[2], x[3], k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w, 0, 0, opt.count_include_pad()};
    g.oh = window_count(fn, "height", g.h, g.ph, g.kh, g.dh, g.sh);
    g.ow = window_count(fn, "width", g.w, g.pw, g.kw, g.dw, g.sw);
    if (g.oh == 0 || g.ow == 0)
        throw Error(fmt::format("{}: input {} with padding ({},{}) is smaller than the window ({},{})", fn,
                                shape_string(x), g.ph, g.pw, g.dh * (g.kh - 1) + 1, g.dw * (g.kw - 1) + 1));
    shape_size(g.output_shape(), fn);
    checked_mul(fn, "the window size kernel_h * kernel_w", g.kh, g.kw);  // the divisor of average pooling
    return g;
}

namespace {

/// The common case: 2x2 windows, stride 2, no padding, no dilation; planes [nc0, nc1), the first at src.
template <class T>
TAPEGRAD_HOT_LOOP void max_pool_2x2(const T* src, T* py, PoolIndex* pi, const PoolGeom& g, size_t nc0, size_t nc1) {
    const size_t W = g.w, HW = g.h * g.w, OW = g.ow;
    for (size_t nc = nc0; nc < nc1; ++nc) {
        const T* plane = src + (nc - nc0) * HW;
        const PoolIndex base = PoolIndex(nc * HW);
        for (size_t oh = 0; oh < g.oh; ++oh) {
            const T* r0 = plane + 2 * oh * W;
            const T* r1 = r0 + W;
            T* out = py + (nc * g.oh + oh) * OW;
            PoolIndex* where = pi + (nc * g.oh + oh) * OW;
            const PoolIndex row0 = base + PoolIndex(2 * oh * W), row1 = row0 + PoolIndex(W);
            for (size_t ow = 0; ow < OW; ++ow) {
                const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
                const PoolIndex pos[4] = {row0 + PoolIndex(2 * ow), row0 + PoolIndex(2 * ow + 1),
                                          row1 + PoolIndex(2 * ow), row1 + PoolIndex(2 * ow + 1)};
                // Branch-free (maxima are unpredictable): arithmetic selects the position.
                T best = v[0];
                PoolIndex at = pos[0];
                bool nan = v[0] != v[0];
                for (int k = 1; k < 4; ++k) {
                    const PoolIndex take = PoolIndex(v[k] > best);
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

/// An uninitialised buffer from the allocator's cache, for the duration of a scope.
template <class T>
struct Scratch {
    explicit Scratch(size_t n) : n(n), p(memory::CachingAllocator<T>().allocate(n)) {}
    ~Scratch() { memory::CachingAllocator<T>().deallocate(p, n); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    size_t n;
    T* p;
};

/// Rows of exactly two windows per pair of columns (W = 2 OW), planes [nc0, nc1) (the first at src): two passes
/// that vectorise (selects, no branches), through scratch rows v and p. First each pair of input rows to one row
/// of column maxima and their positions, then pairs of columns, over all the block's outputs as one flat loop. The
/// choice is the one max_pool_2x2 makes, the first maximum or the first NaN in window order: within a column
/// the top row comes first; between the two columns the one whose chosen position is smaller comes first.
template <class T>
TAPEGRAD_HOT_LOOP void max_pool_2x2_even(const T* src, T* py, PoolIndex* pi, const PoolGeom& g, size_t nc0,
                                         size_t nc1) {
    const size_t W = g.w, HW = g.h * g.w, OH = g.oh, OW = g.ow, rows = (nc1 - nc0) * OH;
    // Pairs of input rows in chunks whose scratch stays in the L1 cache (about 16 KB).
    const size_t chunk = std::max<size_t>(1, 2048 / W);
    Scratch<T> vbuf(std::min(chunk, rows) * W);  // not zeroed: every entry is written before it is read
    Scratch<PoolIndex> pbuf(std::min(chunk, rows) * W);
    T* __restrict v = vbuf.p;
    PoolIndex* __restrict p = pbuf.p;
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        const size_t r1 = std::min(rows, r0 + chunk);
        for (size_t r = r0; r < r1; ++r) {  // row pair r: plane nc0 + r / OH, output row r % OH
            const size_t top = (r / OH) * HW + 2 * (r % OH) * W, row = (r - r0) * W;
            const T* __restrict a0 = src + top;
            const T* __restrict a1 = a0 + W;
            const PoolIndex at = PoolIndex(nc0 * HW + top), w = PoolIndex(W);
#pragma omp simd
            for (size_t j = 0; j < W; ++j) {
                const T a = a0[j], b = a1[j];
                T best = a;
                PoolIndex pos = at + PoolIndex(j);
                if (b > a || (b != b && a == a)) best = b, pos += w;
                v[row + j] = best;
                p[row + j] = pos;
            }
        }
        T* __restrict out = py + (nc0 * OH + r0) * OW;
        PoolIndex* __restrict where = pi + (nc0 * OH + r0) * OW;
        const size_t n = (r1 - r0) * OW;
#pragma omp simd
        for (size_t j = 0; j < n; ++j) {
            const T l = v[2 * j], r = v[2 * j + 1];
            const PoolIndex pl = p[2 * j], pr = p[2 * j + 1];
            T best = l;
            PoolIndex pos = pl;
            if (r > l || (r == l && pr < pl) || (r != r && (l == l || pr < pl))) best = r, pos = pr;
            out[j] = best;
            where[j] = pos;
        }
    }
}

/// The valid taps of every output row and column; throws if a window lies entirely in the padding.
struct Windows {
    std::vector<Range> rows, cols;
    explicit Windows(const PoolGeom& g) : rows(g.oh), cols(g.ow) {
        for (size_t oh = 0; oh < g.oh; ++oh)
            rows[oh] = valid_range(ptrdiff_t(oh * g.sh) - ptrdiff_t(g.ph), g.dh, g.h, g.kh);
        for (size_t ow = 0; ow < g.ow; ++ow)
            cols[ow] = valid_range(ptrdiff_t(ow * g.sw) - ptrdiff_t(g.pw), g.dw, g.w, g.kw);
        for (size_t oh = 0; oh < g.oh; ++oh)
            for (size_t ow = 0; ow < g.ow; ++ow)
                if (rows[oh].lo == rows[oh].hi || cols[ow].lo == cols[ow].hi)
                    throw Error(fmt::format("max_pool2d: window ({},{}) of input {} lies entirely in the padding", oh,
                                            ow, shape_string(g.input_shape())));
    }
};

/// Any window: planes [nc0, nc1), the first of them at src.
template <class T>
void max_pool_any(const T* src, T* py, PoolIndex* pi, const PoolGeom& g, const Windows& win, size_t nc0, size_t nc1) {
    const size_t HW = g.h * g.w, OHW = g.oh * g.ow, W = g.w;
    for (size_t nc = nc0; nc < nc1; ++nc) {
        const T* plane = src + (nc - nc0) * HW;
        for (size_t oh = 0; oh < g.oh; ++oh) {
            const ptrdiff_t hs = ptrdiff_t(oh * g.sh) - ptrdiff_t(g.ph);
            const Range rh = win.rows[oh];
            for (size_t ow = 0; ow < g.ow; ++ow) {
                const ptrdiff_t ws = ptrdiff_t(ow * g.sw) - ptrdiff_t(g.pw);
                const Range rw = win.cols[ow];
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
                pi[nc * OHW + oh * g.ow + ow] = PoolIndex(nc * HW + at);
            }
        }
    }
}

/// 2x2 windows, stride 2, no padding, no dilation: the kernels that need no table of valid taps.
bool two_by_two(const PoolGeom& g) {
    return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1;
}

/// Planes [nc0, nc1) on one thread, the first of them at src, by the fastest kernel for the window (`win`,
/// the valid taps, only for windows other than 2x2).
template <class T>
void max_pool_block(const T* src, T* py, PoolIndex* pi, const PoolGeom& g, const Windows* win, size_t nc0, size_t nc1) {
    if (two_by_two(g)) {
        if (g.w == 2 * g.ow)
            max_pool_2x2_even(src, py, pi, g, nc0, nc1);
        else
            max_pool_2x2(src, py, pi, g, nc0, nc1);
        return;
    }
    max_pool_any(src, py, pi, g, *win, nc0, nc1);
}

}  // namespace

/// The maxima of every window, and their flat positions in x (a NaN wins, as in PyTorch).
/// Throws if a window lies entirely in the padding.
template <class T>
Tensor<T> max_pool(const Tensor<T>& x, const PoolGeom& g, PoolIndices& idx) {
    const Windows win(g);
    Tensor<T> y = Tensor<T>::from_shape(g.output_shape());
    idx.resize(y.size());
    // Planes (image, channel) are independent: threads take contiguous blocks of them.
    const size_t HW = g.h * g.w, plane_work = g.oh * g.ow * g.kh * g.kw;
    detail::parallel_for(g.n * g.c, plane_work, [&](size_t a, size_t b) {
        max_pool_block(x.data() + a * HW, y.data(), idx.data(), g, &win, a, b);
    });
    return y;
}

void check_max_pool_windows(const PoolGeom& g) { (void)Windows(g); }

template <class T>
void max_pool_planes(const T* src, T* y, PoolIndex* idx, const PoolGeom& g, size_t nc0, size_t nc1) {
    if (two_by_two(g)) return max_pool_block(src, y, idx, g, nullptr, nc0, nc1);
    const Windows win(g);
    max_pool_block(src, y, idx, g, &win, nc0, nc1);
}

template <class T>
Tensor<T> gather_at(const Tensor<T>& x, const PoolIndices& idx, const Shape& out_shape) {
    Tensor<T> y = Tensor<T>::from_shape(out_shape);
    const T* px = x.data();
    T* py = y.data();
    detail::parallel_for(idx.size(), 1, [&](size_t a, size_t b) {
        for (size_t i = a; i < b; ++i) py[i] = px[idx[i]];
    });
    return y;
}

template <class T>
Tensor<T> scatter_add_at(const Tensor<T>& g, const PoolIndices& idx, const Shape& in_shape) {
    Tensor<T> dx = Tensor<T>::from_shape(in_shape);
    T* pd = dx.data();
    const T* pg = g.data();
    // max_pool's positions for plane (image, channel) p all lie in plane p of the input, so threads may take
    // blocks of planes when both shapes are (N, C, ., .); any other index set is added on one thread.
    const bool planar = in_shape.size() == 4 && g.dimension() == 4 && g.shape()[0] == in_shape[0] &&
                        g.shape()[1] == in_shape[1] && idx.size() == g.size();
    if (!planar) {
        std::fill(pd, pd + dx.size(), T(0));
        for (size_t i = 0; i < idx.size(); ++i) pd[idx[i]] += pg[i];
        return dx;
    }
    // Each plane is zeroed just before its sums land in it (while it is in cache), not the whole of dx first.
    const size_t planes = in_shape[0] * in_shape[1], per_plane = planes ? idx.size() / planes : 0;
    const size_t plane_size = planes ? dx.size() / planes : 0;
    detail::parallel_for(planes, per_plane, [&](size_t a, size_t b) {
        for (size_t p = a; p < b; ++p) {
            std::fill(pd + p * plane_size, pd + (p + 1) * plane_size, T(0));
            for (size_t i = p * per_plane; i < (p + 1) * per_plane; ++i) pd[idx[i]] += pg[i];
        }
    });
    return dx;
}

namespace {

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

}  // namespace

template <class T>
Tensor<T> avg_pool(const Tensor<T>& x, const PoolGeom& g) {
    Tensor<T> y = Tensor<T>::from_shape(g.output_shape());
    const size_t HW = g.h * g.w, OHW = g.oh * g.ow;
    detail::parallel_for(g.n * g.c, OHW * g.kh * g.kw, [&](size_t nc0, size_t nc1) {
        for (size_t nc = nc0; nc < nc1; ++nc) {
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
    });
    return y;
}

template <class T>
Tensor<T> avg_pool_adjoint(const Tensor<T>& gy, const PoolGeom& g) {
    Tensor<T> dx = Tensor<T>::from_shape(g.input_shape());
    std::fill(dx.data(), dx.data() + dx.size(), T(0));
    const size_t HW = g.h * g.w, OHW = g.oh * g.ow;
    detail::parallel_for(g.n * g.c, OHW * g.kh * g.kw, [&](size_t nc0, size_t nc1) {
        for (size_t nc = nc0; nc < nc1; ++nc) {
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
    });
    return dx;
}

#define TAPEGRAD_INSTANTIATE(T)                                                               \
    template Tensor<T> max_pool(const Tensor<T>&, const PoolGeom&, PoolIndices&);             \
    template void max_pool_planes(const T*, T*, PoolIndex*, const PoolGeom&, size_t, size_t); \
    template Tensor<T> gather_at(const Tensor<T>&, const PoolIndices&, const Shape&);         \
    template Tensor<T> scatter_add_at(const Tensor<T>&, const PoolIndices&, const Shape&);    \
    template Tensor<T> avg_pool(const Tensor<T>&, const PoolGeom&);                           \
    template Tensor<T> avg_pool_adjoint(const Tensor<T>&, const PoolGeom&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels

// The fused LSTM cell's loops: transcendental functions through the vectorised math kernels, one row at a time.
#include <tapegrad/autograd/kernels/rnn_cell.hpp>

#include <algorithm>

#include <tapegrad/autograd/kernels/detail/dispatch.hpp>
#include <tapegrad/autograd/kernels/math.hpp>

namespace tapegrad::kernels {
namespace {

// The loops between the vectorised exp and tanh calls, cloned per x86-64 level (dispatch.hpp); the
// __restrict pointers let them vectorise. Rows of the gates are (i, f, g, o), H each; act rows
// are (i, f, g, o, tanh(c)).

/// act's first 4H per row: -(x + m) for i, f, o (ready for exp), x + m for g (ready for tanh).
template <class T>
TAPEGRAD_HOT_LOOP void lstm_pre(const T* __restrict x, const T* __restrict m, T* __restrict a, std::size_t n,
                                std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, x += 4 * h, a += 5 * h) {
        if (m) {
            for (std::size_t j = 0; j < 4 * h; ++j) a[j] = x[j] + m[j];
            m += 4 * h;
        } else {
            for (std::size_t j = 0; j < 4 * h; ++j) a[j] = x[j];
        }
        for (std::size_t j = 0; j < 2 * h; ++j) a[j] = -a[j];
        for (std::size_t j = 3 * h; j < 4 * h; ++j) a[j] = -a[j];
    }
}

/// From exp(-x) to sigmoid for i, f, o, and c = f c_prev + i g.
template <class T>
TAPEGRAD_HOT_LOOP void lstm_state(T* __restrict a, const T* __restrict cp, T* __restrict c, std::size_t n,
                                  std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, a += 5 * h, cp += h, c += h) {
        T* __restrict ai = a;
        T* __restrict af = a + h;
        T* __restrict ao = a + 3 * h;
        const T* __restrict ag = a + 2 * h;
        for (std::size_t j = 0; j < h; ++j) {
            ai[j] = T(1) / (T(1) + ai[j]);
            af[j] = T(1) / (T(1) + af[j]);
            ao[j] = T(1) / (T(1) + ao[j]);
            c[j] = af[j] * cp[j] + ai[j] * ag[j];
        }
    }
}

/// h = o tanh(c).
template <class T>
TAPEGRAD_HOT_LOOP void lstm_hidden(const T* __restrict a, T* __restrict y, std::size_t n, std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, a += 5 * h, y += h)
        for (std::size_t j = 0; j < h; ++j) y[j] = a[3 * h + j] * a[4 * h + j];
}

template <class T>
TAPEGRAD_HOT_LOOP void lstm_vjp(const T* __restrict a, const T* __restrict cp, const T* __restrict gh,
                                const T* __restrict gc, T* __restrict d, T* __restrict dcp, std::size_t n,
                                std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, a += 5 * h, cp += h, gh += h, gc += h, d += 4 * h) {
        const T* __restrict ai = a;
        const T* __restrict af = a + h;
        const T* __restrict ag = a + 2 * h;
        const T* __restrict ao = a + 3 * h;
        const T* __restrict tc = a + 4 * h;
        for (std::size_t j = 0; j < h; ++j) {
            const T dc = gc[j] + gh[j] * ao[j] * (T(1) - tc[j] * tc[j]);
            d[j] = dc * ag[j] * ai[j] * (T(1) - ai[j]);
            d[h + j] = dc * cp[j] * af[j] * (T(1) - af[j]);
            d[2 * h + j] = dc * ai[j] * (T(1) - ag[j] * ag[j]);
            d[3 * h + j] = gh[j] * tc[j] * ao[j] * (T(1) - ao[j]);
        }
        if (dcp) {
            for (std::size_t j = 0; j < h; ++j) dcp[j] = (gc[j] + gh[j] * ao[j] * (T(1) - tc[j] * tc[j])) * af[j];
            dcp += h;
        }
    }
}

/// act rows (r, z, n): -(x + m) for r and z (ready for exp).
template <class T>
TAPEGRAD_HOT_LOOP void gru_pre(const T* __restrict x, const T* __restrict m, T* __restrict a, std::size_t n,
                               std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, x += 3 * h, m += 3 * h, a += 3 * h)
        for (std::size_t j = 0; j < 2 * h; ++j) a[j] = -(x[j] + m[j]);
}

/// r and z from exp(-x) to sigmoid, and n's argument xn + r hn.
template <class T>
TAPEGRAD_HOT_LOOP void gru_mid(const T* __restrict x, const T* __restrict m, T* __restrict a, std::size_t n,
                               std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, x += 3 * h, m += 3 * h, a += 3 * h) {
        for (std::size_t j = 0; j < 2 * h; ++j) a[j] = T(1) / (T(1) + a[j]);
        for (std::size_t j = 0; j < h; ++j) a[2 * h + j] = x[2 * h + j] + a[j] * m[2 * h + j];
    }
}

/// h' = n + z (h - n).
template <class T>
TAPEGRAD_HOT_LOOP void gru_out(const T* __restrict a, const T* __restrict hv, T* __restrict y, std::size_t n,
                               std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, a += 3 * h, hv += h, y += h)
        for (std::size_t j = 0; j < h; ++j) y[j] = a[2 * h + j] + a[h + j] * (hv[j] - a[2 * h + j]);
}

/// d (r, z, n) of the input's projection; dhg the same with dn r for n; dh = g z.
template <class T>
TAPEGRAD_HOT_LOOP void gru_vjp(const T* __restrict a, const T* __restrict m, const T* __restrict hv,
                               const T* __restrict g, T* __restrict d, T* __restrict dm, T* __restrict dh,
                               std::size_t n, std::size_t h) {
    for (std::size_t r = 0; r < n; ++r, a += 3 * h, m += 3 * h, hv += h, g += h, d += 3 * h) {
        const T* __restrict ar = a;
        const T* __restrict az = a + h;
        const T* __restrict an = a + 2 * h;
        for (std::size_t j = 0; j < h; ++j) {
            const T dn = g[j] * (T(1) - az[j]) * (T(1) - an[j] * an[j]);
            d[j] = dn * m[2 * h + j] * ar[j] * (T(1) - ar[j]);
            d[h + j] = g[j] * (hv[j] - an[j]) * az[j] * (T(1) - az[j]);
            d[2 * h + j] = dn;
        }
        if (dm) {
            for (std::size_t j = 0; j < 2 * h; ++j) dm[j] = d[j];
            for (std::size_t j = 0; j < h; ++j) dm[2 * h + j] = d[2 * h + j] * ar[j];
            dm += 3 * h;
        }
        if (dh) {
            for (std::size_t j = 0; j < h; ++j) dh[j] = g[j] * az[j];
            dh += h;
        }
    }
}

}  // namespace

template <class T>
Tensor<T> lstm_cell_forward(const Tensor<T>& gates, const Tensor<T>* more, const Tensor<T>& c_prev, Tensor<T>* act) {
    const std::size_t n = c_prev.shape()[0], h = c_prev.shape()[1];
    Tensor<T> y = Tensor<T>::from_shape({2, n, h});
    Tensor<T> local;
    if (!act) act = &local;
    *act = Tensor<T>::from_shape({n, 5 * h});
    T* a = act->data();
    lstm_pre(gates.data(), more ? more->data() : (const T*)nullptr, a, n, h);
    // sigmoid(x) = 1 / (1 + exp(-x)): exp(-x) overflows to inf for very negative x, giving exactly
    // 0, and never loses precision to cancellation.
    for (std::size_t r = 0; r < n; ++r) {
        T* row = a + r * 5 * h;
        exp_n(row, row, 2 * h);
        exp_n(row + 3 * h, row + 3 * h, h);
        tanh_n(row + 2 * h, row + 2 * h, h);
    }
    T* c = y.data() + n * h;
    lstm_state(a, c_prev.data(), c, n, h);
    for (std::size_t r = 0; r < n; ++r) tanh_n(c + r * h, a + r * 5 * h + 4 * h, h);
    lstm_hidden(a, y.data(), n, h);
    return y;
}

template <class T>
Tensor<T> lstm_cell_backward(const Tensor<T>& act, const Tensor<T>& c_prev, const Tensor<T>& gy, Tensor<T>* dc_prev) {
    const std::size_t n = c_prev.shape()[0], h = c_prev.shape()[1];
    Tensor<T> dg = Tensor<T>::from_shape({n, 4 * h});
    if (dc_prev) *dc_prev = Tensor<T>::from_shape({n, h});
    lstm_vjp(act.data(), c_prev.data(), gy.data(), gy.data() + n * h, dg.data(), dc_prev ? dc_prev->data() : nullptr, n,
             h);
    return dg;
}

template <class T>
Tensor<T> gru_cell_forward(const Tensor<T>& xg, const Tensor<T>& hg, const Tensor<T>& h, Tensor<T>* act) {
    const std::size_t n = h.shape()[0], w = h.shape()[1];
    Tensor<T> y = Tensor<T>::from_shape({n, w});
    Tensor<T> local;
    if (!act) act = &local;
    *act = Tensor<T>::from_shape({n, 3 * w});
    T* a = act->data();
    gru_pre(xg.data(), hg.data(), a, n, w);
    for (std::size_t r = 0; r < n; ++r) exp_n(a + r * 3 * w, a + r * 3 * w, 2 * w);  // sigmoid as in the LSTM
    gru_mid(xg.data(), hg.data(), a, n, w);
    for (std::size_t r = 0; r < n; ++r) tanh_n(a + r * 3 * w + 2 * w, a + r * 3 * w + 2 * w, w);
    gru_out(a, h.data(), y.data(), n, w);
    return y;
}

template <class T>
void gru_cell_backward(const Tensor<T>& act, const Tensor<T>& hg, const Tensor<T>& h, const Tensor<T>& g,
                       Tensor<T>* dxg, Tensor<T>* dhg, Tensor<T>* dh) {
    const std::size_t n = h.shape()[0], w = h.shape()[1];
    // dxg's slots are dhg's but for the n quarter (dhg's is scaled by r): computed into one buffer
    Tensor<T> local;
    Tensor<T>& dx = dxg ? *dxg : local;
    dx = Tensor<T>::from_shape({n, 3 * w});
    if (dhg) *dhg = Tensor<T>::from_shape({n, 3 * w});
    if (dh) *dh = Tensor<T>::from_shape({n, w});
    gru_vjp(act.data(), hg.data(), h.data(), g.data(), dx.data(), dhg ? dhg->data() : nullptr,
            dh ? dh->data() : nullptr, n, w);
}

template <class T>
Tensor<T> take_block(const Tensor<T>& x, std::size_t k) {
    const Shape rest(x.shape().begin() + 1, x.shape().end());
    Tensor<T> y = Tensor<T>::from_shape(rest);
    const std::size_t m = y.size();
    std::copy(x.data() + k * m, x.data() + (k + 1) * m, y.data());
    return y;
}

template <class T>
Tensor<T> place_block(const Tensor<T>& src, std::size_t k, const Shape& shape) {
    Tensor<T> y = Tensor<T>::from_shape(shape);
    const std::size_t m = src.size();
    std::fill(y.data(), y.data() + y.size(), T(0));
    std::copy(src.data(), src.data() + m, y.data() + k * m);
    return y;
}

#define TAPEGRAD_RNN_CELL_KERNELS(T)                                                                         \
    template Tensor<T> lstm_cell_forward(const Tensor<T>&, const Tensor<T>*, const Tensor<T>&, Tensor<T>*);  \
    template Tensor<T> lstm_cell_backward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, Tensor<T>*); \
    template Tensor<T> gru_cell_forward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, Tensor<T>*);   \
    template void gru_cell_backward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, const Tensor<T>&,  \
                                    Tensor<T>*, Tensor<T>*, Tensor<T>*);                                     \
    template Tensor<T> take_block(const Tensor<T>&, std::size_t);                                            \
    template Tensor<T> place_block(const Tensor<T>&, std::size_t, const Shape&);
TAPEGRAD_RNN_CELL_KERNELS(float)
TAPEGRAD_RNN_CELL_KERNELS(double)
#undef TAPEGRAD_RNN_CELL_KERNELS

}  // namespace tapegrad::kernels

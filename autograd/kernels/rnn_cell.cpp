// The fused LSTM cell's loops: transcendental functions through the vectorised math kernels, one row at a time.
#include <tapegrad/autograd/kernels/rnn_cell.hpp>

#include <algorithm>

#include <tapegrad/autograd/kernels/math.hpp>

namespace tapegrad::kernels {

template <class T>
Tensor<T> lstm_cell_forward(const Tensor<T>& gates, const Tensor<T>* more, const Tensor<T>& c_prev, Tensor<T>* act) {
    const std::size_t n = c_prev.shape()[0], h = c_prev.shape()[1];
    Tensor<T> y = Tensor<T>::from_shape({2, n, h});
    Tensor<T> local;
    if (!act) act = &local;
    *act = Tensor<T>::from_shape({n, 5 * h});
    const T* gp = gates.data();
    const T* mp = more ? more->data() : nullptr;
    const T* cp = c_prev.data();
    T* a = act->data();
    T* yh = y.data();
    T* yc = yh + n * h;
    for (std::size_t r = 0; r < n; ++r, gp += 4 * h, cp += h, a += 5 * h, yh += h, yc += h) {
        // sigmoid(x) = 1 / (1 + exp(-x)): exp(-x) overflows to inf for very negative x, giving
        // exactly 0, and never loses precision to cancellation.
        if (mp) {
            for (std::size_t j = 0; j < 4 * h; ++j) a[j] = gp[j] + mp[j];
            mp += 4 * h;
        } else {
            std::copy(gp, gp + 4 * h, a);
        }
        for (std::size_t j = 0; j < 2 * h; ++j) a[j] = -a[j];
        for (std::size_t j = 3 * h; j < 4 * h; ++j) a[j] = -a[j];
        exp_n(a, a, 2 * h);
        exp_n(a + 3 * h, a + 3 * h, h);
        tanh_n(a + 2 * h, a + 2 * h, h);
        T* ai = a;
        T* af = a + h;
        const T* ag = a + 2 * h;
        T* ao = a + 3 * h;
        for (std::size_t j = 0; j < h; ++j) {
            ai[j] = T(1) / (T(1) + ai[j]);
            af[j] = T(1) / (T(1) + af[j]);
            ao[j] = T(1) / (T(1) + ao[j]);
            yc[j] = af[j] * cp[j] + ai[j] * ag[j];
        }
        T* tc = a + 4 * h;
        tanh_n(yc, tc, h);
        for (std::size_t j = 0; j < h; ++j) yh[j] = ao[j] * tc[j];
    }
    return y;
}

template <class T>
Tensor<T> lstm_cell_backward(const Tensor<T>& act, const Tensor<T>& c_prev, const Tensor<T>& gy, Tensor<T>* dc_prev) {
    const std::size_t n = c_prev.shape()[0], h = c_prev.shape()[1];
    Tensor<T> dg = Tensor<T>::from_shape({n, 4 * h});
    if (dc_prev) *dc_prev = Tensor<T>::from_shape({n, h});
    const T* a = act.data();
    const T* cp = c_prev.data();
    const T* gh = gy.data();
    const T* gc = gh + n * h;
    T* d = dg.data();
    T* dcp = dc_prev ? dc_prev->data() : nullptr;
    for (std::size_t r = 0; r < n; ++r, a += 5 * h, cp += h, gh += h, gc += h, d += 4 * h) {
        const T* ai = a;
        const T* af = a + h;
        const T* ag = a + 2 * h;
        const T* ao = a + 3 * h;
        const T* tc = a + 4 * h;
        T* di = d;
        T* df = d + h;
        T* dgg = d + 2 * h;
        T* dout = d + 3 * h;
        for (std::size_t j = 0; j < h; ++j) {
            const T dc = gc[j] + gh[j] * ao[j] * (T(1) - tc[j] * tc[j]);
            di[j] = dc * ag[j] * ai[j] * (T(1) - ai[j]);
            df[j] = dc * cp[j] * af[j] * (T(1) - af[j]);
            dgg[j] = dc * ai[j] * (T(1) - ag[j] * ag[j]);
            dout[j] = gh[j] * tc[j] * ao[j] * (T(1) - ao[j]);
        }
        if (dcp) {
            for (std::size_t j = 0; j < h; ++j) dcp[j] = (gc[j] + gh[j] * ao[j] * (T(1) - tc[j] * tc[j])) * af[j];
            dcp += h;
        }
    }
    return dg;
}

template <class T>
Tensor<T> gru_cell_forward(const Tensor<T>& xg, const Tensor<T>& hg, const Tensor<T>& h, Tensor<T>* act) {
    const std::size_t n = h.shape()[0], w = h.shape()[1];
    Tensor<T> y = Tensor<T>::from_shape({n, w});
    Tensor<T> local;
    if (!act) act = &local;
    *act = Tensor<T>::from_shape({n, 3 * w});
    const T* xp = xg.data();
    const T* hp = hg.data();
    const T* hv = h.data();
    T* a = act->data();
    T* yp = y.data();
    for (std::size_t r = 0; r < n; ++r, xp += 3 * w, hp += 3 * w, hv += w, a += 3 * w, yp += w) {
        for (std::size_t j = 0; j < 2 * w; ++j) a[j] = -(xp[j] + hp[j]);
        exp_n(a, a, 2 * w);  // sigmoid as 1 / (1 + exp(-x)), as in the LSTM cell
        for (std::size_t j = 0; j < 2 * w; ++j) a[j] = T(1) / (T(1) + a[j]);
        T* an = a + 2 * w;
        for (std::size_t j = 0; j < w; ++j) an[j] = xp[2 * w + j] + a[j] * hp[2 * w + j];
        tanh_n(an, an, w);
        for (std::size_t j = 0; j < w; ++j) yp[j] = an[j] + a[w + j] * (hv[j] - an[j]);
    }
    return y;
}

template <class T>
void gru_cell_backward(const Tensor<T>& act, const Tensor<T>& hg, const Tensor<T>& h, const Tensor<T>& g,
                       Tensor<T>* dxg, Tensor<T>* dhg, Tensor<T>* dh) {
    const std::size_t n = h.shape()[0], w = h.shape()[1];
    // dxg's slots are dhg's but for the n quarter (dhg's is scaled by r): computed into one buffer
    Tensor<T> local = Tensor<T>::from_shape({n, 3 * w});
    Tensor<T>& dx = dxg ? (*dxg = Tensor<T>::from_shape({n, 3 * w})) : local;
    if (dhg) *dhg = Tensor<T>::from_shape({n, 3 * w});
    if (dh) *dh = Tensor<T>::from_shape({n, w});
    const T* a = act.data();
    const T* hp = hg.data();
    const T* hv = h.data();
    const T* gp = g.data();
    T* d = dx.data();
    T* dhp = dhg ? dhg->data() : nullptr;
    T* dhv = dh ? dh->data() : nullptr;
    for (std::size_t r = 0; r < n; ++r, a += 3 * w, hp += 3 * w, hv += w, gp += w, d += 3 * w) {
        const T* ar = a;
        const T* az = a + w;
        const T* an = a + 2 * w;
        for (std::size_t j = 0; j < w; ++j) {
            const T dn = gp[j] * (T(1) - az[j]) * (T(1) - an[j] * an[j]);
            d[j] = dn * hp[2 * w + j] * ar[j] * (T(1) - ar[j]);
            d[w + j] = gp[j] * (hv[j] - an[j]) * az[j] * (T(1) - az[j]);
            d[2 * w + j] = dn;
        }
        if (dhp) {
            for (std::size_t j = 0; j < 2 * w; ++j) dhp[j] = d[j];
            for (std::size_t j = 0; j < w; ++j) dhp[2 * w + j] = d[2 * w + j] * ar[j];
            dhp += 3 * w;
        }
        if (dhv) {
            for (std::size_t j = 0; j < w; ++j) dhv[j] = gp[j] * az[j];
            dhv += w;
        }
    }
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

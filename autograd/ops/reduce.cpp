// Reductions and softmax, each forward next to its VJP; mean and var are compositions.
#include <tapegrad/autograd/ops/reduce.hpp>

#include <cmath>
#include <fmt/format.h>
#include <limits>

#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/dual.hpp>

namespace tapegrad {
namespace {

/// What a reduction over some axes needs to send a gradient back: the axes, and the
/// shape of the result with those axes kept as size 1.
struct Reduction {
    std::vector<std::size_t> axes;
    bool keepdims;
    Shape kept;  // the output's shape with keepdims

    std::string describe() const { return fmt::format("axes=({}), keepdims={}", fmt::join(axes, ","), keepdims); }
};

Reduction make_reduction(const Shape& shape, std::vector<std::size_t> axes, bool keepdims) {
    Shape kept = kernels::reduced_shape(shape, axes, true);
    return {std::move(axes), keepdims, std::move(kept)};
}

/// g (shaped like the reduction's output) repeated over the reduced axes to `shape`.
template <class G>
auto expand(G&& g, const Reduction& r, const Shape& shape) {
    return broadcast_to(dual::reshape(std::forward<G>(g), r.kept), shape);
}

/// y = sum of x over axes.   dx = g repeated over those axes
template <class T>
struct Sum final : Op<Sum<T>, T, 1> {
    explicit Sum(Reduction r) : r(std::move(r)) {}
    const char* op_name() const noexcept override { return "sum"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = expand(std::move(a.g), r, a.x(0).shape()); }
    std::string describe() const override { return r.describe(); }
    Reduction r;
};

/// Where x attains its extreme (y), each position's share of the gradient: 1/count. A NaN
/// extreme is attained at the NaNs (as PyTorch's max: they share the gradient).
template <class T>
Tensor<T> tie_weights(const Tensor<T>& x, const Tensor<T>& y, const Reduction& r) {
    const Tensor<T> yb = expand(y, r, x.shape());
    Tensor<T> mask =
        kernels::broadcast_binary(x, yb, x.shape(), [](T u, T v) { return T(u == v || (u != u && v != v)); });
    const Tensor<T> count = kernels::broadcast_to(kernels::reduce_sum(mask, r.axes, true), x.shape());
    T* m = mask.data();
    const T* c = count.data();
    for (std::size_t i = 0; i < mask.size(); ++i) m[i] = m[i] / c[i];
    return mask;
}

/// y = max (or min) of x over axes.   dx = g at the extreme positions, shared among ties
template <class T>
struct Extreme final : Op<Extreme<T>, T, 1> {
    Extreme(Reduction r, bool is_max) : r(std::move(r)), is_max(is_max) {}
    const char* op_name() const noexcept override { return is_max ? "max" : "min"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        Tensor<T> w = tie_weights(value_of(a.x(0)), value_of(a.y), r);
        a.dx[0] = expand(std::move(a.g), r, a.x(0).shape()) * lift<G>(std::move(w));
    }
    std::string describe() const override { return r.describe(); }
    Reduction r;
    bool is_max;
};

/// y = log(sum(exp(x))) over axes.   dx = g exp(x - y)   (the softmax, weighted by g)
template <class T>
struct LogSumExp final : Op<LogSumExp<T>, T, 1> {
    explicit LogSumExp(Reduction r) : r(std::move(r)) {}
    const char* op_name() const noexcept override { return "logsumexp"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const Shape& xs = a.x(0).shape();
        a.dx[0] = expand(std::move(a.g), r, xs) * dual::exp(a.x(0) - expand(a.y, r, xs));
    }
    std::string describe() const override { return r.describe(); }
    Reduction r;
};

template <class T>
Tensor<T> logsumexp_forward(const Tensor<T>& x, const Reduction& r) {
    Tensor<T> m = kernels::reduce_extreme("logsumexp", x, r.axes, true, true);
    // An all -inf (or +inf) slice: shift by 0 so exp gives 0 (or inf) rather than NaN.
    for (std::size_t i = 0; i < m.size(); ++i)
        if (!std::isfinite(m.data()[i])) m.data()[i] = T(0);
    const Tensor<T> mb = kernels::broadcast_to(m, x.shape());
    Tensor<T> e = kernels::broadcast_binary(x, mb, x.shape(), [](T u, T v) { return u - v; });
    kernels::exp_n(e.data(), e.data(), e.size());
    Tensor<T> y = kernels::reduce_sum(e, r.axes, true);
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::log(y.data()[i]) + m.data()[i];
    if (!r.keepdims) y.reshape(kernels::reduced_shape(x.shape(), r.axes, false));
    return y;
}

/// Sum over one axis with keepdims, for either gradient type.
template <class T>
Tensor<T> sum_keep(const Tensor<T>& t, std::size_t axis) {
    return kernels::reduce_sum(t, {axis}, true);
}
template <class T>
Variable<T> sum_keep(const Variable<T>& v, std::size_t axis) {
    return sum(v, int(axis), true);
}

/// Stable softmax (or log-softmax) of x along one axis.
template <class T>
Tensor<T> softmax_forward(const Tensor<T>& x, std::size_t axis, bool log) {
    const kernels::AxisSplit s = kernels::split_at(x.shape(), axis);
    Tensor<T> y = Tensor<T>::from_shape(x.shape());
    const T* px = x.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t i = 0; i < s.inner; ++i) {
            const T* row = px + o * s.n * s.inner + i;
            T* out = py + o * s.n * s.inner + i;
            T m = -std::numeric_limits<T>::infinity();
            for (std::size_t k = 0; k < s.n; ++k) m = std::max(m, row[k * s.inner]);
            if (!std::isfinite(m)) m = T(0);
            T total = 0;
            for (std::size_t k = 0; k < s.n; ++k) {
                const T e = std::exp(row[k * s.inner] - m);
                total += e;
                if (!log) out[k * s.inner] = e;
            }
            if (log) {
                const T lse = m + std::log(total);
                for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] = row[k * s.inner] - lse;
            } else {
                const T inv = T(1) / total;
                for (std::size_t k = 0; k < s.n; ++k) out[k * s.inner] *= inv;
            }
        }
    return y;
}

/// y = softmax(x) along axis.   dx = y (g - sum(g y))
template <class T>
struct Softmax final : Op<Softmax<T>, T, 1> {
    explicit Softmax(std::size_t axis) : axis(axis) {}
    const char* op_name() const noexcept override { return "softmax"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const auto gy = sum_keep(to_value(a.g * a.y), axis);
        a.dx[0] = a.y * (a.g - gy);
    }
    std::string describe() const override { return fmt::format("axis={}", axis); }
    std::size_t axis;

private:
    template <class E>
    static Tensor<T> to_value(const xt::xexpression<E>& e) { return Tensor<T>(e); }
    static const Variable<T>& to_value(const Variable<T>& v) { return v; }
};

/// y = log_softmax(x) along axis.   dx = g - exp(y) sum(g)
template <class T>
struct LogSoftmax final : Op<LogSoftmax<T>, T, 1> {
    explicit LogSoftmax(std::size_t axis) : axis(axis) {}
    const char* op_name() const noexcept override { return "log_softmax"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const auto gs = sum_keep(a.g, axis);
        a.dx[0] = a.g - dual::exp(a.y) * gs;
    }
    std::string describe() const override { return fmt::format("axis={}", axis); }
    std::size_t axis;
};

template <class T>
std::vector<std::size_t> axes_of(const char* op, const Variable<T>& x, const Axes& axes) {
    return kernels::normalize_axes(op, axes, x.dim());
}

template <class T>
Variable<T> sum_over(const Variable<T>& x, std::vector<std::size_t> axes, bool keepdims) {
    Reduction r = make_reduction(x.shape(), std::move(axes), keepdims);
    Tensor<T> y = kernels::reduce_sum(x.value(), r.axes, keepdims);
    return record<Sum<T>>(std::move(y), {&x}, std::move(r));
}

template <class T>
Variable<T> extreme_over(const char* op, const Variable<T>& x, std::vector<std::size_t> axes, bool keepdims,
                         bool is_max) {
    Reduction r = make_reduction(x.shape(), std::move(axes), keepdims);
    if (x.size() == 0) throw Error(fmt::format("{}: cannot reduce an empty value of shape {}", op, shape_string(x.shape())));
    Tensor<T> y = kernels::reduce_extreme(op, x.value(), r.axes, keepdims, is_max);
    return record<Extreme<T>>(std::move(y), {&x}, std::move(r), is_max);
}

template <class T>
Variable<T> mean_over(const Variable<T>& x, const std::vector<std::size_t>& axes, bool keepdims) {
    std::size_t count = 1;
    for (std::size_t a : axes) count *= x.shape()[a];
    if (count == 0) throw Error(fmt::format("mean: no elements to average in shape {}", shape_string(x.shape())));
    return div(sum_over(x, axes, keepdims), T(count));
}

template <class T>
Variable<T> lse_over(const Variable<T>& x, std::vector<std::size_t> axes, bool keepdims) {
    if (x.size() == 0) throw Error(fmt::format("logsumexp: empty value of shape {}", shape_string(x.shape())));
    Reduction r = make_reduction(x.shape(), std::move(axes), keepdims);
    Tensor<T> y = logsumexp_forward(x.value(), r);
    return record<LogSumExp<T>>(std::move(y), {&x}, std::move(r));
}

template <class T>
Variable<T> var_over(const Variable<T>& x, const std::vector<std::size_t>& axes, bool keepdims, int correction) {
    std::size_t count = 1;
    for (std::size_t a : axes) count *= x.shape()[a];
    if (correction < 0) throw Error(fmt::format("var: correction must be >= 0, got {}", correction));
    if (count <= std::size_t(correction))
        throw Error(fmt::format("var: {} element{} per variance with correction {} (need more than {})", count,
                                count == 1 ? "" : "s", correction, correction));
    const Variable<T> centred = x - mean_over(x, axes, true);
    return div(sum_over(centred * centred, axes, keepdims), T(count - std::size_t(correction)));
}

}  // namespace

template <class T>
Variable<T> sum(const Variable<T>& x) { return sum_over(x, kernels::all_axes(x.dim()), false); }
template <class T>
Variable<T> sum(const Variable<T>& x, int axis, bool keepdims) { return sum(x, Axes{axis}, keepdims); }
template <class T>
Variable<T> sum(const Variable<T>& x, const Axes& axes, bool keepdims) {
    return sum_over(x, axes_of("sum", x, axes), keepdims);
}

template <class T>
Variable<T> mean(const Variable<T>& x) { return mean_over(x, kernels::all_axes(x.dim()), false); }
template <class T>
Variable<T> mean(const Variable<T>& x, int axis, bool keepdims) { return mean(x, Axes{axis}, keepdims); }
template <class T>
Variable<T> mean(const Variable<T>& x, const Axes& axes, bool keepdims) {
    return mean_over(x, axes_of("mean", x, axes), keepdims);
}

template <class T>
Variable<T> max(const Variable<T>& x) { return extreme_over("max", x, kernels::all_axes(x.dim()), false, true); }
template <class T>
Variable<T> max(const Variable<T>& x, int axis, bool keepdims) { return max(x, Axes{axis}, keepdims); }
template <class T>
Variable<T> max(const Variable<T>& x, const Axes& axes, bool keepdims) {
    return extreme_over("max", x, axes_of("max", x, axes), keepdims, true);
}

template <class T>
Variable<T> min(const Variable<T>& x) { return extreme_over("min", x, kernels::all_axes(x.dim()), false, false); }
template <class T>
Variable<T> min(const Variable<T>& x, int axis, bool keepdims) { return min(x, Axes{axis}, keepdims); }
template <class T>
Variable<T> min(const Variable<T>& x, const Axes& axes, bool keepdims) {
    return extreme_over("min", x, axes_of("min", x, axes), keepdims, false);
}

template <class T>
Variable<T> logsumexp(const Variable<T>& x) { return lse_over(x, kernels::all_axes(x.dim()), false); }
template <class T>
Variable<T> logsumexp(const Variable<T>& x, int axis, bool keepdims) { return logsumexp(x, Axes{axis}, keepdims); }
template <class T>
Variable<T> logsumexp(const Variable<T>& x, const Axes& axes, bool keepdims) {
    return lse_over(x, axes_of("logsumexp", x, axes), keepdims);
}

template <class T>
Variable<T> var(const Variable<T>& x, int correction) {
    return var_over(x, kernels::all_axes(x.dim()), false, correction);
}
template <class T>
Variable<T> var(const Variable<T>& x, int axis, bool keepdims, int correction) {
    return var(x, Axes{axis}, keepdims, correction);
}
template <class T>
Variable<T> var(const Variable<T>& x, const Axes& axes, bool keepdims, int correction) {
    return var_over(x, axes_of("var", x, axes), keepdims, correction);
}

template <class T>
Variable<T> softmax(const Variable<T>& x, int axis) {
    const std::size_t a = kernels::normalize_axis("softmax", axis, x.dim());
    return record<Softmax<T>>(softmax_forward(x.value(), a, false), {&x}, a);
}
template <class T>
Variable<T> log_softmax(const Variable<T>& x, int axis) {
    const std::size_t a = kernels::normalize_axis("log_softmax", axis, x.dim());
    return record<LogSoftmax<T>>(softmax_forward(x.value(), a, true), {&x}, a);
}

#define TAPEGRAD_INSTANTIATE(T)                                                      \
    template Variable<T> sum(const Variable<T>&);                                    \
    template Variable<T> sum(const Variable<T>&, int, bool);                         \
    template Variable<T> sum(const Variable<T>&, const Axes&, bool);                 \
    template Variable<T> mean(const Variable<T>&);                                   \
    template Variable<T> mean(const Variable<T>&, int, bool);                        \
    template Variable<T> mean(const Variable<T>&, const Axes&, bool);                \
    template Variable<T> max(const Variable<T>&);                                    \
    template Variable<T> max(const Variable<T>&, int, bool);                         \
    template Variable<T> max(const Variable<T>&, const Axes&, bool);                 \
    template Variable<T> min(const Variable<T>&);                                    \
    template Variable<T> min(const Variable<T>&, int, bool);                         \
    template Variable<T> min(const Variable<T>&, const Axes&, bool);                 \
    template Variable<T> logsumexp(const Variable<T>&);                              \
    template Variable<T> logsumexp(const Variable<T>&, int, bool);                   \
    template Variable<T> logsumexp(const Variable<T>&, const Axes&, bool);           \
    template Variable<T> var(const Variable<T>&, int);                               \
    template Variable<T> var(const Variable<T>&, int, bool, int);                    \
    template Variable<T> var(const Variable<T>&, const Axes&, bool, int);            \
    template Variable<T> softmax(const Variable<T>&, int);                           \
    template Variable<T> log_softmax(const Variable<T>&, int);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad

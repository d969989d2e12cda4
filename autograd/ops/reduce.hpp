// Reductions (sum, mean, max, min, logsumexp, var) and softmax / log_softmax along an axis.
#pragma once

#include <string>
#include <vector>

#include <tapegrad/autograd/kernels/reduce.hpp>
#include <tapegrad/autograd/ops/activation.hpp>
#include <tapegrad/autograd/ops/shape.hpp>

namespace tapegrad {

// Without axes a reduction covers every element and gives a 0-d value; with axes it covers
// those (negative axes count from the end), and keepdims leaves them in place with size 1.

/// What a reduction over some axes needs to send a gradient back: the axes, and the shape of
/// the result with those axes kept as size 1.
struct Reduction {
    std::vector<std::size_t> axes;  ///< sorted, distinct
    /// Whether the result keeps the reduced axes (as size 1).
    bool keepdims = false;
    /// The result's shape with the reduced axes kept as size 1.
    Shape kept;

    /// Over `axes` of a value of `shape` (an error naming `op` for a bad axis).
    static Reduction over(const char* op, const Shape& shape, const Axes& axes, bool keepdims) {
        return make(shape, kernels::normalize_axes(op, axes, shape.size()), keepdims);
    }
    /// Over every axis.
    static Reduction all(const Shape& shape) { return make(shape, kernels::all_axes(shape.size()), false); }
    /// Over `axes` (already checked and sorted) of a value of `shape`.
    static Reduction make(const Shape& shape, std::vector<std::size_t> axes, bool keepdims) {
        Shape kept = kernels::reduced_shape(shape, axes, true);
        return {std::move(axes), keepdims, std::move(kept)};
    }

    /// g (shaped like the reduction's output) repeated over the reduced axes to `shape`.
    template <class G>
    G expand(G g, const Shape& shape) const {
        return vjp::apply(BroadcastTo<typename G::value_type>{shape}, vjp::reshape(std::move(g), kept));
    }
    /// How many elements each output element reduces, for a value of `shape`.
    std::size_t count(const Shape& shape) const {
        std::size_t n = 1;
        for (std::size_t a : axes) n *= shape[a];
        return n;
    }
    /// "axes=(1), keepdims=false", for printouts.
    std::string describe() const {
        return "axes=(" + detail::join(axes) + "), keepdims=" + (keepdims ? "true" : "false");
    }
};

/// The op behind sum(); its formula line states y and the VJP.
template <class T>
struct Sum {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "sum";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = sum of x over axes   dx = g repeated over those axes";
    Reduction r;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::reduce_sum(x, r.axes, r.keepdims); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = r.expand(std::move(a.g), a.x(0).shape());
    }
    std::string describe() const { return r.describe(); }
    ///@}
};

/// Where x attains its extreme y, each position's share of the gradient: 1/count of ties. A NaN
/// extreme is attained at the NaNs (as PyTorch's max: they share the gradient).
template <class T>
Tensor<T> tie_weights(const Tensor<T>& x, const Tensor<T>& y, const Reduction& r) {
    const Tensor<T> yb = r.expand(Tensor<T>(y), x.shape());
    Tensor<T> mask =
        kernels::broadcast_binary(x, yb, x.shape(), [](T u, T v) { return T(u == v || (u != u && v != v)); });
    const Tensor<T> count = kernels::broadcast_to(kernels::reduce_sum(mask, r.axes, true), x.shape());
    T* m = mask.data();
    const T* c = count.data();
    for (std::size_t i = 0; i < mask.size(); ++i) m[i] = m[i] / c[i];
    return mask;
}

/// The op behind max(); its formula line states y and the VJP.
template <class T>
struct Max {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "max";
    static constexpr const char* formula = "y = max of x over axes   dx = g at the maxima, shared among ties";
    Reduction r;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::reduce_extreme(name, x, r.axes, r.keepdims, true); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        Tensor<T> w = tie_weights(vjp::value(a.x(0)), vjp::value(a.y), r);
        a.dx[0] = r.expand(std::move(a.g), a.x(0).shape()) * vjp::constant<G>(std::move(w));
    }
    std::string describe() const { return r.describe(); }
    ///@}
};

/// The op behind min(); its formula line states y and the VJP.
template <class T>
struct Min {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "min";
    static constexpr const char* formula = "y = min of x over axes   dx = g at the minima, shared among ties";
    Reduction r;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::reduce_extreme(name, x, r.axes, r.keepdims, false); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        Tensor<T> w = tie_weights(vjp::value(a.x(0)), vjp::value(a.y), r);
        a.dx[0] = r.expand(std::move(a.g), a.x(0).shape()) * vjp::constant<G>(std::move(w));
    }
    std::string describe() const { return r.describe(); }
    ///@}
};

/// The op behind logsumexp(); its formula line states y and the VJP.
template <class T>
struct LogSumExp {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "logsumexp";
    static constexpr const char* formula = "y = log(sum(exp(x))) over axes   dx = g exp(x - y)";
    Reduction r;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::logsumexp(x, r.axes, r.keepdims); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const Shape& xs = a.x(0).shape();
        a.dx[0] = vjp::pointwise(
            [](const auto& g, const auto& x, const auto& y) {
                using std::exp;
                return g * exp(x - y);
            },
            r.expand(std::move(a.g), xs), a.x(0), r.expand(G(a.y), xs));
    }
    std::string describe() const { return r.describe(); }
    ///@}
};

/// The op behind softmax(); its formula line states y and the VJP.
template <class T>
struct Softmax {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "softmax";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr const char* formula = "y = softmax(x) along axis   dx = y (g - sum(g y))";
    std::size_t axis;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::softmax(x, axis, false); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G gy = vjp::pointwise([](const auto& g, const auto& y) { return g * y; }, a.g, a.y);
        const G s = vjp::apply(Sum<T>{Reduction::make(a.y.shape(), {axis}, true)}, gy);
        a.dx[0] = vjp::pointwise([](const auto& y, const auto& g, const auto& t) { return y * (g - t); }, a.y, a.g, s);
    }
    std::string describe() const { return detail::message("axis=", axis); }
    ///@}
};

/// The op behind log_softmax(); its formula line states y and the VJP.
template <class T>
struct LogSoftmax {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "log_softmax";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr const char* formula = "y = log_softmax(x) along axis   dx = g - exp(y) sum(g)";
    std::size_t axis;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::softmax(x, axis, true); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G s = vjp::apply(Sum<T>{Reduction::make(a.y.shape(), {axis}, true)}, a.g);
        a.dx[0] = vjp::pointwise(
            [](const auto& g, const auto& y, const auto& t) {
                using std::exp;
                return g - exp(y) * t;
            },
            a.g, a.y, s);
    }
    std::string describe() const { return detail::message("axis=", axis); }
    ///@}
};

template <class T>
Variable<T> sum(const Variable<T>& x) {
    return apply(Sum<T>{Reduction::all(x.shape())}, x);
}
template <class T>
Variable<T> sum(const Variable<T>& x, const Axes& axes, bool keepdims = false) {
    return apply(Sum<T>{Reduction::over("sum", x.shape(), axes, keepdims)}, x);
}
template <class T>
Variable<T> sum(const Variable<T>& x, int axis, bool keepdims = false) {
    return sum(x, Axes{axis}, keepdims);
}

namespace detail {
template <class T>
Variable<T> mean_over(const Variable<T>& x, const Reduction& r) {
    const std::size_t count = r.count(x.shape());
    if (count == 0) throw Error(message("mean: no elements to average in shape ", shape_string(x.shape())));
    return div(apply(Sum<T>{r}, x), T(count));
}
template <class T>
Variable<T> var_over(const Variable<T>& x, const Reduction& r, int correction) {
    const std::size_t count = r.count(x.shape());
    if (correction < 0) throw Error(message("var: correction must be >= 0, got ", correction));
    if (count <= std::size_t(correction))
        throw Error(message("var: ", count, " element", count == 1 ? "" : "s", " per variance with correction ",
                            correction, " (need more than ", correction, ")"));
    const Variable<T> centred = x - mean_over(x, Reduction::make(x.shape(), r.axes, true));
    return div(apply(Sum<T>{r}, centred * centred), T(count - std::size_t(correction)));
}
template <class T>
void check_not_empty(const char* op, const Variable<T>& x) {
    if (x.size() == 0) throw Error(message(op, ": cannot reduce an empty value of shape ", shape_string(x.shape())));
}
}  // namespace detail

template <class T>
Variable<T> mean(const Variable<T>& x) {
    return detail::mean_over(x, Reduction::all(x.shape()));
}
template <class T>
Variable<T> mean(const Variable<T>& x, const Axes& axes, bool keepdims = false) {
    return detail::mean_over(x, Reduction::over("mean", x.shape(), axes, keepdims));
}
template <class T>
Variable<T> mean(const Variable<T>& x, int axis, bool keepdims = false) {
    return mean(x, Axes{axis}, keepdims);
}

/// Largest element; tied maxima share the gradient equally.
template <class T>
Variable<T> max(const Variable<T>& x) {
    detail::check_not_empty("max", x);
    return apply(Max<T>{Reduction::all(x.shape())}, x);
}
template <class T>
Variable<T> max(const Variable<T>& x, const Axes& axes, bool keepdims = false) {
    Reduction r = Reduction::over("max", x.shape(), axes, keepdims);
    detail::check_not_empty("max", x);
    return apply(Max<T>{std::move(r)}, x);
}
template <class T>
Variable<T> max(const Variable<T>& x, int axis, bool keepdims = false) {
    return max(x, Axes{axis}, keepdims);
}

template <class T>
Variable<T> min(const Variable<T>& x) {
    detail::check_not_empty("min", x);
    return apply(Min<T>{Reduction::all(x.shape())}, x);
}
template <class T>
Variable<T> min(const Variable<T>& x, const Axes& axes, bool keepdims = false) {
    Reduction r = Reduction::over("min", x.shape(), axes, keepdims);
    detail::check_not_empty("min", x);
    return apply(Min<T>{std::move(r)}, x);
}
template <class T>
Variable<T> min(const Variable<T>& x, int axis, bool keepdims = false) {
    return min(x, Axes{axis}, keepdims);
}

/// log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m the maximum: no overflow.
template <class T>
Variable<T> logsumexp(const Variable<T>& x) {
    if (x.size() == 0) throw Error(detail::message("logsumexp: empty value of shape ", shape_string(x.shape())));
    return apply(LogSumExp<T>{Reduction::all(x.shape())}, x);
}
template <class T>
Variable<T> logsumexp(const Variable<T>& x, const Axes& axes, bool keepdims = false) {
    Reduction r = Reduction::over("logsumexp", x.shape(), axes, keepdims);
    if (x.size() == 0) throw Error(detail::message("logsumexp: empty value of shape ", shape_string(x.shape())));
    return apply(LogSumExp<T>{std::move(r)}, x);
}
template <class T>
Variable<T> logsumexp(const Variable<T>& x, int axis, bool keepdims = false) {
    return logsumexp(x, Axes{axis}, keepdims);
}

/// Variance sum((x - mean)^2) / (n - correction); correction 1 (the default, as in PyTorch)
/// is the unbiased estimate, 0 the population variance.
template <class T>
Variable<T> var(const Variable<T>& x, int correction = 1) {
    return detail::var_over(x, Reduction::all(x.shape()), correction);
}
template <class T>
Variable<T> var(const Variable<T>& x, const Axes& axes, bool keepdims, int correction = 1) {
    return detail::var_over(x, Reduction::over("var", x.shape(), axes, keepdims), correction);
}
template <class T>
Variable<T> var(const Variable<T>& x, int axis, bool keepdims, int correction = 1) {
    return var(x, Axes{axis}, keepdims, correction);
}

/// exp(x) / sum(exp(x)) along `axis`, shifted by the maximum so it never overflows.
template <class T>
Variable<T> softmax(const Variable<T>& x, int axis = -1) {
    return apply(Softmax<T>{kernels::normalize_axis("softmax", axis, x.dim())}, x);
}
/// x - logsumexp(x) along `axis`, computed stably.
template <class T>
Variable<T> log_softmax(const Variable<T>& x, int axis = -1) {
    return apply(LogSoftmax<T>{kernels::normalize_axis("log_softmax", axis, x.dim())}, x);
}

/// The reduce ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::reduce> {
    using type = OpList<Sum, Max, Min, LogSumExp, Softmax, LogSoftmax>;
};

}  // namespace tapegrad

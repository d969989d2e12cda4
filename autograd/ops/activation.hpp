// Activation functions: tanh, sigmoid, relu, leaky_relu, elu, softplus, gelu.
#pragma once

#include <algorithm>
#include <cmath>

#include <tapegrad/autograd/kernels/activation.hpp>
#include <tapegrad/autograd/kernels/elementwise.hpp>
#include <tapegrad/autograd/kernels/math.hpp>
#include <tapegrad/autograd/ops/math.hpp>

namespace tapegrad {

/// The op behind tanh(); its formula line states y and the VJP.
template <class T>
struct Tanh {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "tanh";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr const char* formula = "y = tanh(x)   dx = g (1 - y^2)";
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::tanh(x); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([](const auto& g, const auto& y) { return g * (T(1) - y * y); },
                                          std::move(a.g), a.y);
    }
    ///@}
};

/// The op behind sigmoid(); its formula line states y and the VJP.
template <class T>
struct Sigmoid {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "sigmoid";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr const char* formula = "y = 1 / (1 + exp(-x))   dx = g y (1 - y)";
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [](T v) {  // exp of -|x| only: never overflows
            const T z = std::exp(-std::abs(v));
            return v >= 0 ? T(1) / (T(1) + z) : z / (T(1) + z);
        });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([](const auto& g, const auto& y) { return g * y * (T(1) - y); },
                                          std::move(a.g), a.y);
    }
    ///@}
};

/// The op behind relu(); its formula line states y and the VJP.
template <class T>
struct Relu {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "relu";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr const char* formula = "y = max(x, 0), NaN for NaN   dx = g [not y <= 0]";
    Tensor<T> forward(const Tensor<T>& x) const {
        // v < 0 rather than v <= 0: NaN and -0 pass through, as in PyTorch
        return kernels::map(x, [](T v) { return v < 0 ? T(0) : v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {  // PyTorch's threshold rule: the gradient passes at NaN
        a.dx[0] = vjp::scaled(a.g, vjp::value(a.y), [](T y) { return T(!(y <= 0)); });
    }
    ///@}
};

/// The op behind leaky_relu(); its formula line states y and the VJP.
template <class T>
struct LeakyRelu {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "leaky_relu";
    static constexpr const char* formula = "y = x for x > 0, s x otherwise   dx = g (1 or s)";
    T slope;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = slope](T v) { return v > 0 ? v : v * s; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::scaled(a.g, vjp::value(a.x(0)), [s = slope](T v) { return v > 0 ? T(1) : s; });
    }
    std::string describe() const { return detail::message("negative_slope=", slope); }
    ///@}
};

/// The op behind elu(); its formula line states y and the VJP.
template <class T>
struct Elu {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "elu";
    static constexpr const char* formula = "y = x for x > 0, alpha (exp(x) - 1) otherwise   dx = g (1, or y + alpha)";
    T alpha;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [alpha = alpha](T v) { return v > 0 ? v : alpha * std::expm1(v); });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const Mask positive = !(vjp::value(a.x(0)) <= T(0));  // 1 at NaN, as PyTorch
        a.dx[0] = vjp::where<G>(positive, a.g, a.g * (a.y + alpha));
    }
    std::string describe() const { return detail::message("alpha=", alpha); }
    ///@}
};

/// The op behind softplus(); its formula line states y and the VJP.
template <class T>
struct Softplus {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "softplus";
    static constexpr const char* formula = "y = log(1 + exp(beta x)) / beta   dx = g sigmoid(beta x)";
    T beta;
    Tensor<T> forward(const Tensor<T>& x) const {
        if (!(beta > 0)) throw Error(detail::message("softplus: beta must be > 0, got ", beta));
        // max(bx, 0) + log1p(exp(-|bx|)), divided by b: never overflows.
        return kernels::map(x, [b = beta](T v) {
            const T z = b * v;
            return (std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)))) / b;
        });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        // sigmoid(b x) written so that exp(-b x) = inf just gives 0.
        a.dx[0] = vjp::pointwise_in_place(
            [b = beta](const auto& g, const auto& x) {
                using std::exp;
                return g / (exp(x * -b) + T(1));
            },
            std::move(a.g), a.x(0));
    }
    std::string describe() const { return detail::message("beta=", beta); }
    ///@}
};

/// How gelu() computes Phi(x): exactly (erf), or by PyTorch's tanh approximation.
enum class GeluApproximation { none, tanh };

/// The op behind gelu(); its formula line states y and the VJP.
template <class T>
struct Gelu {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "gelu";
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x Phi(x)   dx = g (Phi(x) + x phi(x))";
    static constexpr T inv_sqrt_2 = T(0.707106781186547524400844362105);
    static constexpr T inv_sqrt_2pi = T(0.398942280401432677939946059934);
    static constexpr T sqrt_2_over_pi = T(0.797884560802865355879892119869);
    static constexpr T cubic = T(0.044715);
    GeluApproximation approximate = GeluApproximation::none;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::gelu(x, approximate == GeluApproximation::tanh); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (!vjp::records<G>) {  // one vectorised pass, written over g
            G g = std::move(a.g);
            kernels::gelu_backward_inplace(a.x(0), g, approximate == GeluApproximation::tanh);
            a.dx[0] = std::move(g);
        } else if (approximate == GeluApproximation::tanh) {  // recorded: the same formula as differentiable ops
            const G& x = a.x(0);
            const G t = tanh((x + x * x * x * cubic) * sqrt_2_over_pi);
            a.dx[0] = a.g * ((t + T(1)) * T(0.5) +
                             x * (T(1) - t * t) * (sqrt_2_over_pi * T(0.5)) * (x * x * (T(3) * cubic) + T(1)));
        } else {
            const G& x = a.x(0);
            a.dx[0] = a.g * ((erf(x * inv_sqrt_2) + T(1)) * T(0.5) + x * exp(x * x * T(-0.5)) * inv_sqrt_2pi);
        }
    }
    std::string describe() const { return approximate == GeluApproximation::tanh ? "approximate=tanh" : ""; }
    ///@}
};

template <class T>
Variable<T> tanh(const Variable<T>& x) {
    return apply(Tanh<T>{}, x);
}
/// 1 / (1 + exp(-x)), computed without overflow for any x.
template <class T>
Variable<T> sigmoid(const Variable<T>& x) {
    return apply(Sigmoid<T>{}, x);
}
/// max(x, 0); NaN stays NaN and its gradient passes (PyTorch's rule).
template <class T>
Variable<T> relu(const Variable<T>& x) {
    return apply(Relu<T>{}, x);
}
template <class T>
Variable<T> leaky_relu(const Variable<T>& x, T negative_slope = T(0.01)) {
    return apply(LeakyRelu<T>{negative_slope}, x);
}
/// x for x > 0, alpha * (exp(x) - 1) otherwise.
template <class T>
Variable<T> elu(const Variable<T>& x, T alpha = T(1)) {
    return apply(Elu<T>{alpha}, x);
}
/// log(1 + exp(beta x)) / beta, computed without overflow for any x.
template <class T>
Variable<T> softplus(const Variable<T>& x, T beta = T(1)) {
    return apply(Softplus<T>{beta}, x);
}
/// x * Phi(x) with the exact normal CDF (as PyTorch's default GELU), or with PyTorch's tanh approximation
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for GeluApproximation::tanh.
template <class T>
Variable<T> gelu(const Variable<T>& x, GeluApproximation approximate = GeluApproximation::none) {
    return apply(Gelu<T>{approximate}, x);
}

/// The activation ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::activation> {
    using type = OpList<Tanh, Sigmoid, Relu, LeakyRelu, Elu, Softplus, Gelu>;
};

}  // namespace tapegrad

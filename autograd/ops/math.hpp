// Elementwise math functions: exp, log, sqrt, abs, clamp, erf, sin, cos.
#pragma once

#include <cmath>

#include <tapegrad/autograd/kernels/elementwise.hpp>
#include <tapegrad/autograd/kernels/math.hpp>
#include <tapegrad/autograd/ops/arithmetic.hpp>

namespace tapegrad {

/// The op behind exp(); its formula line states y and the VJP.
template <class T>
struct Exp {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "exp";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr const char* formula = "y = exp(x)   dx = g y";
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::exp(x); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([](const auto& g, const auto& y) { return g * y; }, std::move(a.g), a.y);
    }
    ///@}
};

/// The op behind log(); its formula line states y and the VJP.
template <class T>
struct Log {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "log";
    static constexpr const char* formula = "y = log(x)   dx = g / x";
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::log(x); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([](const auto& g, const auto& x) { return g / x; }, std::move(a.g), a.x(0));
    }
    ///@}
};

/// The op behind sqrt(); its formula line states y and the VJP.
template <class T>
struct Sqrt {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "sqrt";
    static constexpr const char* formula = "y = sqrt(x)   dx = g / (2 y)";
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::sqrt(x); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] =
            vjp::pointwise_in_place([](const auto& g, const auto& y) { return g / (y * T(2)); }, std::move(a.g), a.y);
    }
    ///@}
};

/// The op behind abs(); its formula line states y and the VJP.
template <class T>
struct Abs {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "abs";
    static constexpr const char* formula = "y = |x|   dx = g sign(x)";
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [](T v) { return std::abs(v); });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::scaled(a.g, vjp::value(a.x(0)), [](T v) { return T((v > 0) - (v < 0)); });
    }
    ///@}
};

/// The op behind clamp(); its formula line states y and the VJP.
template <class T>
struct Clamp {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "clamp";
    static constexpr const char* formula = "y = min(max(x, lo), hi)   dx = g [lo <= x <= hi]";
    T lo, hi;
    Tensor<T> forward(const Tensor<T>& x) const {
        if (!(lo <= hi)) throw Error(detail::message("clamp: lo must be <= hi, got lo=", lo, " and hi=", hi));
        return kernels::map(x, [lo = lo, hi = hi](T v) { return v < lo ? lo : (v > hi ? hi : v); });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::scaled(a.g, vjp::value(a.x(0)), [lo = lo, hi = hi](T v) { return T(v >= lo && v <= hi); });
    }
    std::string describe() const { return detail::message("lo=", lo, ", hi=", hi); }
    ///@}
};

/// The op behind erf(); its formula line states y and the VJP.
template <class T>
struct Erf {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "erf";
    static constexpr const char* formula = "y = erf(x)   dx = g 2/sqrt(pi) exp(-x^2)";
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::erf(x); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place(
            [](const auto& g, const auto& x) {
                using std::exp;
                return g * exp(-(x * x)) * T(1.12837916709551257389615890312);  // 2 / sqrt(pi)
            },
            std::move(a.g), a.x(0));
    }
    ///@}
};

/// The op behind sin(); its formula line states y and the VJP.
template <class T>
struct Sin {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "sin";
    static constexpr const char* formula = "y = sin(x)   dx = g cos(x)";
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [](T v) { return std::sin(v); });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place(
            [](const auto& g, const auto& x) {
                using std::cos;
                return g * cos(x);
            },
            std::move(a.g), a.x(0));
    }
    ///@}
};

/// The op behind cos(); its formula line states y and the VJP.
template <class T>
struct Cos {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "cos";
    static constexpr const char* formula = "y = cos(x)   dx = -g sin(x)";
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [](T v) { return std::cos(v); });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place(
            [](const auto& g, const auto& x) {
                using std::sin;
                return -g * sin(x);
            },
            std::move(a.g), a.x(0));
    }
    ///@}
};

template <class T>
Variable<T> exp(const Variable<T>& x) {
    return apply(Exp<T>{}, x);
}
template <class T>
Variable<T> log(const Variable<T>& x) {
    return apply(Log<T>{}, x);
}
template <class T>
Variable<T> sqrt(const Variable<T>& x) {
    return apply(Sqrt<T>{}, x);
}
/// |x|; the gradient at 0 is 0.
template <class T>
Variable<T> abs(const Variable<T>& x) {
    return apply(Abs<T>{}, x);
}
/// min(max(x, lo), hi); the gradient passes where lo <= x <= hi.
template <class T>
Variable<T> clamp(const Variable<T>& x, T lo, T hi) {
    return apply(Clamp<T>{lo, hi}, x);
}
template <class T>
Variable<T> erf(const Variable<T>& x) {
    return apply(Erf<T>{}, x);
}
template <class T>
Variable<T> sin(const Variable<T>& x) {
    return apply(Sin<T>{}, x);
}
template <class T>
Variable<T> cos(const Variable<T>& x) {
    return apply(Cos<T>{}, x);
}

/// The math ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::math> {
    using type = OpList<Exp, Log, Sqrt, Abs, Clamp, Erf, Sin, Cos>;
};

}  // namespace tapegrad

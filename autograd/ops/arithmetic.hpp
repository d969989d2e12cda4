// Arithmetic with NumPy broadcasting: + - * / pow maximum minimum, with a scalar on either side, and the operators.
#pragma once

#include <cmath>
#include <type_traits>

#include <tapegrad/autograd/kernels/elementwise.hpp>
#include <tapegrad/autograd/kernels/math.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/where.hpp>

namespace tapegrad {

// ---------------------------------------------------------------- two operands, broadcasting

/// The op behind add(); its formula line states y and the VJP.
template <class T>
struct Add {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "add";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = a + b   da = g, db = g (each summed back to its own shape)";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u + v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        // b's gradient is a copy of g only where nothing is summed and b has no gradient yet
        if (a.want(1) && !vjp::add_to_sum(a, 1, a.g)) a.dx[1] = vjp::sum_to(a.g, a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(std::move(a.g), a.x(0).shape());
    }
    ///@}
};

/// The op behind sub(); its formula line states y and the VJP.
template <class T>
struct Sub {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "sub";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = a - b   da = g, db = -g";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u - v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(1)) a.dx[1] = vjp::sum_to(vjp::pointwise([](const auto& g) { return -g; }, a.g), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(std::move(a.g), a.x(0).shape());
    }
    ///@}
};

/// The op behind mul(); its formula line states y and the VJP.
template <class T>
struct Mul {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "mul";
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = a * b   da = g b, db = g a";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u * v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        // u, v: the inputs a and b; g is read once for both gradients where the shapes allow
        if (vjp::both_in_one_pass(
                a, [](T g, T, T v) { return g * v; }, [](T g, T u, T) { return g * u; }, a.x(0), a.x(1)))
            return;
        auto times = [](const auto& u, const auto& v) { return u * v; };
        if (a.want(1)) a.dx[1] = vjp::sum_to(vjp::pointwise(times, a.g, a.x(0)), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(vjp::pointwise_in_place(times, std::move(a.g), a.x(1)), a.x(0).shape());
    }
    ///@}
};

/// The op behind div(); its formula line states y and the VJP.
template <class T>
struct Div {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "div";
    static constexpr const char* formula = "y = a / b   da = g / b, db = -g y / b";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u / v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        auto minus_y_over_b = [](const auto& g, const auto& y, const auto& b) { return -g * y / b; };
        if (vjp::both_in_one_pass(  // g read once for both gradients where the shapes allow
                a, [](T g, T, T b) { return g / b; }, minus_y_over_b, a.y, a.x(1)))
            return;
        if (a.want(1)) a.dx[1] = vjp::sum_to(vjp::pointwise(minus_y_over_b, a.g, a.y, a.x(1)), a.x(1).shape());
        if (a.want(0))
            a.dx[0] = vjp::sum_to(
                vjp::pointwise_in_place([](const auto& g, const auto& b) { return g / b; }, std::move(a.g), a.x(1)),
                a.x(0).shape());
    }
    ///@}
};

/// Elementwise pred(a, b) over the broadcast shape of a and b, as a mask.
template <class T, class P>
Mask mask_of(const Tensor<T>& a, const Tensor<T>& b, P pred) {
    const Tensor<T> w = kernels::binary("pow", a, b, [pred](T u, T v) { return T(pred(u, v)); });
    Mask m = Mask::from_shape(w.shape());
    for (std::size_t i = 0; i < w.size(); ++i) m.data()[i] = w.data()[i] != T(0);
    return m;
}

// PyTorch 1.13's rules: da is 0 where b == 0 (never 0 * inf = NaN), db is 0 where a == 0 and b >= 0,
// and NaN where a < 0 (as log(a) is). The masked entries read log(1), so that their second
// derivatives are 0 too, not 0 * log(0) = NaN.
/// The op behind pow(); its formula line states y and the VJP.
template <class T>
struct Pow {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "pow";
    static constexpr const char* formula =
        "y = a ** b   da = g b a^(b-1) (0 where b = 0), db = g y log(a) (0 where a = 0, b >= 0)";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const { return kernels::pow(a, b, name); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G& base = a.x(0);
        const G& e = a.x(1);
        if (a.want(0)) {
            const Mask zero_exponent = mask_of(vjp::value(base), vjp::value(e), [](T, T v) { return v == T(0); });
            const G slope = vjp::pointwise(
                [](const auto& b, const auto& p) {
                    using std::pow;
                    return p * pow(b, p - T(1));
                },
                base, e);
            a.dx[0] = vjp::sum_to(a.g * vjp::where<G>(zero_exponent, T(0), slope), base.shape());
        }
        if (a.want(1)) {
            const Mask masked =
                mask_of(vjp::value(base), vjp::value(e), [](T u, T v) { return u == T(0) && v >= T(0); });
            const G log_base = vjp::pointwise(
                [](const auto& y, const auto& b) {
                    using std::log;
                    return y * log(b);
                },
                a.y, vjp::where<G>(masked, T(1), base));
            a.dx[1] = vjp::sum_to(a.g * vjp::where<G>(masked, T(0), log_base), e.shape());
        }
    }
    ///@}
};

/// Weight of `a` in max(a, b) (or min): 0 where it loses, 1/2 at ties, 1 elsewhere, which
/// includes a NaN on either side (PyTorch 1.13: both sides then get the whole gradient).
template <class T>
Tensor<T> winner_weight(const Tensor<T>& a, const Tensor<T>& b, bool is_max) {
    return kernels::binary(is_max ? "maximum" : "minimum", a, b,
                           [is_max](T u, T v) { return u == v ? T(0.5) : ((is_max ? u < v : u > v) ? T(0) : T(1)); });
}

/// The op behind maximum(); its formula line states y and the VJP.
template <class T>
struct Maximum {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "maximum";
    static constexpr const char* formula =
        "y = max(a, b), NaN if either is   da = g w(a, b), db = g w(b, a), w = 0 losing, 1/2 tied, else 1";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        // u != u: a NaN in a wins (a NaN in b already does: the comparison is false)
        return kernels::binary(name, a, b, [](T u, T v) { return u >= v || u != u ? u : v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const Tensor<T>&x = vjp::value(a.x(0)), &z = vjp::value(a.x(1));
        if (a.want(1)) a.dx[1] = vjp::sum_to(a.g * vjp::constant<G>(winner_weight(z, x, true)), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(a.g * vjp::constant<G>(winner_weight(x, z, true)), a.x(0).shape());
    }
    ///@}
};

/// The op behind minimum(); its formula line states y and the VJP.
template <class T>
struct Minimum {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "minimum";
    static constexpr const char* formula =
        "y = min(a, b), NaN if either is   da = g w(a, b), db = g w(b, a), w = 0 losing, 1/2 tied, else 1";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u <= v || u != u ? u : v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const Tensor<T>&x = vjp::value(a.x(0)), &z = vjp::value(a.x(1));
        if (a.want(1)) a.dx[1] = vjp::sum_to(a.g * vjp::constant<G>(winner_weight(z, x, false)), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(a.g * vjp::constant<G>(winner_weight(x, z, false)), a.x(0).shape());
    }
    ///@}
};

// Binary ops broadcast like NumPy: shapes are aligned from the right and each pair of
// dimensions must be equal or one of them 1.
template <class T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) {
    return apply(Add<T>{}, a, b);
}
template <class T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) {
    return apply(Sub<T>{}, a, b);
}
template <class T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) {
    return apply(Mul<T>{}, a, b);
}
template <class T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b) {
    return apply(Div<T>{}, a, b);
}
/// a ** b elementwise, with std::pow's values at 0, +-inf and NaN. Gradients as PyTorch 1.13:
/// b a^(b-1) for a, but 0 where b == 0; y log(a) for b, but 0 where a == 0 and b >= 0 (NaN where
/// a < 0, as log(a) is).
template <class T>
Variable<T> pow(const Variable<T>& a, const Variable<T>& b) {
    return apply(Pow<T>{}, a, b);
}
/// Elementwise larger value, NaN if either is; at ties each side gets half of the gradient, and
/// where either is NaN both get all of it (as PyTorch).
template <class T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b) {
    return apply(Maximum<T>{}, a, b);
}
template <class T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b) {
    return apply(Minimum<T>{}, a, b);
}

// ---------------------------------------------------------------- one operand and a scalar

/// The op behind add(); its formula line states y and the VJP.
template <class T>
struct AddScalar {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "add_scalar";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x + s   dx = g";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return v + s; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = std::move(a.g);
    }
    ///@}
};

/// The op behind mul(); its formula line states y and the VJP.
template <class T>
struct MulScalar {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "mul_scalar";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x * s   dx = g s";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return v * s; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([s = s](const auto& g) { return g * s; }, std::move(a.g));
    }
    ///@}
};

/// The op behind div(); its formula line states y and the VJP.
template <class T>
struct DivScalar {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "div_scalar";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x / s   dx = g / s";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return v / s; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([s = s](const auto& g) { return g / s; }, std::move(a.g));
    }
    ///@}
};

/// The op behind rsub(); its formula line states y and the VJP.
template <class T>
struct RSubScalar {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "rsub_scalar";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = s - x   dx = -g";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return s - v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([](const auto& g) { return -g; }, std::move(a.g));
    }
    ///@}
};

/// The op behind rdiv(); its formula line states y and the VJP.
template <class T>
struct RDivScalar {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "rdiv_scalar";
    static constexpr const char* formula = "y = s / x   dx = -g y / x";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return s / v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([](const auto& g, const auto& y, const auto& x) { return -g * y / x; },
                                          std::move(a.g), a.y, a.x(0));
    }
    ///@}
};

/// The op behind pow(); its formula line states y and the VJP.
template <class T>
struct PowScalar {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "pow_scalar";
    static constexpr const char* formula = "y = x ** p   dx = g p x^(p-1), 0 for p = 0";
    T p;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::pow(x, p); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (p == T(0))  // as PyTorch 1.13: 0 even where g is inf or NaN
            a.dx[0] = vjp::constant<G>(Tensor<T>(a.x(0).shape(), T(0)));
        else if (p == T(1))
            a.dx[0] = std::move(a.g);
        else if (p == T(2))
            a.dx[0] = vjp::pointwise_in_place([](const auto& g, const auto& x) { return g * x * T(2); }, std::move(a.g),
                                              a.x(0));
        else
            a.dx[0] = vjp::pointwise_in_place(
                [p = p](const auto& g, const auto& x) {
                    using std::pow;
                    return g * pow(x, p - T(1)) * p;
                },
                std::move(a.g), a.x(0));
    }
    std::string describe() const { return detail::message("p=", p); }
    ///@}
};

/// The op behind neg(); its formula line states y and the VJP.
template <class T>
struct Neg {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "neg";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = -x   dx = -g";
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [](T v) { return -v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise_in_place([](const auto& g) { return -g; }, std::move(a.g));
    }
    ///@}
};

template <class T>
Variable<T> add(const Variable<T>& x, T s) {
    return apply(AddScalar<T>{s}, x);
}
template <class T>
Variable<T> mul(const Variable<T>& x, T s) {
    return apply(MulScalar<T>{s}, x);
}
template <class T>
Variable<T> div(const Variable<T>& x, T s) {
    return apply(DivScalar<T>{s}, x);
}
/// s - x
template <class T>
Variable<T> rsub(const Variable<T>& x, T s) {
    return apply(RSubScalar<T>{s}, x);
}
/// s / x
template <class T>
Variable<T> rdiv(const Variable<T>& x, T s) {
    return apply(RDivScalar<T>{s}, x);
}
/// x ** p, with std::pow's values (p = 0.5 is the square root, but +0 at -0 and +inf at -inf);
/// the gradient p x^(p-1) is 0 for p = 0. Unlike PyTorch, whose pow(x, +-0.5) takes sqrt/rsqrt,
/// the value and gradient at -0 and -inf are pow's own (as for a tensor exponent).
template <class T>
Variable<T> pow(const Variable<T>& x, T p) {
    return apply(PowScalar<T>{p}, x);
}
template <class T>
Variable<T> neg(const Variable<T>& x) {
    return apply(Neg<T>{}, x);
}

// ---------------------------------------------------------------- operators

// A scalar of any arithmetic type may stand on either side.
template <class S>
using if_scalar = std::enable_if_t<std::is_arithmetic_v<S>, int>;

template <class T>
Variable<T> operator+(const Variable<T>& a, const Variable<T>& b) {
    return add(a, b);
}
template <class T>
Variable<T> operator-(const Variable<T>& a, const Variable<T>& b) {
    return sub(a, b);
}
template <class T>
Variable<T> operator*(const Variable<T>& a, const Variable<T>& b) {
    return mul(a, b);
}
template <class T>
Variable<T> operator/(const Variable<T>& a, const Variable<T>& b) {
    return div(a, b);
}
template <class T>
Variable<T> operator-(const Variable<T>& x) {
    return neg(x);
}

template <class T, class S, if_scalar<S> = 0>
Variable<T> operator+(const Variable<T>& x, S s) {
    return add(x, T(s));
}
template <class T, class S, if_scalar<S> = 0>
Variable<T> operator+(S s, const Variable<T>& x) {
    return add(x, T(s));
}
template <class T, class S, if_scalar<S> = 0>
Variable<T> operator-(const Variable<T>& x, S s) {
    return add(x, -T(s));
}
template <class T, class S, if_scalar<S> = 0>
Variable<T> operator-(S s, const Variable<T>& x) {
    return rsub(x, T(s));
}
template <class T, class S, if_scalar<S> = 0>
Variable<T> operator*(const Variable<T>& x, S s) {
    return mul(x, T(s));
}
template <class T, class S, if_scalar<S> = 0>
Variable<T> operator*(S s, const Variable<T>& x) {
    return mul(x, T(s));
}
template <class T, class S, if_scalar<S> = 0>
Variable<T> operator/(const Variable<T>& x, S s) {
    return div(x, T(s));
}
template <class T, class S, if_scalar<S> = 0>
Variable<T> operator/(S s, const Variable<T>& x) {
    return rdiv(x, T(s));
}

/// The arithmetic ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::arithmetic> {
    using type = OpList<Add, Sub, Mul, Div, Pow, Maximum, Minimum, AddScalar, MulScalar, DivScalar, RSubScalar,
                        RDivScalar, PowScalar, Neg>;
};

}  // namespace tapegrad

// The VJPs above use log (pow's exponent gradient) when they record.
#include <tapegrad/autograd/ops/math.hpp>

// Arithmetic with NumPy broadcasting: + - * / pow maximum minimum, with a scalar on either side, and the operators.
#pragma once

#include <cmath>
#include <type_traits>

#include <tapegrad/autograd/kernels/elementwise.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/where.hpp>

namespace tapegrad {

// ---------------------------------------------------------------- two operands, broadcasting

template <class T>
struct Add {
    static constexpr const char* name = "add";
    static constexpr const char* formula = "y = a + b   da = g, db = g (each summed back to its own shape)";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u + v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(1)) a.dx[1] = vjp::sum_to(G(a.g), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(std::move(a.g), a.x(0).shape());
    }
};

template <class T>
struct Sub {
    static constexpr const char* name = "sub";
    static constexpr const char* formula = "y = a - b   da = g, db = -g";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u - v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(1)) a.dx[1] = vjp::sum_to(vjp::pointwise([](const auto& g) { return -g; }, a.g), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(std::move(a.g), a.x(0).shape());
    }
};

template <class T>
struct Mul {
    static constexpr const char* name = "mul";
    static constexpr const char* formula = "y = a * b   da = g b, db = g a";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u * v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        auto times = [](const auto& u, const auto& v) { return u * v; };
        if (a.want(0)) a.dx[0] = vjp::sum_to(vjp::pointwise(times, a.g, a.x(1)), a.x(0).shape());
        if (a.want(1)) a.dx[1] = vjp::sum_to(vjp::pointwise(times, a.g, a.x(0)), a.x(1).shape());
    }
};

template <class T>
struct Div {
    static constexpr const char* name = "div";
    static constexpr const char* formula = "y = a / b   da = g / b, db = -g y / b";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u / v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0))
            a.dx[0] = vjp::sum_to(vjp::pointwise([](const auto& g, const auto& b) { return g / b; }, a.g, a.x(1)),
                                  a.x(0).shape());
        if (a.want(1))
            a.dx[1] = vjp::sum_to(
                vjp::pointwise([](const auto& g, const auto& y, const auto& b) { return -g * y / b; }, a.g, a.y, a.x(1)),
                a.x(1).shape());
    }
};

template <class T>
struct Pow {
    static constexpr const char* name = "pow";
    static constexpr const char* formula = "y = a ** b   da = g b a^(b-1), db = g y log(a) (0 where a <= 0)";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return std::pow(u, v); });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G& base = a.x(0);
        const G& e = a.x(1);
        if (a.want(0))
            a.dx[0] = vjp::sum_to(vjp::pointwise(
                                      [](const auto& g, const auto& b, const auto& p) {
                                          using std::pow;
                                          return g * p * pow(b, p - T(1));
                                      },
                                      a.g, base, e),
                                  base.shape());
        if (a.want(1)) {
            // log of 1 where a <= 0 keeps the masked entries (and their second derivatives) at 0.
            const Mask positive = vjp::value(base) > T(0);
            const G safe_base = vjp::where<G>(positive, base, T(1));
            a.dx[1] = vjp::sum_to(vjp::pointwise(
                                      [](const auto& g, const auto& y, const auto& b) {
                                          using std::log;
                                          return g * y * log(b);
                                      },
                                      a.g, a.y, safe_base),
                                  e.shape());
        }
    }
};

/// Weight of `a` in max(a, b) (or min): 1 where it wins, 1/2 at ties, 0 where it loses.
template <class T>
Tensor<T> winner_weight(const Tensor<T>& a, const Tensor<T>& b, bool is_max) {
    return kernels::binary(is_max ? "maximum" : "minimum", a, b, [is_max](T u, T v) {
        return u == v ? T(0.5) : ((is_max ? u > v : u < v) ? T(1) : T(0));
    });
}

template <class T>
struct Maximum {
    static constexpr const char* name = "maximum";
    static constexpr const char* formula = "y = max(a, b)   da = g w, db = g (1 - w), w = [a > b] + [a == b] / 2";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u >= v ? u : v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        Tensor<T> w = winner_weight(vjp::value(a.x(0)), vjp::value(a.x(1)), true);
        if (a.want(1)) a.dx[1] = vjp::sum_to(a.g * vjp::constant<G>(Tensor<T>(T(1) - w)), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(a.g * vjp::constant<G>(std::move(w)), a.x(0).shape());
    }
};

template <class T>
struct Minimum {
    static constexpr const char* name = "minimum";
    static constexpr const char* formula = "y = min(a, b)   da = g w, db = g (1 - w), w = [a < b] + [a == b] / 2";
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        return kernels::binary(name, a, b, [](T u, T v) { return u <= v ? u : v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        Tensor<T> w = winner_weight(vjp::value(a.x(0)), vjp::value(a.x(1)), false);
        if (a.want(1)) a.dx[1] = vjp::sum_to(a.g * vjp::constant<G>(Tensor<T>(T(1) - w)), a.x(1).shape());
        if (a.want(0)) a.dx[0] = vjp::sum_to(a.g * vjp::constant<G>(std::move(w)), a.x(0).shape());
    }
};

// Binary ops broadcast like NumPy: shapes are aligned from the right and each pair of
// dimensions must be equal or one of them 1.
template <class T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) { return apply(Add<T>{}, a, b); }
template <class T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) { return apply(Sub<T>{}, a, b); }
template <class T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) { return apply(Mul<T>{}, a, b); }
template <class T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b) { return apply(Div<T>{}, a, b); }
/// a ** b elementwise; the gradient with respect to b is taken as 0 where a <= 0.
template <class T>
Variable<T> pow(const Variable<T>& a, const Variable<T>& b) { return apply(Pow<T>{}, a, b); }
/// Elementwise larger value; at ties each side gets half of the gradient.
template <class T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b) { return apply(Maximum<T>{}, a, b); }
template <class T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b) { return apply(Minimum<T>{}, a, b); }

// ---------------------------------------------------------------- one operand and a scalar

template <class T>
struct AddScalar {
    static constexpr const char* name = "add_scalar";
    static constexpr const char* formula = "y = x + s   dx = g";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return v + s; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = std::move(a.g); }
};

template <class T>
struct MulScalar {
    static constexpr const char* name = "mul_scalar";
    static constexpr const char* formula = "y = x * s   dx = g s";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return v * s; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise([s = s](const auto& g) { return g * s; }, a.g);
    }
};

template <class T>
struct DivScalar {
    static constexpr const char* name = "div_scalar";
    static constexpr const char* formula = "y = x / s   dx = g / s";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return v / s; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise([s = s](const auto& g) { return g / s; }, a.g);
    }
};

template <class T>
struct RSubScalar {
    static constexpr const char* name = "rsub_scalar";
    static constexpr const char* formula = "y = s - x   dx = -g";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return s - v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = vjp::pointwise([](const auto& g) { return -g; }, a.g); }
};

template <class T>
struct RDivScalar {
    static constexpr const char* name = "rdiv_scalar";
    static constexpr const char* formula = "y = s / x   dx = -g y / x";
    T s;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [s = s](T v) { return s / v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::pointwise([](const auto& g, const auto& y, const auto& x) { return -g * y / x; }, a.g, a.y,
                                 a.x(0));
    }
};

template <class T>
struct PowScalar {
    static constexpr const char* name = "pow_scalar";
    static constexpr const char* formula = "y = x ** p   dx = g p x^(p-1)";
    T p;
    Tensor<T> forward(const Tensor<T>& x) const {
        if (p == T(2)) return kernels::map(x, [](T v) { return v * v; });
        return kernels::map(x, [p = p](T v) { return std::pow(v, p); });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (p == T(0))
            a.dx[0] = a.g * T(0);
        else if (p == T(1))
            a.dx[0] = std::move(a.g);
        else if (p == T(2))
            a.dx[0] = vjp::pointwise([](const auto& g, const auto& x) { return g * x * T(2); }, a.g, a.x(0));
        else
            a.dx[0] = vjp::pointwise(
                [p = p](const auto& g, const auto& x) {
                    using std::pow;
                    return g * pow(x, p - T(1)) * p;
                },
                a.g, a.x(0));
    }
    std::string describe() const { return detail::message("p=", p); }
};

template <class T>
struct Neg {
    static constexpr const char* name = "neg";
    static constexpr const char* formula = "y = -x   dx = -g";
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::map(x, [](T v) { return -v; });
    }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = vjp::pointwise([](const auto& g) { return -g; }, a.g); }
};

template <class T>
Variable<T> add(const Variable<T>& x, T s) { return apply(AddScalar<T>{s}, x); }
template <class T>
Variable<T> mul(const Variable<T>& x, T s) { return apply(MulScalar<T>{s}, x); }
template <class T>
Variable<T> div(const Variable<T>& x, T s) { return apply(DivScalar<T>{s}, x); }
/// s - x
template <class T>
Variable<T> rsub(const Variable<T>& x, T s) { return apply(RSubScalar<T>{s}, x); }
/// s / x
template <class T>
Variable<T> rdiv(const Variable<T>& x, T s) { return apply(RDivScalar<T>{s}, x); }
/// x ** p
template <class T>
Variable<T> pow(const Variable<T>& x, T p) { return apply(PowScalar<T>{p}, x); }
template <class T>
Variable<T> neg(const Variable<T>& x) { return apply(Neg<T>{}, x); }

// ---------------------------------------------------------------- operators

// A scalar of any arithmetic type may stand on either side.
template <class S>
using if_scalar = std::enable_if_t<std::is_arithmetic_v<S>, int>;

template <class T> Variable<T> operator+(const Variable<T>& a, const Variable<T>& b) { return add(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& a, const Variable<T>& b) { return sub(a, b); }
template <class T> Variable<T> operator*(const Variable<T>& a, const Variable<T>& b) { return mul(a, b); }
template <class T> Variable<T> operator/(const Variable<T>& a, const Variable<T>& b) { return div(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& x) { return neg(x); }

template <class T, class S, if_scalar<S> = 0> Variable<T> operator+(const Variable<T>& x, S s) { return add(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator+(S s, const Variable<T>& x) { return add(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator-(const Variable<T>& x, S s) { return add(x, -T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator-(S s, const Variable<T>& x) { return rsub(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator*(const Variable<T>& x, S s) { return mul(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator*(S s, const Variable<T>& x) { return mul(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator/(const Variable<T>& x, S s) { return div(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator/(S s, const Variable<T>& x) { return rdiv(x, T(s)); }

/// The arithmetic ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::arithmetic> {
    using type = OpList<Add, Sub, Mul, Div, Pow, Maximum, Minimum, AddScalar, MulScalar, DivScalar, RSubScalar, RDivScalar, PowScalar, Neg>;
};

}  // namespace tapegrad

// The VJPs above use log (pow's exponent gradient) when they record.
#include <tapegrad/autograd/ops/math.hpp>


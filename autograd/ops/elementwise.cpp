// Elementwise ops: each forward next to its VJP, the VJP written once for both gradient types.
#include <tapegrad/autograd/ops/elementwise.hpp>

#include <cmath>
#include <fmt/format.h>

#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/dual.hpp>

namespace tapegrad {
namespace {

constexpr double inv_sqrt_2pi = 0.398942280401432677939946059934;
constexpr double two_over_sqrt_pi = 1.12837916709551257389615890312;
constexpr double inv_sqrt_2 = 0.707106781186547524400844362105;

// ---------------------------------------------------------------- binary, broadcasting

// Formulas shared by several VJPs (see pointwise() in dual.hpp).
constexpr auto times = [](const auto& u, const auto& v) { return u * v; };
constexpr auto negate = [](const auto& u) { return -u; };

template <class T, class F>
Tensor<T> binary_forward(const char* op, const Variable<T>& a, const Variable<T>& b, F f) {
    if (shape_equal(a.shape(), b.shape())) return kernels::broadcast_binary(a.value(), b.value(), a.shape(), f);  // no copy
    const Shape out = kernels::broadcast_shape(op, a.shape(), b.shape());
    return naming_allocation_failures(op, [&] { return kernels::broadcast_binary(a.value(), b.value(), out, f); });
}

/// y = a + b.   da = g, db = g (each summed back to its own shape)
template <class T>
struct Add final : Op<Add<T>, T, 2> {
    const char* op_name() const noexcept override { return "add"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(1)) a.dx[1] = sum_to(G(a.g), a.x(1).shape());
        if (a.want(0)) a.dx[0] = sum_to(std::move(a.g), a.x(0).shape());
    }
};

/// y = a - b.   da = g, db = -g
template <class T>
struct Sub final : Op<Sub<T>, T, 2> {
    const char* op_name() const noexcept override { return "sub"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(1)) a.dx[1] = sum_to(pointwise(negate, a.g), a.x(1).shape());
        if (a.want(0)) a.dx[0] = sum_to(std::move(a.g), a.x(0).shape());
    }
};

/// y = a * b.   da = g b, db = g a
template <class T>
struct Mul final : Op<Mul<T>, T, 2> {
    const char* op_name() const noexcept override { return "mul"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = sum_to(pointwise(times, a.g, a.x(1)), a.x(0).shape());
        if (a.want(1)) a.dx[1] = sum_to(pointwise(times, a.g, a.x(0)), a.x(1).shape());
    }
};

/// y = a / b.   da = g / b, db = -g y / b
template <class T>
struct Div final : Op<Div<T>, T, 2> {
    const char* op_name() const noexcept override { return "div"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = sum_to(pointwise([](const auto& g, const auto& b) { return g / b; }, a.g, a.x(1)),
                                        a.x(0).shape());
        if (a.want(1))
            a.dx[1] = sum_to(
                pointwise([](const auto& g, const auto& y, const auto& b) { return -g * y / b; }, a.g, a.y, a.x(1)),
                a.x(1).shape());
    }
};

/// [a == 0 and b >= 0] over the broadcast shape of a and b: where pow's db is 0. (Built by hand:
/// xtensor's && of two bool expressions of different shapes mis-broadcast here.)
template <class T>
Mask zero_base_mask(const Tensor<T>& a, const Tensor<T>& b) {
    const Shape out = kernels::broadcast_shape("pow", a.shape(), b.shape());
    const Tensor<T> w = kernels::broadcast_binary(a, b, out, [](T u, T v) { return T(u == T(0) && v >= T(0)); });
    Mask m = Mask::from_shape(w.shape());
    for (std::size_t i = 0; i < w.size(); ++i) m.data()[i] = w.data()[i] != T(0);
    return m;
}

/// y = a ** b.   da = g b a^(b-1), 0 where b == 0;  db = g y log(a), 0 where a == 0 and b >= 0
/// (PyTorch 1.13's rules: never 0 * inf = NaN at b == 0; NaN for a < 0, as log(a) is).
template <class T>
struct Pow final : Op<Pow<T>, T, 2> {
    const char* op_name() const noexcept override { return "pow"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G& base = a.x(0);
        const G& e = a.x(1);
        if (a.want(0)) {
            const Mask zero_exponent = xt::equal(value_of(e), T(0));
            a.dx[0] = sum_to(a.g * choose<G>(zero_exponent, T(0), e * dual::pow(base, e - T(1))), base.shape());
        }
        if (a.want(1)) {
            // +0 at the masked entries (y log 1 would be -0 for y = -0), and log reads 1 there, so
            // that their second derivatives are 0 too, not 0 * log(0) = NaN.
            const Mask masked = zero_base_mask(value_of(base), value_of(e));
            a.dx[1] = sum_to(a.g * choose<G>(masked, T(0), a.y * dual::log(choose<G>(masked, T(1), base))), e.shape());
        }
    }
};

/// Weight of `a` in max(a, b) (or min): 0 where it loses, 1/2 at ties, 1 elsewhere, which
/// includes a NaN on either side (PyTorch 1.13: both sides then get the whole gradient).
template <class T>
Tensor<T> winner_weight(const Tensor<T>& a, const Tensor<T>& b, bool is_max) {
    const Shape out = kernels::broadcast_shape(is_max ? "maximum" : "minimum", a.shape(), b.shape());
    return kernels::broadcast_binary(a, b, out, [is_max](T u, T v) {
        return u == v ? T(0.5) : ((is_max ? u < v : u > v) ? T(0) : T(1));
    });
}

/// y = max(a, b), NaN if either is.   da = g w(a, b), db = g w(b, a)
template <class T>
struct Maximum final : Op<Maximum<T>, T, 2> {
    explicit Maximum(bool is_max) : is_max(is_max) {}
    const char* op_name() const noexcept override { return is_max ? "maximum" : "minimum"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(1))
            a.dx[1] = sum_to(a.g * lift<G>(winner_weight(value_of(a.x(1)), value_of(a.x(0)), is_max)), a.x(1).shape());
        if (a.want(0))
            a.dx[0] = sum_to(a.g * lift<G>(winner_weight(value_of(a.x(0)), value_of(a.x(1)), is_max)), a.x(0).shape());
    }
    bool is_max;
};

// ---------------------------------------------------------------- scalar operand

/// y = x + s.   dx = g
template <class T>
struct AddScalar final : Op<AddScalar<T>, T, 1> {
    const char* op_name() const noexcept override { return "add_scalar"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = std::move(a.g); }
};

/// y = x * s.   dx = g s
template <class T>
struct MulScalar final : Op<MulScalar<T>, T, 1> {
    explicit MulScalar(T s) : s(s) {}
    const char* op_name() const noexcept override { return "mul_scalar"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const T s = this->s;
        a.dx[0] = pointwise([s](const auto& g) { return g * s; }, a.g);
    }
    T s;
};

/// y = x / s.   dx = g / s
template <class T>
struct DivScalar final : Op<DivScalar<T>, T, 1> {
    explicit DivScalar(T s) : s(s) {}
    const char* op_name() const noexcept override { return "div_scalar"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const T s = this->s;
        a.dx[0] = pointwise([s](const auto& g) { return g / s; }, a.g);
    }
    T s;
};

/// y = s - x.   dx = -g
template <class T>
struct RSubScalar final : Op<RSubScalar<T>, T, 1> {
    const char* op_name() const noexcept override { return "rsub_scalar"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = pointwise(negate, a.g); }
};

/// y = s / x.   dx = -g y / x
template <class T>
struct RDivScalar final : Op<RDivScalar<T>, T, 1> {
    const char* op_name() const noexcept override { return "rdiv_scalar"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = pointwise([](const auto& g, const auto& y, const auto& x) { return -g * y / x; }, a.g, a.y, a.x(0));
    }
};

/// y = x ** p.   dx = g p x^(p-1), and 0 for p = 0 (as PyTorch 1.13: even where g is inf or NaN)
template <class T>
struct PowScalar final : Op<PowScalar<T>, T, 1> {
    explicit PowScalar(T p) : p(p) {}
    const char* op_name() const noexcept override { return "pow_scalar"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (p == T(0))
            a.dx[0] = lift<G>(Tensor<T>(a.x(0).shape(), T(0)));
        else if (p == T(1))
            a.dx[0] = std::move(a.g);
        else if (p == T(2))
            a.dx[0] = a.g * (a.x(0) * T(2));
        else
            a.dx[0] = a.g * (dual::pow(a.x(0), p - T(1)) * p);
    }
    std::string describe() const override { return fmt::format("p={}", p); }
    T p;
};

// ---------------------------------------------------------------- unary math

/// y = -x.   dx = -g
template <class T>
struct Neg final : Op<Neg<T>, T, 1> {
    const char* op_name() const noexcept override { return "neg"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = pointwise(negate, a.g); }
};

/// y = exp(x).   dx = g y
template <class T>
struct Exp final : Op<Exp<T>, T, 1> {
    const char* op_name() const noexcept override { return "exp"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = pointwise(times, a.g, a.y); }
};

/// y = log(x).   dx = g / x
template <class T>
struct Log final : Op<Log<T>, T, 1> {
    const char* op_name() const noexcept override { return "log"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = pointwise([](const auto& g, const auto& x) { return g / x; }, a.g, a.x(0));
    }
};

/// y = sqrt(x).   dx = g / (2 y)
template <class T>
struct Sqrt final : Op<Sqrt<T>, T, 1> {
    const char* op_name() const noexcept override { return "sqrt"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = pointwise([](const auto& g, const auto& y) { return g / (y * T(2)); }, a.g, a.y);
    }
};

/// y = |x|.   dx = g sign(x)
template <class T>
struct Abs final : Op<Abs<T>, T, 1> {
    const char* op_name() const noexcept override { return "abs"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = a.g * lift<G>(kernels::map(value_of(a.x(0)), [](T v) { return T((v > 0) - (v < 0)); }));
    }
};

/// y = min(max(x, lo), hi).   dx = g [lo <= x <= hi]
template <class T>
struct Clamp final : Op<Clamp<T>, T, 1> {
    Clamp(T lo, T hi) : lo(lo), hi(hi) {}
    const char* op_name() const noexcept override { return "clamp"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const T l = lo, h = hi;
        a.dx[0] = a.g * lift<G>(kernels::map(value_of(a.x(0)), [l, h](T v) { return T(v >= l && v <= h); }));
    }
    std::string describe() const override { return fmt::format("lo={}, hi={}", lo, hi); }
    T lo, hi;
};

/// y = erf(x).   dx = g 2/sqrt(pi) exp(-x^2)
template <class T>
struct Erf final : Op<Erf<T>, T, 1> {
    const char* op_name() const noexcept override { return "erf"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = pointwise(
            [](const auto& g, const auto& x) {
                using std::exp;
                return g * exp(-(x * x)) * T(two_over_sqrt_pi);
            },
            a.g, a.x(0));
    }
};

// ---------------------------------------------------------------- activations

/// y = tanh(x).   dx = g (1 - y^2)
template <class T>
struct Tanh final : Op<Tanh<T>, T, 1> {
    const char* op_name() const noexcept override { return "tanh"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = pointwise([](const auto& g, const auto& y) { return g * (T(1) - y * y); }, a.g, a.y);
    }
};

/// y = 1 / (1 + exp(-x)).   dx = g y (1 - y)
template <class T>
struct Sigmoid final : Op<Sigmoid<T>, T, 1> {
    const char* op_name() const noexcept override { return "sigmoid"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = pointwise([](const auto& g, const auto& y) { return g * y * (T(1) - y); }, a.g, a.y);
    }
};

/// y = max(x, 0), NaN for NaN.   dx = g [not y <= 0] (PyTorch's threshold rule: g passes at NaN)
template <class T>
struct Relu final : Op<Relu<T>, T, 1> {
    const char* op_name() const noexcept override { return "relu"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (is_variable_v<G>) {
            a.dx[0] = a.g * lift<G>(kernels::map(a.y.value(), [](T v) { return T(!(v <= 0)); }));
        } else {  // one pass, no mask tensor: this is on every ReLU network's hot path
            a.dx[0] = kernels::broadcast_binary(a.g, a.y, a.y.shape(), [](T g, T y) { return y <= 0 ? T(0) : g; });
        }
    }
};

/// y = x for x > 0, s x otherwise.   dx = g (1 or s)
template <class T>
struct LeakyRelu final : Op<LeakyRelu<T>, T, 1> {
    explicit LeakyRelu(T slope) : slope(slope) {}
    const char* op_name() const noexcept override { return "leaky_relu"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const T s = slope;
        a.dx[0] = a.g * lift<G>(kernels::map(value_of(a.x(0)), [s](T v) { return v > 0 ? T(1) : s; }));
    }
    std::string describe() const override { return fmt::format("negative_slope={}", slope); }
    T slope;
};

/// y = x for x > 0, alpha (exp(x) - 1) otherwise.   dx = g (1, or y + alpha for x <= 0; 1 at NaN, as PyTorch)
template <class T>
struct Elu final : Op<Elu<T>, T, 1> {
    explicit Elu(T alpha) : alpha(alpha) {}
    const char* op_name() const noexcept override { return "elu"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        Mask positive = !(value_of(a.x(0)) <= T(0));
        a.dx[0] = choose<G>(positive, a.g, a.g * (a.y + alpha));
    }
    std::string describe() const override { return fmt::format("alpha={}", alpha); }
    T alpha;
};

/// y = log(1 + exp(beta x)) / beta.   dx = g sigmoid(beta x)
template <class T>
struct Softplus final : Op<Softplus<T>, T, 1> {
    explicit Softplus(T beta) : beta(beta) {}
    const char* op_name() const noexcept override { return "softplus"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const T b = beta;  // dx = g sigmoid(b x), written so that exp(-b x) = inf just gives 0
        a.dx[0] = pointwise(
            [b](const auto& g, const auto& x) {
                using std::exp;
                return g / (exp(x * -b) + T(1));
            },
            a.g, a.x(0));
    }
    std::string describe() const override { return fmt::format("beta={}", beta); }
    T beta;
};

/// y = x Phi(x).   dx = g (Phi(x) + x phi(x))
template <class T>
struct Gelu final : Op<Gelu<T>, T, 1> {
    const char* op_name() const noexcept override { return "gelu"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = pointwise(
            [](const auto& g, const auto& x) {
                using std::erf;
                using std::exp;
                return g * ((erf(x * T(inv_sqrt_2)) + T(1)) * T(0.5) + x * exp(x * x * T(-0.5)) * T(inv_sqrt_2pi));
            },
            a.g, a.x(0));
    }
};

/// y = mask ? a : b.   da = g [mask], db = g [!mask]
template <class T>
struct Where final : Op<Where<T>, T, 2> {
    explicit Where(Mask mask) : mask(std::move(mask)) {}
    const char* op_name() const noexcept override { return "where"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = sum_to(choose<G>(mask, a.g, T(0)), a.x(0).shape());
        if (a.want(1)) a.dx[1] = sum_to(choose<G>(mask, T(0), a.g), a.x(1).shape());
    }
    void release_saved() noexcept { mask = Mask(); }
    Mask mask;
};

template <class T>
Variable<T> scalar_like(T v) {
    return Variable<T>(Tensor<T>(Shape{}, v));
}

}  // namespace

template <class T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) {
    return record<Add<T>>(binary_forward("add", a, b, [](T u, T v) { return u + v; }), {&a, &b});
}
template <class T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) {
    return record<Sub<T>>(binary_forward("sub", a, b, [](T u, T v) { return u - v; }), {&a, &b});
}
template <class T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) {
    return record<Mul<T>>(binary_forward("mul", a, b, [](T u, T v) { return u * v; }), {&a, &b});
}
template <class T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b) {
    return record<Div<T>>(binary_forward("div", a, b, [](T u, T v) { return u / v; }), {&a, &b});
}
template <class T>
Variable<T> pow(const Variable<T>& a, const Variable<T>& b) {
    return record<Pow<T>>(naming_allocation_failures("pow", [&] { return kernels::pow(a.value(), b.value(), "pow"); }),
                          {&a, &b});
}
template <class T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b) {
    // u != u: a NaN in a wins (a NaN in b already does: the comparison is false)
    return record<Maximum<T>>(binary_forward("maximum", a, b, [](T u, T v) { return u >= v || u != u ? u : v; }),
                              {&a, &b}, true);
}
template <class T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b) {
    return record<Maximum<T>>(binary_forward("minimum", a, b, [](T u, T v) { return u <= v || u != u ? u : v; }),
                              {&a, &b}, false);
}

template <class T>
Variable<T> add(const Variable<T>& x, T s) {
    return record<AddScalar<T>>(kernels::map(x.value(), [s](T v) { return v + s; }), {&x});
}
template <class T>
Variable<T> mul(const Variable<T>& x, T s) {
    return record<MulScalar<T>>(kernels::map(x.value(), [s](T v) { return v * s; }), {&x}, s);
}
template <class T>
Variable<T> div(const Variable<T>& x, T s) {
    return record<DivScalar<T>>(kernels::map(x.value(), [s](T v) { return v / s; }), {&x}, s);
}
template <class T>
Variable<T> rsub(const Variable<T>& x, T s) {
    return record<RSubScalar<T>>(kernels::map(x.value(), [s](T v) { return s - v; }), {&x});
}
template <class T>
Variable<T> rdiv(const Variable<T>& x, T s) {
    return record<RDivScalar<T>>(kernels::map(x.value(), [s](T v) { return s / v; }), {&x});
}
template <class T>
Variable<T> pow(const Variable<T>& x, T p) {
    return record<PowScalar<T>>(kernels::pow(x.value(), p), {&x}, p);
}

template <class T>
Variable<T> neg(const Variable<T>& x) {
    return record<Neg<T>>(kernels::map(x.value(), [](T v) { return -v; }), {&x});
}
template <class T>
Variable<T> exp(const Variable<T>& x) {
    return record<Exp<T>>(kernels::exp(x.value()), {&x});
}
template <class T>
Variable<T> log(const Variable<T>& x) {
    return record<Log<T>>(kernels::log(x.value()), {&x});
}
template <class T>
Variable<T> sqrt(const Variable<T>& x) {
    return record<Sqrt<T>>(kernels::sqrt(x.value()), {&x});
}
template <class T>
Variable<T> abs(const Variable<T>& x) {
    return record<Abs<T>>(kernels::map(x.value(), [](T v) { return std::abs(v); }), {&x});
}
template <class T>
Variable<T> clamp(const Variable<T>& x, T lo, T hi) {
    if (!(lo <= hi)) throw Error(fmt::format("clamp: lo must be <= hi, got lo={} and hi={}", lo, hi));
    return record<Clamp<T>>(kernels::map(x.value(), [lo, hi](T v) { return v < lo ? lo : (v > hi ? hi : v); }),
                            {&x}, lo, hi);
}
template <class T>
Variable<T> erf(const Variable<T>& x) {
    return record<Erf<T>>(kernels::erf(x.value()), {&x});
}

template <class T>
Variable<T> tanh(const Variable<T>& x) {
    return record<Tanh<T>>(kernels::tanh(x.value()), {&x});
}
template <class T>
Variable<T> sigmoid(const Variable<T>& x) {
    return record<Sigmoid<T>>(tapegrad::sigmoid(x.value()), {&x});
}
template <class T>
Variable<T> relu(const Variable<T>& x) {
    // v < 0 rather than v <= 0: NaN and -0 pass through, as in PyTorch
    return record<Relu<T>>(kernels::map(x.value(), [](T v) { return v < 0 ? T(0) : v; }), {&x});
}
template <class T>
Variable<T> leaky_relu(const Variable<T>& x, T negative_slope) {
    return record<LeakyRelu<T>>(kernels::map(x.value(), [negative_slope](T v) { return v > 0 ? v : v * negative_slope; }),
                                {&x}, negative_slope);
}
template <class T>
Variable<T> elu(const Variable<T>& x, T alpha) {
    return record<Elu<T>>(kernels::map(x.value(), [alpha](T v) { return v > 0 ? v : alpha * std::expm1(v); }), {&x},
                          alpha);
}
template <class T>
Variable<T> softplus(const Variable<T>& x, T beta) {
    if (!(beta > 0)) throw Error(fmt::format("softplus: beta must be > 0, got {}", beta));
    // max(bx, 0) + log1p(exp(-|bx|)), divided by b: never overflows.
    return record<Softplus<T>>(kernels::map(x.value(),
                                            [beta](T v) {
                                                const T z = beta * v;
                                                return (std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)))) / beta;
                                            }),
                               {&x}, beta);
}
template <class T>
Variable<T> gelu(const Variable<T>& x) {
    return record<Gelu<T>>(
        kernels::map(x.value(), [](T v) { return v * T(0.5) * (T(1) + std::erf(v * T(inv_sqrt_2))); }), {&x});
}

template <class T>
Variable<T> where(const Mask& mask, const Variable<T>& a, const Variable<T>& b) {
    const Shape ab = kernels::broadcast_shape("where", a.shape(), b.shape());
    const Shape out = kernels::broadcast_shape("where", Shape(mask.shape().begin(), mask.shape().end()), ab);
    Tensor<T> y = xt::where(xt::broadcast(mask, out), xt::broadcast(a.value(), out), xt::broadcast(b.value(), out));
    return record<Where<T>>(std::move(y), {&a, &b}, mask);
}
template <class T>
Variable<T> where(const Mask& mask, const Variable<T>& a, T b) {
    return tapegrad::where(mask, a, scalar_like(b));
}
template <class T>
Variable<T> where(const Mask& mask, T a, const Variable<T>& b) {
    return tapegrad::where(mask, scalar_like(a), b);
}

#define TAPEGRAD_INSTANTIATE(T)                                                              \
    template Variable<T> add(const Variable<T>&, const Variable<T>&);                        \
    template Variable<T> sub(const Variable<T>&, const Variable<T>&);                        \
    template Variable<T> mul(const Variable<T>&, const Variable<T>&);                        \
    template Variable<T> div(const Variable<T>&, const Variable<T>&);                        \
    template Variable<T> pow(const Variable<T>&, const Variable<T>&);                        \
    template Variable<T> maximum(const Variable<T>&, const Variable<T>&);                    \
    template Variable<T> minimum(const Variable<T>&, const Variable<T>&);                    \
    template Variable<T> add(const Variable<T>&, T);                                         \
    template Variable<T> mul(const Variable<T>&, T);                                         \
    template Variable<T> div(const Variable<T>&, T);                                         \
    template Variable<T> rsub(const Variable<T>&, T);                                        \
    template Variable<T> rdiv(const Variable<T>&, T);                                        \
    template Variable<T> pow(const Variable<T>&, T);                                         \
    template Variable<T> neg(const Variable<T>&);                                            \
    template Variable<T> exp(const Variable<T>&);                                            \
    template Variable<T> log(const Variable<T>&);                                            \
    template Variable<T> sqrt(const Variable<T>&);                                           \
    template Variable<T> abs(const Variable<T>&);                                            \
    template Variable<T> clamp(const Variable<T>&, T, T);                                    \
    template Variable<T> erf(const Variable<T>&);                                            \
    template Variable<T> tanh(const Variable<T>&);                                           \
    template Variable<T> sigmoid(const Variable<T>&);                                        \
    template Variable<T> relu(const Variable<T>&);                                           \
    template Variable<T> leaky_relu(const Variable<T>&, T);                                  \
    template Variable<T> elu(const Variable<T>&, T);                                         \
    template Variable<T> softplus(const Variable<T>&, T);                                    \
    template Variable<T> gelu(const Variable<T>&);                                           \
    template Variable<T> where(const Mask&, const Variable<T>&, const Variable<T>&);         \
    template Variable<T> where(const Mask&, const Variable<T>&, T);                          \
    template Variable<T> where(const Mask&, T, const Variable<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad

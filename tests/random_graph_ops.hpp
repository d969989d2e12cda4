// Random-graph test: the ops it draws, one table row each ({name, arity, builder}), and their builders.
//
// Adding an op is one row in `rows()` plus, unless an existing builder fits, a builder: a member
// function that draws one step of that kind from an operand (its settings, partners, new leaves)
// and returns whether it added a step. A builder returns false to have the step redrawn, e.g.
// when the operand comes within `kink_gap` of a kink. Rows are drawn uniformly, so an op with two
// rows is drawn twice as often; a new row goes just above the canary `square_wrong`, which stays
// last (it is drawn only by the test that must catch it). Every seed's graph depends on the order
// of the rows and of the random draws in each builder.
#pragma once

#include <numeric>

#include <xtensor/xmanipulation.hpp>

#include <tapegrad/autograd/op.hpp>

#include "random_graph_draw.hpp"
#include "random_graph_sequence_ops.hpp"

namespace tgtest::random_graph {

/// y = x * x with a deliberately wrong VJP (g x instead of 2 g x): the property test must catch it.
template <class T>
struct WrongSquare {
    static constexpr const char* name = "square_wrong";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const { return x * x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = G(a.g * a.x(0));
    }
};
inline V square_wrong(const V& x) { return tg::apply(WrongSquare<double>{}, x); }

/// The ops of the random-graph test and how each is drawn; the Builder draws rows from `rows()`.
class OpTable : protected SequenceOps {
public:
    /// One kind of step: its name, the most values a step of it reads, and its builder.
    struct Row {
        const char* name;
        std::size_t arity;
        bool (OpTable::*build)(const Operand&);
    };
    static const std::vector<Row>& rows();

protected:
    using SequenceOps::SequenceOps;

private:
    // ---------------------------------------------------------------- smooth unary
    bool neg(const Operand& o) {
        return unary("neg", o.a, [](const V& v) { return -v; });
    }
    bool tanh(const Operand& o) {
        return unary("tanh", o.a, [](const V& v) { return tg::tanh(v); });
    }
    bool sigmoid(const Operand& o) {
        return unary("sigmoid", o.a, [](const V& v) { return tg::sigmoid(v); });
    }
    bool erf(const Operand& o) {
        return unary("erf", o.a, [](const V& v) { return tg::erf(v); });
    }
    bool gelu(const Operand& o) {
        return unary("gelu", o.a, [](const V& v) { return tg::gelu(v); });
    }
    bool softplus(const Operand& o) {
        const double beta = uni(0.5, 2.0);
        return unary("softplus[beta=" + std::to_string(beta) + "]", o.a,
                     [beta](const V& v) { return tg::softplus(v, beta); });
    }
    bool exp(const Operand& o) {
        if (xt::amax(o.xv)() < 3) return unary("exp", o.a, [](const V& v) { return tg::exp(v); });
        return unary("exp(tanh)", o.a, [](const V& v) { return tg::exp(tg::tanh(v)); });
    }
    bool log(const Operand& o) {
        auto pos = positive(min_of(o.xv) >= 0.3);
        return unary(min_of(o.xv) >= 0.3 ? "log" : "log(x*x+0.5)", o.a, [pos](const V& v) { return tg::log(pos(v)); });
    }
    bool sqrt(const Operand& o) {
        auto pos = positive(min_of(o.xv) >= 0.3);
        return unary(min_of(o.xv) >= 0.3 ? "sqrt" : "sqrt(x*x+0.5)", o.a,
                     [pos](const V& v) { return tg::sqrt(pos(v)); });
    }
    bool add_scalar(const Operand& o) {
        const double s = uni(-2, 2);
        return unary("add_scalar[" + std::to_string(s) + "]", o.a, [s](const V& v) { return v + s; });
    }
    bool mul_scalar(const Operand& o) {
        const double s = uni(-2, 2);
        return unary("mul_scalar[" + std::to_string(s) + "]", o.a, [s](const V& v) { return v * s; });
    }
    bool div_scalar(const Operand& o) {
        const double s = coin() ? uni(0.5, 2) : -uni(0.5, 2);
        return unary("div_scalar[" + std::to_string(s) + "]", o.a, [s](const V& v) { return v / s; });
    }
    bool rsub(const Operand& o) {
        const double s = uni(-2, 2);
        return unary("rsub[" + std::to_string(s) + "]", o.a, [s](const V& v) { return s - v; });
    }
    bool rdiv(const Operand& o) {
        if (min_abs(o.xv) < 0.5) return false;
        const double s = uni(-2, 2);
        return unary("rdiv[" + std::to_string(s) + "]", o.a, [s](const V& v) { return s / v; });
    }
    bool pow_scalar(const Operand& o) {
        const double p = one_of(std::vector<double>{2.0, 3.0, 0.5, 1.5, -1.0});
        const bool integral = p == 2.0 || p == 3.0;
        auto pos = positive(integral || min_of(o.xv) >= 0.3);
        return unary("pow_scalar[" + std::to_string(p) + "]" + (integral || min_of(o.xv) >= 0.3 ? "" : "(x*x+0.5)"),
                     o.a, [pos, p](const V& v) { return tg::pow(pos(v), p); });
    }

    // ---------------------------------------------------------------- kinks, kept away from
    bool abs(const Operand& o) {
        if (min_abs(o.xv) < kink_gap) return false;
        return unary("abs", o.a, [](const V& v) { return tg::abs(v); });
    }
    bool relu(const Operand& o) {
        if (min_abs(o.xv) < kink_gap) return false;
        return unary("relu", o.a, [](const V& v) { return tg::relu(v); });
    }
    bool leaky_relu(const Operand& o) {
        if (min_abs(o.xv) < kink_gap) return false;
        return unary("leaky_relu[0.1]", o.a, [](const V& v) { return tg::leaky_relu(v, 0.1); });
    }
    bool elu(const Operand& o) {
        if (min_abs(o.xv) < kink_gap) return false;
        const double alpha = coin() ? 1.0 : 0.5;
        return unary("elu[" + std::to_string(alpha) + "]", o.a, [alpha](const V& v) { return tg::elu(v, alpha); });
    }
    bool clamp(const Operand& o) {
        const double lo = uni(-1.5, -0.2), hi = uni(0.2, 1.5);
        if (min_abs(o.xv - lo) < kink_gap || min_abs(o.xv - hi) < kink_gap) return false;
        return unary("clamp[" + std::to_string(lo) + "," + std::to_string(hi) + "]", o.a,
                     [lo, hi](const V& v) { return tg::clamp(v, lo, hi); });
    }

    // ---------------------------------------------------------------- broadcasting binary
    bool add(const Operand& o) {
        return binary("add", o.a, partner(o.a), [](const V& u, const V& v) { return u + v; });
    }
    bool sub(const Operand& o) {
        return binary("sub", o.a, partner(o.a), [](const V& u, const V& v) { return u - v; });
    }
    bool mul(const Operand& o) {
        return binary("mul", o.a, partner(o.a), [](const V& u, const V& v) { return u * v; });
    }
    bool div(const Operand& o) {
        const std::size_t b = partner(o.a);
        const bool direct = min_abs(val(b).value()) >= 0.5;
        auto pos = positive(direct);
        return binary(direct ? "div" : "div(a, b*b+0.5)", o.a, b, [pos](const V& u, const V& v) { return u / pos(v); });
    }
    bool pow(const Operand& o) {
        const std::size_t b = partner(o.a);
        const bool direct = min_of(o.xv) >= 0.3;
        auto pos = positive(direct);
        return binary(direct ? "pow" : "pow(a*a+0.5, b)", o.a, b,
                      [pos](const V& u, const V& v) { return tg::pow(pos(u), v); });
    }
    bool maximum_minimum(const Operand& o) {
        const std::size_t b = partner(o.a);
        const auto shape = broadcast(o.x.shape(), val(b).shape());
        const Tn diff = xt::broadcast(o.xv, *shape) - xt::broadcast(val(b).value(), *shape);
        if (min_abs(diff) < kink_gap) return false;
        const bool mx = pick(0, 1);
        return binary(mx ? "maximum" : "minimum", o.a, b,
                      [mx](const V& u, const V& v) { return mx ? tg::maximum(u, v) : tg::minimum(u, v); });
    }
    bool where(const Operand& o) {
        const std::size_t b = partner(o.a);
        const auto shape = broadcast(o.x.shape(), val(b).shape());
        tg::Mask mask = xt::zeros<bool>(*shape);
        for (auto& m : mask) m = coin();
        if (coin(0.3)) {
            const double s = uni(-1, 1);
            return unary("where[mask," + std::to_string(s) + "]", o.a,
                         [mask, s](const V& u) { return tg::where(mask, u, s); });
        }
        return binary("where[mask]", o.a, b, [mask](const V& u, const V& v) { return tg::where(mask, u, v); });
    }

    // ---------------------------------------------------------------- reductions
    bool sum_mean(const Operand& o) {
        const int r = o.r;
        const bool mean = pick(0, 1);
        const char* name = mean ? "mean" : "sum";
        if (r == 0 || coin(0.25))
            return unary(name, o.a, [mean](const V& v) { return mean ? tg::mean(v) : tg::sum(v); });
        const bool keep = coin();
        if (coin()) {
            const int axis = pick(-r, r - 1);
            return unary(std::string(name) + "[axis=" + std::to_string(axis) + ",keep=" + std::to_string(keep) + "]",
                         o.a, [=](const V& v) { return mean ? tg::mean(v, axis, keep) : tg::sum(v, axis, keep); });
        }
        tg::Axes axes;
        for (int d = 0; d < r; ++d)
            if (coin()) axes.push_back(coin() ? d : d - r);
        return unary(std::string(name) + "[axes=" + list(axes) + ",keep=" + std::to_string(keep) + "]", o.a,
                     [=](const V& v) { return mean ? tg::mean(v, axes, keep) : tg::sum(v, axes, keep); });
    }
    bool max_min(const Operand& o) {
        const int r = o.r;
        const bool mx = pick(0, 1);
        const char* name = mx ? "max" : "min";
        std::vector<std::size_t> axes(static_cast<std::size_t>(r));
        std::iota(axes.begin(), axes.end(), 0);
        if (r == 0 || coin(0.3)) {
            if (tie_gap(o.xv, axes, mx) < kink_gap) return false;
            return unary(name, o.a, [mx](const V& v) { return mx ? tg::max(v) : tg::min(v); });
        }
        const int axis = pick(0, r - 1);
        if (tie_gap(o.xv, {std::size_t(axis)}, mx) < kink_gap) return false;
        const bool keep = coin();
        return unary(std::string(name) + "[axis=" + std::to_string(axis) + ",keep=" + std::to_string(keep) + "]", o.a,
                     [=](const V& v) { return mx ? tg::max(v, axis, keep) : tg::min(v, axis, keep); });
    }
    bool logsumexp(const Operand& o) {
        const int r = o.r;
        if (r == 0 || coin(0.3)) return unary("logsumexp", o.a, [](const V& v) { return tg::logsumexp(v); });
        const int axis = pick(-r, r - 1);
        const bool keep = coin();
        return unary("logsumexp[axis=" + std::to_string(axis) + ",keep=" + std::to_string(keep) + "]", o.a,
                     [=](const V& v) { return tg::logsumexp(v, axis, keep); });
    }
    bool var(const Operand& o) {
        const int r = o.r;
        const int correction = pick(0, 1);
        if (r == 0 || coin(0.3)) {
            if (o.x.size() <= std::size_t(correction)) return false;
            return unary("var[correction=" + std::to_string(correction) + "]", o.a,
                         [=](const V& v) { return tg::var(v, correction); });
        }
        const int axis = pick(0, r - 1);
        if (o.x.shape()[std::size_t(axis)] <= std::size_t(correction)) return false;
        const bool keep = coin();
        return unary("var[axis=" + std::to_string(axis) + ",keep=" + std::to_string(keep) +
                         ",correction=" + std::to_string(correction) + "]",
                     o.a, [=](const V& v) { return tg::var(v, axis, keep, correction); });
    }
    bool softmax(const Operand& o) {
        const int r = o.r;
        if (r == 0) return false;
        const int axis = pick(-r, r - 1);
        const bool log = pick(0, 1);
        return unary(std::string(log ? "log_softmax" : "softmax") + "[axis=" + std::to_string(axis) + "]", o.a,
                     [=](const V& v) { return log ? tg::log_softmax(v, axis) : tg::softmax(v, axis); });
    }

    // ---------------------------------------------------------------- shapes and indexing
    bool reshape(const Operand& o) {
        tg::Shape s;
        std::size_t rest = o.x.size();
        while (rest > 1 && s.size() < 3) {
            std::vector<std::size_t> divisors;
            for (std::size_t d = 1; d <= rest; ++d)
                if (rest % d == 0) divisors.push_back(d);
            const std::size_t d = one_of(divisors);
            s.push_back(d);
            rest /= d;
        }
        if (rest > 1) s.push_back(rest);
        if (coin(0.3)) s.push_back(1);
        return unary("reshape[" + str(s) + "]", o.a, [s](const V& v) { return tg::reshape(v, s); });
    }
    bool flatten(const Operand& o) {
        if (o.r == 0) return false;
        const int start = pick(0, o.r - 1), end = pick(start, o.r - 1);
        return unary("flatten[" + std::to_string(start) + "," + std::to_string(end) + "]", o.a,
                     [=](const V& v) { return tg::flatten(v, start, end); });
    }
    bool squeeze(const Operand& o) {
        const int r = o.r;
        std::vector<int> ones;
        for (int d = 0; d < r; ++d)
            if (o.x.shape()[std::size_t(d)] == 1) ones.push_back(d);
        if (ones.empty() || coin(0.3)) {
            const int axis = pick(-r - 1, r);
            return unary("unsqueeze[" + std::to_string(axis) + "]", o.a,
                         [axis](const V& v) { return tg::unsqueeze(v, axis); });
        }
        if (coin()) return unary("squeeze", o.a, [](const V& v) { return tg::squeeze(v); });
        const int axis = one_of(ones);
        return unary("squeeze[" + std::to_string(axis) + "]", o.a, [axis](const V& v) { return tg::squeeze(v, axis); });
    }
    bool transpose(const Operand& o) {
        const int r = o.r;
        if (r < 2 || coin(0.3)) return unary("transpose", o.a, [](const V& v) { return tg::transpose(v); });
        if (coin()) {
            const int a0 = pick(0, r - 1), a1 = pick(-r, r - 1);
            return unary("transpose[" + std::to_string(a0) + "," + std::to_string(a1) + "]", o.a,
                         [=](const V& v) { return tg::transpose(v, a0, a1); });
        }
        tg::Axes perm(std::size_t(r), 0);
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), gen_.engine());
        return unary("permute" + list(perm), o.a, [perm](const V& v) { return tg::permute(v, perm); });
    }
    bool slice(const Operand& o) {
        if (o.r == 0) return false;
        const int axis = pick(0, o.r - 1);
        const auto n = std::ptrdiff_t(o.x.shape()[std::size_t(axis)]);
        const std::ptrdiff_t step = pick(1, 2);
        std::ptrdiff_t start = pick(0, int(n) - 1), stop = pick(int(start) + 1, int(n) + 1);
        if (coin(0.3)) start -= n;  // Python-style negative bounds
        if (coin(0.3)) stop -= n + 1;
        auto out_size = [&] {
            const std::ptrdiff_t s0 = start < 0 ? start + n : start, s1 = stop < 0 ? stop + n : std::min(stop, n);
            return s1 > s0 ? (s1 - s0 + step - 1) / step : 0;
        };
        if (out_size() == 0) return false;
        return unary("slice[axis=" + std::to_string(axis) + "," + std::to_string(start) + ":" + std::to_string(stop) +
                         ":" + std::to_string(step) + "]",
                     o.a, [=](const V& v) { return tg::slice(v, axis, start, stop, step); });
    }
    bool index_select(const Operand& o) {
        if (o.r == 0) return false;
        const int axis = pick(0, o.r - 1);
        const int extent = int(o.x.shape()[std::size_t(axis)]);
        tg::Indices idx(std::size_t(pick(1, 4)));
        for (auto& i : idx) i = std::size_t(pick(0, extent - 1));  // repeats allowed
        if (coin()) {
            return unary("index_select[axis=" + std::to_string(axis) + "," + list(idx) + "]", o.a,
                         [=](const V& v) { return tg::index_select(v, axis, idx); });
        }
        tg::Shape is = o.x.shape();
        is[std::size_t(axis)] = std::size_t(pick(1, 3));
        tg::Tensor<std::size_t> index = tg::Tensor<std::size_t>::from_shape(is);
        for (auto& i : index) i = std::size_t(pick(0, extent - 1));
        return unary("gather[axis=" + std::to_string(axis) + ",index " + str(is) + "]", o.a,
                     [=](const V& v) { return tg::gather(v, axis, index); });
    }
    bool concat(const Operand& o) {
        if (o.r == 0) return false;
        const int axis = pick(0, o.r - 1);
        tg::Shape s = o.x.shape();
        s[std::size_t(axis)] = std::size_t(pick(1, 2));
        const std::size_t b = coin(0.3) ? o.a : new_leaf(s, coin(0.8));
        const bool first = coin();
        return binary(std::string(first ? "concat" : "concat_swapped") + "[axis=" + std::to_string(axis) + "]", o.a, b,
                      [=](const V& u, const V& v) {
                          return first ? tg::concat(Args{u, v}, axis) : tg::concat(Args{v, u}, axis);
                      });
    }
    bool stack(const Operand& o) {
        const int axis = pick(-o.r - 1, o.r);
        const std::size_t b = coin(0.3) ? o.a : new_leaf(o.x.shape(), coin(0.8));
        return binary("stack[axis=" + std::to_string(axis) + "]", o.a, b, [axis](const V& u, const V& v) {
            return tg::stack(Args{u, v}, axis);
        });
    }
    bool broadcast_to_sum_to(const Operand& o) {
        // broadcast_to a larger shape, or sum_to a shape that broadcasts to x's
        tg::Shape s = o.x.shape();
        if (coin()) {
            for (auto& d : s)
                if (d == 1 && coin()) d = std::size_t(pick(1, 3));
            if (coin()) s = prepend(s, std::size_t(pick(1, 2)));
            return unary("broadcast_to[" + str(s) + "]", o.a, [s](const V& v) { return tg::broadcast_to(v, s); });
        }
        for (auto& d : s)
            if (coin()) d = 1;
        s.erase(s.begin(), s.begin() + pick(0, int(s.size())));
        return unary("sum_to[" + str(s) + "]", o.a, [s](const V& v) { return tg::sum_to(v, s); });
    }

    // ---------------------------------------------------------------- matrix products
    bool matmul_linear(const Operand& o) {
        const int r = o.r;
        if (r == 0) return false;
        const tg::Shape& xs = o.x.shape();
        const std::size_t k = xs[std::size_t(r - 1)];
        if (coin(0.3)) {  // a dense layer: x (..., in) W^T + b
            const std::size_t out = std::size_t(pick(1, 3));
            const std::size_t w = new_leaf({out, k}, true);
            if (coin()) {
                const std::size_t bias = new_leaf({out}, coin(0.8));
                return add_step({"linear(" + ref(o.a) + ", " + ref(w) + ", " + ref(bias) + ")",
                                 {o.a, w, bias},
                                 [](const Args& v) { return tg::linear(v[0], v[1], v[2]); }});
            }
            return binary("linear", o.a, w, [](const V& u, const V& v) { return tg::linear(u, v); });
        }
        if (r >= 2 && coin(0.3)) {  // x on the right: (m, rows of x) @ x
            const std::size_t left = new_leaf({std::size_t(pick(1, 3)), xs[std::size_t(r - 2)]}, coin(0.8));
            return binary("matmul", left, o.a, [](const V& u, const V& v) { return tg::matmul(u, v); });
        }
        tg::Shape s;
        switch (pick(0, 2)) {
            case 0:
                s = {k};
                break;  // matrix-vector, or dot
            case 1:
                s = {k, std::size_t(pick(1, 3))};
                break;  // matrix-matrix
            case 2: {   // batched: leading extents broadcast
                const std::size_t batch = r >= 3 ? (coin() ? xs[std::size_t(r - 3)] : 1) : std::size_t(pick(1, 2));
                s = {batch, k, std::size_t(pick(1, 3))};
                break;
            }
        }
        const std::size_t b = new_leaf(s, coin(0.8));
        return binary("matmul", o.a, b, [](const V& u, const V& v) { return tg::matmul(u, v); });
    }

    // ---------------------------------------------------------------- images: convolution, pooling; a loss
    /// conv2d of x seen as (N, C, H, W), with a new weight and maybe a bias.
    bool conv2d(const Operand& o) {
        const auto img = image_shape(o.x.size());
        if (!img) return false;
        const std::size_t C = (*img)[1], H = (*img)[2], W = (*img)[3];
        const std::size_t groups = C > 1 && coin(0.3) ? C : 1;
        const std::size_t out = groups * std::size_t(pick(1, 2));
        const std::size_t kh = std::size_t(pick(1, 3)), kw = std::size_t(pick(1, 3));
        const std::size_t stride = std::size_t(pick(1, 2)), pad = std::size_t(pick(0, 1));
        const std::size_t dil = std::size_t(pick(1, 2));
        if (windows(H, pad, kh, dil, stride) == 0 || windows(W, pad, kw, dil, stride) == 0) return false;
        const auto opt = tg::Conv2dOptions().stride(stride).padding(pad).dilation(dil).groups(groups);
        const std::string text = "conv2d[image " + str(*img) + ",stride=" + std::to_string(stride) +
                                 ",padding=" + std::to_string(pad) + ",dilation=" + std::to_string(dil) +
                                 ",groups=" + std::to_string(groups) + "]";
        const tg::Shape shape = *img;
        const std::size_t w = new_leaf({out, C / groups, kh, kw}, true);
        if (coin()) {
            const std::size_t bias = new_leaf({out}, coin(0.8));
            return add_step(
                {text + "(" + ref(o.a) + ", " + ref(w) + ", " + ref(bias) + ")",
                 {o.a, w, bias},
                 [shape, opt](const Args& v) { return tg::conv2d(tg::reshape(v[0], shape), v[1], v[2], opt); }});
        }
        return binary(text, o.a, w,
                      [shape, opt](const V& u, const V& v) { return tg::conv2d(tg::reshape(u, shape), v, opt); });
    }
    /// Average, L2 or max pooling of x seen as (N, C, H, W).
    bool pool2d(const Operand& o) {
        const auto img = image_shape(o.x.size());
        if (!img) return false;
        const tg::Shape shape = *img;
        const std::size_t kh = std::size_t(pick(1, 3)), kw = std::size_t(pick(1, 3));
        const std::size_t sh = std::size_t(pick(1, 2)), sw = std::size_t(pick(1, 2));
        const std::size_t ph = std::size_t(pick(0, int(kh / 2))), pw = std::size_t(pick(0, int(kw / 2)));
        const int kind = pick(0, 2);  // avg, lp, max
        const std::size_t dil = kind == 2 ? std::size_t(pick(1, 2)) : 1;
        if (windows(shape[2], ph, kh, dil, sh) == 0 || windows(shape[3], pw, kw, dil, sw) == 0) return false;
        auto opt =
            tg::Pool2dOptions({kh, kw}).stride({sh, sw}).padding({ph, pw}).dilation(dil).count_include_pad(coin());
        const std::string settings = "[image " + str(shape) + ",kernel=(" + std::to_string(kh) + "," +
                                     std::to_string(kw) + "),stride=(" + std::to_string(sh) + "," + std::to_string(sw) +
                                     "),padding=(" + std::to_string(ph) + "," + std::to_string(pw) +
                                     "),dilation=" + std::to_string(dil) +
                                     ",count_include_pad=" + std::to_string(opt.count_include_pad()) + "]";
        if (kind == 0)
            return unary("avg_pool2d" + settings, o.a,
                         [shape, opt](const V& v) { return tg::avg_pool2d(tg::reshape(v, shape), opt); });
        if (kind == 1) {  // sqrt of window sums of squares: keep them away from 0
            tg::NoGradGuard no_grad;
            if (min_of(tg::lp_pool2d(tg::reshape(o.x, shape), 2.0, opt).value()) < 0.3) return false;
            return unary("lp_pool2d[p=2]" + settings, o.a,
                         [shape, opt](const V& v) { return tg::lp_pool2d(tg::reshape(v, shape), 2.0, opt); });
        }
        if (pool_tie_gap(o.xv, shape, opt) < kink_gap) return false;
        return unary("max_pool2d" + settings, o.a,
                     [shape, opt](const V& v) { return tg::max_pool2d(tg::reshape(v, shape), opt); });
    }
    /// cross_entropy of x seen as logits (N, C) against random labels.
    bool cross_entropy(const Operand& o) {
        const std::size_t size = o.x.size();
        std::vector<std::size_t> ns;
        for (std::size_t n = 1; n <= size; ++n)
            if (size % n == 0 && size / n >= 2) ns.push_back(n);
        if (ns.empty()) return false;
        const std::size_t n = one_of(ns), c = size / n;
        tg::Indices labels(n);
        for (auto& l : labels) l = std::size_t(pick(0, int(c) - 1));
        const auto reduction = one_of(
            std::vector<tg::LossReduction>{tg::LossReduction::mean, tg::LossReduction::sum, tg::LossReduction::none});
        const double smoothing = coin() ? 0.0 : uni(0.0, 0.3);
        return unary("cross_entropy[(" + std::to_string(n) + "," + std::to_string(c) + "),labels " + list(labels) +
                         ",reduction=" + std::to_string(int(reduction)) + ",smoothing=" + std::to_string(smoothing) +
                         "]",
                     o.a, [=](const V& v) {
                         return tg::cross_entropy(tg::reshape(v, tg::Shape{n, c}), labels, reduction, smoothing);
                     });
    }

    /// Draws nothing (see its row).
    bool nothing(const Operand&) { return false; }
    bool square_wrong(const Operand& o) {
        return unary("square_wrong", o.a, [](const V& v) { return random_graph::square_wrong(v); });
    }
};

inline const std::vector<OpTable::Row>& OpTable::rows() {
    static const std::vector<Row> table = {
        {"neg", 1, &OpTable::neg},
        {"tanh", 1, &OpTable::tanh},
        {"sigmoid", 1, &OpTable::sigmoid},
        {"erf", 1, &OpTable::erf},
        {"gelu", 1, &OpTable::gelu},
        {"softplus", 1, &OpTable::softplus},
        {"exp", 1, &OpTable::exp},
        {"log", 1, &OpTable::log},
        {"sqrt", 1, &OpTable::sqrt},
        {"add_scalar", 1, &OpTable::add_scalar},
        {"mul_scalar", 1, &OpTable::mul_scalar},
        {"div_scalar", 1, &OpTable::div_scalar},
        {"rsub", 1, &OpTable::rsub},
        {"rdiv", 1, &OpTable::rdiv},
        {"pow_scalar", 1, &OpTable::pow_scalar},
        {"abs", 1, &OpTable::abs},
        {"relu", 1, &OpTable::relu},
        {"leaky_relu", 1, &OpTable::leaky_relu},
        {"elu", 1, &OpTable::elu},
        {"clamp", 1, &OpTable::clamp},
        {"add", 2, &OpTable::add},
        {"sub", 2, &OpTable::sub},
        {"mul", 2, &OpTable::mul},
        {"div", 2, &OpTable::div},
        {"pow", 2, &OpTable::pow},
        {"maximum/minimum", 2, &OpTable::maximum_minimum},
        {"maximum/minimum", 2, &OpTable::maximum_minimum},
        {"where", 2, &OpTable::where},
        {"sum/mean", 1, &OpTable::sum_mean},
        {"sum/mean", 1, &OpTable::sum_mean},
        {"max/min", 1, &OpTable::max_min},
        {"logsumexp", 1, &OpTable::logsumexp},
        {"var", 1, &OpTable::var},
        {"softmax/log_softmax", 1, &OpTable::softmax},
        {"reshape", 1, &OpTable::reshape},
        {"flatten", 1, &OpTable::flatten},
        {"squeeze/unsqueeze", 1, &OpTable::squeeze},
        {"transpose/permute", 1, &OpTable::transpose},
        {"slice", 1, &OpTable::slice},
        {"index_select/gather", 1, &OpTable::index_select},
        {"concat", 2, &OpTable::concat},
        {"stack", 2, &OpTable::stack},
        {"broadcast_to/sum_to", 1, &OpTable::broadcast_to_sum_to},
        {"matmul/linear", 3, &OpTable::matmul_linear},  // linear with a bias reads 3 values
        {"conv2d", 3, &OpTable::conv2d},                // with a bias
        {"pool2d", 1, &OpTable::pool2d},
        {"pool2d", 1, &OpTable::pool2d},
        {"cross_entropy", 1, &OpTable::cross_entropy},
        // Draws nothing: the switch this table replaced had no case 48, so one draw in 51 added no
        // step. Kept so that each seed still draws the graph it drew before.
        {"(nothing)", 0, &OpTable::nothing},
        {"conv2d", 3, &OpTable::conv2d},
        {"pool2d", 1, &OpTable::pool2d},
        // sequence ops (issue 14)
        {"embedding", 1, &OpTable::embedding},
        {"masked_fill", 1, &OpTable::masked_fill},
        {"masked_softmax/masked_log_softmax", 1, &OpTable::masked_softmax},
        {"cumsum", 1, &OpTable::cumsum},
        {"tril/triu", 1, &OpTable::tril_triu},
        {"topk", 1, &OpTable::topk},
        {"split/chunk", 1, &OpTable::split_chunk},
        {"square_wrong", 1, &OpTable::square_wrong},  // the canary: last, drawn only with the wrong op
    };
    return table;
}

}  // namespace tgtest::random_graph

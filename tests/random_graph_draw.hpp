// Random-graph test: the program being drawn, and the helpers every op of it is drawn with.
//
// Programs of steps; random choices, operands, partners that broadcast, new leaves; distances to
// kinks and ties. The ops themselves are in random_graph_ops.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xmanipulation.hpp>
#include <xtensor/xsort.hpp>

#include "helpers.hpp"

namespace tgtest::random_graph {

using Tn = tg::Tensor<double>;
using Args = std::vector<V>;

// Keep every step this far from a kink, a tie or the edge of a domain. Gradcheck moves a leaf
// by 1e-6, so an intermediate value moves by 1e-6 times the (bounded) derivatives before it.
constexpr double kink_gap = 0.02;
// Values are kept small so that central differences stay accurate.
constexpr double max_abs_value = 50.0;
constexpr std::size_t max_elements = 24;
constexpr std::size_t max_steps = 20;

inline std::string str(const tg::Shape& s) { return tg::shape_string(s); }
template <class C>
inline std::string list(const C& c) {
    std::string s = "{";
    for (std::size_t i = 0; i < std::size(c); ++i) s += (i ? "," : "") + std::to_string(c[i]);
    return s + "}";
}

/// NumPy broadcasting of two shapes, or nothing when they do not broadcast.
inline std::optional<tg::Shape> broadcast(const tg::Shape& a, const tg::Shape& b) {
    const std::size_t r = std::max(a.size(), b.size());
    tg::Shape out(r);
    for (std::size_t i = 0; i < r; ++i) {
        const std::size_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const std::size_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        if (da != db && da != 1 && db != 1) return std::nullopt;
        out[i] = std::max(da, db);
    }
    return out;
}

/// `shape` with an extent `d` in front (built anew: GCC 12 misreads svector::insert of a value).
inline tg::Shape prepend(const tg::Shape& shape, std::size_t d) {
    tg::Shape out(shape.size() + 1);
    out[0] = d;
    std::copy(shape.begin(), shape.end(), out.begin() + 1);
    return out;
}

inline double min_abs(const Tn& t) { return t.size() ? xt::amin(xt::abs(t))() : INFINITY; }
inline double min_of(const Tn& t) { return t.size() ? xt::amin(t)() : INFINITY; }

/// Smallest gap between the largest two (or smallest two) entries of any slice along the
/// reduced axes: a max/min reduction is differentiable only without near-ties.
inline double tie_gap(const Tn& x, const std::vector<std::size_t>& axes, bool largest) {
    // Move the reduced axes to the end and look at rows of the flattened result.
    std::vector<std::size_t> perm, kept_shape;
    for (std::size_t d = 0; d < x.dimension(); ++d)
        if (std::find(axes.begin(), axes.end(), d) == axes.end()) perm.push_back(d);
    std::size_t row = 1;
    for (std::size_t d : axes) {
        perm.push_back(d);
        row *= x.shape()[d];
    }
    if (row < 2) return INFINITY;
    Tn moved = x.dimension() ? Tn(xt::transpose(x, perm)) : x;
    double gap = INFINITY;
    for (std::size_t r = 0; r < moved.size() / row; ++r) {
        std::vector<double> v(moved.data() + r * row, moved.data() + (r + 1) * row);
        std::sort(v.begin(), v.end());
        gap = std::min(gap, largest ? v[row - 1] - v[row - 2] : v[1] - v[0]);
    }
    return gap;
}

/// Smallest gap between the largest two entries of any max_pool2d window (padding is never a
/// candidate); 0 when some window lies entirely in the padding (max_pool2d refuses that).
inline double pool_tie_gap(const Tn& x, const tg::Shape& shape, const tg::Pool2dOptions& o) {
    const std::size_t N = shape[0], C = shape[1], H = shape[2], W = shape[3];
    const auto k = o.kernel_size(), s = o.stride(), p = o.padding(), d = o.dilation();
    const std::size_t OH = (H + 2 * p.h - (d.h * (k.h - 1) + 1)) / s.h + 1;
    const std::size_t OW = (W + 2 * p.w - (d.w * (k.w - 1) + 1)) / s.w + 1;
    double gap = INFINITY;
    for (std::size_t nc = 0; nc < N * C; ++nc)
        for (std::size_t oh = 0; oh < OH; ++oh)
            for (std::size_t ow = 0; ow < OW; ++ow) {
                std::vector<double> v;
                for (std::size_t i = 0; i < k.h; ++i)
                    for (std::size_t j = 0; j < k.w; ++j) {
                        const auto h = std::ptrdiff_t(oh * s.h + i * d.h) - std::ptrdiff_t(p.h);
                        const auto w = std::ptrdiff_t(ow * s.w + j * d.w) - std::ptrdiff_t(p.w);
                        if (h >= 0 && w >= 0 && h < std::ptrdiff_t(H) && w < std::ptrdiff_t(W))
                            v.push_back(x.data()[nc * H * W + std::size_t(h) * W + std::size_t(w)]);
                    }
                if (v.empty()) return 0;
                std::sort(v.begin(), v.end());
                if (v.size() > 1) gap = std::min(gap, v[v.size() - 1] - v[v.size() - 2]);
            }
    return gap;
}

/// One step of a program: an op applied to earlier values (or, with no arguments, a leaf).
struct Step {
    std::string text;               // e.g. "maximum(%3, %1)"
    std::vector<std::size_t> args;  // slots of the values it reads
    std::function<V(const Args&)> run;
};

/// A random composition of ops; every leaf is a step too, so slots number values in order.
struct Program {
    std::uint64_t seed = 0;
    std::vector<Step> steps;
    std::vector<V> params;  // the leaves that require grad: what gradcheck differentiates by
    std::vector<std::string> shapes;

    V run() const {
        std::vector<V> vals;
        vals.reserve(steps.size());
        for (const Step& s : steps) {
            Args a;
            for (std::size_t i : s.args) a.push_back(vals[i]);
            vals.push_back(s.run(a));
        }
        return vals.back();
    }
    /// Ops on the longest path from a leaf to the result.
    std::size_t depth() const {
        std::vector<std::size_t> d(steps.size(), 0);
        std::size_t deepest = 0;
        for (std::size_t i = 0; i < steps.size(); ++i) {
            for (std::size_t j : steps[i].args) d[i] = std::max(d[i], d[j] + 1);
            deepest = std::max(deepest, d[i]);
        }
        return deepest;
    }
    std::size_t ops() const {
        return std::size_t(std::count_if(steps.begin(), steps.end(), [](const Step& s) { return !s.args.empty(); }));
    }
    std::string listing() const {
        std::string s;
        for (std::size_t i = 0; i < steps.size(); ++i)
            s += "  %" + std::to_string(i) + " = " + steps[i].text + "   " + shapes[i] + "\n";
        return s;
    }
};

/// The value a step is drawn from: its slot `a`, and its value as a Variable `x`, as a tensor `xv`,
/// and its rank `r`.
struct Operand {
    Operand(std::size_t slot, V value) : a(slot), x(std::move(value)), xv(x.value()), r(int(x.dim())) {}
    Operand(const Operand&) = delete;  // xv refers into x
    Operand& operator=(const Operand&) = delete;
    const std::size_t a;
    const V x;  // a handle, not a reference: new leaves may move the values
    const Tn& xv;
    const int r;
};

/// The state of a program being drawn (the random generator, the steps, their values) and the
/// helpers that draw its parts; the op builders (random_graph_ops.hpp) derive from it.
class Draw {
protected:
    Draw(std::uint64_t seed, bool with_wrong_op) : gen_(seed), wrong_(with_wrong_op) { p_.seed = seed; }

    // ---------------------------------------------------------------- random choices
    int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_.engine()); }
    bool coin(double p = 0.5) { return gen_.uniform() < p; }
    double uni(double lo, double hi) { return gen_.uniform(lo, hi); }
    template <class C>
    const auto& one_of(const C& c) {
        return c[std::size_t(pick(0, int(std::size(c)) - 1))];
    }

    tg::Shape random_shape() {
        for (;;) {
            tg::Shape s(std::size_t(pick(0, 3)));
            for (auto& d : s) d = std::size_t(pick(1, 4));
            if (tg::shape_size(s) <= max_elements) return s;
        }
    }

    /// A random way to see n elements as an image batch (N, C, H, W) with H, W >= 2.
    std::optional<tg::Shape> image_shape(std::size_t n) {
        auto divisor_of = [&](std::size_t m) {
            std::vector<std::size_t> d;
            for (std::size_t k = 1; k <= m; ++k)
                if (m % k == 0) d.push_back(k);
            return one_of(d);
        };
        for (int attempt = 0; attempt < 8; ++attempt) {
            const std::size_t N = coin() ? 1 : divisor_of(n), C = coin() ? 1 : divisor_of(n / N);
            const std::size_t H = divisor_of(n / N / C), W = n / N / C / H;
            if (H >= 2 && W >= 2) return tg::Shape{N, C, H, W};
        }
        return std::nullopt;
    }
    /// Positions of a sliding window along an axis (0 if it does not fit once).
    static std::size_t windows(std::size_t in, std::size_t pad, std::size_t k, std::size_t dil, std::size_t stride) {
        const std::size_t span = dil * (k - 1) + 1;
        return in + 2 * pad < span ? 0 : (in + 2 * pad - span) / stride + 1;
    }

    /// An operand: the newest value half of the time (deep chains), any earlier one otherwise
    /// (values used twice make diamonds).
    std::size_t operand() { return coin() ? vals_.size() - 1 : std::size_t(pick(0, int(vals_.size()) - 1)); }
    const V& val(std::size_t i) const { return vals_[i]; }
    std::string ref(std::size_t i) const { return "%" + std::to_string(i); }

    std::size_t new_leaf(const tg::Shape& shape, bool requires_grad) {
        Tn t = Tn::from_shape(shape);
        for (auto& v : t) v = uni(-2.0, 2.0);
        V leaf(std::move(t), requires_grad);
        if (requires_grad) p_.params.push_back(leaf);
        const std::string text = std::string(requires_grad ? "parameter" : "constant") + " " + str(shape);
        add_step({text, {}, [leaf](const Args&) { return leaf; }}, true);
        return vals_.size() - 1;
    }

    /// A partner for a broadcasting binary op with `a`: an earlier value whose shape broadcasts
    /// with a's, or a new leaf of such a shape.
    std::size_t partner(std::size_t a) {
        const tg::Shape s = val(a).shape();
        if (coin(0.4)) {
            std::vector<std::size_t> fits;
            for (std::size_t i = 0; i < vals_.size(); ++i) {
                auto b = broadcast(s, val(i).shape());
                if (b && tg::shape_size(*b) <= max_elements) fits.push_back(i);
            }
            if (!fits.empty()) return one_of(fits);
        }
        tg::Shape t = s;
        switch (pick(0, 4)) {
            case 0:
                break;  // same shape
            case 1:
                for (auto& d : t)
                    if (coin()) d = 1;
                break;  // some extents 1
            case 2:
                t.erase(t.begin(), t.begin() + pick(0, int(t.size())));
                break;  // a suffix
            case 3:
                t = prepend(t, std::size_t(pick(1, 3)));
                break;  // an extra leading axis
            case 4:
                for (auto& d : t)
                    if (d == 1) d = std::size_t(pick(1, 3));
                break;  // expand a's 1s
        }
        if (tg::shape_size(*broadcast(s, t)) > max_elements) t = s;
        return new_leaf(t, coin(0.8));
    }

    /// x itself where it is at least `lo` everywhere, otherwise x*x + 0.5 (in the same step).
    static std::function<V(const V&)> positive(bool direct) {
        if (direct) return [](const V& x) { return x; };
        return [](const V& x) { return x * x + 0.5; };
    }

    // ---------------------------------------------------------------- adding a step
    /// Evaluates `s` on the current values and keeps it if its value is finite, small and
    /// not too large; `force` keeps it regardless (leaves and the final sum).
    bool add_step(Step s, bool force = false) {
        Args a;
        for (std::size_t i : s.args) a.push_back(vals_[i]);
        V out;
        try {
            out = s.run(a);
        } catch (const std::exception& e) {  // every step is drawn valid: this is a bug somewhere
            throw std::runtime_error("step %" + std::to_string(vals_.size()) + " = " + s.text + " threw: " + e.what() +
                                     "\nprogram so far:\n" + p_.listing());
        }
        if (!force) {
            if (out.size() > max_elements || out.size() == 0) return false;
            const Tn& v = out.value();
            if (!xt::all(xt::isfinite(v)) || xt::amax(xt::abs(v))() > max_abs_value) return false;
        }
        p_.shapes.push_back(str(out.shape()));
        p_.steps.push_back(std::move(s));
        vals_.push_back(std::move(out));
        return true;
    }

    using Unary = std::function<V(const V&)>;
    bool unary(const std::string& name, std::size_t a, Unary f) {
        return add_step({name + "(" + ref(a) + ")", {a}, [f](const Args& x) { return f(x[0]); }});
    }
    bool binary(const std::string& name, std::size_t a, std::size_t b, std::function<V(const V&, const V&)> f) {
        return add_step(
            {name + "(" + ref(a) + ", " + ref(b) + ")", {a, b}, [f](const Args& x) { return f(x[0], x[1]); }});
    }

    tg::Generator gen_;
    bool wrong_;
    Program p_;
    std::vector<V> vals_;
};

}  // namespace tgtest::random_graph

// The fused cross-entropy op: forward (log-softmax + NLL in one pass per row) next to its VJP.
#include <tapegrad/autograd/ops/loss.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/dual.hpp>
#include <tapegrad/autograd/ops/elementwise.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>
#include <tapegrad/autograd/ops/shape.hpp>

namespace tapegrad {
namespace {

/// The label-smoothed target distribution: `on` at the label, `off` elsewhere.
struct Target {
    double on, off, smoothing;
};

/// y = cross-entropy per row, reduced.   dx = (softmax(x) - target) * g_i, with g_i = g / N for
/// the mean (N: rows not ignored), g for the sum and g[i] for none; 0 for ignored rows.
template <class T>
struct CrossEntropyOp final : Op<CrossEntropyOp<T>, T, 1> {
    CrossEntropyOp(Tensor<T> probs, Indices labels, LossReduction reduction, Target target,
                   std::optional<std::size_t> ignore, std::size_t active)
        : probs(std::move(probs)), labels(std::move(labels)), reduction(reduction), target(target), ignore(ignore),
          active(active) {}
    const char* op_name() const noexcept override { return "cross_entropy"; }

    bool ignored(std::size_t i) const { return ignore && labels[i] == *ignore; }

    template <class G>
    void backward(VjpArgs<G>& a) const {
        const std::size_t n = labels.size(), c = value_of(a.x(0)).shape()[1];
        if constexpr (is_variable_v<G>) {
            if (active == 0) {  // every row ignored: nothing depends on the logits
                a.dx[0] = Variable<T>(Tensor<T>(Shape{n, c}, T(0)));
                return;
            }
            // Recorded: softmax(x) - target, scaled; softmax's own VJP gives second derivatives.
            Variable<T> diff = sub(softmax(a.x(0), 1), Variable<T>(target_tensor(n, c)));
            if (active < n) diff = mul(diff, Variable<T>(row_mask(n)));
            if (reduction == LossReduction::none)
                a.dx[0] = mul(diff, reshape(a.g, Shape{n, 1}));
            else
                a.dx[0] = mul(diff, reduction == LossReduction::mean ? div(a.g, T(active)) : a.g);
        } else {
            Tensor<T> dx = Tensor<T>::from_shape({n, c});
            const T* p = probs.data();
            const T* g = a.g.data();
            T* d = dx.data();
            const T off = T(target.off), on = T(target.on);
            for (std::size_t i = 0; i < n; ++i) {
                T* dr = d + i * c;
                if (ignored(i)) {
                    std::fill(dr, dr + c, T(0));
                    continue;
                }
                const T w = reduction == LossReduction::none
                                ? g[i]
                                : (reduction == LossReduction::mean ? g[0] / T(active) : g[0]);
                const T* pr = p + i * c;
#pragma omp simd
                for (std::size_t k = 0; k < c; ++k) dr[k] = (pr[k] - off) * w;
                dr[labels[i]] -= (on - off) * w;
            }
            a.dx[0] = std::move(dx);
        }
    }

    Tensor<T> target_tensor(std::size_t n, std::size_t c) const {
        Tensor<T> t(Shape{n, c}, T(target.off));
        for (std::size_t i = 0; i < n; ++i)
            if (!ignored(i)) t.data()[i * c + labels[i]] = T(target.on);
        return t;
    }

    /// (n, 1): 1 for the rows that count, 0 for ignored ones.
    Tensor<T> row_mask(std::size_t n) const {
        Tensor<T> m = Tensor<T>::from_shape({n, 1});
        for (std::size_t i = 0; i < n; ++i) m.data()[i] = ignored(i) ? T(0) : T(1);
        return m;
    }

    std::string describe() const override {
        const char* r = reduction == LossReduction::mean ? "mean" : (reduction == LossReduction::sum ? "sum" : "none");
        std::string s = fmt::format("reduction={}, label_smoothing={}", r, target.smoothing);
        if (ignore) s += fmt::format(", ignore_index={}", *ignore);
        return s;
    }
    void release_saved() noexcept { probs = Tensor<T>(); }

    Tensor<T> probs;  // softmax of the logits, kept from the forward pass
    Indices labels;
    LossReduction reduction;
    Target target;
    std::optional<std::size_t> ignore;
    std::size_t active;  // rows not ignored
};

}  // namespace

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Indices& labels, LossReduction reduction,
                          double label_smoothing, std::optional<std::size_t> ignore_index) {
    if (logits.dim() != 2)
        throw Error(fmt::format("cross_entropy: expected logits (N,C), got {}", shape_string(logits.shape())));
    const std::size_t n = logits.shape()[0], c = logits.shape()[1];
    if (labels.size() != n)
        throw Error(fmt::format("cross_entropy: {} labels for logits {}: expected one label per row ({})",
                                labels.size(), shape_string(logits.shape()), n));
    if (n == 0 || c == 0)
        throw Error(fmt::format("cross_entropy: logits {} are empty", shape_string(logits.shape())));
    std::size_t active = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (ignore_index && labels[i] == *ignore_index) continue;
        if (labels[i] >= c)
            throw Error(fmt::format("cross_entropy: label {} at position {} is out of range for {} classes", labels[i],
                                    i, c));
        ++active;
    }
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
        throw Error(fmt::format("cross_entropy: label_smoothing must be in [0, 1], got {}", label_smoothing));
    const Target target{1.0 - label_smoothing + label_smoothing / double(c), label_smoothing / double(c), label_smoothing};

    // One pass per row: max, exp and their sum (kept as softmax), then the loss.
    const Tensor<T>& x = logits.value();
    Tensor<T> probs = Tensor<T>::from_shape({n, c});
    Tensor<T> losses = Tensor<T>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) {
        const T* row = x.data() + i * c;
        T* p = probs.data() + i * c;
        T m = -std::numeric_limits<T>::infinity();
        for (std::size_t k = 0; k < c; ++k) m = std::max(m, row[k]);
        if (!std::isfinite(m)) m = T(0);
        T total = 0, row_sum = 0;
        for (std::size_t k = 0; k < c; ++k) {
            p[k] = std::exp(row[k] - m);
            total += p[k];
            row_sum += row[k] - m;
        }
        const T inv = T(1) / total;
        for (std::size_t k = 0; k < c; ++k) p[k] *= inv;
        if (ignore_index && labels[i] == *ignore_index) {
            losses.data()[i] = T(0);
            continue;
        }
        const T log_total = std::log(total);  // logsumexp - m
        // -(on x_y + off sum_k x_k) + logsumexp, written relative to m so large logits cancel exactly.
        const T at_label = row[labels[i]] - m;
        losses.data()[i] = log_total - T(target.on - target.off) * at_label - T(target.off) * row_sum;
    }
    Tensor<T> y;
    if (reduction == LossReduction::none) {
        y = std::move(losses);
    } else {
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) s += double(losses.data()[i]);
        y = Tensor<T>::from_shape({});
        y() = T(reduction == LossReduction::mean ? s / double(active) : s);  // 0 / 0 = NaN if all are ignored
    }
    return record<CrossEntropyOp<T>>(std::move(y), {&logits}, std::move(probs), labels, reduction, target, ignore_index,
                                     active);
}

template Variable<float> cross_entropy(const Variable<float>&, const Indices&, LossReduction, double,
                                       std::optional<std::size_t>);
template Variable<double> cross_entropy(const Variable<double>&, const Indices&, LossReduction, double,
                                        std::optional<std::size_t>);

}  // namespace tapegrad

// Loss functions and penalties, each composed of differentiable ops.
#include <tapegrad/nn/loss.hpp>

#include <cmath>
#include <fmt/format.h>

#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/ops.hpp>

namespace tapegrad::nn {
namespace {

template <class T>
void check_pair(const char* fn, const Variable<T>& input, const Variable<T>& target) {
    if (!input.defined() || !target.defined()) throw Error(fmt::format("{}: input or target is an empty Variable", fn));
    if (input.shape() != target.shape())
        throw Error(fmt::format("{}: input {} and target {} must have the same shape", fn, shape_string(input.shape()),
                                shape_string(target.shape())));
}

template <class T>
Variable<T> reduce(const Variable<T>& losses, Reduction reduction) {
    switch (reduction) {
        case Reduction::mean:
            return mean(losses);
        case Reduction::sum:
            return sum(losses);
        case Reduction::none:
            return losses;
    }
    throw Error("loss: unknown reduction");
}

template <class T>
void check_range(const char* fn, const char* what, const Variable<T>& v) {
    const T* p = v.value().data();
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!(p[i] >= T(0) && p[i] <= T(1)))
            throw Error(fmt::format("{}: {} must lie in [0, 1], got {} at flat position {}", fn, what, p[i], i));
}

}  // namespace

template <class T>
Variable<T> mse_loss(const Variable<T>& input, const Variable<T>& target, Reduction reduction) {
    check_pair("mse_loss", input, target);
    const Variable<T> d = input - target;
    return reduce(d * d, reduction);
}

template <class T>
Variable<T> quadratic_cost(const Variable<T>& output, const Variable<T>& target) {
    check_pair("quadratic_cost", output, target);
    const std::size_t n = output.dim() == 0 ? 1 : output.shape()[0];
    if (n == 0) throw Error(fmt::format("quadratic_cost: no samples in output {}", shape_string(output.shape())));
    const Variable<T> d = target - output;
    return sum(d * d) / T(2.0 * double(n));
}

template <class T>
Variable<T> l1_loss(const Variable<T>& input, const Variable<T>& target, Reduction reduction) {
    check_pair("l1_loss", input, target);
    return reduce(abs(input - target), reduction);
}

template <class T>
Variable<T> huber_loss(const Variable<T>& input, const Variable<T>& target, Reduction reduction, double delta) {
    check_pair("huber_loss", input, target);
    if (!(delta > 0) || !std::isfinite(delta))
        throw Error(fmt::format("huber_loss: delta must be positive and finite, got {}", delta));
    const Variable<T> d = input - target;
    const Mask small = xt::abs(d.value()) < T(delta);
    const Variable<T> quadratic = d * d * T(0.5);
    const Variable<T> linear = (abs(d) - T(0.5 * delta)) * T(delta);
    return reduce(where(small, quadratic, linear), reduction);
}

template <class T>
Variable<T> binary_cross_entropy(const Variable<T>& input, const Variable<T>& target, Reduction reduction) {
    check_pair("binary_cross_entropy", input, target);
    check_range("binary_cross_entropy", "input probabilities", input);
    // log(clamp(p, e^-100, 1)) >= -100: the clamp zeroes the gradient where it bites, so no 0/0.
    const T floor = std::exp(T(-100));
    const Variable<T> log_p = log(clamp(input, floor, T(1)));
    const Variable<T> log_q = log(clamp(rsub(input, T(1)), floor, T(1)));
    return reduce(-(target * log_p + rsub(target, T(1)) * log_q), reduction);
}

template <class T>
Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target,
                                             Reduction reduction) {
    check_pair("binary_cross_entropy_with_logits", logits, target);
    // -(t log s(x) + (1-t) log(1-s(x))) = softplus(x) - t x, and softplus never overflows.
    return reduce(softplus(logits) - target * logits, reduction);
}

template <class T>
Variable<T> nll_loss(const Variable<T>& log_probs, const Indices& labels, Reduction reduction) {
    return nll_loss(log_probs, labels, NllLossOptions().reduction(reduction));
}

template <class T>
Variable<T> nll_loss(const Variable<T>& log_probs, const Indices& labels, const NllLossOptions& options) {
    const Reduction reduction = options.reduction();
    const std::optional<std::size_t> ignore = options.ignore_index();
    if (log_probs.dim() != 2)
        throw Error(fmt::format("nll_loss: expected log-probabilities (N,C), got {}", shape_string(log_probs.shape())));
    const std::size_t n = log_probs.shape()[0], c = log_probs.shape()[1];
    if (labels.size() != n)
        throw Error(fmt::format("nll_loss: {} labels for input {}: expected one label per row ({})", labels.size(),
                                shape_string(log_probs.shape()), n));
    Indices rows;  // the rows that count
    for (std::size_t i = 0; i < n; ++i) {
        if (ignore && labels[i] == *ignore) continue;
        if (labels[i] >= c)
            throw Error(
                fmt::format("nll_loss: label {} at position {} is out of range for {} classes", labels[i], i, c));
        rows.push_back(i);
    }
    const std::size_t m = rows.size();
    Tensor<std::size_t> index = Tensor<std::size_t>::from_shape({m, 1});
    for (std::size_t j = 0; j < m; ++j) index.data()[j] = labels[rows[j]];
    if (m == n) return reduce(-reshape(gather(log_probs, 1, index), Shape{n}), reduction);
    // Only the rows that count are read, so an ignored row's value (even inf or NaN) cannot leak in.
    const Variable<T> losses = -reshape(gather(index_select(log_probs, 0, rows), 1, index), Shape{m});
    switch (reduction) {
        case Reduction::mean:
            return sum(losses) / T(m);  // 0 / 0 = NaN when every row is ignored
        case Reduction::sum:
            return sum(losses);
        case Reduction::none:
            return index_add(Shape{n}, 0, rows, losses);
    }
    throw Error("nll_loss: unknown reduction");
}

template <class T>
Variable<T> l1_penalty(const std::vector<Variable<T>>& params) {
    Variable<T> total = scalar<T>(T(0));
    for (const auto& p : params) total = total + sum(abs(p));
    return total;
}

template <class T>
Variable<T> l2_penalty(const std::vector<Variable<T>>& params) {
    Variable<T> total = scalar<T>(T(0));
    for (const auto& p : params) total = total + sum(p * p);
    return total;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                               \
    template Variable<T> mse_loss(const Variable<T>&, const Variable<T>&, Reduction);                         \
    template Variable<T> quadratic_cost(const Variable<T>&, const Variable<T>&);                              \
    template Variable<T> l1_loss(const Variable<T>&, const Variable<T>&, Reduction);                          \
    template Variable<T> huber_loss(const Variable<T>&, const Variable<T>&, Reduction, double);               \
    template Variable<T> binary_cross_entropy(const Variable<T>&, const Variable<T>&, Reduction);             \
    template Variable<T> binary_cross_entropy_with_logits(const Variable<T>&, const Variable<T>&, Reduction); \
    template Variable<T> nll_loss(const Variable<T>&, const Indices&, Reduction);                             \
    template Variable<T> nll_loss(const Variable<T>&, const Indices&, const NllLossOptions&);                 \
    template Variable<T> l1_penalty(const std::vector<Variable<T>>&);                                         \
    template Variable<T> l2_penalty(const std::vector<Variable<T>>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::nn

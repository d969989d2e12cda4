// The fused cross-entropy: log-softmax + NLL forward in one pass per row, softmax minus target backward.
#pragma once

#include <memory>
#include <optional>

#include <tapegrad/autograd/kernels/cross_entropy.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>

namespace tapegrad {

/// The op behind cross_entropy(); its formula line states y and the VJP.
template <class T>
struct CrossEntropy {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "cross_entropy";
    static constexpr const char* formula =
        "y = logsumexp(x_i) - x_i[label_i], reduced   dx = (softmax(x) - target) g_i (g_i = g / N for the mean)";
    std::shared_ptr<const Indices> labels;
    LossReduction reduction;
    kernels::CrossEntropyTarget target;
    Tensor<T> probs;  // softmax of the logits, noted by forward
    Tensor<T> forward(const Tensor<T>& x) { return kernels::cross_entropy(x, *labels, target, reduction, probs); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (vjp::records<G>) {
            // Recorded: softmax(x) - target, scaled; softmax's own VJP gives second derivatives.
            const std::size_t n = labels->size(), c = probs.shape()[1];
            if (target.active == 0) {  // every row ignored: nothing depends on the logits
                a.dx[0] = Variable<T>(Tensor<T>(Shape{n, c}, T(0)));
                return;
            }
            Variable<T> diff = softmax(a.x(0), 1) - Variable<T>(target_tensor(n, c));
            if (target.active < n) diff = diff * Variable<T>(row_mask(n));
            if (reduction == LossReduction::none) {
                const Shape column{n, 1};
                a.dx[0] = diff * reshape(a.g, column);
            } else {
                a.dx[0] = diff * (reduction == LossReduction::mean ? a.g / T(target.active) : a.g);
            }
        } else {  // one pass from the probabilities forward kept
            a.dx[0] = kernels::cross_entropy_grad(probs, *labels, target, reduction, a.g);
        }
    }
    Tensor<T> target_tensor(std::size_t n, std::size_t c) const {
        Tensor<T> t(Shape{n, c}, T(target.off));
        for (std::size_t i = 0; i < n; ++i)
            if (!target.ignored((*labels)[i])) t.data()[i * c + (*labels)[i]] = T(target.on);
        return t;
    }
    /// (n, 1): 1 for the rows that count, 0 for ignored ones.
    Tensor<T> row_mask(std::size_t n) const {
        Tensor<T> m = Tensor<T>::from_shape({n, 1});
        for (std::size_t i = 0; i < n; ++i) m.data()[i] = target.ignored((*labels)[i]) ? T(0) : T(1);
        return m;
    }
    std::string describe() const {
        const char* r = reduction == LossReduction::mean ? "mean" : (reduction == LossReduction::sum ? "sum" : "none");
        std::string s = detail::message("reduction=", r, ", label_smoothing=", target.smoothing);
        if (target.ignore_index) s += detail::message(", ignore_index=", *target.ignore_index);
        return s;
    }
    void release() { probs = Tensor<T>(); }
    ///@}
};

namespace detail {
inline kernels::CrossEntropyTarget check_cross_entropy(const Shape& logits, const Indices& labels,
                                                       double label_smoothing, std::optional<std::size_t> ignore) {
    if (logits.size() != 2) throw Error(message("cross_entropy: expected logits (N,C), got ", shape_string(logits)));
    const std::size_t n = logits[0], c = logits[1];
    if (labels.size() != n)
        throw Error(message("cross_entropy: ", labels.size(), " labels for logits ", shape_string(logits),
                            ": expected one label per row (", n, ")"));
    if (n == 0 || c == 0) throw Error(message("cross_entropy: logits ", shape_string(logits), " are empty"));
    std::size_t active = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (ignore && labels[i] == *ignore) continue;
        if (labels[i] >= c)
            throw Error(message("cross_entropy: label ", labels[i], " at position ", i, " is out of range for ", c,
                                " classes"));
        ++active;
    }
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
        throw Error(message("cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing));
    return {1.0 - label_smoothing + label_smoothing / double(c), label_smoothing / double(c), label_smoothing, ignore,
            active};
}
}  // namespace detail

/// Cross-entropy of logits (N, C) against integer class labels (N values in [0, C)):
/// loss_i = logsumexp(x_i) - x_i[label_i], computed stably for any logits, as one node whose
/// gradient is (softmax(x) - onehot(label)) times the upstream gradient (/ N for the mean).
/// With label_smoothing e in [0, 1] the target is (1 - e) onehot + e / C.
/// Rows whose label is ignore_index contribute nothing (loss 0, gradient 0; that label need not
/// be a class) and the mean is over the other rows, smoothing included, as in PyTorch; with every
/// row ignored the mean is 0/0 = NaN (PyTorch's value) and the gradient 0.
/// Second derivatives work: under create_graph the gradient is built from softmax.
template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Indices& labels,
                          LossReduction reduction = LossReduction::mean, double label_smoothing = 0.0,
                          std::optional<std::size_t> ignore_index = std::nullopt) {
    const kernels::CrossEntropyTarget target =
        detail::check_cross_entropy(logits.shape(), labels, label_smoothing, ignore_index);
    return apply(CrossEntropy<T>{std::make_shared<const Indices>(labels), reduction, target, {}}, logits);
}

/// The loss ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::loss> {
    using type = OpList<CrossEntropy>;
};

}  // namespace tapegrad

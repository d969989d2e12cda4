// The fused cross-entropy: log-softmax + NLL forward in one pass per row, softmax minus target backward.
#pragma once

#include <memory>

#include <tapegrad/autograd/kernels/cross_entropy.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>

namespace tapegrad {

template <class T>
struct CrossEntropy {
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
            const std::size_t n = labels->size();
            const Variable<T> diff = softmax(a.x(0), 1) - Variable<T>(target_tensor(n, probs.shape()[1]));
            if (reduction == LossReduction::none) {
                const Shape column{n, 1};
                a.dx[0] = diff * reshape(a.g, column);
            } else {
                a.dx[0] = diff * (reduction == LossReduction::mean ? a.g / T(n) : a.g);
            }
        } else {  // one pass from the probabilities forward kept
            a.dx[0] = kernels::cross_entropy_grad(probs, *labels, target, reduction, a.g);
        }
    }
    Tensor<T> target_tensor(std::size_t n, std::size_t c) const {
        Tensor<T> t(Shape{n, c}, T(target.off));
        for (std::size_t i = 0; i < n; ++i) t.data()[i * c + (*labels)[i]] = T(target.on);
        return t;
    }
    std::string describe() const {
        const char* r = reduction == LossReduction::mean ? "mean" : (reduction == LossReduction::sum ? "sum" : "none");
        return detail::message("reduction=", r, ", label_smoothing=", target.smoothing);
    }
    void release() { probs = Tensor<T>(); }
};

namespace detail {
inline kernels::CrossEntropyTarget check_cross_entropy(const Shape& logits, const Indices& labels,
                                                       double label_smoothing) {
    if (logits.size() != 2)
        throw Error(message("cross_entropy: expected logits (N,C), got ", shape_string(logits)));
    const std::size_t n = logits[0], c = logits[1];
    if (labels.size() != n)
        throw Error(message("cross_entropy: ", labels.size(), " labels for logits ", shape_string(logits),
                            ": expected one label per row (", n, ")"));
    if (n == 0 || c == 0) throw Error(message("cross_entropy: logits ", shape_string(logits), " are empty"));
    for (std::size_t i = 0; i < n; ++i)
        if (labels[i] >= c)
            throw Error(message("cross_entropy: label ", labels[i], " at position ", i, " is out of range for ", c,
                                " classes"));
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
        throw Error(message("cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing));
    return {1.0 - label_smoothing + label_smoothing / double(c), label_smoothing / double(c), label_smoothing};
}
}  // namespace detail

/// Cross-entropy of logits (N, C) against integer class labels (N values in [0, C)):
/// loss_i = logsumexp(x_i) - x_i[label_i], computed stably for any logits, as one node whose
/// gradient is (softmax(x) - onehot(label)) times the upstream gradient (/ N for the mean).
/// With label_smoothing e in [0, 1] the target is (1 - e) onehot + e / C.
/// Second derivatives work: under create_graph the gradient is built from softmax.
template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Indices& labels,
                          LossReduction reduction = LossReduction::mean, double label_smoothing = 0.0) {
    const kernels::CrossEntropyTarget target = detail::check_cross_entropy(logits.shape(), labels, label_smoothing);
    return apply(CrossEntropy<T>{std::make_shared<const Indices>(labels), reduction, target, {}}, logits);
}

/// The loss ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::loss> {
    using type = OpList<CrossEntropy>;
};

}  // namespace tapegrad


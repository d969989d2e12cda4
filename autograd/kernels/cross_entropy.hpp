// Cross-entropy of logits against class labels on tensors: one pass per row forward, softmax minus target back.
#pragma once

#include <optional>

#include <tapegrad/autograd/kernels/shape.hpp>

namespace tapegrad {

/// How a loss combines its per-element values: their mean, their sum, or none (one value each).
enum class LossReduction { mean, sum, none };

namespace kernels {

/// The label-smoothed target distribution (`on` at the label, `off` elsewhere), and which rows
/// count: rows whose label is `ignore_index` contribute nothing; `active` rows remain.
struct CrossEntropyTarget {
    double on, off, smoothing;
    std::optional<std::size_t> ignore_index;
    std::size_t active;
    bool ignored(std::size_t label) const { return ignore_index && label == *ignore_index; }
};

/// The loss of logits x (N, C) against labels, reduced (the mean over the active rows: 0/0 = NaN
/// when every row is ignored, as PyTorch); `probs` receives softmax(x).
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& x, const Indices& labels, const CrossEntropyTarget& target,
                        LossReduction reduction, Tensor<T>& probs);
/// dL/dx = (probs - target) * g_i, with g_i = g / N for the mean (N: active rows), g for the sum and
/// g[i] for none; 0 for ignored rows.
template <class T>
Tensor<T> cross_entropy_grad(const Tensor<T>& probs, const Indices& labels, const CrossEntropyTarget& target,
                             LossReduction reduction, const Tensor<T>& g);

}  // namespace kernels
}  // namespace tapegrad

// Fused losses: cross_entropy as one op (log-softmax + NLL forward, softmax minus target backward).
#pragma once

#include <optional>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// How a loss combines its per-element values: their mean, their sum, or none (one value each).
enum class LossReduction { mean, sum, none };

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
                          std::optional<std::size_t> ignore_index = std::nullopt);

}  // namespace tapegrad

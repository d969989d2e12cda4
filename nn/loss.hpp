// Loss functions and penalties: mse, the quadratic cost, l1, huber, binary cross-entropy, cross-entropy, nll, l1/l2
// penalties.
//
// All of them are made of differentiable ops (cross_entropy is one fused op), so their
// gradients of any order come from the autograd core. `input` and `target` must have the
// same shape; a target that requires grad gets a gradient too.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::nn {

/// mean (the default), sum, or none (the per-element losses, in the input's shape).
using Reduction = LossReduction;

/// (input - target)^2, reduced.
template <class T>
Variable<T> mse_loss(const Variable<T>& input, const Variable<T>& target, Reduction reduction = Reduction::mean);

/// The quadratic cost of the tutorials, C = 1/(2n) sum_x ||y(x) - a(x)||^2, where n is the
/// number of samples (rows: the first dimension) of the output a and the target y.
template <class T>
Variable<T> quadratic_cost(const Variable<T>& output, const Variable<T>& target);

/// |input - target|, reduced.
template <class T>
Variable<T> l1_loss(const Variable<T>& input, const Variable<T>& target, Reduction reduction = Reduction::mean);

/// 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere, with d = input - target.
template <class T>
Variable<T> huber_loss(const Variable<T>& input, const Variable<T>& target, Reduction reduction = Reduction::mean,
                       double delta = 1.0);

/// -(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1]; each log is clamped at
/// -100 (as PyTorch does), so p = 0 or 1 gives a large but finite loss.
template <class T>
Variable<T> binary_cross_entropy(const Variable<T>& input, const Variable<T>& target,
                                 Reduction reduction = Reduction::mean);

/// binary_cross_entropy(sigmoid(x), t), computed as softplus(x) - x t: finite for every logit.
template <class T>
Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target,
                                             Reduction reduction = Reduction::mean);

/// Cross-entropy of logits (N, C) against class labels: one fused op (see autograd/ops/loss.hpp).
using tapegrad::cross_entropy;

/// Settings of cross_entropy(): the reduction, label smoothing, and a label whose rows are ignored
/// (they add nothing, and the mean is over the other rows, as in PyTorch).
///
///     nn::cross_entropy(logits, labels, nn::CrossEntropyOptions().ignore_index(255).label_smoothing(0.1));
struct CrossEntropyOptions {
    /// Reduction::mean (default) over the rows not ignored, sum, or none (one loss per row).
    CrossEntropyOptions& reduction(Reduction v) {
        reduction_ = v;
        return *this;
    }
    /// Mixes the one-hot target with the uniform distribution: (1 - s) onehot + s / C, s in [0, 1] (default 0).
    CrossEntropyOptions& label_smoothing(double v) {
        label_smoothing_ = v;
        return *this;
    }
    /// Rows with this label add nothing (default: none ignored).
    CrossEntropyOptions& ignore_index(std::size_t v) {
        ignore_index_ = v;
        return *this;
    }
    /// The values set by the setters of the same names (or their defaults).
    ///@{
    Reduction reduction() const { return reduction_; }
    double label_smoothing() const { return label_smoothing_; }
    std::optional<std::size_t> ignore_index() const { return ignore_index_; }
    ///@}

private:
    Reduction reduction_ = Reduction::mean;
    double label_smoothing_ = 0.0;
    std::optional<std::size_t> ignore_index_;
};

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Indices& labels, const CrossEntropyOptions& options) {
    return tapegrad::cross_entropy(logits, labels, options.reduction(), options.label_smoothing(),
                                   options.ignore_index());
}

/// Settings of nll_loss(): the reduction, and a label whose rows are ignored (as in CrossEntropyOptions).
struct NllLossOptions {
    /// Reduction::mean (default) over the rows not ignored, sum, or none (one loss per row).
    NllLossOptions& reduction(Reduction v) {
        reduction_ = v;
        return *this;
    }
    /// Rows with this label add nothing (default: none ignored).
    NllLossOptions& ignore_index(std::size_t v) {
        ignore_index_ = v;
        return *this;
    }
    /// The values set by the setters of the same names (or their defaults).
    ///@{
    Reduction reduction() const { return reduction_; }
    std::optional<std::size_t> ignore_index() const { return ignore_index_; }
    ///@}

private:
    Reduction reduction_ = Reduction::mean;
    std::optional<std::size_t> ignore_index_;
};

/// -log_probs[i, label_i], reduced: the loss after a LogSoftmax layer.
template <class T>
Variable<T> nll_loss(const Variable<T>& log_probs, const Indices& labels, Reduction reduction = Reduction::mean);
/// As above; rows labelled options.ignore_index() add nothing and the mean is over the others
/// (all rows ignored: NaN, as PyTorch).
template <class T>
Variable<T> nll_loss(const Variable<T>& log_probs, const Indices& labels, const NllLossOptions& options);

/// sum of |w| over every element of every parameter: add lambda * l1_penalty(params) to a loss.
template <class T>
Variable<T> l1_penalty(const std::vector<Variable<T>>& params);
/// sum of w^2 over every element of every parameter (no factor 1/2): add
/// lambda / (2 n) * l2_penalty(params) for the weight decay of the tutorials.
template <class T>
Variable<T> l2_penalty(const std::vector<Variable<T>>& params);

}  // namespace tapegrad::nn

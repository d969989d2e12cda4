// BatchNorm1d<T> and BatchNorm2d<T> (batch normalisation with running statistics), LayerNorm<T> and RMSNorm<T>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// y = (x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1). In training mode
/// mean and var are the batch's (var biased), and the buffers running_mean / running_var
/// move towards them: running = (1 - momentum) running + momentum batch (running_var takes
/// the unbiased batch variance), and the counter num_batches_tracked counts the batch. In
/// evaluation mode the running statistics are used. The state is PyTorch's: weight, bias,
/// running_mean, running_var and num_batches_tracked (int64).
/// Built from differentiable ops: its gradient (of any order) needs no code of its own.
template <class T>
class BatchNorm : public Module<T> {
public:
    Variable<T> forward(const Variable<T>& x) override;

    /// The scale and shift (C,), or empty Variables without affine.
    Variable<T> weight() const { return affine_ ? this->parameter(0) : Variable<T>(); }
    /// The shift (C,), or an empty Variable without affine.
    Variable<T> bias() const { return affine_ ? this->parameter(1) : Variable<T>(); }
    /// Running mean per channel (C,), used in evaluation mode.
    const Variable<T>& running_mean() const { return this->buffer(0); }
    /// Running unbiased variance per channel (C,), used in evaluation mode.
    const Variable<T>& running_var() const { return this->buffer(1); }
    /// Training batches seen (PyTorch's num_batches_tracked, saved with the state as int64).
    std::int64_t num_batches_tracked() const { return *batches_; }
    /// C, the channels (axis 1 of the input).
    std::size_t num_features() const { return features_; }
    /// Added to the variance before the square root.
    double eps() const { return eps_; }
    /// Weight of the batch statistics in the running ones.
    double momentum() const { return momentum_; }

    std::string settings() const override;

protected:
    /// ranks: the input ranks accepted (2 or 3 for 1d, 4 for 2d).
    BatchNorm(std::size_t num_features, double eps, double momentum, bool affine, std::size_t min_rank,
              std::size_t max_rank, const char* layer_name);
    std::string label() const override;

private:
    std::size_t features_;
    double eps_, momentum_;
    bool affine_;
    std::size_t min_rank_, max_rank_;
    const char* layer_name_;
    std::shared_ptr<std::int64_t> batches_;
};

/// Batch norm over (N, C) or (N, C, L) inputs.
template <class T>
class BatchNorm1d : public BatchNorm<T> {
public:
    /// For C = num_features channels; `affine`: with weight and bias. Throws Error for C = 0, eps <= 0 or momentum
    /// outside [0, 1].
    explicit BatchNorm1d(std::size_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
        : BatchNorm<T>(num_features, eps, momentum, affine, 2, 3, "BatchNorm1d") {}
    std::string name() const override { return "BatchNorm1d"; }
};

/// Batch norm over (N, C, H, W) inputs, one mean and variance per channel.
template <class T>
class BatchNorm2d : public BatchNorm<T> {
public:
    /// For C = num_features channels; `affine`: with weight and bias. Throws Error for C = 0, eps <= 0 or momentum
    /// outside [0, 1].
    explicit BatchNorm2d(std::size_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
        : BatchNorm<T>(num_features, eps, momentum, affine, 4, 4, "BatchNorm2d") {}
    std::string name() const override { return "BatchNorm2d"; }
};

/// y = (x - mean) / sqrt(var + eps) * weight + bias, the mean and (biased) variance taken over
/// the last dimensions of x, those of `normalized_shape` (PyTorch's nn.LayerNorm: parameters
/// weight and bias of normalized_shape, ones and zeros). No running statistics: the same in
/// training and evaluation. One op (layer_norm), whose gradients of any order are the formula's.
template <class T>
class LayerNorm : public Module<T> {
public:
    /// Normalizes over the trailing dimensions `normalized_shape`; `elementwise_affine`: with weight (and, if `bias`,
    /// bias).
    explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true);
    /// Normalizes over the last dimension, of size `normalized_size`.
    explicit LayerNorm(std::size_t normalized_size, double eps = 1e-5, bool elementwise_affine = true, bool bias = true)
        : LayerNorm(Shape{normalized_size}, eps, elementwise_affine, bias) {}
    Variable<T> forward(const Variable<T>& x) override;

    /// The scale and shift, or empty Variables when the layer has none.
    Variable<T> weight() const { return affine_ ? this->parameter(0) : Variable<T>(); }
    /// The shift, or an empty Variable without one.
    Variable<T> bias() const { return affine_ && bias_ ? this->parameter(1) : Variable<T>(); }
    /// The trailing dimensions normalized over.
    const Shape& normalized_shape() const { return shape_; }
    /// Added to the variance before the square root.
    double eps() const { return eps_; }

    std::string name() const override { return "LayerNorm"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    Shape shape_;
    double eps_;
    bool affine_, bias_;
};

/// y = x / sqrt(mean(x^2) + eps) * weight, the mean over the last dimensions of x, those of
/// `normalized_shape` (PyTorch's nn.RMSNorm: parameter weight, ones; eps by default the machine
/// epsilon of T, as PyTorch's eps=None). Built from differentiable ops.
template <class T>
class RMSNorm : public Module<T> {
public:
    /// Normalizes over the trailing dimensions `normalized_shape`; eps: none means the machine epsilon of T;
    /// `elementwise_affine`: with weight.
    explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true);
    /// Normalizes over the last dimension, of size `normalized_size`.
    explicit RMSNorm(std::size_t normalized_size, std::optional<double> eps = std::nullopt,
                     bool elementwise_affine = true)
        : RMSNorm(Shape{normalized_size}, eps, elementwise_affine) {}
    Variable<T> forward(const Variable<T>& x) override;

    /// The scale, or an empty Variable without elementwise_affine.
    Variable<T> weight() const { return affine_ ? this->parameter(0) : Variable<T>(); }
    /// The trailing dimensions normalized over.
    const Shape& normalized_shape() const { return shape_; }
    /// Added to mean(x^2) before the square root.
    double eps() const { return eps_; }

    std::string name() const override { return "RMSNorm"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    Shape shape_;
    double eps_;
    bool affine_;
};

extern template class BatchNorm<float>;
extern template class BatchNorm<double>;
extern template class LayerNorm<float>;
extern template class LayerNorm<double>;
extern template class RMSNorm<float>;
extern template class RMSNorm<double>;

}  // namespace tapegrad::nn

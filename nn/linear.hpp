// Linear<T>: the dense layer y = x W^T + b, one fused op (GEMM with bias).
#pragma once

#include <cstddef>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// y = x W^T + b for x of shape (..., in_features); W is (out_features, in_features).
/// Initialised as PyTorch does: W and b uniform in +-1/sqrt(in_features).
template <class T>
class Linear : public Module<T> {
public:
    /// in_features -> out_features; `bias`: with b; W and b drawn from `gen`. Throws Error for a zero size.
    Linear(std::size_t in_features, std::size_t out_features, bool bias = true, Generator& gen = default_generator());

    Variable<T> forward(const Variable<T>& x) override;

    /// W (out_features, in_features).
    const Variable<T>& weight() const { return this->parameter(0); }
    /// The bias, or an empty Variable for a layer made without one.
    Variable<T> bias() const { return has_bias_ ? this->parameter(1) : Variable<T>(); }
    /// True when made with a bias.
    bool has_bias() const { return has_bias_; }
    /// Features of the input's last axis.
    std::size_t in_features() const { return in_; }
    /// Features of the output's last axis.
    std::size_t out_features() const { return out_; }

    std::string name() const override { return "Linear"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    std::size_t in_, out_;
    bool has_bias_;
};

extern template class Linear<float>;
extern template class Linear<double>;

}  // namespace tapegrad::nn

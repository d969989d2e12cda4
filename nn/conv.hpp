// Conv2d<T>: the 2-D convolution layer over NCHW images (im2col + GEMM per image).
#pragma once

#include <cstddef>

#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// y = conv2d(x, W) + b for x of shape (N, in_channels, H, W); W is (out_channels,
/// in_channels / groups, kh, kw). Initialised as PyTorch does: W and b uniform in
/// +-1/sqrt(fan_in), fan_in = in_channels / groups * kh * kw.
///
///     tg::nn::Conv2d<float> conv(1, 8, 5);                                   // 5x5, stride 1
///     tg::nn::Conv2d<float> down(8, 16, 3, tg::Conv2dOptions().stride(2).padding(1));
template <class T>
class Conv2d : public Module<T> {
public:
    /// in_channels -> out_channels over a kernel_size window with `options` (stride, padding, dilation, groups);
    /// `bias`: with bias; weights drawn from `gen`. Throws Error for bad sizes or groups that do not divide the
    /// channels.
    Conv2d(std::size_t in_channels, std::size_t out_channels, Size2 kernel_size, const Conv2dOptions& options = {},
           bool bias = true, Generator& gen = default_generator());

    Variable<T> forward(const Variable<T>& x) override;
    /// relu(forward(x)) as one op (conv2d_relu): what Sequential runs for this layer followed by a ReLU.
    Variable<T> forward_relu(const Variable<T>& x);
    /// max_pool2d(relu(forward(x)), pool) as one op (conv2d_relu_max_pool2d): what Sequential runs for this layer
    /// followed by a ReLU and a MaxPool2d.
    Variable<T> forward_relu_max_pool(const Variable<T>& x, const Pool2dOptions& pool);

    /// The kernel (out_channels, in_channels / groups, kh, kw).
    const Variable<T>& weight() const { return this->parameter(0); }
    /// The bias, or an empty Variable for a layer made without one.
    Variable<T> bias() const { return has_bias_ ? this->parameter(1) : Variable<T>(); }
    /// True when made with a bias.
    bool has_bias() const { return has_bias_; }
    /// The sizes and options given to the constructor.
    ///@{
    std::size_t in_channels() const { return in_; }
    std::size_t out_channels() const { return out_; }
    Size2 kernel_size() const { return kernel_; }
    const Conv2dOptions& options() const { return options_; }
    ///@}

    std::string name() const override { return "Conv2d"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    std::size_t in_, out_;
    Size2 kernel_;
    Conv2dOptions options_;
    bool has_bias_;
};

extern template class Conv2d<float>;
extern template class Conv2d<double>;

}  // namespace tapegrad::nn

// Convolution and pooling over NCHW images: conv2d (im2col + GEMM), max, average and Lp pooling.
#pragma once

#include <cstddef>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// A height and a width: Size2(3) is 3 by 3, Size2(3, 5) (or {3, 5}) is 3 high and 5 wide.
struct Size2 {
    Size2(std::size_t both = 0) : h(both), w(both) {}  // NOLINT: implicit, so that 3 reads as 3x3
    Size2(std::size_t h, std::size_t w) : h(h), w(w) {}
    std::size_t h, w;
};

/// Settings of conv2d(): stride, zero padding on each side, dilation (spacing of the kernel
/// taps) and groups (channels split into independent groups; in and out channels must both
/// divide by it).
struct Conv2dOptions {
    Conv2dOptions& stride(Size2 v) { stride_ = v; return *this; }
    Conv2dOptions& padding(Size2 v) { padding_ = v; return *this; }
    Conv2dOptions& dilation(Size2 v) { dilation_ = v; return *this; }
    Conv2dOptions& groups(std::size_t v) { groups_ = v; return *this; }
    Size2 stride() const { return stride_; }
    Size2 padding() const { return padding_; }
    Size2 dilation() const { return dilation_; }
    std::size_t groups() const { return groups_; }

private:
    Size2 stride_{1}, padding_{0}, dilation_{1};
    std::size_t groups_ = 1;
};

/// 2-D cross-correlation (what deep learning calls convolution) of x (N, C, H, W) with
/// weight (O, C/groups, KH, KW), plus bias (O,) if given: output (N, O, OH, OW) with
/// OH = (H + 2 padding - dilation (KH - 1) - 1) / stride + 1, likewise OW.
template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Conv2dOptions& options = {});
template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                   const Conv2dOptions& options = {});

/// Settings of the pooling functions: the window (kernel) size, the stride (by default the
/// window size: windows side by side), implicit padding on each side (at most half the
/// window), dilation (max pooling only), and whether average pooling divides by the whole
/// window or only by the part of it inside the image.
struct Pool2dOptions {
    explicit Pool2dOptions(Size2 kernel_size) : kernel_(kernel_size), stride_(kernel_size) {}
    Pool2dOptions& stride(Size2 v) { stride_ = v; return *this; }
    Pool2dOptions& padding(Size2 v) { padding_ = v; return *this; }
    Pool2dOptions& dilation(Size2 v) { dilation_ = v; return *this; }
    Pool2dOptions& count_include_pad(bool v) { count_include_pad_ = v; return *this; }
    Size2 kernel_size() const { return kernel_; }
    Size2 stride() const { return stride_; }
    Size2 padding() const { return padding_; }
    Size2 dilation() const { return dilation_; }
    bool count_include_pad() const { return count_include_pad_; }

private:
    Size2 kernel_, stride_, padding_{0}, dilation_{1};
    bool count_include_pad_ = true;
};

/// Largest value of each window of x (N, C, H, W); padding never wins. The positions of the
/// maxima are kept, and the gradient goes to them alone.
template <class T>
Variable<T> max_pool2d(const Variable<T>& x, const Pool2dOptions& options);
/// Mean of each window of x (N, C, H, W).
template <class T>
Variable<T> avg_pool2d(const Variable<T>& x, const Pool2dOptions& options);
/// (sum of x^p over each window)^(1/p); p = 2 is the L2 pooling of Nielsen's book. Made of
/// pow and avg_pool2d, so its gradient needs nothing of its own (it is infinite where a
/// whole window is 0, as for sqrt).
template <class T>
Variable<T> lp_pool2d(const Variable<T>& x, double p, const Pool2dOptions& options);

namespace detail {
/// The adjoints of conv2d with respect to its input and its weight, as ops of their own:
/// their VJPs are conv2d and each other, so conv2d has derivatives of every order.
/// g has conv2d's output shape; input_shape and weight_shape are those of x and weight.
template <class T>
Variable<T> conv2d_input_grad(const Variable<T>& g, const Variable<T>& weight, const Shape& input_shape,
                              const Conv2dOptions& options);
template <class T>
Variable<T> conv2d_weight_grad(const Variable<T>& x, const Variable<T>& g, const Shape& weight_shape,
                               const Conv2dOptions& options);
}  // namespace detail

}  // namespace tapegrad

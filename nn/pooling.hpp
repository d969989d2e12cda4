// Pooling layers: MaxPool2d, AvgPool2d and LPPool2d (L2 pooling by default), stateless callables for any T.
#pragma once

#include <string>

#include <tapegrad/autograd/ops.hpp>

namespace tapegrad::nn {

/// Largest value of each window of an (N, C, H, W) input. MaxPool2d(2) halves H and W.
struct MaxPool2d {
    /// A window of kernel_size, stride equal to it, no padding.
    explicit MaxPool2d(Size2 kernel_size) : options(kernel_size) {}
    /// Window, stride and padding as `options` says.
    explicit MaxPool2d(const Pool2dOptions& options) : options(options) {}
    /// The layer interface Sequential uses: operator() pools x (N, C, H, W), name() and settings()
    /// print it as Module::describe() does. tapegrad::Error for an input that is not 4-d or smaller than the window.
    ///@{
    Variable<float> operator()(const Variable<float>& x) const;
    Variable<double> operator()(const Variable<double>& x) const;
    std::string name() const { return "MaxPool2d"; }
    std::string settings() const;
    ///@}
    /// The window, stride and padding.
    Pool2dOptions options;
};

/// Mean of each window of an (N, C, H, W) input.
struct AvgPool2d {
    /// A window of kernel_size, stride equal to it, no padding.
    explicit AvgPool2d(Size2 kernel_size) : options(kernel_size) {}
    /// Window, stride and padding as `options` says.
    explicit AvgPool2d(const Pool2dOptions& options) : options(options) {}
    /// The layer interface Sequential uses: operator() pools x (N, C, H, W), name() and settings()
    /// print it as Module::describe() does. tapegrad::Error for an input that is not 4-d or smaller than the window.
    ///@{
    Variable<float> operator()(const Variable<float>& x) const;
    Variable<double> operator()(const Variable<double>& x) const;
    std::string name() const { return "AvgPool2d"; }
    std::string settings() const;
    ///@}
    /// The window, stride and padding.
    Pool2dOptions options;
};

/// (sum of x^p over each window)^(1/p); p = 2, the default, is L2 pooling (Nielsen's book).
struct LPPool2d {
    /// A window of kernel_size, stride equal to it, no padding; the power p.
    explicit LPPool2d(Size2 kernel_size, double p = 2.0) : options(kernel_size), p(p) {}
    /// Window, stride and padding as `options` says; the power p.
    explicit LPPool2d(const Pool2dOptions& options, double p = 2.0) : options(options), p(p) {}
    /// The layer interface Sequential uses: operator() pools x (N, C, H, W), name() and settings()
    /// print it as Module::describe() does. tapegrad::Error for an input that is not 4-d or smaller than the window.
    ///@{
    Variable<float> operator()(const Variable<float>& x) const;
    Variable<double> operator()(const Variable<double>& x) const;
    std::string name() const { return "LPPool2d"; }
    std::string settings() const;
    ///@}
    /// The window, stride and padding.
    Pool2dOptions options;
    /// The power p of the norm (p = 1: sum pooling; large p approaches max pooling).
    /// The power p of the norm (p = 1: sum pooling; large p approaches max pooling).
    /// The power p of the norm (p = 1: sum pooling; large p approaches max pooling).
    double p;
};

}  // namespace tapegrad::nn

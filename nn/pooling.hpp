// Pooling layers: MaxPool2d, AvgPool2d and LPPool2d (L2 pooling by default), stateless callables for any T.
#pragma once

#include <string>

#include <tapegrad/autograd/ops.hpp>

namespace tapegrad::nn {

/// Largest value of each window of an (N, C, H, W) input. MaxPool2d(2) halves H and W.
struct MaxPool2d {
    explicit MaxPool2d(Size2 kernel_size) : options(kernel_size) {}
    explicit MaxPool2d(const Pool2dOptions& options) : options(options) {}
    Variable<float> operator()(const Variable<float>& x) const;
    Variable<double> operator()(const Variable<double>& x) const;
    std::string name() const { return "MaxPool2d"; }
    std::string settings() const;
    Pool2dOptions options;
};

/// Mean of each window of an (N, C, H, W) input.
struct AvgPool2d {
    explicit AvgPool2d(Size2 kernel_size) : options(kernel_size) {}
    explicit AvgPool2d(const Pool2dOptions& options) : options(options) {}
    Variable<float> operator()(const Variable<float>& x) const;
    Variable<double> operator()(const Variable<double>& x) const;
    std::string name() const { return "AvgPool2d"; }
    std::string settings() const;
    Pool2dOptions options;
};

/// (sum of x^p over each window)^(1/p); p = 2, the default, is L2 pooling (Nielsen's book).
struct LPPool2d {
    explicit LPPool2d(Size2 kernel_size, double p = 2.0) : options(kernel_size), p(p) {}
    explicit LPPool2d(const Pool2dOptions& options, double p = 2.0) : options(options), p(p) {}
    Variable<float> operator()(const Variable<float>& x) const;
    Variable<double> operator()(const Variable<double>& x) const;
    std::string name() const { return "LPPool2d"; }
    std::string settings() const;
    Pool2dOptions options;
    double p;
};

}  // namespace tapegrad::nn

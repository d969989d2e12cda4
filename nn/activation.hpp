// Activations as layers: Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, GELU, Softmax, LogSoftmax.
//
// They hold no parameters, so they are plain callables for any T rather than Module<T>s:
// ReLU{}(x) works on Variable<float> and Variable<double>, and Sequential wraps them.
#pragma once

#include <string>

#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/nn/format.hpp>

namespace tapegrad::nn {

/// 1 / (1 + exp(-x))
struct Sigmoid {
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::sigmoid(x);
    }
    std::string name() const { return "Sigmoid"; }
    std::string settings() const { return {}; }
    ///@}
};

/// tanh(x)
struct Tanh {
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::tanh(x);
    }
    std::string name() const { return "Tanh"; }
    std::string settings() const { return {}; }
    ///@}
};

/// max(x, 0)
struct ReLU {
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::relu(x);
    }
    std::string name() const { return "ReLU"; }
    std::string settings() const { return {}; }
    ///@}
};

/// x for x > 0, negative_slope * x otherwise.
struct LeakyReLU {
    /// Slope for x <= 0.
    double negative_slope = 0.01;
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::leaky_relu(x, T(negative_slope));
    }
    std::string name() const { return "LeakyReLU"; }
    std::string settings() const { return "negative_slope=" + detail::format_number(negative_slope); }
    ///@}
};

/// x for x > 0, alpha (exp(x) - 1) otherwise.
struct ELU {
    /// alpha * (exp(x) - 1) for x <= 0: the value approached as x -> -inf is -alpha.
    double alpha = 1.0;
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::elu(x, T(alpha));
    }
    std::string name() const { return "ELU"; }
    std::string settings() const { return "alpha=" + detail::format_number(alpha); }
    ///@}
};

/// log(1 + exp(beta x)) / beta
struct Softplus {
    /// log(1 + exp(beta x)) / beta: larger beta is closer to ReLU.
    double beta = 1.0;
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::softplus(x, T(beta));
    }
    std::string name() const { return "Softplus"; }
    std::string settings() const { return "beta=" + detail::format_number(beta); }
    ///@}
};

/// x Phi(x), Phi the standard normal CDF.
struct GELU {
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::gelu(x);
    }
    std::string name() const { return "GELU"; }
    std::string settings() const { return {}; }
    ///@}
};

/// exp(x) / sum(exp(x)) along `axis` (by default the last).
struct Softmax {
    /// The axis normalised over (negative: counted from the end).
    int axis = -1;
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::softmax(x, axis);
    }
    std::string name() const { return "Softmax"; }
    std::string settings() const { return "axis=" + std::to_string(axis); }
    ///@}
};

/// log(softmax(x)) along `axis`, computed stably.
struct LogSoftmax {
    /// The axis normalised over (negative: counted from the end).
    int axis = -1;
    /// The layer interface Sequential uses: operator() applies it to x, name() and settings() print it
    /// as Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::log_softmax(x, axis);
    }
    std::string name() const { return "LogSoftmax"; }
    std::string settings() const { return "axis=" + std::to_string(axis); }
    ///@}
};

}  // namespace tapegrad::nn

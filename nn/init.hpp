// nn::init: filling parameters in place — uniform, normal, constant, Xavier/Glorot and Kaiming/He.
//
// Every function draws from a Generator, by default tapegrad::default_generator(): after
// tapegrad::manual_seed(s) the same program makes bit-identical weights. A Variable is a
// handle, so init::normal(layer.weight(), ...) changes the layer's own weight.
#pragma once

#include <cstddef>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::nn::init {

/// The nonlinearity that follows a layer, for calculate_gain().
enum class Nonlinearity { linear, conv, sigmoid, tanh, relu, leaky_relu, selu };
/// Which fan the Kaiming schemes keep the variance for: fan_in (forward pass) or fan_out (backward).
enum class FanMode { fan_in, fan_out };

/// The recommended gain for a nonlinearity (as PyTorch's calculate_gain): 1 for linear,
/// conv and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu
/// (`param` is the negative slope), 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);

/// fan_in and fan_out of a weight: (out, in) for a dense layer, (out, in, kh, kw...) for a
/// convolution, where both are multiplied by the kernel size.
struct Fans {
    /// Inputs and outputs per weight element's neuron (the kernel size included).
    ///@{
    std::size_t fan_in, fan_out;
    ///@}
};
Fans calculate_fans(const Shape& shape);

/// Uniform in [lo, hi).
template <class T>
void uniform(const Variable<T>& w, double lo = 0.0, double hi = 1.0, Generator& gen = default_generator());
/// Normal with the given mean and standard deviation.
template <class T>
void normal(const Variable<T>& w, double mean = 0.0, double stddev = 1.0, Generator& gen = default_generator());
/// Every element set to `value`.
template <class T>
void constant(const Variable<T>& w, double value);
template <class T>
void zeros(const Variable<T>& w) {
    constant(w, 0.0);
}
template <class T>
void ones(const Variable<T>& w) {
    constant(w, 1.0);
}

/// Xavier (Glorot) uniform: U(-b, b), b = gain sqrt(6 / (fan_in + fan_out)).
template <class T>
void xavier_uniform(const Variable<T>& w, double gain = 1.0, Generator& gen = default_generator());
/// Xavier (Glorot) normal: N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)).
template <class T>
void xavier_normal(const Variable<T>& w, double gain = 1.0, Generator& gen = default_generator());
/// Kaiming (He) uniform: U(-b, b), b = gain(nonlinearity, a) sqrt(3 / fan). a is the
/// negative slope of a leaky ReLU (0: ReLU). With a = sqrt(5) this is PyTorch's default
/// for Linear and Conv2d weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <class T>
void kaiming_uniform(const Variable<T>& w, double a = 0.0, FanMode mode = FanMode::fan_in,
                     Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator& gen = default_generator());
/// Kaiming (He) normal: N(0, s^2), s = gain(nonlinearity, a) / sqrt(fan).
template <class T>
void kaiming_normal(const Variable<T>& w, double a = 0.0, FanMode mode = FanMode::fan_in,
                    Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator& gen = default_generator());

// The same schemes under their other names.
template <class T>
void glorot_uniform(const Variable<T>& w, double gain = 1.0, Generator& gen = default_generator()) {
    xavier_uniform(w, gain, gen);
}
template <class T>
void glorot_normal(const Variable<T>& w, double gain = 1.0, Generator& gen = default_generator()) {
    xavier_normal(w, gain, gen);
}
template <class T>
void he_uniform(const Variable<T>& w, double a = 0.0, FanMode mode = FanMode::fan_in,
                Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator& gen = default_generator()) {
    kaiming_uniform(w, a, mode, nonlinearity, gen);
}
template <class T>
void he_normal(const Variable<T>& w, double a = 0.0, FanMode mode = FanMode::fan_in,
               Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator& gen = default_generator()) {
    kaiming_normal(w, a, mode, nonlinearity, gen);
}

}  // namespace tapegrad::nn::init

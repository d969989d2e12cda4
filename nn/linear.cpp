// Linear<T>: construction with PyTorch's default initialisation, shape checks, forward via tapegrad::linear.
#include <tapegrad/nn/linear.hpp>

#include <cmath>
#include <fmt/format.h>

#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/nn/init.hpp>

namespace tapegrad::nn {

template <class T>
Linear<T>::Linear(std::size_t in_features, std::size_t out_features, bool bias, Generator& gen)
    : in_(in_features), out_(out_features), has_bias_(bias) {
    if (in_features == 0 || out_features == 0)
        throw Error(fmt::format("Linear: in_features and out_features must be at least 1, got {} and {}", in_features,
                                out_features));
    Variable<T> w(Tensor<T>::from_shape({out_features, in_features}));
    init::kaiming_uniform(w, std::sqrt(5.0), init::FanMode::fan_in, init::Nonlinearity::leaky_relu, gen);
    this->register_parameter("weight", w);
    if (bias) {
        const double bound = 1.0 / std::sqrt(double(in_features));
        Variable<T> b(Tensor<T>::from_shape({out_features}));
        init::uniform(b, -bound, bound, gen);
        this->register_parameter("bias", b);
    }
}

template <class T>
Variable<T> Linear<T>::forward(const Variable<T>& x) {
    if (x.dim() == 0 || x.shape().back() != in_)
        throw Error(fmt::format("{}: expected input (...,{}), got {}", label(), in_, shape_string(x.shape())));
    return has_bias_ ? linear(x, weight(), this->parameter(1)) : linear(x, weight());
}

template <class T>
std::string Linear<T>::settings() const {
    return fmt::format("in_features={}, out_features={}, bias={}", in_, out_, has_bias_);
}

template <class T>
std::string Linear<T>::label() const {
    return fmt::format("Linear({}->{})", in_, out_);
}

template class Linear<float>;
template class Linear<double>;

}  // namespace tapegrad::nn

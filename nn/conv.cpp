// Conv2d<T>: construction with PyTorch's default initialisation, shape checks, forward via tapegrad::conv2d.
#include <tapegrad/nn/conv.hpp>

#include <cmath>
#include <fmt/format.h>

#include <tapegrad/autograd/ops/conv_pool.hpp>
#include <tapegrad/nn/format.hpp>
#include <tapegrad/nn/init.hpp>

namespace tapegrad::nn {

template <class T>
Conv2d<T>::Conv2d(std::size_t in_channels, std::size_t out_channels, Size2 kernel_size, const Conv2dOptions& options,
                  bool bias, Generator& gen)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options), has_bias_(bias) {
    const std::size_t groups = options.groups();
    if (in_channels == 0 || out_channels == 0 || kernel_size.h == 0 || kernel_size.w == 0)
        throw Error(fmt::format("{}: channels and kernel size must be at least 1", label()));
    if (groups == 0 || in_channels % groups || out_channels % groups)
        throw Error(fmt::format("{}: in_channels and out_channels must both divide into groups={}", label(), groups));
    if (options.stride().h == 0 || options.stride().w == 0 || options.dilation().h == 0 || options.dilation().w == 0)
        throw Error(fmt::format("{}: stride and dilation must be at least 1", label()));
    const Shape weight_shape{out_channels, in_channels / groups, kernel_size.h, kernel_size.w};
    shape_size(weight_shape, label().c_str());
    Variable<T> w(naming_allocation_failures(label().c_str(), [&] { return Tensor<T>::from_shape(weight_shape); }));
    init::kaiming_uniform(w, std::sqrt(5.0), init::FanMode::fan_in, init::Nonlinearity::leaky_relu, gen);
    this->register_parameter("weight", w);
    if (bias) {
        const double bound = 1.0 / std::sqrt(double(init::calculate_fans(w.shape()).fan_in));
        Variable<T> b(Tensor<T>::from_shape({out_channels}));
        init::uniform(b, -bound, bound, gen);
        this->register_parameter("bias", b);
    }
}

template <class T>
Variable<T> Conv2d<T>::forward(const Variable<T>& x) {
    if (x.dim() != 4 || x.shape()[1] != in_)
        throw Error(fmt::format("{}: expected input (N,{},H,W), got {}", label(), in_, shape_string(x.shape())));
    return detail::in_layer(
        [&] { return label(); },
        [&] { return has_bias_ ? conv2d(x, weight(), this->parameter(1), options_) : conv2d(x, weight(), options_); });
}

template <class T>
Variable<T> Conv2d<T>::forward_relu(const Variable<T>& x) {
    if (x.dim() != 4 || x.shape()[1] != in_)
        throw Error(fmt::format("{}: expected input (N,{},H,W), got {}", label(), in_, shape_string(x.shape())));
    return detail::in_layer([&] { return label(); },
                            [&] {
                                return has_bias_ ? conv2d_relu(x, weight(), this->parameter(1), options_)
                                                 : conv2d_relu(x, weight(), options_);
                            });
}

template <class T>
Variable<T> Conv2d<T>::forward_relu_max_pool(const Variable<T>& x, const Pool2dOptions& pool) {
    if (x.dim() != 4 || x.shape()[1] != in_)
        throw Error(fmt::format("{}: expected input (N,{},H,W), got {}", label(), in_, shape_string(x.shape())));
    return detail::in_layer([&] { return label(); },
                            [&] {
                                return has_bias_
                                           ? conv2d_relu_max_pool2d(x, weight(), this->parameter(1), options_, pool)
                                           : conv2d_relu_max_pool2d(x, weight(), options_, pool);
                            });
}

template <class T>
std::string Conv2d<T>::settings() const {
    std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", in_, out_, detail::format_size(kernel_),
                                detail::format_size(options_.stride()));
    if (options_.padding().h || options_.padding().w) s += ", padding=" + detail::format_size(options_.padding());
    if (options_.dilation().h != 1 || options_.dilation().w != 1)
        s += ", dilation=" + detail::format_size(options_.dilation());
    if (options_.groups() != 1) s += fmt::format(", groups={}", options_.groups());
    return s + fmt::format(", bias={}", has_bias_);
}

template <class T>
std::string Conv2d<T>::label() const {
    return fmt::format("Conv2d({}->{}, k={})", in_, out_, detail::format_size(kernel_));
}

template class Conv2d<float>;
template class Conv2d<double>;

}  // namespace tapegrad::nn

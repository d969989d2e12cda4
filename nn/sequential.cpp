// Sequential<T>: building from layers, and forward through them in order.
#include <tapegrad/nn/sequential.hpp>

#include <typeinfo>

#include <fmt/format.h>

#include <tapegrad/nn/activation.hpp>
#include <tapegrad/nn/conv.hpp>
#include <tapegrad/nn/pooling.hpp>

namespace tapegrad::nn {

template <class T>
Sequential<T>::Sequential(std::initializer_list<Layer<T>> layers) {
    for (const Layer<T>& layer : layers) push_back(layer);
}

template <class T>
Sequential<T>& Sequential<T>::push_back(Layer<T> layer) {
    this->register_module(std::to_string(size()), layer.module());
    return *this;
}

namespace {
/// True for exactly nn::Conv2d<T> (not a subclass, which may override forward) followed by exactly nn::ReLU.
template <class T>
bool conv_then_relu(const Module<T>& a, const Module<T>& b) {
    return typeid(a) == typeid(Conv2d<T>) && typeid(b) == typeid(FunctionModule<T, ReLU>);
}
/// The options of exactly nn::MaxPool2d, or null for any other module.
template <class T>
const Pool2dOptions* max_pool_options(const Module<T>& m) {
    if (typeid(m) != typeid(FunctionModule<T, MaxPool2d>)) return nullptr;
    return &static_cast<const FunctionModule<T, MaxPool2d>&>(m).function().options;
}
}  // namespace

template <class T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
    Variable<T> y = x;
    const auto& children = this->named_children();
    for (std::size_t i = 0; i < children.size(); ++i) {
        Module<T>& m = *children[i].second;
        if (i + 1 < children.size() && conv_then_relu(m, *children[i + 1].second)) {
            // one op: relu(conv2d(...)), and max_pool2d of it when a MaxPool2d follows; same values and gradients
            const Pool2dOptions* pool = i + 2 < children.size() ? max_pool_options(*children[i + 2].second) : nullptr;
            if (pool) {
                y = static_cast<Conv2d<T>&>(m).forward_relu_max_pool(y, *pool);
                i += 2;
            } else {
                y = static_cast<Conv2d<T>&>(m).forward_relu(y);
                ++i;
            }
        } else {
            y = m.forward(y);
        }
    }
    return y;
}

template <class T>
const std::shared_ptr<Module<T>>& Sequential<T>::operator[](std::size_t i) const {
    if (i >= size()) throw Error(fmt::format("Sequential: index {} is out of range for {} layers", i, size()));
    return this->named_children()[i].second;
}

template class Sequential<float>;
template class Sequential<double>;

}  // namespace tapegrad::nn

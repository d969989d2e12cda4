// Sequential<T>: building from layers, and forward through them in order.
#include <tapegrad/nn/sequential.hpp>

#include <fmt/format.h>

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

template <class T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
    Variable<T> y = x;
    for (const auto& entry : this->named_children()) y = entry.second->forward(y);
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

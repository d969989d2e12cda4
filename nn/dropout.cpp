// Dropout<T>: the mask is drawn per call and applied as one multiplication (its gradient is the mask).
#include <tapegrad/nn/dropout.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/nn/format.hpp>

namespace tapegrad::nn {

template <class T>
Dropout<T>::Dropout(double p) : p_(p) {
    if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("Dropout: p must be in [0, 1], got {}", p));
}

template <class T>
Dropout<T>::Dropout(double p, std::uint64_t seed) : Dropout(p) {
    gen_ = std::make_shared<Generator>(seed);
}

template <class T>
Variable<T> Dropout<T>::forward(const Variable<T>& x) {
    if (!this->is_training() || p_ == 0.0) return x;
    Generator& gen = gen_ ? *gen_ : default_generator();
    Tensor<T> mask = Tensor<T>::from_shape(x.shape());
    T* m = mask.data();
    const T keep = p_ < 1.0 ? T(1.0 / (1.0 - p_)) : T(0);
    for (std::size_t i = 0; i < mask.size(); ++i) m[i] = gen.uniform() < p_ ? T(0) : keep;
    return mul(x, Variable<T>(std::move(mask)));
}

template <class T>
std::string Dropout<T>::settings() const {
    return "p=" + detail::format_number(p_);
}

template class Dropout<float>;
template class Dropout<double>;

}  // namespace tapegrad::nn

// io::Array: owning and viewing storage, and the checked conversions between element types.
#include <tapegrad/io/array.hpp>

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/value_check.hpp>

namespace tapegrad::io {

const char* dtype_name(Dtype dtype) noexcept {
    switch (dtype) {
        case Dtype::float32:
            return "float32";
        case Dtype::float64:
            return "float64";
        case Dtype::int64:
            return "int64";
    }
    return "?";
}

std::size_t dtype_size(Dtype dtype) noexcept { return dtype == Dtype::float32 ? 4 : 8; }

template <class E>
void Array::own(std::string name, Tensor<E> values) {
    name_ = std::move(name);
    dtype_ = dtype_of<E>();
    shape_.assign(values.shape().begin(), values.shape().end());
    size_ = values.size();
    auto held = std::make_shared<const Tensor<E>>(std::move(values));
    data_ = held->data();
    owner_ = std::move(held);
}

Array::Array(std::string name, Tensor<float> values) { own(std::move(name), std::move(values)); }
Array::Array(std::string name, Tensor<double> values) { own(std::move(name), std::move(values)); }
Array::Array(std::string name, Tensor<std::int64_t> values) { own(std::move(name), std::move(values)); }

template <class E>
Array Array::view(std::string name, const Tensor<E>& values) {
    Array a;
    a.name_ = std::move(name);
    a.dtype_ = dtype_of<E>();
    a.shape_.assign(values.shape().begin(), values.shape().end());
    a.size_ = values.size();
    a.data_ = values.data();
    return a;
}

template <class E>
Tensor<E> Array::to(const std::string& at) const {
    const Dtype want = dtype_of<E>();
    const bool want_int = want == Dtype::int64, have_int = dtype_ == Dtype::int64;
    if (want_int != have_int)
        throw FileError(fmt::format("{}: array '{}' holds {} values; expected {}", at, name_, dtype_name(dtype_),
                                    want_int ? "integers (int64)" : "floating-point values (float32 or float64)"));
    Tensor<E> out = Tensor<E>::from_shape(shape_);
    if (dtype_ == want) {
        std::copy_n(static_cast<const E*>(data_), size_, out.data());
    } else if (dtype_ == Dtype::float32) {
        detail::convert_checked(static_cast<const float*>(data_), out.data(), size_);
    } else {
        const auto* src = static_cast<const double*>(data_);
        const std::size_t bad = detail::convert_checked(src, out.data(), size_);
        if (bad != size_)
            throw FileError(
                fmt::format("{}: array '{}': {} does not fit float32 (largest {}); expected values a float "
                            "model can hold",
                            at, name_, detail::element_text(src, bad), double(std::numeric_limits<float>::max())));
    }
    return out;
}

template Array Array::view<float>(std::string, const Tensor<float>&);
template Array Array::view<double>(std::string, const Tensor<double>&);
template Array Array::view<std::int64_t>(std::string, const Tensor<std::int64_t>&);
template Tensor<float> Array::to<float>(const std::string&) const;
template Tensor<double> Array::to<double>(const std::string&) const;
template Tensor<std::int64_t> Array::to<std::int64_t>(const std::string&) const;

}  // namespace tapegrad::io

// io::Array: one named array of a checkpoint in its stored element type (float32, float64 or int64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::io {

/// The element types a checkpoint holds: floating-point values and integer counters (a batch
/// norm's num_batches_tracked, a random generator's state, a scheduler's epoch).
enum class Dtype { float32, float64, int64 };

/// "float32", "float64", "int64".
const char* dtype_name(Dtype dtype) noexcept;
/// Bytes per element: 4 or 8.
std::size_t dtype_size(Dtype dtype) noexcept;
/// The Dtype of float, double or std::int64_t.
template <class E>
constexpr Dtype dtype_of() {
    static_assert(std::is_same_v<E, float> || std::is_same_v<E, double> || std::is_same_v<E, std::int64_t>,
                  "io::dtype_of: checkpoints hold float, double or std::int64_t elements");
    return std::is_same_v<E, float> ? Dtype::float32 : std::is_same_v<E, double> ? Dtype::float64 : Dtype::int64;
}

/// A named array, row-major, in its own element type. It either owns its values (what a
/// reader returns) or views a tensor that must outlive it (Array::view, what a writer takes,
/// so saving a model copies nothing). Copies share the values.
class Array {
public:
    Array() = default;
    /// Owns the values (move a tensor in to avoid a copy).
    ///@{
    Array(std::string name, Tensor<float> values);
    Array(std::string name, Tensor<double> values);
    Array(std::string name, Tensor<std::int64_t> values);
    ///@}
    /// Views `values`, which must outlive the Array and every copy of it.
    template <class E>
    static Array view(std::string name, const Tensor<E>& values);

    /// Its name in the file ("0.weight").
    const std::string& name() const noexcept { return name_; }
    /// Its element type.
    Dtype dtype() const noexcept { return dtype_; }
    /// Its shape (empty for a scalar).
    const std::vector<std::size_t>& shape() const noexcept { return shape_; }
    /// Number of elements.
    std::size_t size() const noexcept { return size_; }
    /// Bytes of the values: size() * dtype_size(dtype()).
    std::size_t bytes() const noexcept { return size_ * dtype_size(dtype_); }
    /// The elements, size() of dtype().
    const void* data() const noexcept { return data_; }

    /// The values as E (float, double or std::int64_t). float32 and float64 convert to each
    /// other (a finite float64 too large for float is refused); integers and floating-point
    /// values do not mix. Throws FileError starting with `at` and naming the array.
    template <class E>
    Tensor<E> to(const std::string& at) const;

private:
    template <class E>
    void own(std::string name, Tensor<E> values);

    std::string name_;
    Dtype dtype_ = Dtype::float64;
    std::vector<std::size_t> shape_;
    std::size_t size_ = 0;
    std::shared_ptr<const void> owner_;  // null for a view
    const void* data_ = nullptr;
};

/// The arrays of one checkpoint, in file order.
using Arrays = std::vector<Array>;

extern template Array Array::view<float>(std::string, const Tensor<float>&);
extern template Array Array::view<double>(std::string, const Tensor<double>&);
extern template Array Array::view<std::int64_t>(std::string, const Tensor<std::int64_t>&);
extern template Tensor<float> Array::to<float>(const std::string&) const;
extern template Tensor<double> Array::to<double>(const std::string&) const;
extern template Tensor<std::int64_t> Array::to<std::int64_t>(const std::string&) const;

}  // namespace tapegrad::io

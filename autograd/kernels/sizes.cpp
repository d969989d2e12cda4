// Checked size arithmetic: shape products, padded lengths and byte counts that would wrap are errors.
#include <tapegrad/autograd/tensor.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad {

namespace detail {
void throw_shape_too_large(const char* op, const std::string& shape) {
    throw Error(fmt::format("{}: shape {} is too large: the product of its dimensions must be below 2^63", op, shape));
}
}  // namespace detail

std::size_t checked_mul(const char* op, const char* what, std::size_t a, std::size_t b) {
    std::size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        throw Error(fmt::format("{}: {} = {} * {} does not fit in 64 bits", op, what, a, b));
    return r;
}

std::size_t checked_add(const char* op, const char* what, std::size_t a, std::size_t b) {
    std::size_t r;
    if (__builtin_add_overflow(a, b, &r))
        throw Error(fmt::format("{}: {} = {} + {} does not fit in 64 bits", op, what, a, b));
    return r;
}

}  // namespace tapegrad

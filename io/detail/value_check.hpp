// Checks of array values shared by the readers and writers: finite unless allowed, and conversions that fit.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include <fmt/format.h>

namespace tapegrad::io::detail {

/// The index of the first NaN or infinite value of data[0..n), or n if there is none.
template <class T>
std::size_t first_non_finite(const T* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(data[i])) return i;
    return n;
}

/// Converts src to dst (as T). Returns the index of the first finite value that does not fit
/// T (it would become infinite), or n when all fit.
template <class T, class S>
std::size_t convert_checked(const S* src, T* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        dst[i] = T(src[i]);
        if (std::isinf(dst[i]) && std::isfinite(src[i])) return i;
    }
    return n;
}

/// "element 5 (nan)", for messages.
template <class T>
std::string element_text(const T* data, std::size_t i) {
    return fmt::format("element {} ({})", i, double(data[i]));
}

}  // namespace tapegrad::io::detail

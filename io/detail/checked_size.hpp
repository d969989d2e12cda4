// Overflow-checked size arithmetic for file readers that must not trust a header.
#pragma once

#include <cstddef>

namespace tapegrad::io::detail {

/// a * b, or false when it would not fit in a size_t.
inline bool checked_mul(std::size_t a, std::size_t b, std::size_t& out) { return !__builtin_mul_overflow(a, b, &out); }

/// a + b, or false when it would not fit in a size_t.
inline bool checked_add(std::size_t a, std::size_t b, std::size_t& out) { return !__builtin_add_overflow(a, b, &out); }

/// Product of a shape's extents (1 for a 0-d shape), or false on overflow.
template <class S>
bool checked_product(const S& shape, std::size_t& out) {
    std::size_t n = 1;
    for (auto d : shape)
        if (!checked_mul(n, std::size_t(d), n)) return false;
    out = n;
    return true;
}

}  // namespace tapegrad::io::detail

// Checks of optimizer and scheduler options (see check.hpp).
#include <tapegrad/optim/check.hpp>

#include <cmath>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::optim::detail {

static void check_finite(const char* who, const char* what, double v) {
    if (std::isinf(v)) throw Error(fmt::format("{}: {} must be finite, got {}", who, what, v));
}

void check_nonnegative(const char* who, const char* what, double v) {
    check_finite(who, what, v);
    if (!(v >= 0)) throw Error(fmt::format("{}: {} must be >= 0, got {}", who, what, v));
}

void check_positive(const char* who, const char* what, double v) {
    check_finite(who, what, v);
    if (!(v > 0)) throw Error(fmt::format("{}: {} must be > 0, got {}", who, what, v));
}

void check_unit_interval(const char* who, const char* what, double v) {
    if (!(v >= 0 && v < 1)) throw Error(fmt::format("{}: {} must be in [0, 1), got {}", who, what, v));
}

void check_at_least(const char* who, const char* what, long long v, long long least) {
    if (v < least) throw Error(fmt::format("{}: {} must be >= {}, got {}", who, what, least, v));
}

}  // namespace tapegrad::optim::detail

// Checks of optimizer state: what a loaded state entry may hold, and parameters that changed shape under their state.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include <fmt/format.h>

#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/optim/state_values.hpp>

namespace tapegrad::optim::detail {

using Values = StateValues;

/// "" when every value of `t` is as `kind` says; otherwise what is wrong, e.g.
/// "element 1 is -0.5; expected finite values >= 0".
template <class T>
std::string bad_values(const Tensor<T>& t, Values kind) {
    const T* p = t.data();
    for (std::size_t i = 0; i < t.size(); ++i) {
        const double v = double(p[i]);
        const char* expected = nullptr;
        switch (kind) {
            case Values::finite:
                if (!std::isfinite(v)) expected = "finite values";
                break;
            case Values::nonnegative:
                if (!(std::isfinite(v) && v >= 0)) expected = "finite values >= 0";
                break;
            case Values::positive:
                if (!(std::isfinite(v) && v > 0)) expected = "finite values > 0";
                break;
            case Values::count:
                if (!(v >= 0 && v == std::floor(v) && v < 1e18)) expected = "a count (a whole number >= 0)";
                break;
        }
        if (expected) {
            if (t.size() == 1) return fmt::format("holds {}; expected {}", v, expected);
            return fmt::format("element {} is {}; expected {}", i, v, expected);
        }
    }
    return {};
}

}  // namespace tapegrad::optim::detail

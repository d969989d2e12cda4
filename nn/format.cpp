// Number and size formatting for the nn module's printouts.
#include <tapegrad/nn/format.hpp>

#include <fmt/format.h>

namespace tapegrad::nn::detail {

std::string format_number(double v) { return fmt::format("{}", v); }

std::string format_size(Size2 s) { return s.h == s.w ? std::to_string(s.h) : fmt::format("({},{})", s.h, s.w); }

}  // namespace tapegrad::nn::detail

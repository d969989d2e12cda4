// Numbers in error messages, formatted as fmt formats them.
#include <tapegrad/autograd/error.hpp>

#include <fmt/format.h>

namespace tapegrad::detail {

std::string text_of(double v) { return fmt::format("{}", v); }
std::string text_of(float v) { return fmt::format("{}", v); }
std::string text_of(long long v) { return fmt::format("{}", v); }
std::string text_of(unsigned long long v) { return fmt::format("{}", v); }

}  // namespace tapegrad::detail

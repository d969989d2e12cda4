// tapegrad::Error and FileError: every misuse and every bad file ends in one of these.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>

namespace tapegrad {

/// Misuse of the API: bad shapes, bad options, calls in the wrong order. The message
/// names the function, what it got and what it expected.
class Error : public std::invalid_argument {
public:
    /// An error whose what() is `what`: "function: what it got, what it expected".
    explicit Error(const std::string& what) : std::invalid_argument(what) {}
};

/// A file that cannot be read or written: missing, truncated, corrupt or hostile.
class FileError : public std::runtime_error {
public:
    /// An error whose what() is `what`, naming the file and the problem.
    explicit FileError(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
// Numbers as fmt's "{}" prints them (shortest form that reads back the same), so that messages built
// in headers read like those built with fmt in the library.
std::string text_of(double v);
std::string text_of(float v);
std::string text_of(long long v);
std::string text_of(unsigned long long v);
inline std::string text_of(const std::string& s) { return s; }
inline std::string text_of(const char* s) { return s; }
inline std::string text_of(char c) { return std::string(1, c); }
template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, char>>>
std::string text_of(I v) {
    if constexpr (std::is_signed_v<I>)
        return text_of(static_cast<long long>(v));
    else
        return text_of(static_cast<unsigned long long>(v));
}

/// An error message from its pieces: strings as they are, numbers as fmt prints them.
template <class... Args>
std::string message(const Args&... args) {
    std::string s;
    ((s += text_of(args)), ...);
    return s;
}

/// Numbers joined by commas: "1,0,2".
template <class Range>
std::string join(const Range& values) {
    std::string s;
    for (const auto& v : values) s += (s.empty() ? "" : ",") + text_of(v);
    return s;
}
}  // namespace detail

}  // namespace tapegrad

// tapegrad::Error and FileError: every misuse and every bad file ends in one of these.
#pragma once

#include <stdexcept>
#include <string>

namespace tapegrad {

/// Misuse of the API: bad shapes, bad options, calls in the wrong order. The message
/// names the function, what it got and what it expected.
class Error : public std::invalid_argument {
public:
    explicit Error(const std::string& what) : std::invalid_argument(what) {}
};

/// A file that cannot be read or written: missing, truncated, corrupt or hostile.
class FileError : public std::runtime_error {
public:
    explicit FileError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace tapegrad

// RegularFile: a file opened for reading only as a regular file (a FIFO or a device never blocks us).
#pragma once

#include <cstdint>
#include <string>

namespace tapegrad::io::detail {

/// Opens `path` read-only without blocking (O_NONBLOCK: opening a FIFO with no writer would
/// otherwise wait for ever), then checks with fstat on the open descriptor (no race with a
/// rename) that it is a regular file. Errors are FileErrors starting with `at`: "file not
/// found", "not a regular file", or the system's reason.
class RegularFile {
public:
    RegularFile(const std::string& path, const std::string& at);
    ~RegularFile();
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;

    int fd() const { return fd_; }
    std::uint64_t size() const { return size_; }
    /// Hands the descriptor over (the caller closes it).
    int release();

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

}  // namespace tapegrad::io::detail

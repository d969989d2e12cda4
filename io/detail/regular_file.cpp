// RegularFile: open(O_NONBLOCK), fstat, refuse anything but a regular file, then plain blocking reads.
#include <tapegrad/io/detail/regular_file.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::io::detail {

RegularFile::RegularFile(const std::string& path, const std::string& at) {
    if (path.empty()) throw FileError(at + ": empty path; expected the name of a file");
    fd_ = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd_ < 0) {
        const int e = errno;
        if (e == ENOENT) throw FileError(at + ": file not found");
        throw FileError(fmt::format("{}: cannot open: {}", at, std::strerror(e)));
    }
    struct stat st {};
    if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd_);
        fd_ = -1;
        throw FileError(at + ": not a regular file");
    }
    size_ = std::uint64_t(st.st_size);
    // Back to blocking reads (a regular file ignores the flag, but be plain about it).
    const int flags = fcntl(fd_, F_GETFL);
    if (flags >= 0) fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
}

RegularFile::~RegularFile() {
    if (fd_ >= 0) close(fd_);
}

int RegularFile::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

}  // namespace tapegrad::io::detail

// AtomicFile: an exclusive temporary file beside the target, full writes, fsync, rename, fsync of the directory.
#include <tapegrad/data/atomic_file.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::data::detail {

namespace {

std::string parent_dir(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path, std::string who) : path_(path), who_(std::move(who)) {
    if (path.empty() || path.back() == '/')
        throw Error(fmt::format("{}: path '{}'; expected the name of a file", who_, path));
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw FileError(fmt::format("{}: '{}' is a directory; expected a file name", who_, path));
    // open(O_EXCL) with a fresh name rather than mkstemp: the file then gets the permissions
    // of any new file (0666 less the umask), not mkstemp's 0600.
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
        temp_ = fmt::format("{}.tmp-{}-{:08x}-{}", path, getpid(), rd(), counter++);
        fd_ = open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) {
        int e = errno;
        temp_.clear();
        throw FileError(fmt::format("{}: '{}': cannot create a temporary file in '{}': {}", who_, path,
                                    parent_dir(path), std::strerror(e)));
    }
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) close(fd_);
    if (!committed_ && !temp_.empty()) unlink(temp_.c_str());
}

void AtomicFile::fail(const std::string& what, int err) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    unlink(temp_.c_str());
    temp_.clear();
    throw FileError(fmt::format("{}: '{}': {}: {}; the previous file, if any, is unchanged", who_, path_, what,
                                std::strerror(err)));
}

void AtomicFile::write(const void* data, std::size_t n) {
    if (fd_ < 0) throw Error(fmt::format("{}: '{}': write after commit or failure", who_, path_));
    auto* p = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("write failed", errno);
        }
        p += w;
        n -= std::size_t(w);
    }
}

void AtomicFile::commit() {
    if (fd_ < 0) throw Error(fmt::format("{}: '{}': commit after commit or failure", who_, path_));
    if (fsync(fd_) != 0) fail("fsync failed", errno);
    int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) {
        int e = errno;
        unlink(temp_.c_str());
        temp_.clear();
        throw FileError(fmt::format("{}: '{}': close failed: {}; the previous file, if any, is unchanged", who_,
                                    path_, std::strerror(e)));
    }
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
        int e = errno;
        unlink(temp_.c_str());
        temp_.clear();
        throw FileError(fmt::format("{}: '{}': rename failed: {}; the previous file, if any, is unchanged", who_,
                                    path_, std::strerror(e)));
    }
    committed_ = true;
    // The rename itself is durable only once the directory is synced; some file systems
    // cannot sync a directory (EINVAL), and then there is nothing more to do.
    int dir = open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
        int rc = fsync(dir);
        int e = errno;
        close(dir);
        if (rc != 0 && e != EINVAL && e != EROFS)
            throw FileError(fmt::format("{}: '{}': written, but syncing its directory failed: {}", who_, path_,
                                        std::strerror(e)));
    }
}

}  // namespace tapegrad::data::detail

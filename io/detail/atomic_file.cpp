// AtomicFile: symlinks resolved, a locked temporary beside the target, full writes, fsync, rename, directory fsync.
#include <tapegrad/io/detail/atomic_file.hpp>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <random>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::io::detail {

namespace {

std::string parent_dir(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The longest suffix after the prefix: "<pid>-<8 hex>-<counter>", each number at most 10 digits.
constexpr std::size_t suffix_max = 10 + 1 + 8 + 1 + 10;

// FNV-1a: a short, stable name for a name cut short.
std::uint32_t fnv1a(const std::string& s) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
}

// Follows symbolic links from `path` until a name that is not one (it may not exist yet).
std::string resolve_links(const std::string& path, const std::string& who) {
    std::string p = path;
    for (int depth = 0; depth < 40; ++depth) {
        struct stat st {};
        if (lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
        std::string link(PATH_MAX, '\0');
        const ssize_t n = readlink(p.c_str(), link.data(), link.size());
        if (n < 0 || std::size_t(n) >= link.size())
            throw FileError(fmt::format("{}: '{}': cannot read the symbolic link '{}': {}", who, path, p,
                                        std::strerror(n < 0 ? errno : ENAMETOOLONG)));
        link.resize(std::size_t(n));
        if (link.empty()) throw FileError(fmt::format("{}: '{}': the symbolic link '{}' is empty", who, path, p));
        p = link[0] == '/' || p.find('/') == std::string::npos ? link : parent_dir(p) + "/" + link;
    }
    throw FileError(fmt::format("{}: '{}': too many levels of symbolic links", who, path));
}

std::size_t name_max_of(const std::string& dir) {
    const long n = pathconf(dir.c_str(), _PC_NAME_MAX);
    return n > 0 ? std::size_t(n) : 255;
}

// "<pid>-<8 hex>-<digits>" exactly; the pid, or 0 when the name has another form.
pid_t parse_suffix(const char* s) {
    auto digits = [](const char*& p, std::size_t max, bool hex) {
        std::size_t n = 0;
        while (n < max && ((*p >= '0' && *p <= '9') || (hex && *p >= 'a' && *p <= 'f'))) ++p, ++n;
        return n;
    };
    const char* p = s;
    const std::size_t pid_len = digits(p, 10, false);
    if (pid_len == 0 || *p != '-') return 0;
    const long long pid = std::atoll(std::string(s, pid_len).c_str());
    ++p;
    if (digits(p, 8, true) != 8 || *p != '-') return 0;
    ++p;
    if (digits(p, 10, false) == 0 || *p != '\0') return 0;
    return pid > 0 && pid <= INT_MAX ? pid_t(pid) : 0;
}

}  // namespace

std::string temp_prefix(const std::string& base, std::size_t name_max) {
    const std::string tag = ".tmp-";
    if (base.size() + tag.size() + suffix_max <= name_max) return base + tag;
    // "<cut>~<hash>.tmp-": the hash tells targets apart that share the cut.
    const std::size_t keep = name_max > tag.size() + suffix_max + 9 ? name_max - tag.size() - suffix_max - 9 : 0;
    return fmt::format("{}~{:08x}{}", base.substr(0, keep), fnv1a(base), tag);
}

std::size_t remove_stale_temporaries(const std::string& dir, const std::string& base, std::size_t name_max) {
    const std::string prefix = temp_prefix(base, name_max);
    DIR* d = opendir(dir.c_str());
    if (!d) return 0;
    std::size_t removed = 0;
    const pid_t self = getpid();
    while (const dirent* entry = readdir(d)) {
        const char* name = entry->d_name;
        if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0) continue;
        const pid_t pid = parse_suffix(name + prefix.size());
        if (pid == 0 || pid == self) continue;
        // The writer is gone only if its process is: kill(pid, 0) fails with ESRCH. (EPERM
        // means it exists under another user: alive.)
        if (kill(pid, 0) == 0 || errno != ESRCH) continue;
        const std::string path = dir + "/" + name;
        const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) continue;
        struct stat st {};
        // A live writer elsewhere (another host sharing the directory, another PID namespace)
        // holds its lock: leave its file alone. Only our own regular files are candidates.
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            unlink(path.c_str()) == 0)
            ++removed;
        close(fd);
    }
    closedir(d);
    return removed;
}

AtomicFile::AtomicFile(const std::string& path, std::string who) : path_(path), who_(std::move(who)) {
    if (path.empty() || path.back() == '/')
        throw Error(fmt::format("{}: path '{}'; expected the name of a file", who_, path));
    target_ = resolve_links(path, who_);
    struct stat st {};
    if (stat(target_.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode))
            throw FileError(fmt::format("{}: '{}' is a directory; expected a file name", who_, path));
        if (!S_ISREG(st.st_mode))
            throw FileError(fmt::format("{}: '{}' exists and is not a regular file; expected a file name", who_, path));
        keep_mode_ = true;
        mode_ = st.st_mode & 07777;
        uid_ = st.st_uid;
        gid_ = st.st_gid;
    }
    const std::string dir = parent_dir(target_);
    const std::size_t name_max = name_max_of(dir);
    remove_stale_temporaries(dir, base_name(target_), name_max);
    const std::string prefix = dir + "/" + temp_prefix(base_name(target_), name_max);

    // open(O_EXCL) with a fresh name rather than mkstemp: a new file then gets the permissions
    // of any new file (0666 less the umask), not mkstemp's 0600. Over an existing file the
    // temporary starts as 0600 and takes the old file's mode at the commit.
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
        temp_ = fmt::format("{}{}-{:08x}-{}", prefix, getpid(), rd(), counter++);
        fd_ = open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, keep_mode_ ? 0600 : 0666);
        if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) {
        int e = errno;
        temp_.clear();
        throw FileError(
            fmt::format("{}: '{}': cannot create a temporary file in '{}': {}", who_, path, dir, std::strerror(e)));
    }
    // The lock tells other writers' clean-up that this temporary is in use (released on close,
    // including when the process is killed).
    flock(fd_, LOCK_EX | LOCK_NB);
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
    if (keep_mode_) {
        // The owner first (only root or the owner may; otherwise the file is ours), then the
        // mode, which fchown may have cleared the set-id bits of.
        if (fchown(fd_, uid_, gid_) != 0) {
            // not permitted: keep our ownership
        }
        if (fchmod(fd_, mode_) != 0) fail("cannot set the permissions of the temporary file", errno);
    }
    if (fsync(fd_) != 0) fail("fsync failed", errno);
    int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) {
        int e = errno;
        unlink(temp_.c_str());
        temp_.clear();
        throw FileError(fmt::format("{}: '{}': close failed: {}; the previous file, if any, is unchanged", who_, path_,
                                    std::strerror(e)));
    }
    if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
        int e = errno;
        unlink(temp_.c_str());
        temp_.clear();
        throw FileError(fmt::format("{}: '{}': rename failed: {}; the previous file, if any, is unchanged", who_, path_,
                                    std::strerror(e)));
    }
    committed_ = true;
    // The rename itself is durable only once the directory is synced; some file systems
    // cannot sync a directory (EINVAL), and then there is nothing more to do.
    int dir = open(parent_dir(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        int rc = fsync(dir);
        int e = errno;
        close(dir);
        if (rc != 0 && e != EINVAL && e != EROFS)
            throw FileError(
                fmt::format("{}: '{}': written, but syncing its directory failed: {}", who_, path_, std::strerror(e)));
    }
}

}  // namespace tapegrad::io::detail

// AtomicFile: write a file under a temporary name, then fsync and rename it over the target.
#pragma once

#include <cstddef>
#include <string>

#include <sys/types.h>

namespace tapegrad::io::detail {

/// Bytes written go to a temporary file beside the target (same directory, so the rename
/// is atomic); commit() flushes them to disk and renames the file over the target. Until
/// then the target is untouched, and a writer destroyed without commit() removes its
/// temporary file. Failures are FileErrors prefixed with `who` and the target path.
///
/// - A symbolic link is written through: the file it points to (after every link in a chain)
///   is replaced, and the link stays a link.
/// - An existing target keeps its permission bits (a 0600 file stays 0600; the data is never
///   readable by others meanwhile, the temporary being 0600 until the commit) and, where
///   permitted, its owner. A new file gets 0666 less the umask.
/// - The temporary name is "<name>.tmp-<pid>-<random>-<n>", shortened (the name cut, with a
///   hash of it) when that would pass the directory's NAME_MAX, so any legal name can be saved.
/// - Temporaries of the same target left by a writer that is gone (killed mid-save) are removed
///   when a new writer starts: a temporary is removed only if the process named in it no
///   longer exists on this host and no one holds the lock every writer keeps on its file.
class AtomicFile {
public:
    AtomicFile(const std::string& path, std::string who);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t n);
    void commit();
    const std::string& temp_path() const { return temp_; }
    /// The file that commit() replaces: the path with its symbolic links followed.
    const std::string& target_path() const { return target_; }

private:
    [[noreturn]] void fail(const std::string& what, int err);

    std::string path_, who_, target_, temp_;
    int fd_ = -1;
    bool committed_ = false;
    bool keep_mode_ = false;
    mode_t mode_ = 0;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
};

/// The prefix of every temporary name AtomicFile uses for a target named `base` (no directory)
/// in a directory whose names may be name_max bytes long: "<base>.tmp-", or the base cut short
/// with a hash of the whole name when the full temporary name would not fit.
std::string temp_prefix(const std::string& base, std::size_t name_max);

/// Removes from `dir` the temporaries of target `base` whose writer is gone (see AtomicFile);
/// returns how many were removed. Never throws.
std::size_t remove_stale_temporaries(const std::string& dir, const std::string& base, std::size_t name_max);

}  // namespace tapegrad::io::detail

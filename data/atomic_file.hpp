// AtomicFile: write a file under a temporary name, then fsync and rename it over the target.
#pragma once

#include <cstddef>
#include <string>

namespace tapegrad::data::detail {

/// Bytes written go to a temporary file beside the target (same directory, so the rename
/// is atomic); commit() flushes them to disk and renames the file over the target. Until
/// then the target is untouched, and a writer destroyed without commit() removes its
/// temporary file. Failures are FileErrors prefixed with `who` and the target path.
class AtomicFile {
public:
    AtomicFile(const std::string& path, std::string who);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t n);
    void commit();
    const std::string& temp_path() const { return temp_; }

private:
    [[noreturn]] void fail(const std::string& what, int err);

    std::string path_, who_, temp_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace tapegrad::data::detail

// ByteReader: reads a file's bytes in order, inflating it on the fly when it is gzip-compressed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace tapegrad::io::detail {

/// Sequential reader over a regular file, raw or gzip (detected by its magic bytes). The file
/// is checked to be a regular file before anything blocks on it (see RegularFile).
/// Errors are FileErrors prefixed with `who` and the path. A gzip stream is checked
/// completely: truncation, corruption (CRC, length), anything after its end, and output past
/// max_inflated bytes are errors, reported by the read that reaches them.
class ByteReader {
public:
    ByteReader(const std::string& path, std::string who, std::uint64_t max_inflated);
    ~ByteReader();
    ByteReader(const ByteReader&) = delete;
    ByteReader& operator=(const ByteReader&) = delete;

    /// Reads up to n bytes into dst; fewer only at the end of the (decompressed) data.
    std::size_t read(void* dst, std::size_t n);

    bool gzip() const { return gzip_; }
    /// Size of the file on disk (compressed size for gzip).
    std::uint64_t file_size() const { return file_size_; }
    /// Upper bound on the bytes read() can ever return, from the file size alone: deflate
    /// expands at most 1032:1, so a header may not claim more than the file can hold.
    std::uint64_t max_content_size() const;
    /// The bound on gzip output given to the constructor.
    std::uint64_t max_inflated() const { return max_inflated_; }
    /// "read_idx: 'path'", the start of every error message about this file.
    const std::string& context() const { return context_; }

private:
    std::size_t read_raw(void* dst, std::size_t n);
    std::size_t read_gzip(void* dst, std::size_t n);
    bool refill();

    struct Inflater;
    std::string context_;
    std::FILE* file_ = nullptr;
    std::uint64_t file_size_ = 0;
    std::uint64_t max_inflated_ = 0;
    std::uint64_t inflated_ = 0;
    bool gzip_ = false;
    bool file_eof_ = false;
    bool stream_end_ = false;
    std::vector<unsigned char> in_;
    std::unique_ptr<Inflater> z_;
};

}  // namespace tapegrad::io::detail

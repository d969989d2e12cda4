// ZipArchive: a strict reader of zip archives (.npz) refusing anything two readers could read differently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tapegrad::io::detail {

/// One member as the central directory describes it, checked against its local header.
struct ZipEntry {
    std::string name;
    std::uint16_t method = 0;  // 0 stored, 8 deflate
    std::uint32_t crc = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;         // uncompressed
    std::uint64_t data_offset = 0;  // first byte of the member's data in the file
};

/// The members of the zip archive in an open regular file. The constructor parses the end
/// record (zip64 too), the central directory and every local header, and throws FileError
/// ("<at>: not a valid zip archive: ...") unless the archive is one plain archive that every
/// reader reads the same way:
///  - the end record ends the file (nothing after it) and the central directory ends where it
///    begins (nothing prepended or appended, no second archive concatenated);
///  - the members' local headers and data tile the file from byte 0 to the central directory,
///    in order, without a gap or an overlap (so no byte is read twice and none is hidden);
///  - each local header agrees with the central directory (name, method, flags, sizes, CRC);
///  - names are unique, and plain ASCII unless marked UTF-8;
///  - no member is encrypted; methods are stored or deflate; a stored member's sizes agree and
///    a deflated one claims no more than deflate can expand (1032:1).
class ZipArchive {
public:
    ZipArchive(int fd, std::uint64_t file_size, std::string at);
    const std::vector<ZipEntry>& entries() const { return entries_; }
    int fd() const { return fd_; }
    const std::string& at() const { return at_; }

private:
    [[noreturn]] void fail(const std::string& what) const;
    void read_at(std::uint64_t offset, void* dst, std::size_t n) const;
    void check_local_header(ZipEntry& e, std::uint64_t local_offset, std::uint16_t flags,
                            std::uint64_t& member_end) const;

    int fd_;
    std::uint64_t file_size_;
    std::string at_;
    std::vector<ZipEntry> entries_;
};

/// Reads one member's bytes in order, inflating a deflated one; every failure is a FileError
/// naming the member. The member must produce exactly its declared size, and its CRC-32 is
/// checked by expect_end().
class ZipMemberReader {
public:
    ZipMemberReader(const ZipArchive& archive, const ZipEntry& entry, std::string at);
    ~ZipMemberReader();
    ZipMemberReader(const ZipMemberReader&) = delete;
    ZipMemberReader& operator=(const ZipMemberReader&) = delete;

    /// Exactly n bytes, or a FileError saying the member ended first ("what" names the part).
    void read_exact(void* dst, std::size_t n, const char* what);
    /// Checks that every byte of the member was read, the deflate stream ended exactly there,
    /// and the CRC-32 matches.
    void expect_end();
    const std::string& at() const { return at_; }

private:
    std::size_t read_some(unsigned char* dst, std::size_t n);
    bool refill();

    struct Inflater;
    const ZipArchive& archive_;
    const ZipEntry& entry_;
    std::string at_;
    std::uint64_t in_pos_ = 0;   // compressed bytes fetched so far
    std::uint64_t out_pos_ = 0;  // uncompressed bytes produced so far
    std::uint32_t crc_ = 0;
    bool stream_end_ = false;
    std::vector<unsigned char> in_;
    std::unique_ptr<Inflater> z_;
};

}  // namespace tapegrad::io::detail

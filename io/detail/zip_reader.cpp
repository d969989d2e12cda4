// ZipArchive and ZipMemberReader: end record, central directory and local headers checked against each other.
#include <tapegrad/io/detail/zip_reader.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <set>

#include <unistd.h>
#include <zlib.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::io::detail {

namespace {

constexpr std::uint32_t sig_local = 0x04034b50, sig_central = 0x02014b50, sig_end = 0x06054b50, sig_end64 = 0x06064b50,
                        sig_locator64 = 0x07064b50, sig_descriptor = 0x08074b50;
constexpr std::size_t end_size = 22, locator64_size = 20, end64_size = 56, central_size = 46, local_size = 30;
constexpr std::uint32_t saturated32 = 0xffffffffu;
constexpr std::uint16_t saturated16 = 0xffffu;
// General-purpose flags: encryption (bit 0), a data descriptor after the data (bit 3), strong
// encryption (bit 6), UTF-8 names (bit 11), a masked local header (bit 13).
constexpr std::uint16_t flag_encrypted = 1u << 0, flag_descriptor = 1u << 3, flag_strong = 1u << 6,
                        flag_utf8 = 1u << 11, flag_masked = 1u << 13;

std::uint16_t u16(const unsigned char* p) { return std::uint16_t(p[0] | p[1] << 8); }
std::uint32_t u32(const unsigned char* p) { return std::uint32_t(u16(p)) | std::uint32_t(u16(p + 2)) << 16; }
std::uint64_t u64(const unsigned char* p) { return std::uint64_t(u32(p)) | std::uint64_t(u32(p + 4)) << 32; }

// The zip64 extended-information field (id 1) of an extra block: 64-bit values for the fields
// saturated in the fixed part, in the order usize, csize, offset. Every field of the block must
// fit it exactly. Returns an error message, or "" when all is well.
std::string read_extra(const unsigned char* extra, std::size_t len, std::uint64_t* usize, std::uint64_t* csize,
                       std::uint64_t* offset) {
    bool seen_zip64 = false;
    std::size_t pos = 0;
    while (pos < len) {
        if (len - pos < 4) return fmt::format("{} stray bytes at the end of an extra field block", len - pos);
        const std::uint16_t id = u16(extra + pos), n = u16(extra + pos + 2);
        pos += 4;
        if (n > len - pos) return fmt::format("extra field 0x{:04x} of {} bytes overruns its block", id, n);
        if (id == 1) {
            if (seen_zip64) return "two zip64 extra fields";
            seen_zip64 = true;
            std::size_t at = pos;
            for (std::uint64_t* v : {usize, csize, offset}) {
                if (!v || *v != saturated32) continue;
                if (at + 8 > pos + n) return "zip64 extra field too short for the sizes it must hold";
                *v = u64(extra + at);
                at += 8;
            }
        }
        pos += n;
    }
    for (std::uint64_t* v : {usize, csize, offset})
        if (v && *v == saturated32 && !seen_zip64) return "a size or offset of 0xffffffff without a zip64 extra field";
    return {};
}

}  // namespace

ZipArchive::ZipArchive(int fd, std::uint64_t file_size, std::string at)
    : fd_(fd), file_size_(file_size), at_(std::move(at)) {
    if (file_size_ < end_size) fail(fmt::format("{} bytes, too short for an end record", file_size_));

    // The end record: the last signature in the final 64 KiB (as Python's zipfile looks for it),
    // whose comment must reach the end of the file exactly.
    const std::size_t tail_len = std::size_t(std::min<std::uint64_t>(file_size_, end_size + 0xffff));
    std::vector<unsigned char> tail(tail_len);
    const std::uint64_t tail_start = file_size_ - tail_len;
    read_at(tail_start, tail.data(), tail_len);
    std::size_t e = tail_len - end_size + 1;
    bool found = false;
    while (e-- > 0)
        if (u32(&tail[e]) == sig_end) {
            found = true;
            break;
        }
    if (!found) fail("no end of central directory record");
    const unsigned char* end = &tail[e];
    const std::uint64_t end_pos = tail_start + e;
    if (end_pos + end_size + u16(end + 20) != file_size_)
        fail(fmt::format("the end record at offset {} (with a {}-byte comment) does not end the {}-byte file", end_pos,
                         u16(end + 20), file_size_));
    if (u16(end + 4) != 0 || u16(end + 6) != 0 || u16(end + 8) != u16(end + 10))
        fail("an archive split over several disks");
    std::uint64_t count = u16(end + 10), cd_size = u32(end + 12), cd_offset = u32(end + 16);
    std::uint64_t cd_end = end_pos;

    // zip64: a locator just before the end record points at the zip64 end record just before it.
    if (end_pos >= locator64_size) {
        unsigned char loc[locator64_size];
        read_at(end_pos - locator64_size, loc, locator64_size);
        if (u32(loc) == sig_locator64) {
            const std::uint64_t rec_pos = u64(loc + 8);
            if (u32(loc + 4) != 0 || u32(loc + 16) > 1) fail("a zip64 archive split over several disks");
            if (end_pos < locator64_size + end64_size || rec_pos != end_pos - locator64_size - end64_size)
                fail(
                    fmt::format("the zip64 end record is announced at offset {}; expected it right before its "
                                "locator",
                                rec_pos));
            unsigned char rec[end64_size];
            read_at(rec_pos, rec, end64_size);
            if (u32(rec) != sig_end64 || u64(rec + 4) != end64_size - 12)
                fail("bad zip64 end record (wrong signature or size)");
            if (u32(rec + 16) != 0 || u32(rec + 20) != 0 || u64(rec + 24) != u64(rec + 32))
                fail("a zip64 archive split over several disks");
            const std::uint64_t count64 = u64(rec + 32), size64 = u64(rec + 40), offset64 = u64(rec + 48);
            // Readers that take the 32-bit fields and readers that take the zip64 ones must agree.
            if ((count != saturated16 && count != count64) || (cd_size != saturated32 && cd_size != size64) ||
                (cd_offset != saturated32 && cd_offset != offset64))
                fail("the end record and the zip64 end record disagree");
            count = count64;
            cd_size = size64;
            cd_offset = offset64;
            cd_end = rec_pos;
        }
    }
    if (cd_offset > cd_end || cd_size != cd_end - cd_offset)
        fail(
            fmt::format("the central directory (offset {}, {} bytes) does not end where the end record begins "
                        "(offset {}): the file holds something else too (two archives concatenated, or data "
                        "prepended); expected one plain archive",
                        cd_offset, cd_size, cd_end));
    if (count > cd_size / central_size)
        fail(fmt::format("{} members cannot fit a {}-byte central directory", count, cd_size));

    std::vector<unsigned char> cd(cd_size);
    read_at(cd_offset, cd.data(), cd.size());
    entries_.reserve(count);
    struct Span {
        std::uint64_t begin, end;
        std::size_t index;
    };
    std::vector<Span> spans;
    spans.reserve(count);
    std::vector<std::uint16_t> flags_of;
    flags_of.reserve(count);
    std::set<std::string> names;
    std::size_t pos = 0;
    while (pos < cd.size()) {
        if (entries_.size() == count)
            fail(fmt::format("the central directory holds more than the {} members the end record counts", count));
        if (cd.size() - pos < central_size || u32(&cd[pos]) != sig_central)
            fail(fmt::format("bad central directory entry {} at offset {}", entries_.size(), cd_offset + pos));
        const unsigned char* c = &cd[pos];
        const std::size_t name_len = u16(c + 28), extra_len = u16(c + 30), comment_len = u16(c + 32);
        if (cd.size() - pos - central_size < name_len + extra_len + comment_len)
            fail(fmt::format("central directory entry {} overruns the directory", entries_.size()));
        ZipEntry entry;
        entry.name.assign(reinterpret_cast<const char*>(c + central_size), name_len);
        const std::string member = fmt::format("member '{}'", entry.name);
        const std::uint16_t flags = u16(c + 8);
        entry.method = u16(c + 10);
        entry.crc = u32(c + 16);
        entry.compressed_size = u32(c + 20);
        entry.size = u32(c + 24);
        std::uint64_t local_offset = u32(c + 42);
        if (u16(c + 34) != 0 && u16(c + 34) != saturated16) fail(member + " is on another disk");
        const std::string bad_extra =
            read_extra(c + central_size + name_len, extra_len, &entry.size, &entry.compressed_size, &local_offset);
        if (!bad_extra.empty()) fail(fmt::format("{}: {}", member, bad_extra));
        pos += central_size + name_len + extra_len + comment_len;

        // Checks on the member itself: these name it.
        if (!(flags & flag_utf8))
            for (unsigned char ch : entry.name)
                if (ch >= 0x80)
                    fail(member +
                         ": a name that is not ASCII and not marked UTF-8 (readers would decode it "
                         "differently)");
        if (!names.insert(entry.name).second) fail("duplicate member names (a name is stored twice)");
        if (flags & (flag_encrypted | flag_strong | flag_masked))
            throw FileError(fmt::format("{}: {}: encrypted; expected a plain member", at_, member));
        if (entry.method == 0) {
            if (entry.size != entry.compressed_size)
                throw FileError(fmt::format("{}: {}: stored member of {} bytes claims {} uncompressed", at_, member,
                                            entry.compressed_size, entry.size));
        } else if (entry.method == 8) {
            if (entry.compressed_size > file_size_ || entry.size > entry.compressed_size * 1032 + 1024)
                throw FileError(
                    fmt::format("{}: {}: claims {} bytes from {} deflated ones, more than deflate can "
                                "expand",
                                at_, member, entry.size, entry.compressed_size));
        } else {
            throw FileError(
                fmt::format("{}: {}: unsupported compression method {}; expected stored (0) or deflate "
                            "(8)",
                            at_, member, entry.method));
        }
        if (local_offset >= cd_offset)
            fail(
                fmt::format("{}: local header offset {} is not before the central "
                            "directory",
                            member, local_offset));
        spans.push_back({local_offset, 0, entries_.size()});
        flags_of.push_back(flags);
        entries_.push_back(std::move(entry));
    }
    if (entries_.size() != count)
        fail(fmt::format("the end record counts {} members, the central directory holds {}", count, entries_.size()));

    // Members must tile the file up to the central directory: no byte shared, none hidden.
    // Members sharing a local header (many names for one deflated block: a bomb) are named first.
    std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    for (std::size_t i = 1; i < spans.size(); ++i)
        if (spans[i].begin == spans[i - 1].begin)
            fail(
                fmt::format("members '{}' and '{}' overlap: they share the local header at offset {}; expected each "
                            "byte to belong to one member",
                            entries_[spans[i - 1].index].name, entries_[spans[i].index].name, spans[i].begin));
    for (Span& span : spans) check_local_header(entries_[span.index], span.begin, flags_of[span.index], span.end);
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < spans.size(); ++i) {
        if (spans[i].begin < expected)
            fail(fmt::format(
                "members '{}' and '{}' overlap (the second starts at offset {}, inside the first, which "
                "ends at {}); expected each byte to belong to one member",
                entries_[spans[i - 1].index].name, entries_[spans[i].index].name, spans[i].begin, expected));
        if (spans[i].begin > expected)
            fail(
                fmt::format("{} bytes at offset {} belong to no member (hidden data); expected members to follow "
                            "each other",
                            spans[i].begin - expected, expected));
        expected = spans[i].end;
    }
    if (expected != cd_offset)
        fail(fmt::format("{} bytes at offset {} belong to no member (hidden data before the central directory)",
                         cd_offset - std::min(expected, cd_offset), expected));
}

void ZipArchive::check_local_header(ZipEntry& e, std::uint64_t local_offset, std::uint16_t flags,
                                    std::uint64_t& member_end) const {
    const std::string member = fmt::format("member '{}'", e.name);
    const std::uint64_t limit = file_size_;
    if (limit - local_offset < local_size) fail(member + ": local header beyond the end of the file");
    unsigned char h[local_size];
    read_at(local_offset, h, local_size);
    if (u32(h) != sig_local) fail(fmt::format("{}: no local header at offset {}", member, local_offset));
    const std::size_t name_len = u16(h + 26), extra_len = u16(h + 28);
    if (limit - local_offset - local_size < name_len + extra_len) fail(member + ": local header beyond the end");
    std::vector<unsigned char> var(name_len + extra_len);
    read_at(local_offset + local_size, var.data(), var.size());
    if (std::string(reinterpret_cast<const char*>(var.data()), name_len) != e.name)
        fail(fmt::format("{}: its local header names it '{}'", member,
                         std::string(reinterpret_cast<const char*>(var.data()), name_len)));
    if (u16(h + 6) != flags || u16(h + 8) != e.method)
        fail(member + ": the local header and the central directory disagree on its flags or method");
    std::uint64_t usize = u32(h + 22), csize = u32(h + 18);
    const bool local_zip64 = usize == saturated32 || csize == saturated32;
    const std::string bad_extra = read_extra(var.data() + name_len, extra_len, &usize, &csize, nullptr);
    if (!bad_extra.empty()) fail(fmt::format("{}: local header: {}", member, bad_extra));
    const bool descriptor = flags & flag_descriptor;
    // With a data descriptor the local header may leave CRC and sizes as zero.
    const bool zeroed = descriptor && u32(h + 14) == 0 && usize == 0 && csize == 0;
    if (!zeroed && (u32(h + 14) != e.crc || usize != e.size || csize != e.compressed_size))
        fail(member + ": the local header and the central directory disagree on its CRC or sizes");

    e.data_offset = local_offset + local_size + name_len + extra_len;
    if (e.compressed_size > limit || e.data_offset > limit - e.compressed_size)
        fail(fmt::format("{}: its {} bytes of data run past the end of the file", member, e.compressed_size));
    member_end = e.data_offset + e.compressed_size;
    if (descriptor) {
        // [signature] crc, csize, usize: 4-byte sizes, or 8-byte ones when the local header is zip64.
        unsigned char d[24] = {};
        const std::size_t have = std::size_t(std::min<std::uint64_t>(24, limit - member_end));
        read_at(member_end, d, have);
        const std::size_t sig = have >= 4 && u32(d) == sig_descriptor ? 4 : 0;
        const std::size_t len = sig + (local_zip64 ? 20 : 12);
        if (have < len) fail(member + ": data descriptor beyond the end of the file");
        const unsigned char* p = d + sig;
        const std::uint64_t dc = local_zip64 ? u64(p + 4) : u32(p + 4);
        const std::uint64_t du = local_zip64 ? u64(p + 12) : u32(p + 8);
        if (u32(p) != e.crc || dc != e.compressed_size || du != e.size)
            fail(member + ": the data descriptor and the central directory disagree on its CRC or sizes");
        member_end += len;
    }
}

void ZipArchive::fail(const std::string& what) const {
    throw FileError(fmt::format("{}: not a valid zip archive: {}", at_, what));
}

void ZipArchive::read_at(std::uint64_t offset, void* dst, std::size_t n) const {
    auto* p = static_cast<unsigned char*>(dst);
    while (n > 0) {
        const ssize_t got = pread(fd_, p, std::min<std::size_t>(n, 1 << 30), off_t(offset));
        if (got < 0) {
            if (errno == EINTR) continue;
            throw FileError(fmt::format("{}: read error: {}", at_, std::strerror(errno)));
        }
        if (got == 0) fail(fmt::format("the file ends at offset {}, before the data it announces", offset));
        p += got;
        n -= std::size_t(got);
        offset += std::uint64_t(got);
    }
}

struct ZipMemberReader::Inflater {
    z_stream s{};
    bool ready = false;
    ~Inflater() {
        if (ready) inflateEnd(&s);
    }
};

ZipMemberReader::ZipMemberReader(const ZipArchive& archive, const ZipEntry& entry, std::string at)
    : archive_(archive), entry_(entry), at_(std::move(at)), crc_(std::uint32_t(crc32(0, nullptr, 0))) {
    if (entry.method == 8) {
        in_.resize(1 << 16);
        z_ = std::make_unique<Inflater>();
        const int rc = inflateInit2(&z_->s, -MAX_WBITS);  // raw deflate, no zlib or gzip wrapper
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        if (rc != Z_OK) throw FileError(at_ + ": cannot start zlib's inflate");
        z_->ready = true;
    }
}

ZipMemberReader::~ZipMemberReader() = default;

bool ZipMemberReader::refill() {
    const std::uint64_t left = entry_.compressed_size - in_pos_;
    if (left == 0) return false;
    const std::size_t n = std::size_t(std::min<std::uint64_t>(left, in_.size()));
    const ssize_t got = pread(archive_.fd(), in_.data(), n, off_t(entry_.data_offset + in_pos_));
    if (got < 0) {
        if (errno == EINTR) return refill();
        throw FileError(fmt::format("{}: read error: {}", at_, std::strerror(errno)));
    }
    if (got == 0) throw FileError(at_ + ": the file ends inside the member");
    in_pos_ += std::uint64_t(got);
    z_->s.next_in = in_.data();
    z_->s.avail_in = uInt(got);
    return true;
}

std::size_t ZipMemberReader::read_some(unsigned char* dst, std::size_t n) {
    n = std::size_t(std::min<std::uint64_t>(n, entry_.size - out_pos_));
    if (n == 0) return 0;
    std::size_t done = 0;
    if (!z_) {
        const ssize_t got =
            pread(archive_.fd(), dst, std::min<std::size_t>(n, 1 << 30), off_t(entry_.data_offset + out_pos_));
        if (got < 0) {
            if (errno == EINTR) return read_some(dst, n);
            throw FileError(fmt::format("{}: read error: {}", at_, std::strerror(errno)));
        }
        if (got == 0) throw FileError(at_ + ": the file ends inside the member");
        done = std::size_t(got);
    } else {
        z_stream& s = z_->s;
        while (done < n && !stream_end_) {
            const uInt chunk = uInt(std::min<std::size_t>(n - done, UINT_MAX));
            s.next_out = dst + done;
            s.avail_out = chunk;
            if (s.avail_in == 0) refill();
            const uInt in_before = s.avail_in;
            const int rc = inflate(&s, Z_NO_FLUSH);
            const std::size_t produced = chunk - s.avail_out;
            done += produced;
            if (rc == Z_STREAM_END) {
                stream_end_ = true;
            } else if (rc == Z_MEM_ERROR) {
                throw std::bad_alloc();
            } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
                throw FileError(fmt::format("{}: corrupt member: {}", at_, s.msg ? s.msg : "invalid deflate data"));
            } else if (produced == 0 && s.avail_in == in_before && s.avail_in == 0 &&
                       in_pos_ == entry_.compressed_size) {
                throw FileError(fmt::format("{}: corrupt member: the deflate stream is cut short ({} of {} bytes)", at_,
                                            out_pos_ + done, entry_.size));
            }
        }
    }
    crc_ = std::uint32_t(crc32(crc_, dst, uInt(done)));
    out_pos_ += done;
    return done;
}

void ZipMemberReader::read_exact(void* dst, std::size_t n, const char* what) {
    auto* p = static_cast<unsigned char*>(dst);
    std::size_t done = 0;
    while (done < n) {
        // crc32 takes 32-bit lengths: read a huge payload in pieces.
        const std::size_t got = read_some(p + done, std::min<std::size_t>(n - done, 1u << 30));
        if (got == 0)
            throw FileError(fmt::format("{}: truncated member: {} of the {} bytes of its {}", at_, done, n, what));
        done += got;
    }
}

void ZipMemberReader::expect_end() {
    if (out_pos_ != entry_.size) throw FileError(fmt::format("{}: trailing bytes after the payload", at_));
    if (z_) {
        // Drive the stream to its end: it must end exactly at the declared size and use every
        // compressed byte of the member.
        z_stream& s = z_->s;
        while (!stream_end_) {
            unsigned char extra;
            s.next_out = &extra;
            s.avail_out = 1;
            if (s.avail_in == 0) refill();
            const uInt in_before = s.avail_in;
            const int rc = inflate(&s, Z_NO_FLUSH);
            if (s.avail_out == 0)
                throw FileError(
                    fmt::format("{}: corrupt member: inflates to more than its declared {} bytes", at_, entry_.size));
            if (rc == Z_STREAM_END) break;
            if (rc == Z_MEM_ERROR) throw std::bad_alloc();
            if (rc != Z_OK || (s.avail_in == in_before && s.avail_in == 0 && in_pos_ == entry_.compressed_size))
                throw FileError(fmt::format("{}: corrupt member: the deflate stream does not end after its {} bytes",
                                            at_, entry_.size));
        }
        if (s.avail_in != 0 || in_pos_ != entry_.compressed_size)
            throw FileError(
                fmt::format("{}: corrupt member: compressed bytes after the end of its deflate stream", at_));
    }
    if (crc_ != entry_.crc)
        throw FileError(fmt::format("{}: corrupt member: CRC-32 0x{:08x}, but the archive records 0x{:08x}", at_, crc_,
                                    entry_.crc));
}

}  // namespace tapegrad::io::detail

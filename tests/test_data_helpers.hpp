// Helpers of the data tests: temporary directories and hand-built IDX, gzip, .npy and zip bytes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace data_test {

using Bytes = std::string;

/// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string templ = (std::filesystem::temp_directory_path() / "tapegrad-data-XXXXXX").string();
        if (!mkdtemp(templ.data())) throw std::runtime_error("TempDir: mkdtemp failed");
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f) throw std::runtime_error("write_file: cannot write " + path);
}

inline Bytes read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/// The directory of the committed fixtures, next to this file.
inline std::string fixture(const std::string& name) {
    return (std::filesystem::path(__FILE__).parent_path() / "fixtures" / name).string();
}

inline void put_le(Bytes& b, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b += char((v >> (8 * i)) & 0xff);
}
inline void put_be32(Bytes& b, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) b += char((v >> (8 * i)) & 0xff);
}

inline std::uint32_t crc32(const Bytes& b) {
    std::uint32_t c = 0xffffffffu;
    for (unsigned char x : b) {
        c ^= x;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/// An IDX file: magic (type code, rank), big-endian extents, then the payload.
inline Bytes idx_bytes(unsigned type, const std::vector<std::uint32_t>& dims, const Bytes& payload) {
    Bytes b;
    b += '\0';
    b += '\0';
    b += char(type);
    b += char(dims.size());
    for (auto d : dims) put_be32(b, d);
    return b + payload;
}

/// A raw deflate stream made of stored blocks: valid, and easy to damage.
inline Bytes deflate_stored(const Bytes& content) {
    Bytes b;
    std::size_t pos = 0;
    do {
        std::size_t n = std::min<std::size_t>(content.size() - pos, 65535);
        bool last = pos + n == content.size();
        b += char(last ? 1 : 0);
        put_le(b, n, 2);
        put_le(b, ~n & 0xffff, 2);
        b += content.substr(pos, n);
        pos += n;
    } while (pos < content.size());
    return b;
}

/// A gzip file around deflate_stored(content).
inline Bytes gzip_stored(const Bytes& content) {
    Bytes b = {'\x1f', '\x8b', '\x08', '\0', '\0', '\0', '\0', '\0', '\0', '\xff'};
    b += deflate_stored(content);
    put_le(b, crc32(content), 4);
    put_le(b, content.size() & 0xffffffffu, 4);
    return b;
}

/// A .npy member: magic, version, the given header dictionary padded with spaces and a
/// newline to 64 bytes, then the payload.
inline Bytes npy_bytes(const std::string& dict, const Bytes& payload, int major = 1) {
    Bytes b = "\x93NUMPY";
    b += char(major);
    b += '\0';
    std::size_t prefix = major == 1 ? 10 : 12;
    std::string h = dict;
    std::size_t total = prefix + h.size() + 1;
    h.append((64 - total % 64) % 64, ' ');
    h += '\n';
    put_le(b, h.size(), major == 1 ? 2 : 4);
    return b + h + payload;
}

template <class T>
Bytes raw_bytes(const std::vector<T>& v) {
    return Bytes(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

/// One member of a hand-built zip archive; the optional fields lie about it.
struct ZipMember {
    std::string name;
    Bytes data;
    std::optional<std::uint32_t> claimed_size{};
    bool bad_crc = false;
    int method = 0;  // 0 stored; 8 deflate (data is then deflate_stored() of the content)
};

/// A zip archive written by hand so tests can build what libzip refuses
/// to write (duplicate names, wrong sizes, wrong checksums).
inline Bytes zip_stored(const std::vector<ZipMember>& members) {
    Bytes out, central;
    for (const auto& m : members) {
        Bytes stored = m.method == 8 ? deflate_stored(m.data) : m.data;
        std::uint32_t crc = crc32(m.data) ^ (m.bad_crc ? 1u : 0u);
        std::uint32_t size = m.claimed_size.value_or(std::uint32_t(m.data.size()));
        std::uint32_t csize = m.method == 0 ? size : std::uint32_t(stored.size());
        std::size_t offset = out.size();
        put_le(out, 0x04034b50, 4);
        put_le(out, 20, 2);
        put_le(out, 0, 2);
        put_le(out, std::uint64_t(m.method), 2);
        put_le(out, 0, 2);
        put_le(out, 0x21, 2);  // 1980-01-01
        put_le(out, crc, 4);
        put_le(out, csize, 4);
        put_le(out, size, 4);
        put_le(out, m.name.size(), 2);
        put_le(out, 0, 2);
        out += m.name + stored;

        put_le(central, 0x02014b50, 4);
        put_le(central, 20, 2);
        put_le(central, 20, 2);
        put_le(central, 0, 2);
        put_le(central, std::uint64_t(m.method), 2);
        put_le(central, 0, 2);
        put_le(central, 0x21, 2);
        put_le(central, crc, 4);
        put_le(central, csize, 4);
        put_le(central, size, 4);
        put_le(central, m.name.size(), 2);
        put_le(central, 0, 2);
        put_le(central, 0, 2);
        put_le(central, 0, 2);
        put_le(central, 0, 2);
        put_le(central, 0, 4);
        put_le(central, offset, 4);
        central += m.name;
    }
    std::size_t cd_offset = out.size();
    out += central;
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 2);
    put_le(out, 0, 2);
    put_le(out, members.size(), 2);
    put_le(out, members.size(), 2);
    put_le(out, central.size(), 4);
    put_le(out, cd_offset, 4);
    put_le(out, 0, 2);
    return out;
}

// ---- zip pieces, for archives laid out by hand (overlaps, gaps, zip64, descriptors) ----

/// A local file header (30 bytes, the name, the extra field).
inline Bytes zip_local_header(const std::string& name, int method, std::uint32_t crc, std::uint32_t csize,
                              std::uint32_t usize, std::uint16_t flags = 0, const Bytes& extra = "") {
    Bytes b;
    put_le(b, 0x04034b50, 4);
    put_le(b, 20, 2);
    put_le(b, flags, 2);
    put_le(b, std::uint64_t(method), 2);
    put_le(b, 0, 2);
    put_le(b, 0x21, 2);
    put_le(b, crc, 4);
    put_le(b, csize, 4);
    put_le(b, usize, 4);
    put_le(b, name.size(), 2);
    put_le(b, extra.size(), 2);
    return b + name + extra;
}

/// A central directory entry (46 bytes, the name, the extra field).
inline Bytes zip_central_entry(const std::string& name, int method, std::uint32_t crc, std::uint32_t csize,
                               std::uint32_t usize, std::uint32_t offset, std::uint16_t flags = 0,
                               const Bytes& extra = "") {
    Bytes b;
    put_le(b, 0x02014b50, 4);
    put_le(b, 20, 2);
    put_le(b, 20, 2);
    put_le(b, flags, 2);
    put_le(b, std::uint64_t(method), 2);
    put_le(b, 0, 2);
    put_le(b, 0x21, 2);
    put_le(b, crc, 4);
    put_le(b, csize, 4);
    put_le(b, usize, 4);
    put_le(b, name.size(), 2);
    put_le(b, extra.size(), 2);
    put_le(b, 0, 2);
    put_le(b, 0, 2);
    put_le(b, 0, 2);
    put_le(b, 0, 4);
    put_le(b, offset, 4);
    return b + name + extra;
}

/// The end of central directory record.
inline Bytes zip_end_record(std::uint64_t count, std::uint64_t cd_size, std::uint64_t cd_offset) {
    Bytes b;
    put_le(b, 0x06054b50, 4);
    put_le(b, 0, 2);
    put_le(b, 0, 2);
    put_le(b, count, 2);
    put_le(b, count, 2);
    put_le(b, cd_size, 4);
    put_le(b, cd_offset, 4);
    put_le(b, 0, 2);
    return b;
}

}  // namespace data_test

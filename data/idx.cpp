// read_idx: header checks first, then one exact allocation for the payload.
#include <tapegrad/data/idx.hpp>

#include <new>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/io/detail/byte_reader.hpp>
#include <tapegrad/io/detail/checked_size.hpp>

namespace tapegrad::data {

namespace {

const char* idx_type_name(unsigned code) {
    switch (code) {
        case 0x08:
            return "unsigned byte";
        case 0x09:
            return "signed byte";
        case 0x0B:
            return "int16";
        case 0x0C:
            return "int32";
        case 0x0D:
            return "float32";
        case 0x0E:
            return "float64";
        default:
            return nullptr;
    }
}

std::uint32_t big_endian_u32(const unsigned char* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}

}  // namespace

namespace {

IdxArray read_idx_unguarded(const std::string& path, const io::LoadOptions& options) {
    io::detail::ByteReader in(path, "read_idx", options.max_inflated_bytes());
    const std::string& at = in.context();

    // Magic: two zero bytes, the element type, the number of dimensions.
    unsigned char magic[4];
    std::size_t got = in.read(magic, 4);
    if (got < 4)
        throw FileError(fmt::format("{}: short header: {} bytes; expected at least 4 (the IDX magic number)", at, got));
    if (magic[0] != 0 || magic[1] != 0)
        throw FileError(
            fmt::format("{}: wrong magic: first bytes 0x{:02x} 0x{:02x}; expected 0x00 0x00 "
                        "(an IDX file, raw or gzip-compressed)",
                        at, magic[0], magic[1]));
    if (magic[2] != 0x08) {
        const char* name = idx_type_name(magic[2]);
        if (name)
            throw FileError(fmt::format("{}: unsupported element type 0x{:02x} ({}); expected 0x08 (unsigned byte)", at,
                                        magic[2], name));
        throw FileError(fmt::format("{}: unknown element type 0x{:02x}; expected 0x08 (unsigned byte)", at, magic[2]));
    }
    std::size_t rank = magic[3];
    if (rank == 0 || rank > idx_max_dimensions)
        throw FileError(fmt::format("{}: {} dimensions; expected 1 to {}", at, rank, idx_max_dimensions));

    unsigned char dims[4 * idx_max_dimensions];
    got = in.read(dims, 4 * rank);
    if (got < 4 * rank)
        throw FileError(
            fmt::format("{}: short header: {} of the {} bytes of {} dimension sizes", at, got, 4 * rank, rank));

    IdxArray out;
    out.shape.resize(rank);
    for (std::size_t i = 0; i < rank; ++i) out.shape[i] = big_endian_u32(dims + 4 * i);
    std::size_t count = 0;
    if (!io::detail::checked_product(out.shape, count))
        throw FileError(fmt::format("{}: dimensions {} overflow a size_t", at, shape_string(out.shape)));

    const std::size_t header = 4 + 4 * rank;
    if (!in.gzip()) {
        // A raw file's size is known: check the payload length before allocating anything.
        std::uint64_t payload = in.file_size() - header;
        if (payload < count)
            throw FileError(fmt::format("{}: payload short: {} bytes; dimensions {} need {}", at, payload,
                                        shape_string(out.shape), count));
        if (payload > count)
            throw FileError(fmt::format("{}: {} trailing bytes after the {} payload bytes of dimensions {}", at,
                                        payload - count, count, shape_string(out.shape)));
    } else if (std::uint64_t(count) > in.max_content_size() - header) {
        throw FileError(fmt::format("{}: dimensions {} need {} bytes, more than a {}-byte gzip file can hold", at,
                                    shape_string(out.shape), count, in.file_size()));
    } else if (std::uint64_t(count) + header > options.max_inflated_bytes()) {
        throw FileError(
            fmt::format("{}: dimensions {} need {} bytes from a {}-byte gzip file, more than the limit "
                        "of {} bytes (LoadOptions::max_inflated_bytes; raise it to read this file)",
                        at, shape_string(out.shape), count + header, in.file_size(), options.max_inflated_bytes()));
    }

    try {
        out.data.resize(count);
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("{}: out of memory while allocating {} bytes for dimensions {}", at, count,
                                    shape_string(out.shape)));
    }
    got = in.read(out.data.data(), count);
    if (got < count)
        throw FileError(
            fmt::format("{}: payload short: {} bytes; dimensions {} need {}", at, got, shape_string(out.shape), count));
    // Reading one byte more also drives a gzip stream to its end, where zlib checks CRC and length.
    unsigned char extra;
    if (in.read(&extra, 1) != 0)
        throw FileError(fmt::format("{}: trailing bytes after the {} payload bytes of dimensions {}", at, count,
                                    shape_string(out.shape)));
    return out;
}

}  // namespace

IdxArray read_idx(const std::string& path, const io::LoadOptions& options) {
    try {
        return read_idx_unguarded(path, options);
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("read_idx: '{}': out of memory while reading", path));
    }
}

}  // namespace tapegrad::data

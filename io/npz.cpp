// save_npz / read_npz: libzip writes the archive, ZipArchive reads it strictly, npy.hpp does each member.
#include <tapegrad/io/npz.hpp>

#include <algorithm>
#include <limits>
#include <new>
#include <cerrno>
#include <cstring>
#include <set>

#include <sys/stat.h>
#include <zip.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/array_check.hpp>
#include <tapegrad/io/detail/atomic_file.hpp>
#include <tapegrad/io/detail/npy.hpp>
#include <tapegrad/io/detail/regular_file.hpp>
#include <tapegrad/io/detail/value_check.hpp>
#include <tapegrad/io/detail/zip_reader.hpp>

namespace tapegrad::io {

namespace {

// The libzip objects of one save, released on every path out.
struct ZipWriter {
    zip_source_t* mem = nullptr;
    zip_t* za = nullptr;
    ~ZipWriter() {
        if (za) zip_discard(za);
        if (mem) zip_source_free(mem);
    }
};

// 1980-01-02 12:00 UTC: a fixed member date, valid in DOS time in every time zone.
constexpr time_t fixed_mtime = 315662400;

// The 22-byte end-of-central-directory record of an archive with no members: libzip
// deletes an archive left empty rather than writing one, and numpy.savez() writes this.
const unsigned char empty_zip[22] = {'P', 'K', 5, 6};

// The payload of a member whose header is h, read into an array of its own element type.
Array read_payload(detail::ZipMemberReader& r, std::string name, const detail::NpyHeader& h) {
    switch (h.dtype) {
        case Dtype::float32: {
            Tensor<float> t = Tensor<float>::from_shape(h.shape);
            r.read_exact(t.data(), h.payload_bytes, "payload");
            return Array(std::move(name), std::move(t));
        }
        case Dtype::float64: {
            Tensor<double> t = Tensor<double>::from_shape(h.shape);
            r.read_exact(t.data(), h.payload_bytes, "payload");
            return Array(std::move(name), std::move(t));
        }
        case Dtype::int64:
            break;
    }
    Tensor<std::int64_t> t = Tensor<std::int64_t>::from_shape(h.shape);
    r.read_exact(t.data(), h.payload_bytes, "payload");
    return Array(std::move(name), std::move(t));
}

}  // namespace

void save_npz(const std::string& path, const Arrays& arrays, const SaveOptions& options) {
    // What the reader would refuse is refused here, before the file is touched.
    detail::check_arrays_for_save(arrays, options, "save_npz", path);

    detail::AtomicFile out(path, "save_npz");
    if (arrays.empty()) {
        out.write(empty_zip, sizeof empty_zip);
        out.commit();
        return;
    }

    // Build the archive in a libzip memory buffer whose members point at the tensors' own
    // data (no copy), then stream it into the temporary file.
    ZipWriter w;
    zip_error_t err;
    zip_error_init(&err);
    auto zip_fail = [&](const std::string& what) {
        std::string msg = fmt::format("save_npz: '{}': {}: {}", path, what, zip_error_strerror(&err));
        zip_error_fini(&err);
        throw FileError(msg);
    };
    w.mem = zip_source_buffer_create(nullptr, 0, 0, &err);
    if (!w.mem) zip_fail("cannot create a zip buffer");
    zip_source_keep(w.mem);  // keep the buffer alive past zip_close to read it out
    w.za = zip_open_from_source(w.mem, ZIP_TRUNCATE, &err);
    if (!w.za) {
        zip_source_free(w.mem);  // the reference zip_open_from_source did not take
        zip_fail("cannot start a zip archive");
    }

    std::vector<std::string> preambles;
    preambles.reserve(arrays.size());
    for (const Array& a : arrays) {
        const std::string& name = a.name();
        preambles.push_back(detail::npy_preamble(a.dtype(), a.shape()));
        zip_buffer_fragment_t parts[2] = {
            {reinterpret_cast<zip_uint8_t*>(preambles.back().data()), preambles.back().size()},
            {reinterpret_cast<zip_uint8_t*>(const_cast<void*>(a.data())), a.bytes()}};
        zip_source_t* src = zip_source_buffer_fragment_create(parts, a.size() ? 2 : 1, 0, &err);
        if (!src) zip_fail(fmt::format("cannot add '{}'", name));
        zip_int64_t index = zip_file_add(w.za, (name + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8);
        if (index < 0) {
            zip_source_free(src);
            std::string msg = fmt::format("save_npz: '{}': cannot add '{}': {}", path, name, zip_strerror(w.za));
            throw FileError(msg);
        }
        if (zip_set_file_compression(w.za, zip_uint64_t(index), ZIP_CM_STORE, 0) != 0 ||
            zip_file_set_mtime(w.za, zip_uint64_t(index), fixed_mtime, 0) != 0)
            throw FileError(fmt::format("save_npz: '{}': cannot set up '{}': {}", path, name, zip_strerror(w.za)));
    }
    if (zip_close(w.za) != 0)
        throw FileError(fmt::format("save_npz: '{}': cannot write the zip archive: {}", path, zip_strerror(w.za)));
    w.za = nullptr;

    if (zip_source_open(w.mem) != 0)
        throw FileError(fmt::format("save_npz: '{}': cannot read the zip buffer back", path));
    std::vector<char> chunk(1 << 20);
    for (;;) {
        zip_int64_t got = zip_source_read(w.mem, chunk.data(), chunk.size());
        if (got < 0) {
            zip_source_close(w.mem);
            throw FileError(fmt::format("save_npz: '{}': cannot read the zip buffer back", path));
        }
        if (got == 0) break;
        out.write(chunk.data(), std::size_t(got));
    }
    zip_source_close(w.mem);
    zip_error_fini(&err);
    out.commit();
}

template <class T>
void save_npz(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options) {
    Arrays views;
    views.reserve(arrays.size());
    for (const auto& [name, tensor] : arrays) views.push_back(Array::view(name, tensor));
    save_npz(path, views, options);
}

Arrays read_npz(const std::string& path, const LoadOptions& options) {
    if (path.empty()) throw Error("load_npz: empty path; expected the name of a file");
    const std::string at = fmt::format("load_npz: '{}'", path);
    std::string allocating = "the archive's directory";
    try {
        detail::RegularFile file(path, at);
        // An empty file is no archive, whatever a zip library would make of it.
        if (file.size() < 22)
            throw FileError(
                fmt::format("{}: truncated: {} bytes; expected a zip archive (at least 22 bytes)", at, file.size()));
        const detail::ZipArchive zip(file.fd(), file.size(), at);

        // Deflated members must fit the bound together, checked before a byte is inflated (each
        // member is held to its declared size, so the declared sum bounds the real output).
        std::uint64_t inflated = 0;
        for (const auto& e : zip.entries())
            if (e.method != 0) inflated += e.size;
        if (inflated > options.max_inflated_bytes())
            throw FileError(
                fmt::format("{}: its deflated members expand to {} bytes in total, more than the limit "
                            "of {} bytes (LoadOptions::max_inflated_bytes; raise it to read this file)",
                            at, inflated, options.max_inflated_bytes()));

        Arrays out;
        out.reserve(zip.entries().size());
        for (const auto& e : zip.entries()) {
            const std::string& member = e.name;
            const std::string member_at = fmt::format("{}: member '{}'", at, member);
            const std::string suffix = ".npy";
            if (member.size() <= suffix.size() ||
                member.compare(member.size() - suffix.size(), suffix.size(), suffix) != 0)
                throw FileError(fmt::format("{}: not a .npy array (expected members named <name>.npy)", member_at));
            std::string name = member.substr(0, member.size() - suffix.size());
            detail::ZipMemberReader r(zip, e, member_at);

            unsigned char prefix[detail::npy_prefix_max];
            const std::size_t have = std::size_t(std::min<std::uint64_t>(e.size, 10));
            r.read_exact(prefix, have, ".npy prefix");
            std::size_t prefix_len = have;
            if (have == 10 && (prefix[6] == 2 || prefix[6] == 3) && e.size >= 12) {
                r.read_exact(prefix + 10, 2, ".npy prefix");
                prefix_len = 12;
            }
            const std::size_t preamble = detail::npy_preamble_length(prefix, prefix_len, member_at);
            if (preamble > e.size)
                throw FileError(
                    fmt::format("{}: {} bytes, shorter than its {}-byte .npy header", member_at, e.size, preamble));
            std::string dict(preamble - prefix_len, '\0');
            r.read_exact(dict.data(), dict.size(), ".npy header");
            const detail::NpyHeader h = detail::parse_npy_header(dict, member_at);
            if (e.size - preamble != h.payload_bytes)
                throw FileError(fmt::format("{}: payload of {} bytes; shape {} of {} needs exactly {}", member_at,
                                            e.size - preamble, shape_string(h.shape), dtype_name(h.dtype),
                                            h.payload_bytes));

            allocating =
                fmt::format("member '{}' ({} bytes for shape {})", member, h.payload_bytes, shape_string(h.shape));
            Array array = read_payload(r, std::move(name), h);
            r.expect_end();
            detail::check_values_read(array, options, member_at);
            out.push_back(std::move(array));
        }
        return out;
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("{}: out of memory while allocating {}", at, allocating));
    }
}

template <class T>
NamedTensors<T> load_npz(const std::string& path, const LoadOptions& options) {
    const Arrays arrays = read_npz(path, options);
    const std::string at = fmt::format("load_npz: '{}'", path);
    try {
        NamedTensors<T> out;
        out.reserve(arrays.size());
        for (const Array& a : arrays) out.emplace_back(a.name(), a.to<T>(at));
        return out;
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("{}: out of memory while converting the arrays", at));
    }
}

template void save_npz<float>(const std::string&, const NamedTensors<float>&, const SaveOptions&);
template void save_npz<double>(const std::string&, const NamedTensors<double>&, const SaveOptions&);
template NamedTensors<float> load_npz<float>(const std::string&, const LoadOptions&);
template NamedTensors<double> load_npz<double>(const std::string&, const LoadOptions&);

}  // namespace tapegrad::io

// save_npz / load_npz: libzip for the container, npy.hpp for each member, AtomicFile for the write.
#include <tapegrad/data/npz.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <sys/stat.h>
#include <zip.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/atomic_file.hpp>
#include <tapegrad/data/npy.hpp>

namespace tapegrad::data {

namespace {

using detail::NpyDtype;

template <class T>
constexpr NpyDtype dtype_of() {
    return sizeof(T) == 4 ? NpyDtype::f4 : NpyDtype::f8;
}

constexpr std::size_t max_name = 200;

std::string check_name(const std::string& name) {
    if (name.empty() || name.size() > max_name) return fmt::format("{} characters", name.size());
    for (char c : name)
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '\\')
            return fmt::format("character 0x{:02x}", unsigned(static_cast<unsigned char>(c)));
    return {};
}

std::string zip_message(int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    std::string s = zip_error_strerror(&e);
    zip_error_fini(&e);
    return s;
}

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

}  // namespace

template <class T>
void save_npz(const std::string& path, const NamedTensors<T>& arrays) {
    if (path.empty()) throw Error("save_npz: empty path; expected the name of a file");
    std::set<std::string> names;
    for (const auto& [name, tensor] : arrays) {
        std::string bad = check_name(name);
        if (!bad.empty())
            throw Error(fmt::format("save_npz: '{}': bad array name '{}' ({}); expected 1 to {} printable ASCII "
                                    "characters without spaces, '/' or '\\'",
                                    path, name, bad, max_name));
        if (!names.insert(name).second)
            throw Error(fmt::format("save_npz: '{}': array name '{}' given twice; expected unique names", path, name));
    }

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
    for (const auto& [name, tensor] : arrays) {
        std::vector<std::size_t> shape(tensor.shape().begin(), tensor.shape().end());
        preambles.push_back(detail::npy_preamble(dtype_of<T>(), shape));
        zip_buffer_fragment_t parts[2] = {{reinterpret_cast<zip_uint8_t*>(preambles.back().data()),
                                           preambles.back().size()},
                                          {reinterpret_cast<zip_uint8_t*>(const_cast<T*>(tensor.data())),
                                           tensor.size() * sizeof(T)}};
        zip_source_t* src = zip_source_buffer_fragment_create(parts, tensor.size() ? 2 : 1, 0, &err);
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

namespace {

// One member being read: exact reads, every failure naming the member.
struct MemberReader {
    zip_file_t* zf = nullptr;
    std::string at;
    ~MemberReader() {
        if (zf) zip_fclose(zf);
    }
    void read_exact(void* dst, std::size_t n, const char* what) {
        auto* p = static_cast<char*>(dst);
        std::size_t done = 0;
        while (done < n) {
            zip_int64_t got = zip_fread(zf, p + done, n - done);
            if (got < 0) throw FileError(fmt::format("{}: corrupt member: {}", at, zip_file_strerror(zf)));
            if (got == 0)
                throw FileError(fmt::format("{}: truncated member: {} of the {} bytes of its {}", at, done, n, what));
            done += std::size_t(got);
        }
    }
    // Reading past the end is where libzip compares the CRC-32.
    void expect_end() {
        char extra;
        zip_int64_t got = zip_fread(zf, &extra, 1);
        if (got < 0) throw FileError(fmt::format("{}: corrupt member: {}", at, zip_file_strerror(zf)));
        if (got > 0) throw FileError(fmt::format("{}: trailing bytes after the payload", at));
    }
};

template <class T, class S>
void convert(const S* src, T* dst, std::size_t n) {
    std::transform(src, src + n, dst, [](S v) { return T(v); });
}

}  // namespace

template <class T>
NamedTensors<T> load_npz(const std::string& path) {
    if (path.empty()) throw Error("load_npz: empty path; expected the name of a file");
    const std::string at = fmt::format("load_npz: '{}'", path);
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        int e = errno;
        if (e == ENOENT) throw FileError(at + ": file not found");
        throw FileError(fmt::format("{}: cannot open: {}", at, std::strerror(e)));
    }
    if (!S_ISREG(st.st_mode)) throw FileError(at + ": not a regular file");
    const std::uint64_t file_size = std::uint64_t(st.st_size);
    // libzip takes an empty file for an empty archive; a checkpoint cut to nothing is not one.
    if (file_size < 22)
        throw FileError(fmt::format("{}: truncated: {} bytes; expected a zip archive (at least 22 bytes)", at,
                                    file_size));

    int code = 0;
    zip_t* za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!za) {
        // libzip refuses an archive naming a member twice with this code.
        if (code == ZIP_ER_EXISTS)
            throw FileError(at + ": not a valid zip archive: duplicate member names (a name is stored twice)");
        throw FileError(fmt::format("{}: not a valid zip archive ({})", at, zip_message(code)));
    }
    struct Closer {
        zip_t* za;
        ~Closer() { zip_discard(za); }
    } closer{za};

    const zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0) throw FileError(fmt::format("{}: cannot list the zip archive: {}", at, zip_strerror(za)));
    NamedTensors<T> out;
    out.reserve(std::size_t(n));
    std::set<std::string> seen;
    for (zip_int64_t i = 0; i < n; ++i) {
        zip_stat_t zs;
        zip_stat_init(&zs);
        const zip_uint64_t needed = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
        if (zip_stat_index(za, zip_uint64_t(i), 0, &zs) != 0 || (zs.valid & needed) != needed)
            throw FileError(fmt::format("{}: cannot read zip entry {}: {}", at, i, zip_strerror(za)));
        const std::string member = zs.name;
        MemberReader r;
        r.at = fmt::format("{}: member '{}'", at, member);
        const std::string suffix = ".npy";
        if (member.size() <= suffix.size() || member.compare(member.size() - suffix.size(), suffix.size(), suffix) != 0)
            throw FileError(fmt::format("{}: not a .npy array (expected members named <name>.npy)", r.at));
        std::string name = member.substr(0, member.size() - suffix.size());
        if (!seen.insert(name).second)
            throw FileError(fmt::format("{}: duplicate name '{}': stored twice in the archive", r.at, name));
        if ((zs.valid & ZIP_STAT_ENCRYPTION_METHOD) && zs.encryption_method != ZIP_EM_NONE)
            throw FileError(r.at + ": encrypted; expected a plain member");

        // Bound the declared size by what the archive can hold before reading a byte of it.
        if (zs.comp_size > file_size)
            throw FileError(fmt::format("{}: compressed size {} exceeds the {}-byte archive", r.at, zs.comp_size,
                                        file_size));
        if (zs.comp_method == ZIP_CM_STORE) {
            if (zs.size != zs.comp_size)
                throw FileError(fmt::format("{}: stored member of {} bytes claims {} uncompressed", r.at,
                                            zs.comp_size, zs.size));
        } else if (zs.comp_method == ZIP_CM_DEFLATE) {
            if (zs.size > zs.comp_size * 1032 + 1024)
                throw FileError(fmt::format("{}: claims {} bytes from {} deflated ones, more than deflate can expand",
                                            r.at, zs.size, zs.comp_size));
        } else {
            throw FileError(fmt::format("{}: unsupported compression method {}; expected stored (0) or deflate (8)",
                                        r.at, zs.comp_method));
        }

        r.zf = zip_fopen_index(za, zip_uint64_t(i), 0);
        if (!r.zf) throw FileError(fmt::format("{}: cannot open: {}", r.at, zip_strerror(za)));
        unsigned char prefix[detail::npy_prefix_max];
        const std::size_t have = std::size_t(std::min<zip_uint64_t>(zs.size, 10));
        r.read_exact(prefix, have, ".npy prefix");
        std::size_t prefix_len = have;
        if (have == 10 && (prefix[6] == 2 || prefix[6] == 3) && zs.size >= 12) {
            r.read_exact(prefix + 10, 2, ".npy prefix");
            prefix_len = 12;
        }
        const std::size_t preamble = detail::npy_preamble_length(prefix, prefix_len, r.at);
        if (preamble > zs.size)
            throw FileError(fmt::format("{}: {} bytes, shorter than its {}-byte .npy header", r.at, zs.size, preamble));
        std::string dict(preamble - prefix_len, '\0');
        r.read_exact(dict.data(), dict.size(), ".npy header");
        const detail::NpyHeader h = detail::parse_npy_header(dict, r.at);
        if (zs.size - preamble != h.payload_bytes)
            throw FileError(fmt::format("{}: payload of {} bytes; shape {} of {} needs exactly {}", r.at,
                                        zs.size - preamble, shape_string(h.shape),
                                        h.dtype == NpyDtype::f4 ? "float32" : "float64", h.payload_bytes));

        Tensor<T> t = Tensor<T>::from_shape(h.shape);
        if (h.dtype == dtype_of<T>()) {
            r.read_exact(t.data(), h.payload_bytes, "payload");
        } else if (h.dtype == NpyDtype::f4) {
            std::vector<float> tmp(h.count);
            r.read_exact(tmp.data(), h.payload_bytes, "payload");
            convert(tmp.data(), t.data(), h.count);
        } else {
            std::vector<double> tmp(h.count);
            r.read_exact(tmp.data(), h.payload_bytes, "payload");
            convert(tmp.data(), t.data(), h.count);
        }
        r.expect_end();
        out.emplace_back(std::move(name), std::move(t));
    }
    return out;
}

template void save_npz<float>(const std::string&, const NamedTensors<float>&);
template void save_npz<double>(const std::string&, const NamedTensors<double>&);
template NamedTensors<float> load_npz<float>(const std::string&);
template NamedTensors<double> load_npz<double>(const std::string&);

}  // namespace tapegrad::data

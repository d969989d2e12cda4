// save_safetensors / read_safetensors: the header through nlohmann::json (duplicate keys caught while parsing), the
// data checked to tile the buffer.
#include <tapegrad/io/safetensors.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <unordered_set>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/array_check.hpp>
#include <tapegrad/io/detail/atomic_file.hpp>
#include <tapegrad/io/detail/checked_size.hpp>
#include <tapegrad/io/detail/npy.hpp>
#include <tapegrad/io/detail/regular_file.hpp>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian, as this host's");

namespace tapegrad::io {

namespace {

using json = nlohmann::json;

// Longest key accepted in a header (tensor names, metadata keys): bounded so messages stay short.
constexpr std::size_t max_name = 1024;

const char* st_dtype(Dtype d) { return d == Dtype::float32 ? "F32" : d == Dtype::float64 ? "F64" : "I64"; }

// One tensor entry of the header, checked.
struct Entry {
    std::string name;
    Dtype dtype;
    std::vector<std::size_t> shape;
    std::uint64_t begin, end;
};

void read_at(int fd, std::uint64_t offset, void* dst, std::size_t n, const std::string& at) {
    auto* p = static_cast<unsigned char*>(dst);
    while (n > 0) {
        const ssize_t got = pread(fd, p, std::min<std::size_t>(n, 1 << 30), off_t(offset));
        if (got < 0) {
            if (errno == EINTR) continue;
            throw FileError(fmt::format("{}: read error: {}", at, std::strerror(errno)));
        }
        if (got == 0) throw FileError(fmt::format("{}: the file ends at offset {}, before its data does", at, offset));
        p += got;
        n -= std::size_t(got);
        offset += std::uint64_t(got);
    }
}

// Parses the header, refusing a key given twice in any object, nesting deeper than the format
// has (root object, entry object, shape array) and arrays longer than a shape can be, while
// parsing: a hostile header never becomes a huge document.
json parse_header(const std::string& text, const std::string& at) {
    struct Frame {
        bool object;
        std::unordered_set<std::string> keys;
        std::size_t count = 0;
    };
    std::vector<Frame> stack;
    auto fail = [&](const std::string& what) { throw FileError(fmt::format("{}: bad header: {}", at, what)); };
    const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (stack.size() == 3) fail("nested deeper than the format allows (an object of objects of arrays)");
                stack.push_back({event == json::parse_event_t::object_start, {}, 0});
                break;
            case json::parse_event_t::key: {
                const std::string& key = parsed.get_ref<const std::string&>();
                if (key.size() > max_name)
                    fail(fmt::format("a key of {} bytes; expected at most {}", key.size(), max_name));
                if (!stack.back().keys.insert(key).second)
                    fail(
                        fmt::format("key '{}' appears twice in one object (readers would disagree on its value)", key));
                break;
            }
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                stack.pop_back();
                [[fallthrough]];
            case json::parse_event_t::value:
                if (!stack.empty() && !stack.back().object && ++stack.back().count > detail::npy_max_dimensions)
                    fail(fmt::format("an array of more than {} elements (a shape has at most {} extents)",
                                     detail::npy_max_dimensions, detail::npy_max_dimensions));
                break;
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), check);
    } catch (const json::exception& e) {
        fail(fmt::format("not valid JSON ({})", e.what()));
    }
    return {};
}

bool as_u64(const json& v, std::uint64_t& out) {
    if (!v.is_number_unsigned()) return false;
    out = v.get<std::uint64_t>();
    return true;
}

// The entries of a parsed header, each checked against the buffer of `buffer` bytes.
std::vector<Entry> header_entries(const json& header, std::uint64_t buffer, const std::string& at) {
    auto fail = [&](const std::string& what) { throw FileError(fmt::format("{}: bad header: {}", at, what)); };
    if (!header.is_object()) fail("expected a JSON object");
    std::vector<Entry> entries;
    for (const auto& [name, value] : header.items()) {
        if (name == "__metadata__") {
            if (!value.is_object()) fail("'__metadata__' is not an object");
            for (const auto& [k, v] : value.items())
                if (!v.is_string()) fail(fmt::format("'__metadata__' entry '{}' is not a string", k));
            continue;
        }
        const std::string what = fmt::format("tensor '{}'", name);
        if (name.empty()) fail("a tensor with an empty name");
        if (!value.is_object()) fail(what + " is not an object");
        for (const auto& [k, v] : value.items())
            if (k != "dtype" && k != "shape" && k != "data_offsets")
                fail(fmt::format("{} has the unexpected key '{}' (expected dtype, shape, data_offsets)", what, k));
        if (!value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
            fail(what + " lacks dtype, shape or data_offsets");
        Entry e{name, Dtype::float32, {}, 0, 0};
        const json& dtype = value["dtype"];
        if (!dtype.is_string()) fail(what + ": dtype is not a string");
        const std::string d = dtype.get<std::string>();
        if (d == "F32") {
            e.dtype = Dtype::float32;
        } else if (d == "F64") {
            e.dtype = Dtype::float64;
        } else if (d == "I64") {
            e.dtype = Dtype::int64;
        } else {
            static const char* known[] = {"BOOL", "U8",  "I8",  "I16", "U16",     "F16",
                                          "BF16", "I32", "U32", "U64", "F8_E5M2", "F8_E4M3"};
            const bool is_known = std::find_if(std::begin(known), std::end(known),
                                               [&](const char* k) { return d == k; }) != std::end(known);
            throw FileError(fmt::format("{}: {}: {} dtype '{}'; expected F32, F64 or I64", at, what,
                                        is_known ? "unsupported" : "unknown", d.substr(0, 40)));
        }
        const json& shape = value["shape"];
        if (!shape.is_array()) fail(what + ": shape is not an array");
        for (const json& v : shape) {
            std::uint64_t n = 0;
            if (!as_u64(v, n)) fail(what + ": shape holds something other than a non-negative integer");
            e.shape.push_back(std::size_t(n));
        }
        const json& offsets = value["data_offsets"];
        if (!offsets.is_array() || offsets.size() != 2 || !as_u64(offsets[0], e.begin) || !as_u64(offsets[1], e.end))
            fail(what + ": data_offsets is not a pair of non-negative integers");
        std::size_t count = 0, bytes = 0;
        detail::check_npy_shape(e.shape, e.dtype, fmt::format("{}: {}", at, what), count, bytes);
        if (e.begin > e.end || e.end > buffer)
            fail(
                fmt::format("{}: data_offsets [{}, {}] outside the {}-byte data buffer", what, e.begin, e.end, buffer));
        if (e.end - e.begin != bytes)
            fail(fmt::format("{}: data_offsets [{}, {}] hold {} bytes; shape {} of {} needs exactly {}", what, e.begin,
                             e.end, e.end - e.begin, shape_string(e.shape), d, bytes));
        entries.push_back(std::move(e));
    }
    // The data must cover the buffer exactly: no byte read twice, none hidden, nothing after.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        if (e.begin < expected)
            fail(
                fmt::format("the data of tensors '{}' and '{}' overlap (bytes {} to {}); expected each byte to belong "
                            "to one tensor",
                            entries[i - 1].name, e.name, e.begin, expected));
        if (e.begin > expected)
            fail(fmt::format("bytes {} to {} of the data buffer belong to no tensor (hidden data)", expected, e.begin));
        expected = e.end;
    }
    if (expected != buffer)
        fail(fmt::format("the data buffer holds {} bytes, but the tensors end at byte {} (trailing data)", buffer,
                         expected));
    return entries;
}

template <class E>
Array read_entry(int fd, std::uint64_t data_start, const Entry& e, const std::string& at) {
    Tensor<E> t = Tensor<E>::from_shape(e.shape);
    read_at(fd, data_start + e.begin, t.data(), std::size_t(e.end - e.begin), at);
    return Array(e.name, std::move(t));
}

}  // namespace

void save_safetensors(const std::string& path, const Arrays& arrays, const SaveOptions& options) {
    detail::check_arrays_for_save(arrays, options, "save_safetensors", path);
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    std::uint64_t offset = 0;
    for (const Array& a : arrays) {
        const std::uint64_t end = offset + a.bytes();
        header[a.name()] = {{"dtype", st_dtype(a.dtype())}, {"shape", a.shape()}, {"data_offsets", {offset, end}}};
        offset = end;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
    if (text.size() > safetensors_max_header)
        throw Error(
            fmt::format("save_safetensors: '{}': a header of {} bytes, more than the format's {} (too many "
                        "arrays for one file)",
                        path, text.size(), safetensors_max_header));
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(std::uint64_t(text.size()) >> (8 * i));

    detail::AtomicFile out(path, "save_safetensors");
    out.write(length, 8);
    out.write(text.data(), text.size());
    for (const Array& a : arrays)
        if (a.bytes()) out.write(a.data(), a.bytes());
    out.commit();
}

template <class T>
void save_safetensors(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options) {
    Arrays views;
    views.reserve(arrays.size());
    for (const auto& [name, tensor] : arrays) views.push_back(Array::view(name, tensor));
    save_safetensors(path, views, options);
}

Arrays read_safetensors(const std::string& path, const LoadOptions& options) {
    if (path.empty()) throw Error("load_safetensors: empty path; expected the name of a file");
    const std::string at = fmt::format("load_safetensors: '{}'", path);
    std::string allocating = "the header";
    try {
        detail::RegularFile file(path, at);
        if (file.size() < 8)
            throw FileError(
                fmt::format("{}: truncated: {} bytes; expected at least 8 (the header length)", at, file.size()));
        unsigned char length[8];
        read_at(file.fd(), 0, length, 8, at);
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = n << 8 | length[i];
        if (n > safetensors_max_header)
            throw FileError(
                fmt::format("{}: header length {}, more than the format's limit of {}", at, n, safetensors_max_header));
        if (n > file.size() - 8)
            throw FileError(fmt::format("{}: header length {}, but the file holds {} bytes after the length", at, n,
                                        file.size() - 8));
        std::string text(n, '\0');
        read_at(file.fd(), 8, text.data(), text.size(), at);
        if (text.empty() || text[0] != '{')
            throw FileError(fmt::format("{}: bad header: expected it to start with '{{'", at));
        const std::uint64_t buffer = file.size() - 8 - n;
        const std::vector<Entry> entries = header_entries(parse_header(text, at), buffer, at);

        Arrays out;
        out.reserve(entries.size());
        for (const Entry& e : entries) {
            const std::string entry_at = fmt::format("{}: tensor '{}'", at, e.name);
            allocating =
                fmt::format("tensor '{}' ({} bytes for shape {})", e.name, e.end - e.begin, shape_string(e.shape));
            Array a = e.dtype == Dtype::float32   ? read_entry<float>(file.fd(), 8 + n, e, entry_at)
                      : e.dtype == Dtype::float64 ? read_entry<double>(file.fd(), 8 + n, e, entry_at)
                                                  : read_entry<std::int64_t>(file.fd(), 8 + n, e, entry_at);
            detail::check_values_read(a, options, entry_at);
            out.push_back(std::move(a));
        }
        return out;
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("{}: out of memory while allocating {}", at, allocating));
    }
}

template <class T>
NamedTensors<T> load_safetensors(const std::string& path, const LoadOptions& options) {
    const Arrays arrays = read_safetensors(path, options);
    const std::string at = fmt::format("load_safetensors: '{}'", path);
    NamedTensors<T> out;
    out.reserve(arrays.size());
    for (const Array& a : arrays) out.emplace_back(a.name(), a.to<T>(at));
    return out;
}

template void save_safetensors<float>(const std::string&, const NamedTensors<float>&, const SaveOptions&);
template void save_safetensors<double>(const std::string&, const NamedTensors<double>&, const SaveOptions&);
template NamedTensors<float> load_safetensors<float>(const std::string&, const LoadOptions&);
template NamedTensors<double> load_safetensors<double>(const std::string&, const LoadOptions&);

}  // namespace tapegrad::io

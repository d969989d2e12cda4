// .npy headers: the writer mirrors numpy.save; the reader is a strict parser of the header dictionary.
#include <tapegrad/io/detail/npy.hpp>

#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/io/detail/checked_size.hpp>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the .npy code writes and reads the host's bytes as little-endian");

namespace tapegrad::io::detail {

namespace {

const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// A cursor over the header dictionary; every failure names what was expected where.
class DictParser {
public:
    DictParser(const std::string& text, const std::string& at) : s_(text), at_(at) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw FileError(fmt::format("{}: bad .npy header: {} at offset {} of '{}'", at_, what, pos_, printable()));
    }
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool at_end() const { return pos_ >= s_.size(); }
    char peek() const { return at_end() ? '\0' : s_[pos_]; }
    void expect(char c) {
        skip_space();
        if (peek() != c) fail(fmt::format("expected '{}'", c));
        ++pos_;
    }
    bool accept(char c) {
        skip_space();
        if (peek() != c) return false;
        ++pos_;
        return true;
    }
    std::string string_literal() {
        skip_space();
        char q = peek();
        if (q != '\'' && q != '"') fail("expected a quoted string");
        std::size_t end = s_.find(q, pos_ + 1);
        if (end == std::string::npos) fail("unterminated string");
        std::string v = s_.substr(pos_ + 1, end - pos_ - 1);
        if (v.find('\\') != std::string::npos) fail("escape sequence in a string");
        pos_ = end + 1;
        return v;
    }
    bool boolean() {
        skip_space();
        if (s_.compare(pos_, 4, "True") == 0) return pos_ += 4, true;
        if (s_.compare(pos_, 5, "False") == 0) return pos_ += 5, false;
        fail("expected True or False");
    }
    std::size_t integer() {
        skip_space();
        if (peek() < '0' || peek() > '9') fail("expected a non-negative integer");
        std::size_t v = 0;
        while (peek() >= '0' && peek() <= '9') {
            if (!checked_mul(v, 10, v) || !checked_add(v, std::size_t(peek() - '0'), v))
                fail("integer overflows a size_t");
            ++pos_;
        }
        return v;
    }
    std::vector<std::size_t> tuple() {
        expect('(');
        std::vector<std::size_t> v;
        if (accept(')')) return v;
        for (;;) {
            if (v.size() == npy_max_dimensions) fail(fmt::format("more than {} dimensions", npy_max_dimensions));
            v.push_back(integer());
            if (accept(')')) {
                // Python's one-element tuple needs its comma: "(3)" is the number 3.
                if (v.size() == 1) fail("a one-element shape without its trailing comma");
                return v;
            }
            expect(',');
            if (accept(')')) return v;
        }
    }

private:
    std::string printable() const {
        std::string out;
        for (char c : s_.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
        return s_.size() > 200 ? out + "..." : out;
    }
    const std::string& s_;
    const std::string& at_;
    std::size_t pos_ = 0;
};

}  // namespace

const char* npy_descr(NpyDtype d) { return d == Dtype::float32 ? "<f4" : d == Dtype::float64 ? "<f8" : "<i8"; }

std::string npy_preamble(NpyDtype dtype, const std::vector<std::size_t>& shape) {
    std::string dims;
    for (std::size_t d : shape) dims += (dims.empty() ? "" : " ") + std::to_string(d) + ",";
    if (shape.size() > 1) dims.pop_back();  // (2, 3) but (3,)
    std::string dict =
        fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", npy_descr(dtype), dims);
    // Pad with spaces and a final newline so the data starts at a multiple of 64 bytes.
    std::size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    if (dict.size() > 0xffff) throw Error("npy_preamble: header too long for .npy version 1.0");
    std::string out(npy_magic, 6);
    out += '\x01';
    out += '\x00';
    out += char(dict.size() & 0xff);
    out += char(dict.size() >> 8);
    return out + dict;
}

std::size_t npy_preamble_length(const unsigned char* bytes, std::size_t have, const std::string& at) {
    if (have < 6 || std::memcmp(bytes, npy_magic, 6) != 0)
        throw FileError(fmt::format("{}: wrong magic: not a .npy array (expected it to start with \\x93NUMPY)", at));
    if (have < 10) throw FileError(fmt::format("{}: short .npy prefix: {} bytes; expected at least 10", at, have));
    const unsigned major = bytes[6], minor = bytes[7];
    std::size_t prefix = 0, header = 0;
    if (major == 1 && minor == 0) {
        prefix = 10;
        header = std::size_t(bytes[8]) | std::size_t(bytes[9]) << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (have < 12)
            throw FileError(fmt::format("{}: short .npy prefix: {} bytes; version {}.0 needs 12", at, have, major));
        prefix = 12;
        header = std::size_t(bytes[8]) | std::size_t(bytes[9]) << 8 | std::size_t(bytes[10]) << 16 |
                 std::size_t(bytes[11]) << 24;
    } else {
        throw FileError(fmt::format("{}: unsupported .npy version {}.{}; expected 1.0, 2.0 or 3.0", at, major, minor));
    }
    if (header == 0 || header > npy_max_header)
        throw FileError(fmt::format("{}: .npy header length {}; expected 1 to {}", at, header, npy_max_header));
    return prefix + header;
}

void check_npy_shape(const std::vector<std::size_t>& shape, NpyDtype dtype, const std::string& at, std::size_t& count,
                     std::size_t& payload_bytes) {
    const char* descr = npy_descr(dtype);
    if (shape.size() > npy_max_dimensions)
        throw FileError(fmt::format("{}: shape {} has {} dimensions; a .npy holds at most {}", at, shape_string(shape),
                                    shape.size(), npy_max_dimensions));
    if (!checked_product(shape, count) || !checked_mul(count, npy_item_size(dtype), payload_bytes))
        throw FileError(fmt::format("{}: shape {} of '{}' overflows a size_t", at, shape_string(shape), descr));
    // An array with a zero extent holds nothing, but its strides still multiply the other
    // extents (as signed numbers): (0, 2^40, 2^40) must be refused as well.
    std::size_t span = npy_item_size(dtype);
    for (std::size_t d : shape)
        if (d != 0 && !checked_mul(span, d, span)) span = SIZE_MAX;
    if (span > std::size_t(PTRDIFF_MAX))
        throw FileError(fmt::format("{}: shape {} of '{}' is too large: its non-zero extents span more than {} bytes",
                                    at, shape_string(shape), descr, PTRDIFF_MAX));
}

NpyHeader parse_npy_header(const std::string& dict, const std::string& at) {
    DictParser p(dict, at);
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    std::string descr;
    p.expect('{');
    while (!p.accept('}')) {
        std::string key = p.string_literal();
        p.expect(':');
        bool* seen = nullptr;
        if (key == "descr") {
            seen = &have_descr;
            p.skip_space();
            if (p.peek() != '\'' && p.peek() != '"')
                p.fail("descr is not a string (structured dtypes are not supported)");
            descr = p.string_literal();
        } else if (key == "fortran_order") {
            seen = &have_order;
            if (p.boolean())
                throw FileError(at +
                                ": fortran_order is True; expected False (C order); save the array with "
                                "numpy.ascontiguousarray first");
        } else if (key == "shape") {
            seen = &have_shape;
            h.shape = p.tuple();
        } else {
            p.fail(fmt::format("unexpected key '{}' (expected descr, fortran_order, shape)", key));
        }
        if (*seen) p.fail(fmt::format("duplicate key '{}'", key));
        *seen = true;
        if (!p.accept(',')) {
            p.expect('}');
            break;
        }
    }
    p.skip_space();
    if (!p.at_end()) p.fail("unexpected text after the dictionary");
    if (!have_descr || !have_order || !have_shape) p.fail("missing key (expected descr, fortran_order and shape)");

    if (descr == "<f4") {
        h.dtype = Dtype::float32;
    } else if (descr == "<f8") {
        h.dtype = Dtype::float64;
    } else if (descr == "<i8") {
        h.dtype = Dtype::int64;
    } else if (descr == ">f4" || descr == ">f8" || descr == ">i8") {
        throw FileError(
            fmt::format("{}: big-endian dtype '{}' is not supported; expected '<f4' (float32), '<f8' "
                        "(float64) or '<i8' (int64)",
                        at, descr));
    } else {
        throw FileError(
            fmt::format("{}: unsupported dtype '{}'; expected '<f4' (float32), '<f8' (float64) or '<i8' "
                        "(int64)",
                        at, descr));
    }
    check_npy_shape(h.shape, h.dtype, at, h.count, h.payload_bytes);
    return h;
}

}  // namespace tapegrad::io::detail

// Tests of save_safetensors / read_safetensors: files from a spec-exact writer, byte-identical output, round trips, and
// every kind of hostile file.
//
// Fixtures (tests/fixtures/safetensors, made by make_fixtures.py there with struct + json only):
//   reference.safetensors            F32, F64 and I64 tensors, a 0-d and an empty one, __metadata__
//   as_tapegrad_writes.safetensors   what save_safetensors must write byte for byte for three arrays
//   unpadded.safetensors             a header without padding
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/checkpoint.hpp>
#include <tapegrad/io/safetensors.hpp>
#include <tapegrad/nn/linear.hpp>
#include <tapegrad/nn/serialize.hpp>

#include "test_data_helpers.hpp"

namespace tg = tapegrad;
namespace tgio = tapegrad::io;
using tapegrad::FileError;
using tg::Tensor;
using namespace data_test;

namespace {

std::string st_fixture(const std::string& name) { return fixture("safetensors/" + name); }

const tgio::Array& find(const tgio::Arrays& arrays, const std::string& name) {
    for (const auto& a : arrays)
        if (a.name() == name) return a;
    FAIL("no array " << name);
    throw 0;
}

template <class E>
std::vector<E> values(const tgio::Array& a) {
    const auto* p = static_cast<const E*>(a.data());
    return std::vector<E>(p, p + a.size());
}

/// A safetensors file from a header text and a data buffer.
Bytes safetensors(const std::string& header, const Bytes& buffer) {
    Bytes b;
    put_le(b, header.size(), 8);
    return b + header + buffer;
}

std::string error_of(const std::string& path, const tgio::LoadOptions& options = {}) {
    try {
        tgio::read_safetensors(path, options);
    } catch (const FileError& e) {
        return e.what();
    }
    return "(no error)";
}

const Bytes two_floats = raw_bytes(std::vector<float>{1.5f, -2.0f});

}  // namespace

TEST_CASE("read_safetensors reads the spec-exact writer's file: every dtype, 0-d and empty tensors, metadata") {
    const auto arrays = tgio::read_safetensors(st_fixture("reference.safetensors"), tgio::LoadOptions());
    REQUIRE(arrays.size() == 7);
    // In the order of their data: the reference writer puts 8-byte types first, then by name.
    std::vector<std::string> names;
    for (const auto& a : arrays) names.push_back(a.name());
    CHECK(names ==
          std::vector<std::string>{"big", "counts", "num_batches_tracked", "scale", "bias", "empty", "weight"});
    const auto& weight = find(arrays, "weight");
    CHECK(weight.dtype() == tgio::Dtype::float32);
    CHECK(weight.shape() == std::vector<std::size_t>{2, 3});
    CHECK(values<float>(weight) == std::vector<float>{0.5f, -1.25f, 3.0f, 1024.0f, -0.0f, std::ldexp(1.0f, -20)});
    CHECK(std::signbit(values<float>(weight)[4]));
    CHECK(values<double>(find(arrays, "big")) == std::vector<double>{1e300, -1e-300, 0.1, 2.0});
    CHECK(find(arrays, "scale").shape().empty());
    CHECK(values<double>(find(arrays, "scale")) == std::vector<double>{3.25});
    CHECK(find(arrays, "num_batches_tracked").dtype() == tgio::Dtype::int64);
    CHECK(values<std::int64_t>(find(arrays, "num_batches_tracked")) == std::vector<std::int64_t>{7});
    CHECK(values<std::int64_t>(find(arrays, "counts")) ==
          std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
                                    0});
    CHECK(find(arrays, "empty").shape() == std::vector<std::size_t>{0, 3});
    CHECK(tgio::read_safetensors(st_fixture("unpadded.safetensors"))[0].name() == "x");
    // As double: the float64 values exactly; as float, 1e300 does not fit (and integers are not floats).
    CHECK_THROWS_WITH_AS(tgio::load_safetensors<double>(st_fixture("reference.safetensors")),
                         doctest::Contains("array 'counts' holds int64 values; expected floating-point values"),
                         FileError);
}

TEST_CASE("save_safetensors writes what the spec-exact writer writes, byte for byte") {
    TempDir dir;
    tgio::Arrays arrays;
    arrays.emplace_back("w", Tensor<float>{{1, 2}, {3, 4}});
    arrays.emplace_back("b", Tensor<double>{0.25, -0.5});
    Tensor<std::int64_t> steps = Tensor<std::int64_t>::from_shape({});
    steps() = 12;
    arrays.emplace_back("steps", steps);
    tgio::save_safetensors(dir / "ours.safetensors", arrays);
    CHECK(read_file(dir / "ours.safetensors") == read_file(st_fixture("as_tapegrad_writes.safetensors")));
}

TEST_CASE_TEMPLATE("save_safetensors then load_safetensors is bit-exact, in order", T, float, double) {
    TempDir dir;
    tgio::NamedTensors<T> arrays;
    arrays.emplace_back("layer.weight", Tensor<T>{{T(0.1), T(-3)}, {T(1e-30), T(7)}});
    arrays.emplace_back("scalar", Tensor<T>::from_shape({}));
    arrays.back().second() = T(2.5);
    arrays.emplace_back("empty", Tensor<T>::from_shape({2, 0}));
    arrays.emplace_back("a", Tensor<T>{T(1), T(2), T(3)});
    tgio::save_safetensors(dir / "x.safetensors", arrays);
    const auto back = tgio::load_safetensors<T>(dir / "x.safetensors");
    REQUIRE(back.size() == arrays.size());
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        CHECK(back[i].first == arrays[i].first);
        CHECK(back[i].second.shape() == arrays[i].second.shape());
        const std::size_t n = arrays[i].second.size();  // (memcmp may not be given the null data of an empty one)
        CHECK((n == 0 || std::memcmp(back[i].second.data(), arrays[i].second.data(), n * sizeof(T)) == 0));
    }
}

TEST_CASE("nn::save and nn::load choose the format by extension") {
    TempDir dir;
    tg::manual_seed(3);
    tg::nn::Linear<float> a(3, 2);
    tg::nn::save(a, dir / "m.safetensors");
    tg::nn::save(a, dir / "m.npz");
    CHECK(read_file(dir / "m.safetensors").substr(8, 1) == "{");
    CHECK(read_file(dir / "m.npz").substr(0, 2) == "PK");
    CHECK(tgio::format_of(dir / "m.safetensors") == tgio::Format::safetensors);
    CHECK(tgio::format_of(dir / "m.ckpt") == tgio::Format::npz);
    for (const char* name : {"m.safetensors", "m.npz"}) {
        tg::manual_seed(4);
        tg::nn::Linear<float> b(3, 2);
        tg::nn::load(b, dir / name);
        CHECK(b.weight().value() == a.weight().value());
        CHECK(b.bias().value() == a.bias().value());
    }
    // A .safetensors file is not read as .npz, nor the reverse.
    std::filesystem::copy_file(dir / "m.npz", dir / "renamed.safetensors");
    CHECK_THROWS_AS(tg::nn::load<float>(dir / "renamed.safetensors"), FileError);
}

TEST_CASE("read_safetensors: the header length must fit the file and the format's limit") {
    TempDir dir;
    write_file(dir / "short.safetensors", "abc");
    CHECK(error_of(dir / "short.safetensors").find("truncated: 3 bytes; expected at least 8") != std::string::npos);
    Bytes b;
    put_le(b, 1000, 8);
    write_file(dir / "long.safetensors", b + "{}");
    CHECK(error_of(dir / "long.safetensors").find("header length 1000, but the file holds 2 bytes") !=
          std::string::npos);
    Bytes huge;
    put_le(huge, 0xffffffffffffull, 8);
    write_file(dir / "huge.safetensors", huge + "{}");
    CHECK(error_of(dir / "huge.safetensors").find("more than the format's limit of 100000000") != std::string::npos);
    write_file(dir / "empty-header.safetensors", safetensors("", ""));
    CHECK(error_of(dir / "empty-header.safetensors").find("expected it to start with '{'") != std::string::npos);
    write_file(dir / "ok-empty.safetensors", safetensors("{}", ""));
    CHECK(tgio::read_safetensors(dir / "ok-empty.safetensors").empty());
}

TEST_CASE("read_safetensors: malformed headers") {
    TempDir dir;
    struct Case {
        std::string header, message;
    };
    const std::string x = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    for (const Case& c : std::vector<Case>{
             {"{" + x + "", "not valid JSON"},
             {"{" + x + "} trailing", "not valid JSON"},
             {"[1, 2]", "start with '{'"},
             {"{" + x + "," + x + "}", "key 'x' appears twice"},
             {R"({"x":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}})", "key 'dtype' appears twice"},
             {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", "unexpected key 'extra'"},
             {R"({"x":{"dtype":"F32","shape":[2]}})", "lacks dtype, shape or data_offsets"},
             {R"({"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "unsupported dtype 'BF16'; expected F32"},
             {R"({"x":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", "unknown dtype 'Q9'"},
             {R"({"x":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", "dtype is not a string"},
             {R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "non-negative integer"},
             {R"({"x":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", "non-negative integer"},
             {R"({"x":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", "shape is not an array"},
             {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", "not a pair of non-negative integers"},
             {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", "outside the 8-byte data buffer"},
             {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", "outside the 8-byte data buffer"},
             {R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
              "hold 8 bytes; shape (3,) of F32 needs "
              "exactly 12"},
             {R"({"x":[1,2]})", "tensor 'x' is not an object"},
             {R"({"__metadata__":{"a":1},)" + x + "}", "'__metadata__' entry 'a' is not a string"},
             {R"({"__metadata__":[],)" + x + "}", "'__metadata__' is not an object"},
             {R"({"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "a tensor with an empty name"},
             {R"({"x":{"dtype":"F32","shape":[[[2]]],"data_offsets":[0,8]}})", "nested deeper than the format allows"},
             {R"({"x":{"dtype":"F32","shape":[)" + std::string(40 * 2 - 1, ',').replace(0, 1, "1") + "]}}",
              "not valid JSON"},
         }) {
        CAPTURE(c.header);
        write_file(dir / "h.safetensors", safetensors(c.header, two_floats));
        const std::string e = error_of(dir / "h.safetensors");
        CHECK_MESSAGE(e.find(c.message) != std::string::npos, e);
        CHECK(e.rfind("load_safetensors: '" + (dir / "h.safetensors") + "'", 0) == 0);
    }
    // A shape of 33 extents is refused while parsing (a hostile header never becomes a big document).
    std::string dims;
    for (int i = 0; i < 33; ++i) dims += (i ? "," : "") + std::string("1");
    write_file(dir / "d.safetensors",
               safetensors(R"({"x":{"dtype":"F32","shape":[)" + dims + R"(],"data_offsets":[0,4]}})", Bytes(4, '\0')));
    CHECK(error_of(dir / "d.safetensors").find("an array of more than 32 elements") != std::string::npos);
    // Invalid UTF-8 in the header is not JSON.
    write_file(dir / "u.safetensors",
               safetensors("{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", two_floats));
    CHECK(error_of(dir / "u.safetensors").find("not valid JSON") != std::string::npos);
}

TEST_CASE("read_safetensors: the data must tile the buffer: no overlap, no gap, nothing after") {
    TempDir dir;
    auto header = [](std::uint64_t a0, std::uint64_t a1, std::uint64_t b0, std::uint64_t b1) {
        return R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[)" + std::to_string(a0) + "," + std::to_string(a1) +
               R"(]},"b":{"dtype":"F32","shape":[2],"data_offsets":[)" + std::to_string(b0) + "," + std::to_string(b1) +
               "]}}";
    };
    const Bytes four = raw_bytes(std::vector<float>{1, 2, 3, 4});
    write_file(dir / "ok.safetensors", safetensors(header(8, 16, 0, 8), four));
    const auto ok = tgio::read_safetensors(dir / "ok.safetensors");
    CHECK(ok[0].name() == "b");  // in file order
    CHECK(values<float>(ok[1]) == std::vector<float>{3, 4});

    write_file(dir / "overlap.safetensors", safetensors(header(0, 8, 4, 12), four.substr(0, 12)));
    CHECK(error_of(dir / "overlap.safetensors").find("the data of tensors 'a' and 'b' overlap") != std::string::npos);
    write_file(dir / "same.safetensors", safetensors(header(0, 8, 0, 8), four.substr(0, 8)));
    CHECK(error_of(dir / "same.safetensors").find("overlap") != std::string::npos);
    write_file(dir / "gap.safetensors", safetensors(header(0, 8, 12, 20), four + Bytes(4, '\0')));
    CHECK(error_of(dir / "gap.safetensors").find("bytes 8 to 12 of the data buffer belong to no tensor") !=
          std::string::npos);
    write_file(dir / "after.safetensors", safetensors(header(0, 8, 8, 16), four + "tail"));
    CHECK(error_of(dir / "after.safetensors").find("the data buffer holds 20 bytes, but the tensors end at byte 16") !=
          std::string::npos);
    write_file(dir / "before.safetensors", safetensors(header(4, 12, 12, 20), "skip" + four));
    CHECK(error_of(dir / "before.safetensors").find("bytes 0 to 4 of the data buffer belong to no tensor") !=
          std::string::npos);
    // Empty tensors take no bytes and may sit anywhere in order.
    write_file(dir / "empty.safetensors", safetensors(R"({"e":{"dtype":"F64","shape":[0,5],"data_offsets":[8,8]},)"
                                                      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                                      four.substr(0, 8)));
    CHECK(tgio::read_safetensors(dir / "empty.safetensors").size() == 2);
}

TEST_CASE("read_safetensors: sizes that overflow, and shapes asking for more than the file holds") {
    TempDir dir;
    write_file(
        dir / "o.safetensors",
        safetensors(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", Bytes(8, '\0')));
    CHECK(error_of(dir / "o.safetensors").find("overflows a size_t") != std::string::npos);
    write_file(
        dir / "g.safetensors",
        safetensors(R"({"x":{"dtype":"F64","shape":[100000,100000],"data_offsets":[0,80000000000]}})", Bytes(8, '\0')));
    CHECK(error_of(dir / "g.safetensors").find("outside the 8-byte data buffer") != std::string::npos);
    write_file(
        dir / "z.safetensors",
        safetensors(R"({"x":{"dtype":"F64","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}})", ""));
    CHECK(error_of(dir / "z.safetensors").find("too large") != std::string::npos);
}

TEST_CASE("read_safetensors: values: NaN refused unless allowed, float64 that float cannot hold refused") {
    TempDir dir;
    const Bytes nan = raw_bytes(std::vector<double>{1.0, std::numeric_limits<double>::quiet_NaN()});
    write_file(dir / "n.safetensors", safetensors(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", nan));
    CHECK(error_of(dir / "n.safetensors").find("tensor 'w': element 1 (nan) is not finite") != std::string::npos);
    CHECK(tgio::read_safetensors(dir / "n.safetensors", tgio::LoadOptions().allow_non_finite(true)).size() == 1);
    CHECK_THROWS_WITH_AS(tgio::load_safetensors<float>(st_fixture("reference.safetensors")),
                         doctest::Contains("array 'big': element 0 (1e+300) does not fit float32"), FileError);
    write_file(dir / "s.safetensors", safetensors("{}", ""));
    CHECK_THROWS_WITH_AS(tgio::read_safetensors(dir.path().string()), doctest::Contains("not a regular file"),
                         FileError);
}

TEST_CASE("save_safetensors refuses what read_safetensors would, before touching the file") {
    TempDir dir;
    const std::string path = dir / "good.safetensors";
    tgio::save_safetensors<float>(path, {{"w", Tensor<float>{1.0f}}});
    const Bytes before = read_file(path);
    CHECK_THROWS_WITH_AS(tgio::save_safetensors<float>(path, {{"w", Tensor<float>{std::nanf("")}}}),
                         doctest::Contains("is not finite"), tg::Error);
    CHECK_THROWS_WITH_AS(tgio::save_safetensors<float>(path, {{"w", Tensor<float>{1}}, {"w", Tensor<float>{2}}}),
                         doctest::Contains("given twice"), tg::Error);
    CHECK_THROWS_WITH_AS(tgio::save_safetensors<float>(path, {{"a b", Tensor<float>{1}}}),
                         doctest::Contains("bad array name"), tg::Error);
    CHECK_THROWS_WITH_AS(tgio::save_safetensors<float>(path, {{"d", Tensor<float>::from_shape(tg::Shape(33, 1))}}),
                         doctest::Contains("has 33 dimensions"), tg::Error);
    CHECK(read_file(path) == before);
}

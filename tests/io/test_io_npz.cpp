// Tests of save_npz / load_npz: bit-exact round trips, NumPy interop, atomic saves, hostile archives.
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <limits>

#include <sys/resource.h>

#include <xtensor/xnpy.hpp>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/npz.hpp>

#include "external_tools.hpp"
#include "test_data_helpers.hpp"

namespace tg = tapegrad;
namespace tgio = tapegrad::io;
using tapegrad::FileError;
using tg::Tensor;
using namespace data_test;

namespace {

template <class T>
Tensor<T> iota_tensor(const tg::Shape& shape, T scale) {
    Tensor<T> t = Tensor<T>::from_shape(shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = T(i) * scale - T(3);
    return t;
}

template <class T>
bool same_bits(const Tensor<T>& a, const Tensor<T>& b) {
    return std::vector<std::size_t>(a.shape().begin(), a.shape().end()) ==
               std::vector<std::size_t>(b.shape().begin(), b.shape().end()) &&
           a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <class T>
tgio::NamedTensors<T> sample_arrays() {
    tgio::NamedTensors<T> arrays;
    arrays.emplace_back("weight", iota_tensor<T>({3, 4}, T(0.1)));
    arrays.emplace_back("bias", iota_tensor<T>({4}, T(1) / T(3)));
    Tensor<T> scalar = Tensor<T>::from_shape({});
    scalar() = T(2.5);
    arrays.emplace_back("step", scalar);
    arrays.emplace_back("empty_rows", Tensor<T>::from_shape({0, 3}));
    arrays.emplace_back("empty_middle", Tensor<T>::from_shape({2, 0, 4}));
    Tensor<T> special = Tensor<T>::from_shape({6});
    special.data()[0] = std::numeric_limits<T>::quiet_NaN();
    special.data()[1] = std::numeric_limits<T>::infinity();
    special.data()[2] = -std::numeric_limits<T>::infinity();
    special.data()[3] = -T(0);
    special.data()[4] = std::numeric_limits<T>::denorm_min();
    special.data()[5] = std::numeric_limits<T>::max();
    arrays.emplace_back("a.b:c-d_0", special);
    arrays.emplace_back("big", iota_tensor<T>({5, 6, 7, 8}, T(1e-3)));
    return arrays;
}

// sample_arrays() holds NaN and infinities on purpose: these round trips opt in to them.
const tgio::SaveOptions write_any = tgio::SaveOptions().allow_non_finite(true);
const tgio::LoadOptions read_any = tgio::LoadOptions().allow_non_finite(true);

/// An archive holding one member, a .npy with the given header and payload.
std::string one_member(const TempDir& dir, const std::string& dict, const Bytes& payload, int major = 1) {
    std::string path = dir / "m.npz";
    write_file(path, zip_stored({{"x.npy", npy_bytes(dict, payload, major)}}));
    return path;
}

const std::string f8_23 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";

}  // namespace

TEST_CASE_TEMPLATE("save_npz then load_npz is bit-exact, in order, with 0-d and empty arrays", T, float, double) {
    TempDir dir;
    auto arrays = sample_arrays<T>();
    tgio::save_npz(dir / "ckpt.npz", arrays, write_any);
    auto back = tgio::load_npz<T>(dir / "ckpt.npz", read_any);
    REQUIRE(back.size() == arrays.size());
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        CAPTURE(arrays[i].first);
        CHECK(back[i].first == arrays[i].first);
        CHECK(back[i].second.dimension() == arrays[i].second.dimension());
        CHECK(same_bits(back[i].second, arrays[i].second));
    }
    CHECK(back[2].second.dimension() == 0);
    CHECK(back[2].second() == T(2.5));
}

TEST_CASE("save_npz of no arrays gives an empty archive that loads") {
    TempDir dir;
    tgio::save_npz<float>(dir / "none.npz", {});
    CHECK(read_file(dir / "none.npz").size() == 22);
    CHECK(tgio::load_npz<double>(dir / "none.npz").empty());
}

TEST_CASE("equal arrays give byte-identical files") {
    TempDir dir;
    tgio::save_npz(dir / "a.npz", sample_arrays<double>(), write_any);
    tgio::save_npz(dir / "b.npz", sample_arrays<double>(), write_any);
    CHECK(read_file(dir / "a.npz") == read_file(dir / "b.npz"));
}

TEST_CASE("load_npz converts float32 and float64 both ways") {
    TempDir dir;
    tgio::NamedTensors<double> d;
    Tensor<double> x = {1.0 / 3.0, 0.5, -3.4028235e38};
    d.emplace_back("x", x);
    tgio::save_npz(dir / "d.npz", d);
    auto f = tgio::load_npz<float>(dir / "d.npz");
    CHECK(f[0].second(0) == float(1.0 / 3.0));
    CHECK(f[0].second(1) == 0.5f);
    CHECK(f[0].second(2) == -std::numeric_limits<float>::max());  // rounds to the largest float, not to -inf

    tgio::NamedTensors<float> s;
    s.emplace_back("y", Tensor<float>{0.1f, -2.0f});
    tgio::save_npz(dir / "s.npz", s);
    auto g = tgio::load_npz<double>(dir / "s.npz");
    CHECK(g[0].second(0) == double(0.1f));
    CHECK(g[0].second(1) == -2.0);
}

TEST_CASE_TEMPLATE("load_npz reads the committed numpy.savez fixtures", T, float, double) {
    for (const char* name : {"numpy_savez.npz", "numpy_savez_compressed.npz"}) {
        CAPTURE(name);
        auto arrays = tgio::load_npz<T>(fixture(name));
        REQUIRE(arrays.size() == 4);
        CHECK(arrays[0].first == "a");
        CHECK(arrays[1].first == "b");
        CHECK(arrays[2].first == "scalar");
        CHECK(arrays[3].first == "empty");
        Tensor<T> a = {{T(0.5), T(-1.25), T(3)}, {T(1024), T(-0.0), T(std::ldexp(1.0, -20))}};
        CHECK(same_bits(arrays[0].second, a));
        CHECK(std::signbit(arrays[0].second(1, 1)));
        CHECK(arrays[1].second.shape().size() == 1);
        CHECK(arrays[1].second(0) == T(1.5f));
        CHECK(arrays[1].second(2) == T(1e-3f));
        CHECK(arrays[1].second(3) == T(65504.0f));
        CHECK(arrays[2].second.dimension() == 0);
        CHECK(arrays[2].second() == T(3.25));
        CHECK(arrays[3].second.shape() == tg::Shape{0, 3});
    }
}

TEST_CASE("numpy reads what save_npz writes, and save_npz reads what numpy writes" * doctest::test_suite("external")) {
    std::string py = tgtest::python_with("numpy");
    if (py.empty()) return tgtest::missing_tool("python3 with numpy (apt-get install python3-numpy)");
    TempDir dir;
    auto arrays = sample_arrays<double>();
    tgio::save_npz(dir / "ours.npz", arrays, write_any);
    tgio::NamedTensors<float> f32;
    f32.emplace_back("w", iota_tensor<float>({2, 3}, 0.25f));
    tgio::save_npz(dir / "ours32.npz", f32);
    write_file(dir / "check.py", R"(
import sys
import numpy as np
d = sys.argv[1]
z = np.load(d + "/ours.npz")
assert list(z.keys()) == ["weight", "bias", "step", "empty_rows", "empty_middle", "a.b:c-d_0", "big"], list(z.keys())
w = np.arange(12, dtype="<f8").reshape(3, 4) * 0.1 - 3
assert z["weight"].dtype == np.float64 and z["weight"].tobytes() == w.tobytes()
assert z["step"].shape == () and z["step"] == 2.5
assert z["empty_rows"].shape == (0, 3) and z["empty_middle"].shape == (2, 0, 4)
s = z["a.b:c-d_0"]
assert np.isnan(s[0]) and s[1] == np.inf and s[2] == -np.inf and np.signbit(s[3]) and s[5] == np.finfo(np.float64).max
z32 = np.load(d + "/ours32.npz")
expected32 = np.arange(6, dtype="<f4").reshape(2, 3) * np.float32(0.25) - np.float32(3)
assert z32["w"].dtype == np.float32 and z32["w"].tobytes() == expected32.tobytes()
np.savez(d + "/theirs.npz", first=np.arange(6, dtype="<f8").reshape(2, 3) / 4, second=np.float32(7.5),
         third=np.ones((0,), "<f8"))
np.savez_compressed(d + "/theirs_z.npz", big=np.linspace(0, 1, 10001))
)");
    int rc = std::system((py + " " + (dir / "check.py") + " " + dir.path().string()).c_str());
    REQUIRE(rc == 0);
    auto theirs = tgio::load_npz<double>(dir / "theirs.npz");
    REQUIRE(theirs.size() == 3);
    CHECK(theirs[0].first == "first");
    CHECK(theirs[0].second == Tensor<double>{{0, 0.25, 0.5}, {0.75, 1.0, 1.25}});
    CHECK(theirs[1].second.dimension() == 0);
    CHECK(theirs[1].second() == 7.5);
    CHECK(theirs[2].second.shape() == tg::Shape{0});
    auto big = tgio::load_npz<double>(dir / "theirs_z.npz");
    REQUIRE(big[0].second.size() == 10001);
    CHECK(big[0].second(5000) == 0.5);
    CHECK(big[0].second(10000) == 1.0);
}

TEST_CASE("load_npz reads a member written by xtensor's dump_npy") {
    TempDir dir;
    xt::xarray<double> x = {{1.5, -2.0}, {3.0, 4.25}};
    write_file(dir / "xt.npz", zip_stored({{"x.npy", xt::dump_npy(x)}}));
    auto back = tgio::load_npz<double>(dir / "xt.npz");
    REQUIRE(back.size() == 1);
    CHECK(back[0].second == x);
}

TEST_CASE("save_npz: bad names and duplicates are refused before anything is written") {
    TempDir dir;
    std::string path = dir / "good.npz";
    tgio::save_npz(path, sample_arrays<float>(), write_any);
    Bytes before = read_file(path);
    for (std::string bad :
         std::vector<std::string>{"", "has space", "a/b", "back\\slash", "tab\t", std::string(201, 'x')}) {
        CAPTURE(bad);
        tgio::NamedTensors<float> arrays;
        arrays.emplace_back("ok", Tensor<float>{1.0f});
        arrays.emplace_back(bad, Tensor<float>{2.0f});
        CHECK_THROWS_WITH_AS(tgio::save_npz(path, arrays), doctest::Contains("bad array name"), tg::Error);
    }
    tgio::NamedTensors<float> dup;
    dup.emplace_back("w", Tensor<float>{1.0f});
    dup.emplace_back("w", Tensor<float>{2.0f});
    CHECK_THROWS_WITH_AS(tgio::save_npz(path, dup), doctest::Contains("array name 'w' given twice"), tg::Error);
    CHECK(read_file(path) == before);
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
}

TEST_CASE("save_npz: a write that fails midway leaves the previous file intact") {
    TempDir dir;
    std::string path = dir / "good.npz";
    tgio::save_npz(path, sample_arrays<double>(), write_any);
    Bytes before = read_file(path);

    // A file size limit makes the write fail the way a full disk would (root ignores permissions).
    rlimit old{};
    getrlimit(RLIMIT_FSIZE, &old);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 64 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    tgio::NamedTensors<double> huge;
    huge.emplace_back("w", Tensor<double>(tg::Shape{1000, 100}, 0.25));
    std::string message;
    try {
        tgio::save_npz(path, huge);
    } catch (const FileError& e) {
        message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);

    CHECK(message.find("write failed") != std::string::npos);
    CHECK(message.find("previous file, if any, is unchanged") != std::string::npos);
    CHECK(read_file(path) == before);
    CHECK(tgio::load_npz<double>(path, read_any).size() == sample_arrays<double>().size());
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);  // no temporary left
}

TEST_CASE("save_npz: unwritable paths") {
    TempDir dir;
    tgio::NamedTensors<float> arrays;
    arrays.emplace_back("w", Tensor<float>{1.0f});
    CHECK_THROWS_WITH_AS(tgio::save_npz(dir / "no/such/dir/x.npz", arrays),
                         doctest::Contains("cannot create a temporary file"), FileError);
    CHECK_THROWS_WITH_AS(tgio::save_npz(dir.path().string(), arrays), doctest::Contains("is a directory"), FileError);
    CHECK_THROWS_WITH_AS(tgio::save_npz("", arrays), doctest::Contains("empty path"), tg::Error);
}

TEST_CASE("load_npz: missing file") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgio::load_npz<float>(dir / "nope.npz"), doctest::Contains("file not found"), FileError);
}

TEST_CASE("load_npz: truncated archive") {
    TempDir dir;
    tgio::save_npz(dir / "good.npz", sample_arrays<double>(), write_any);
    Bytes good = read_file(dir / "good.npz");
    write_file(dir / "empty.npz", "");
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "empty.npz"), doctest::Contains("truncated: 0 bytes"), FileError);
    for (std::size_t cut : {good.size() / 2, good.size() - 1, good.size() - 30}) {
        CAPTURE(cut);
        write_file(dir / "cut.npz", good.substr(0, cut));
        CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "cut.npz"), doctest::Contains("not a valid zip archive"),
                             FileError);
    }
}

TEST_CASE("load_npz: bad zip directory") {
    TempDir dir;
    Bytes z = zip_stored({{"x.npy", npy_bytes(f8_23, Bytes(48, '\0'))}});
    Bytes bad_sig = z;
    bad_sig[bad_sig.find("PK\x01\x02")] = 'X';
    write_file(dir / "sig.npz", bad_sig);
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "sig.npz"), doctest::Contains("not a valid zip archive"),
                         FileError);
    Bytes bad_offset = z;
    bad_offset[bad_offset.size() - 6] = char(0x7f);  // central directory offset beyond the file
    write_file(dir / "off.npz", bad_offset);
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "off.npz"), doctest::Contains("not a valid zip archive"),
                         FileError);
    write_file(dir / "junk.npz", Bytes(100, 'j'));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "junk.npz"), doctest::Contains("not a valid zip archive"),
                         FileError);
}

TEST_CASE("load_npz: a member that is not .npy") {
    TempDir dir;
    write_file(dir / "a.npz", zip_stored({{"x.npy", npy_bytes(f8_23, Bytes(48, '\0'))}, {"notes.txt", "hello"}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "a.npz"),
                         doctest::Contains("member 'notes.txt': not a .npy array"), FileError);
    write_file(dir / "b.npz", zip_stored({{".npy", npy_bytes(f8_23, Bytes(48, '\0'))}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "b.npz"), doctest::Contains("not a .npy array"), FileError);
    // Named .npy but not one inside.
    write_file(dir / "c.npz", zip_stored({{"x.npy", "PK this is text, not an array"}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "c.npz"), doctest::Contains("wrong magic: not a .npy array"),
                         FileError);
}

TEST_CASE("load_npz: duplicate names") {
    TempDir dir;
    Bytes m = npy_bytes(f8_23, Bytes(48, '\0'));
    write_file(dir / "d.npz", zip_stored({{"w.npy", m}, {"w.npy", m}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "d.npz"), doctest::Contains("duplicate"), FileError);
}

TEST_CASE("load_npz: npy versions and header length") {
    TempDir dir;
    CHECK(tgio::load_npz<double>(one_member(dir, f8_23, Bytes(48, '\0'), 2))[0].second.shape() == tg::Shape{2, 3});
    CHECK(tgio::load_npz<double>(one_member(dir, f8_23, Bytes(48, '\0'), 3))[0].second.shape() == tg::Shape{2, 3});
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(one_member(dir, f8_23, Bytes(48, '\0'), 4)),
                         doctest::Contains("unsupported .npy version 4.0"), FileError);
    // A header claiming 60000 bytes.
    Bytes m = npy_bytes(f8_23, Bytes(48, '\0'));
    m[8] = char(0x60);
    m[9] = char(0xea);
    write_file(dir / "h.npz", zip_stored({{"x.npy", m}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "h.npz"), doctest::Contains(".npy header length 60000"),
                         FileError);
    // A header longer than the member.
    Bytes s = npy_bytes(f8_23, "");
    s[9] = char(0x01);
    write_file(dir / "s.npz", zip_stored({{"x.npy", s}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "s.npz"), doctest::Contains("shorter than its"), FileError);
    write_file(dir / "t.npz", zip_stored({{"x.npy", "\x93NUMPY\x01"}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "t.npz"), doctest::Contains("short .npy prefix: 7 bytes"),
                         FileError);
    write_file(dir / "u.npz", zip_stored({{"x.npy", "\x93NU"}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "u.npz"), doctest::Contains("wrong magic"), FileError);
}

TEST_CASE("load_npz: malformed header dictionaries") {
    TempDir dir;
    const Bytes p48(48, '\0');
    struct Case {
        std::string dict, message;
    };
    for (const Case& c : std::vector<Case>{
             {"{'descr': '<f8', 'shape': (2, 3), }", "missing key"},
             {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "unexpected key 'extra'"},
             {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}", "duplicate key 'descr'"},
             {"{'descr': '<f8', 'fortran_order': maybe, 'shape': (2, 3)}", "expected True or False"},
             {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} junk", "unexpected text after"},
             {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)", "expected '}'"},
             {"'descr': '<f8'", "expected '{'"},
             {"{'descr': '<f8', 'fortran_order': False, 'shape': (6)}", "one-element shape without its trailing comma"},
             {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3)}", "expected a non-negative integer"},
             {"{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}", "expected '('"},
             {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,)}", "overflows a size_t"},
             {"{'descr': 'a\\x', 'fortran_order': False, 'shape': (2, 3)}", "escape sequence"},
         }) {
        CAPTURE(c.dict);
        CHECK_THROWS_WITH_AS(tgio::load_npz<double>(one_member(dir, c.dict, p48)), doctest::Contains(c.message.c_str()),
                             FileError);
    }
    std::string many = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::string(33 * 3, ' ') + ")}";
    many.replace(many.find('(') + 1, 33 * 3, [] {
        std::string s;
        for (int i = 0; i < 33; ++i) s += "1, ";
        return s;
    }());
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(one_member(dir, many, Bytes(8, '\0'))),
                         doctest::Contains("more than 32 dimensions"), FileError);
    // Double quotes and no trailing comma are valid Python too.
    auto ok =
        tgio::load_npz<double>(one_member(dir, "{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(2,3)}", p48));
    CHECK(ok[0].second.shape() == tg::Shape{2, 3});
}

TEST_CASE("load_npz: fortran order") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(one_member(
                             dir, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", Bytes(48, '\0'))),
                         doctest::Contains("fortran_order is True; expected False"), FileError);
}

TEST_CASE("load_npz: unsupported dtypes") {
    TempDir dir;
    struct Case {
        std::string descr, message;
    };
    for (const Case& c : std::vector<Case>{{">f8", "big-endian dtype '>f8'"},
                                           {">f4", "big-endian dtype '>f4'"},
                                           {"|u1", "unsupported dtype '|u1'"},
                                           {"|O", "unsupported dtype '|O'"},
                                           {"<c16", "unsupported dtype '<c16'"},
                                           {"<f2", "unsupported dtype '<f2'"}}) {
        CAPTURE(c.descr);
        std::string dict = "{'descr': '" + c.descr + "', 'fortran_order': False, 'shape': (2, 3), }";
        CHECK_THROWS_WITH_AS(tgio::load_npz<double>(one_member(dir, dict, Bytes(48, '\0'))),
                             doctest::Contains(c.message.c_str()), FileError);
    }
    CHECK_THROWS_WITH_AS(
        tgio::load_npz<double>(
            one_member(dir, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", Bytes(16, '\0'))),
        doctest::Contains("structured dtypes are not supported"), FileError);
}

TEST_CASE("load_npz: shape product overflows") {
    TempDir dir;
    // Fits a size_t as a count (2^62) but not in bytes (2^65).
    CHECK_THROWS_WITH_AS(
        tgio::load_npz<double>(one_member(
            dir, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 1073741824), }", Bytes(8, '\0'))),
        doctest::Contains("overflows a size_t"), FileError);
    CHECK_THROWS_WITH_AS(
        tgio::load_npz<double>(one_member(dir,
                                          "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, "
                                          "4294967296, 4294967296), }",
                                          Bytes(8, '\0'))),
        doctest::Contains("overflows a size_t"), FileError);
}

TEST_CASE("load_npz: a tiny file asking for gigabytes is refused before allocating") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(
        tgio::load_npz<double>(
            one_member(dir, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }", Bytes(8, '\0'))),
        doctest::Contains("payload of 8 bytes; shape (100000,100000) of float64 needs exactly 80000000000"), FileError);
    // The zip entry itself lying about its size is refused too.
    Bytes m = npy_bytes(f8_23, Bytes(48, '\0'));
    write_file(dir / "lie.npz", zip_stored({{"x.npy", m, 0x7fffffffu}}));
    CHECK_THROWS_AS(tgio::load_npz<double>(dir / "lie.npz"), FileError);
    write_file(dir / "bomb.npz", zip_stored({{"x.npy", m, 0xfffffff0u, false, 8}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "bomb.npz"),
                         doctest::Contains("claims 4294967280 bytes from 181 deflated ones"), FileError);
}

TEST_CASE("load_npz: deflated members, and unsupported compression methods") {
    TempDir dir;
    Bytes m = npy_bytes(f8_23, Bytes(48, '\0'));
    write_file(dir / "d.npz", zip_stored({{"x.npy", m, std::nullopt, false, 8}}));
    CHECK(tgio::load_npz<double>(dir / "d.npz")[0].second.shape() == tg::Shape{2, 3});
    write_file(dir / "b.npz", zip_stored({{"x.npy", m, std::nullopt, false, 12}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "b.npz"),
                         doctest::Contains("unsupported compression method 12; expected stored (0) or deflate (8)"),
                         FileError);
}

TEST_CASE("load_npz: payload length must match exactly") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(one_member(dir, f8_23, Bytes(47, '\0'))),
                         doctest::Contains("payload of 47 bytes; shape (2,3) of float64 needs exactly 48"), FileError);
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(one_member(dir, f8_23, Bytes(49, '\0'))),
                         doctest::Contains("payload of 49 bytes; shape (2,3) of float64 needs exactly 48"), FileError);
}

TEST_CASE("load_npz: corrupt member data") {
    TempDir dir;
    write_file(dir / "crc.npz", zip_stored({{"x.npy", npy_bytes(f8_23, Bytes(48, '\0')), std::nullopt, true}}));
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "crc.npz"), doctest::Contains("corrupt member"), FileError);
}

TEST_CASE("int64 arrays (counters) go through .npz exactly, and are not taken for floating-point values") {
    TempDir dir;
    tgio::Arrays arrays;
    Tensor<std::int64_t> counts = {std::numeric_limits<std::int64_t>::min(), -1, 0,
                                   std::numeric_limits<std::int64_t>::max()};
    arrays.emplace_back("counts", counts);
    Tensor<std::int64_t> tracked = Tensor<std::int64_t>::from_shape({});
    tracked() = 42;
    arrays.emplace_back("num_batches_tracked", tracked);
    arrays.emplace_back("w", Tensor<float>{0.5f, 0.25f});
    tgio::save_npz(dir / "c.npz", arrays);
    const auto back = tgio::read_npz(dir / "c.npz");
    REQUIRE(back.size() == 3);
    CHECK(back[0].dtype() == tgio::Dtype::int64);
    CHECK(back[0].to<std::int64_t>("test") == counts);
    CHECK(back[1].shape().empty());
    CHECK(back[1].to<std::int64_t>("test")() == 42);
    CHECK(back[2].dtype() == tgio::Dtype::float32);
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "c.npz"),
                         doctest::Contains("array 'counts' holds int64 values; expected floating-point values"),
                         FileError);
    CHECK_THROWS_WITH_AS(back[2].to<std::int64_t>("test"),
                         doctest::Contains("array 'w' holds float32 values; expected integers (int64)"), FileError);
    // Other integer types are refused by name.
    CHECK_THROWS_WITH_AS(
        tgio::read_npz(one_member(dir, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", Bytes(8, '\0'))),
        doctest::Contains("unsupported dtype '<i4'; expected '<f4' (float32), '<f8' (float64) or '<i8' (int64)"),
        FileError);
}

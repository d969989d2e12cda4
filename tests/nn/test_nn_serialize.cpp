// Tests of nn::save / nn::load: bit-exact round trips, NumPy interchange, and every kind of bad file.
//
// Fixtures (tests/fixtures), made once with NumPy 1.24 and Python's zipfile:
//   numpy_linear_2x3.npz   np.savez(f, weight=<float32 [[.5,-1.25,2],[3,.125,-.75]]>, bias=<float32 [.25,-.5]>)
//   numpy_linear_int64.npz the same with weight as int64 (a dtype load refuses)
//   absurd_header.npz      weight.npy claiming shape (10^12, 10^12) over 16 payload bytes
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include <tapegrad/nn/serialize.hpp>

#include "external_tools.hpp"
#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
namespace fs = std::filesystem;

namespace {

/// A fresh directory for this test run's files, removed at exit.
struct TempDir {
    fs::path path = fs::temp_directory_path() / ("tapegrad_nn_serialize_" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string fixture(const std::string& name) {
    return (fs::path(__FILE__).parent_path().parent_path() / "fixtures" / name).string();
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

template <class E, class F>
void check_throws(F f, const std::string& expected) {
    try {
        f();
        FAIL("no error thrown; expected: " << expected);
    } catch (const E& e) {
        CHECK_MESSAGE(std::string(e.what()).find(expected) != std::string::npos, e.what());
    }
}

template <class T>
bool bit_identical(const tg::Tensor<T>& a, const tg::Tensor<T>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
nn::Sequential<T> make_net() {
    return nn::Sequential<T>{nn::Conv2d<T>(1, 2, 3), nn::BatchNorm2d<T>(2), nn::ReLU{}, nn::Flatten{},
                             nn::Linear<T>(8, 3)};
}

}  // namespace

TEST_CASE_TEMPLATE("save -> load is bit-exact", T, float, double) {
    TempDir dir;
    tg::manual_seed(1);
    auto a = make_net<T>();
    // give the running statistics values too
    tg::Variable<T> x(tg::Tensor<T>::from_shape({4, 1, 4, 4}));
    for (auto& v : x.mutable_value()) v = T(tg::default_generator().normal());
    a(x);
    nn::save(a, dir.file("net.npz"));
    tg::manual_seed(2);
    auto b = make_net<T>();
    nn::load(b, dir.file("net.npz"));
    const auto sa = a.state(), sb = b.state();
    REQUIRE(sa.size() == sb.size());
    for (std::size_t i = 0; i < sa.size(); ++i) {
        CHECK(sa[i].first == sb[i].first);
        CHECK(bit_identical(sa[i].second.value(), sb[i].second.value()));
    }
    // the free load gives the arrays in the order stored
    const auto loaded = nn::load<T>(dir.file("net.npz"));
    REQUIRE(loaded.size() == sa.size());
    for (std::size_t i = 0; i < sa.size(); ++i) {
        CHECK(loaded[i].first == sa[i].first);
        CHECK(!loaded[i].second.requires_grad());
    }
    // saving named Variables directly
    nn::save(nn::NamedVariables<T>{{"w", a.parameters()[0]}}, dir.file("one.npz"));
    CHECK(bit_identical(nn::load<T>(dir.file("one.npz"))[0].second.value(), a.parameters()[0].value()));
}

TEST_CASE("a file written by numpy.savez loads, and numpy reads ours") {
    nn::Linear<double> lin(3, 2);
    nn::load(lin, fixture("numpy_linear_2x3.npz"));
    CHECK(close(lin.weight().value(), xt::xarray<double>{{0.5, -1.25, 2.0}, {3.0, 0.125, -0.75}}, 0));
    CHECK(close(lin.bias().value(), xt::xarray<double>{0.25, -0.5}, 0));
    nn::Linear<float> linf(3, 2);
    nn::load(linf, fixture("numpy_linear_2x3.npz"));
    CHECK(linf.weight().value()(1, 0) == 3.0f);
}

TEST_CASE("numpy reads what nn::save writes, and nn::load reads what numpy writes now" *
          doctest::test_suite("external")) {
    const std::string py = tgtest::python_with("numpy");
    if (py.empty()) return tgtest::missing_tool("python3 with numpy (apt-get install python3-numpy)");
    nn::Linear<double> lin(3, 2);
    TempDir dir;
    tg::manual_seed(3);
    auto net = make_net<float>();
    nn::save(net, dir.file("ours.npz"));
    const std::string out = dir.file("listing.txt");
    const std::string script =
        "import numpy as np; d = np.load('" + dir.file("ours.npz") +
        "'); print(' '.join('%s:%s:%s' % (k, d[k].dtype, 'x'.join(map(str, d[k].shape))) for k in d.files))";
    REQUIRE(std::system((py + " -c \"" + script + "\" > " + out).c_str()) == 0);
    CHECK(read_bytes(out) ==
          "0.weight:float32:2x1x3x3 0.bias:float32:2 1.weight:float32:2 1.bias:float32:2 1.running_mean:float32:2 "
          "1.running_var:float32:2 4.weight:float32:3x8 4.bias:float32:3 1.num_batches_tracked:int64:\n");
    // and a file numpy writes now, in float64
    const std::string made = dir.file("made.npz");
    REQUIRE(std::system((py + " -c \"import numpy as np; np.savez('" + made +
                         "', weight=np.arange(6.0).reshape(2, 3), bias=np.array([7.0, 8.0]))\"")
                            .c_str()) == 0);
    nn::load(lin, made);
    CHECK(close(lin.weight().value(), xt::xarray<double>{{0, 1, 2}, {3, 4, 5}}, 0));
}

TEST_CASE("load names what is missing, unexpected or mismatched, and leaves the module unchanged") {
    TempDir dir;
    nn::Linear<double> lin(3, 2);
    const auto before = lin.weight().value();
    nn::Sequential<double> wrapped{nn::Linear<double>(3, 2)};
    check_throws<tg::Error>([&] { nn::load(wrapped, fixture("numpy_linear_2x3.npz")); },
                            "'0.weight' (shape (2,3)) is missing: parameter 'weight' of layer 0");
    nn::save(nn::NamedVariables<double>{{"weight", lin.weight()}, {"bias", lin.bias()}, {"extra", lin.bias()}},
             dir.file("extra.npz"));
    check_throws<tg::Error>([&] { nn::load(lin, dir.file("extra.npz")); },
                            "unexpected 'extra' (shape (2,)): Linear(in_features=3, out_features=2, bias=true) has no "
                            "parameter or buffer 'extra'");
    nn::Linear<double> other(2, 2);
    check_throws<tg::Error>(
        [&] { nn::load(other, fixture("numpy_linear_2x3.npz")); },
        "'weight' has shape (2,3), but parameter 'weight' of Linear(in_features=2, out_features=2, bias=true) "
        "expects (2,2)");
    const std::string name = fixture("numpy_linear_2x3.npz");
    check_throws<tg::Error>([&] { nn::load(other, name); }, "load('" + name + "'): 'weight' has shape");
    CHECK(close(lin.weight().value(), before, 0));
}

TEST_CASE("bad files are clear errors") {
    TempDir dir;
    nn::Linear<float> lin(3, 2);
    check_throws<tg::FileError>([&] { nn::load(lin, dir.file("missing.npz")); }, "missing.npz");
    write_bytes(dir.file("garbage.npz"), std::string(300, '\x5a'));
    check_throws<tg::FileError>([&] { nn::load(lin, dir.file("garbage.npz")); }, "garbage.npz");
    nn::save(lin, dir.file("good.npz"));
    const std::string good = read_bytes(dir.file("good.npz"));
    for (std::size_t keep : {good.size() / 2, good.size() - 10, std::size_t(30)}) {
        CAPTURE(keep);
        write_bytes(dir.file("truncated.npz"), good.substr(0, keep));
        check_throws<tg::FileError>([&] { nn::load(lin, dir.file("truncated.npz")); }, "truncated.npz");
    }
    check_throws<tg::FileError>([&] { nn::load(lin, fixture("numpy_linear_int64.npz")); }, "numpy_linear_int64.npz");
    check_throws<tg::FileError>([&] { nn::load(lin, fixture("absurd_header.npz")); }, "absurd_header.npz");
}

TEST_CASE("save replaces a file whole, and a failed save leaves the old one in place") {
    TempDir dir;
    tg::manual_seed(4);
    nn::Linear<double> a(3, 2), b(3, 2);
    nn::save(a, dir.file("ckpt.npz"));
    const std::string first = read_bytes(dir.file("ckpt.npz"));
    nn::save(b, dir.file("ckpt.npz"));
    CHECK(read_bytes(dir.file("ckpt.npz")) != first);
    nn::save(a, dir.file("ckpt.npz"));
    CHECK(read_bytes(dir.file("ckpt.npz")) == first);  // the same arrays give the same bytes
    check_throws<tg::Error>(
        [&] {
            nn::save(nn::NamedVariables<double>{{"bad/name", a.weight()}}, dir.file("ckpt.npz"));
        },
        "bad/name");
    CHECK(read_bytes(dir.file("ckpt.npz")) == first);
    check_throws<tg::FileError>([&] { nn::save(a, dir.file("no/such/dir/ckpt.npz")); }, "ckpt.npz");
    check_throws<tg::Error>(
        [&] {
            nn::save(nn::NamedVariables<double>{{"w", tg::Variable<double>()}}, dir.file("x.npz"));
        },
        "save('" + dir.file("x.npz") + "'): 'w' is an empty Variable");
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(dir.path)) left.push_back(entry.path().filename().string());
    CHECK(left == std::vector<std::string>{"ckpt.npz"});  // no temporary files left behind
}

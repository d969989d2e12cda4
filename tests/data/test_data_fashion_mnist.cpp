// Tests of the Fashion-MNIST loader: fixtures, count and label checks, and the real data when installed.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/fashion_mnist.hpp>
#include <tapegrad/data/loader.hpp>

#include "external_tools.hpp"
#include "test_data_helpers.hpp"

namespace tg = tapegrad;
namespace tgd = tapegrad::data;
using tg::FileError;
using tg::Indices;
using namespace data_test;

TEST_CASE("the ten class names") {
    const auto& names = tgd::fashion_mnist_class_names();
    CHECK(names.size() == 10);
    CHECK(names[0] == "T-shirt/top");
    CHECK(names[5] == "Sandal");
    CHECK(names[9] == "Ankle boot");
}

TEST_CASE("TAPEGRAD_FASHION_MNIST_DIR overrides the default directory") {
    const char* old = std::getenv("TAPEGRAD_FASHION_MNIST_DIR");
    std::string saved = old ? old : "";
    setenv("TAPEGRAD_FASHION_MNIST_DIR", "/somewhere/else", 1);
    CHECK(tgd::fashion_mnist_default_dir() == "/somewhere/else");
    unsetenv("TAPEGRAD_FASHION_MNIST_DIR");
    CHECK(tgd::fashion_mnist_default_dir() == "/usr/share/datasets/fashion-mnist");
    if (old) setenv("TAPEGRAD_FASHION_MNIST_DIR", saved.c_str(), 1);
}

TEST_CASE("load_idx_images reads an image file and a label file") {
    auto d = tgd::load_idx_images(fixture("tiny-images-idx3-ubyte.gz"), fixture("tiny-labels-idx1-ubyte.gz"), 10);
    CHECK(d.size() == 5);
    CHECK(d.channels() == 1);
    CHECK(d.height() == 4);
    CHECK(d.width() == 3);
    CHECK(d.labels() == Indices{4, 3, 2, 1, 0});
    CHECK(d.image(2)[1] == (37 * 2 + 11) % 256);
}

TEST_CASE("load_idx_images: image and label counts differ") {
    TempDir dir;
    write_file(dir / "labels", idx_bytes(0x08, {4}, Bytes(4, '\1')));
    CHECK_THROWS_WITH_AS(tgd::load_idx_images(fixture("tiny-images-idx3-ubyte.gz"), dir / "labels", 10),
                         doctest::Contains("count mismatch: 5 images in"), FileError);
}

TEST_CASE("load_idx_images: a set of zero images is refused, not loaded as an empty data set") {
    TempDir dir;
    write_file(dir / "images", idx_bytes(0x08, {0, 28, 28}, ""));
    write_file(dir / "labels", idx_bytes(0x08, {0}, ""));
    CHECK_THROWS_WITH_AS(tgd::load_idx_images(dir / "images", dir / "labels", 10),
                         doctest::Contains("image array of shape (0,28,28) holds no images; expected at least 1"),
                         FileError);
}

TEST_CASE("load_idx_images: a label out of range") {
    TempDir dir;
    write_file(dir / "labels", idx_bytes(0x08, {5}, Bytes("\1\2\x0a\3\4", 5)));
    CHECK_THROWS_WITH_AS(tgd::load_idx_images(fixture("tiny-images-idx3-ubyte.gz"), dir / "labels", 10),
                         doctest::Contains("label 10 at index 2 is out of range; expected 0 to 9"), FileError);
}

TEST_CASE("load_idx_images: files of the wrong rank") {
    TempDir dir;
    std::string labels = fixture("tiny-labels-idx1-ubyte.gz"), images = fixture("tiny-images-idx3-ubyte.gz");
    CHECK_THROWS_WITH_AS(tgd::load_idx_images(labels, labels, 10), doctest::Contains("expected 3 dimensions"),
                         FileError);
    CHECK_THROWS_WITH_AS(tgd::load_idx_images(images, images, 10), doctest::Contains("expected 1 dimension"),
                         FileError);
    write_file(dir / "flat", idx_bytes(0x08, {5, 0, 3}, ""));
    CHECK_THROWS_WITH_AS(tgd::load_idx_images(dir / "flat", labels, 10), doctest::Contains("at least 1x1"), FileError);
    CHECK_THROWS_WITH_AS(tgd::load_idx_images(images, labels, 0), doctest::Contains("0 classes"), tg::Error);
}

TEST_CASE("load_fashion_mnist: a missing directory says which package to install") {
    CHECK_THROWS_WITH_AS(tgd::load_fashion_mnist(tgd::Split::train, "/nonexistent/fashion"),
                         doctest::Contains("apt-get install dataset-fashion-mnist"), FileError);
    CHECK_THROWS_WITH_AS(tgd::load_fashion_mnist(tgd::Split::train, "/nonexistent/fashion"),
                         doctest::Contains("directory '/nonexistent/fashion' not found"), FileError);
    CHECK_FALSE(tgd::fashion_mnist_available("/nonexistent/fashion"));
}

TEST_CASE("load_fashion_mnist: a missing file in the directory") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgd::load_fashion_mnist(tgd::Split::test, dir.path().string()),
                         doctest::Contains("'t10k-images-idx3-ubyte.gz' not found in"), FileError);
}

TEST_CASE("load_fashion_mnist reads a directory of the four files, and checks 28x28") {
    TempDir dir;
    // Two 28x28 test images, and training files of the wrong image size.
    write_file(dir / "t10k-images-idx3-ubyte.gz", gzip_stored(idx_bytes(0x08, {2, 28, 28}, Bytes(2 * 784, '\7'))));
    write_file(dir / "t10k-labels-idx1-ubyte.gz", gzip_stored(idx_bytes(0x08, {2}, Bytes("\0\x09", 2))));
    write_file(dir / "train-images-idx3-ubyte.gz", read_file(fixture("tiny-images-idx3-ubyte.gz")));
    write_file(dir / "train-labels-idx1-ubyte.gz", read_file(fixture("tiny-labels-idx1-ubyte.gz")));
    CHECK(tgd::fashion_mnist_available(dir.path().string()));
    auto test = tgd::load_fashion_mnist(tgd::Split::test, dir.path().string());
    CHECK(test.size() == 2);
    CHECK(test.labels() == Indices{0, 9});
    CHECK_THROWS_WITH_AS(tgd::load_fashion_mnist(tgd::Split::train, dir.path().string()),
                         doctest::Contains("images of 4x3; expected 28x28"), FileError);
}

TEST_CASE("the real Fashion-MNIST (dataset-fashion-mnist)" * doctest::test_suite("external")) {
    const std::string dir = tgd::fashion_mnist_default_dir();
    if (!tgd::fashion_mnist_available(dir))
        return tgtest::missing_tool("Fashion-MNIST in " + dir + " (apt-get install dataset-fashion-mnist)");
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    auto train = tgd::load_fashion_mnist(tgd::Split::train);
    auto t1 = clock::now();
    auto test = tgd::load_fashion_mnist(tgd::Split::test);
    auto t2 = clock::now();
    MESSAGE("loaded train in " << std::chrono::duration<double, std::milli>(t1 - t0).count() << " ms, test in "
                               << std::chrono::duration<double, std::milli>(t2 - t1).count() << " ms");

    CHECK(train.size() == 60000);
    CHECK(test.size() == 10000);
    CHECK(train.height() == 28);
    CHECK(train.width() == 28);
    CHECK(train.pixels().size() == 60000u * 784u);
    CHECK(train.class_counts() == std::vector<std::size_t>(10, 6000));
    CHECK(test.class_counts() == std::vector<std::size_t>(10, 1000));

    // The published normalization constants match the training pixels.
    double sum = 0, sum2 = 0;
    for (std::uint8_t p : train.pixels()) {
        double x = p / 255.0;
        sum += x;
        sum2 += x * x;
    }
    const double n = double(train.pixels().size()), mean = sum / n, stddev = std::sqrt(sum2 / n - mean * mean);
    CHECK(mean == doctest::Approx(tgd::fashion_mnist_mean).epsilon(1e-3));
    CHECK(stddev == doctest::Approx(tgd::fashion_mnist_std).epsilon(1e-3));

    tgd::DataLoader<float> loader(train, tgd::LoaderOptions()
                                             .batch_size(128)
                                             .seed(1)
                                             .layout(tgd::ImageLayout::nchw)
                                             .normalize(tgd::fashion_mnist_mean, tgd::fashion_mnist_std));
    auto epoch = loader.epoch(0);
    CHECK(epoch.size() == 469);
    auto last = epoch.batch(468);
    CHECK(last.images.shape() == tg::Shape{60000 - 468 * 128, 1, 28, 28});
}

// Tests of ImageDataset and DataLoader: checks, subsets, seeded orders, shards, batch shapes and values.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <type_traits>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/dataset.hpp>
#include <tapegrad/data/loader.hpp>

namespace tg = tapegrad;
namespace tgd = tapegrad::data;
using tg::Indices;

namespace {

// n images of 1x2x3 bytes; image i holds i*10 + k at pixel k, label i % 4.
tgd::ImageDataset small_dataset(std::size_t n) {
    std::vector<std::uint8_t> pixels(n * 6);
    Indices labels(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < 6; ++k) pixels[i * 6 + k] = std::uint8_t((i * 10 + k) % 256);
        labels[i] = i % 4;
    }
    return tgd::ImageDataset(std::move(pixels), std::move(labels), 1, 2, 3, 4);
}

bool is_permutation_of_range(const Indices& v, std::size_t n) {
    Indices s = v;
    std::sort(s.begin(), s.end());
    Indices r(n);
    std::iota(r.begin(), r.end(), std::size_t(0));
    return s == r;
}

}  // namespace

TEST_CASE("ImageDataset checks its arguments") {
    CHECK_THROWS_WITH_AS(tgd::ImageDataset(std::vector<std::uint8_t>(11), Indices(2), 1, 2, 3, 4),
                         doctest::Contains("11 pixel bytes for 2 labels; expected 2 images of 6 bytes"), tg::Error);
    CHECK_THROWS_WITH_AS(tgd::ImageDataset(std::vector<std::uint8_t>(12), Indices{0, 4}, 1, 2, 3, 4),
                         doctest::Contains("label 4 at row 1; expected 0 to 3"), tg::Error);
    CHECK_THROWS_WITH_AS(tgd::ImageDataset(std::vector<std::uint8_t>(0), Indices{}, 1, 0, 3, 4),
                         doctest::Contains("expected positive extents"), tg::Error);
    CHECK_THROWS_WITH_AS(tgd::ImageDataset(std::vector<std::uint8_t>(0), Indices{}, 1, 2, 3, 0),
                         doctest::Contains("0 classes"), tg::Error);
    auto d = small_dataset(3);
    CHECK_THROWS_WITH_AS(d.image(3), doctest::Contains("row 3 of a dataset of 3 images"), tg::Error);
    CHECK_THROWS_WITH_AS(d.label(7), doctest::Contains("row 7 of a dataset of 3 images"), tg::Error);
}

TEST_CASE("ImageDataset subset, select and class counts") {
    auto d = small_dataset(10);
    CHECK(d.size() == 10);
    CHECK(d.image_size() == 6);
    auto s = d.subset(3);
    CHECK(s.size() == 3);
    CHECK(s.image(2)[5] == 25);
    CHECK(s.labels() == Indices{0, 1, 2});
    CHECK(d.subset(0).empty());
    CHECK_THROWS_WITH_AS(d.subset(11), doctest::Contains("11 images asked of a dataset of 10"), tg::Error);
    auto sel = d.select({9, 0, 9});
    CHECK(sel.labels() == Indices{1, 0, 1});
    CHECK(sel.image(0)[0] == 90);
    CHECK_THROWS_WITH_AS(d.select({1, 10}), doctest::Contains("row 10 (entry 1) of a dataset of 10"), tg::Error);
    CHECK(d.class_counts() == std::vector<std::size_t>{3, 3, 2, 2});
}

TEST_CASE("LoaderOptions check their arguments") {
    tgd::LoaderOptions o;
    CHECK_THROWS_WITH_AS(o.batch_size(0), doctest::Contains("batch_size: got 0"), tg::Error);
    CHECK_THROWS_WITH_AS(o.normalize(0.5, 0.0), doctest::Contains("stddev > 0"), tg::Error);
    CHECK_THROWS_WITH_AS(o.normalize(NAN, 1.0), doctest::Contains("finite"), tg::Error);
    CHECK_THROWS_WITH_AS(o.shard(3, 3), doctest::Contains("rank 3 of world 3"), tg::Error);
    CHECK_THROWS_WITH_AS(o.shard(0, 0), doctest::Contains("rank 0 of world 0"), tg::Error);
}

TEST_CASE("epoch_order: same seed and epoch, same order; otherwise a different permutation") {
    auto opts = tgd::LoaderOptions().seed(42);
    Indices a = tgd::epoch_order(1000, opts, 0);
    CHECK(is_permutation_of_range(a, 1000));
    CHECK(a == tgd::epoch_order(1000, opts, 0));
    CHECK(a != tgd::epoch_order(1000, opts, 1));
    CHECK(a != tgd::epoch_order(1000, tgd::LoaderOptions().seed(43), 0));
    Indices plain = tgd::epoch_order(5, tgd::LoaderOptions().shuffle(false), 3);
    CHECK(plain == Indices{0, 1, 2, 3, 4});
    CHECK(tgd::epoch_order(0, opts, 0).empty());
    CHECK(tgd::epoch_order(1, opts, 0) == Indices{0});
}

TEST_CASE("epoch_order is pinned: the same order on every platform and release") {
    // mt19937_64 and seed_seq are fully specified, and the bounded draws are our own.
    CHECK(tgd::epoch_order(10, tgd::LoaderOptions().seed(42), 0) == Indices{0, 6, 5, 1, 3, 9, 7, 8, 4, 2});
}

TEST_CASE("shards are disjoint, equal, and together the epoch cut to a multiple of world") {
    const std::size_t n = 103, world = 4;
    auto base = tgd::LoaderOptions().seed(7);
    for (std::size_t epoch : {0, 1}) {
        Indices full = tgd::epoch_order(n, base, epoch);
        std::set<std::size_t> seen;
        for (std::size_t r = 0; r < world; ++r) {
            auto opts = base;
            opts.shard(r, world);
            Indices mine = tgd::epoch_order(n, opts, epoch);
            CHECK(mine.size() == n / world);
            for (std::size_t k = 0; k < mine.size(); ++k) CHECK(mine[k] == full[k * world + r]);
            for (auto i : mine) CHECK(seen.insert(i).second);
        }
        CHECK(seen.size() == (n / world) * world);
    }
    auto ds = small_dataset(103);
    tgd::DataLoader<float> loader(ds, tgd::LoaderOptions().batch_size(10).shard(1, 4));
    CHECK(loader.images_per_epoch() == 25);
    CHECK(loader.batches_per_epoch() == 3);
    CHECK(loader.epoch(0).size() == 3);
}

TEST_CASE("the last smaller batch is kept or dropped") {
    auto d = small_dataset(10);
    tgd::DataLoader<float> keep(d, tgd::LoaderOptions().batch_size(4).shuffle(false));
    auto e = keep.epoch(0);
    REQUIRE(e.size() == 3);
    CHECK(keep.batches_per_epoch() == 3);
    CHECK(e.batch(0).size() == 4);
    CHECK(e.batch(2).size() == 2);
    CHECK(e.batch(2).labels == Indices{0, 1});
    CHECK_THROWS_WITH_AS(e.batch(3), doctest::Contains("batch 3 of an epoch of 3 batches"), tg::Error);
    tgd::DataLoader<float> drop(d, tgd::LoaderOptions().batch_size(4).shuffle(false).drop_last(true));
    CHECK(drop.epoch(0).size() == 2);
    CHECK(drop.batches_per_epoch() == 2);
    tgd::DataLoader<float> exact(d, tgd::LoaderOptions().batch_size(5).drop_last(true));
    CHECK(exact.epoch(0).size() == 2);
}

TEST_CASE_TEMPLATE("batches are flat or NCHW, scaled to [0,1], optionally normalized", T, float, double) {
    auto d = small_dataset(5);
    tgd::DataLoader<T> flat(d, tgd::LoaderOptions().batch_size(2).shuffle(false));
    auto b = flat.epoch(0).batch(1);  // images 2 and 3
    REQUIRE(b.images.shape() == tg::Shape{2, 6});
    CHECK(b.images(0, 0) == T(20 / 255.0));
    CHECK(b.images(1, 5) == T(35 / 255.0));
    CHECK(b.labels == Indices{2, 3});

    tgd::DataLoader<T> nchw(d, tgd::LoaderOptions().batch_size(2).shuffle(false).layout(tgd::ImageLayout::nchw));
    auto c = nchw.epoch(0).batch(1);
    REQUIRE(c.images.shape() == tg::Shape{2, 1, 2, 3});
    CHECK(c.images(1, 0, 1, 2) == T(35 / 255.0));

    tgd::DataLoader<T> norm(d, tgd::LoaderOptions().batch_size(2).shuffle(false).normalize(0.2860, 0.3530));
    auto n = norm.epoch(0).batch(1);
    CHECK(n.images(1, 5) == T((35 / 255.0 - 0.2860) / 0.3530));

    std::vector<std::uint8_t> extremes = {0, 255, 128, 1, 254, 0};
    tgd::ImageDataset x(extremes, Indices{0}, 1, 2, 3, 1);
    auto e = tgd::DataLoader<T>(x, tgd::LoaderOptions()).epoch(0).batch(0);
    CHECK(e.images(0, 0) == T(0));
    CHECK(e.images(0, 1) == T(1));
}

TEST_CASE_TEMPLATE("every byte converts to exactly (v / 255 - mean) / stddev, rounded once", T, float, double) {
    // 16 images of 16 bytes hold every byte value once (in an order that is not 0, 1, 2, ...).
    std::vector<std::uint8_t> pixels(256);
    for (std::size_t v = 0; v < 256; ++v) pixels[v] = std::uint8_t((v * 37 + 11) % 256);
    tgd::ImageDataset d(pixels, Indices(16, 0), 1, 4, 4, 1);
    const double settings[][2] = {{0.0, 1.0}, {0.2860, 0.3530}, {0.1307, 0.3081}, {-3.0, 7.0}, {0.5, 1e-3}};
    for (const auto& s : settings) {
        CAPTURE(s[0]);
        CAPTURE(s[1]);
        tgd::DataLoader<T> loader(d, tgd::LoaderOptions().batch_size(16).shuffle(false).normalize(s[0], s[1]));
        const auto b = loader.epoch(0).batch(0);
        REQUIRE(b.images.size() == 256);
        std::size_t wrong = 0;
        for (std::size_t k = 0; k < 256; ++k) wrong += b.images.data()[k] != T((pixels[k] / 255.0 - s[0]) / s[1]);
        CHECK(wrong == 0);
    }
}

TEST_CASE("iterating an epoch yields batch(i) in order and visits every image once") {
    auto d = small_dataset(23);
    tgd::DataLoader<double> loader(d, tgd::LoaderOptions().batch_size(5).seed(3));
    auto epoch = loader.epoch(2);
    CHECK(epoch.rows() == tgd::epoch_order(23, loader.options(), 2));
    std::size_t i = 0;
    Indices labels;
    std::multiset<double> firsts;
    for (const auto& batch : epoch) {
        auto direct = epoch.batch(i++);
        CHECK(batch.images == direct.images);
        CHECK(batch.labels == direct.labels);
        labels.insert(labels.end(), batch.labels.begin(), batch.labels.end());
        for (std::size_t k = 0; k < batch.size(); ++k) firsts.insert(batch.images(k, 0) * 255.0);
    }
    CHECK(i == 5);
    CHECK(labels.size() == 23);
    for (std::size_t k = 0; k < 23; ++k) CHECK(labels[k] == epoch.rows()[k] % 4);
    std::multiset<double> expected;
    for (std::size_t k = 0; k < 23; ++k) expected.insert(double(k * 10 % 256));
    CHECK(firsts == expected);
    // Two loaders with the same options agree batch for batch.
    tgd::DataLoader<double> twin(d, tgd::LoaderOptions().batch_size(5).seed(3));
    CHECK(twin.epoch(2).batch(4).labels == epoch.batch(4).labels);
}

// A loader points at its dataset, so it cannot be built on a temporary one.
static_assert(!std::is_constructible_v<tgd::DataLoader<float>, tgd::ImageDataset&&>);
static_assert(std::is_constructible_v<tgd::DataLoader<float>, const tgd::ImageDataset&>);

TEST_CASE("a custom row list (sampler hook) is checked and batched") {
    auto d = small_dataset(10);
    tgd::DataLoader<float> loader(d, tgd::LoaderOptions().batch_size(2));
    auto e = loader.over({9, 9, 1});
    CHECK(e.size() == 2);
    CHECK(e.batch(0).labels == Indices{1, 1});
    CHECK(e.batch(1).labels == Indices{1});
    CHECK_THROWS_WITH_AS(loader.over({0, 10}), doctest::Contains("row 10 (entry 1) of a dataset of 10"), tg::Error);
}

TEST_CASE("a DataLoader that would give 0 batches says so instead of yielding nothing") {
    const tgd::ImageDataset empty;
    CHECK_THROWS_WITH_AS(tgd::DataLoader<float>{empty},
                         doctest::Contains("DataLoader: 0 batches per epoch: the dataset is empty"), tg::Error);
    const auto three = small_dataset(3);
    CHECK_THROWS_WITH_AS(tgd::DataLoader<float>(three, tgd::LoaderOptions().batch_size(4).drop_last(true)),
                         doctest::Contains("drop_last drops the only, partial batch: 3 images per epoch, batch_size 4"),
                         tg::Error);
    CHECK_THROWS_WITH_AS(tgd::DataLoader<float>(three, tgd::LoaderOptions().shard(3, 4)),
                         doctest::Contains("3 images shared among 4 ranks leave none to rank 3"), tg::Error);
    CHECK(tgd::DataLoader<float>(three, tgd::LoaderOptions().batch_size(4)).batches_per_epoch() == 1);
}

// Tests of TensorDataset and the DataLoader over it: checks, batches of mixed element types, seeded orders.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <type_traits>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/random.hpp>
#include <tapegrad/data/tensor_dataset.hpp>
#include <tapegrad/data/tensor_loader.hpp>

namespace tg = tapegrad;
namespace tgd = tapegrad::data;
using tg::Indices;
using tg::Tensor;

namespace {

// n samples: features x (n, 2, 3) float with x[i] = 100 i + k, tokens t (n, 4) with t[i] = 10 i + k,
// regression targets y (n,) double with y[i] = -i / 2.
struct Data {
    Tensor<float> x;
    Tensor<std::size_t> t;
    Tensor<double> y;
};
Data make(std::size_t n) {
    Data d{Tensor<float>::from_shape({n, 2, 3}), Tensor<std::size_t>::from_shape({n, 4}),
           Tensor<double>::from_shape({n})};
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < 6; ++k) d.x.data()[i * 6 + k] = float(100 * i + k);
        for (std::size_t k = 0; k < 4; ++k) d.t(i, k) = 10 * i + k;
        d.y(i) = -double(i) / 2;
    }
    return d;
}

}  // namespace

TEST_CASE("TensorDataset holds tensors of several element types and checks their sample counts") {
    Data d = make(5);
    tgd::TensorDataset data(d.x, d.t, d.y);
    static_assert(std::is_same_v<decltype(data), tgd::TensorDataset<float, std::size_t, double>>);
    CHECK(data.size() == 5);
    CHECK(data.tensor<2>()(3) == -1.5);

    CHECK_THROWS_WITH_AS(tgd::TensorDataset(d.x, Tensor<std::size_t>::from_shape({4, 4})),
                         doctest::Contains("tensor 1 has shape (4,4), 4 samples, but tensor 0 has shape (5,2,3), 5 "
                                           "samples; expected the same first extent"),
                         tg::Error);
    CHECK_THROWS_WITH_AS(tgd::TensorDataset(d.y, Tensor<float>(3.0f)), doctest::Contains("tensor 1 is 0-d"), tg::Error);
    CHECK_THROWS_WITH_AS(data.batch({0, 5}), doctest::Contains("row 5 (entry 1) of a dataset of 5 samples"), tg::Error);
    CHECK_THROWS_WITH_AS(data.slice(2, 6), doctest::Contains("rows [2, 6) of a dataset of 5 samples"), tg::Error);
}

TEST_CASE("TensorDataset batches, select and slice copy whole samples in the order asked") {
    Data d = make(6);
    tgd::TensorDataset data(d.x, d.t, d.y);
    auto [x, t, y] = data.batch({4, 1, 4});
    CHECK(x.shape() == Tensor<float>::shape_type{3, 2, 3});
    CHECK(t.shape() == Tensor<std::size_t>::shape_type{3, 4});
    CHECK(y.shape() == Tensor<double>::shape_type{3});
    CHECK(x(0, 1, 2) == 405.0f);
    CHECK(x(1, 0, 0) == 100.0f);
    CHECK(t(1, 3) == 13);
    CHECK(t(2, 0) == 40);
    CHECK(y(0) == -2.0);
    CHECK(y(1) == -0.5);

    auto tail = data.slice(4, 6);
    CHECK(tail.size() == 2);
    CHECK(tail.tensor<1>()(1, 2) == 52);
    CHECK(data.slice(3, 3).size() == 0);
    CHECK(data.select({5, 0}).tensor<0>()(0, 0, 1) == 501.0f);
}

TEST_CASE("DataLoader over a TensorDataset: every sample once per epoch, seeded, drop_last, shards") {
    Data d = make(10);
    tgd::TensorDataset data(d.t, d.y);
    tgd::DataLoader loader(data, tgd::LoaderOptions().batch_size(4).seed(7));
    static_assert(std::is_same_v<decltype(loader), tgd::DataLoader<tgd::TensorDataset<std::size_t, double>>>);
    CHECK(loader.batches_per_epoch() == 3);

    Indices seen;
    std::vector<std::size_t> sizes;
    for (const auto& [t, y] : loader.epoch(0)) {
        sizes.push_back(t.shape()[0]);
        for (std::size_t k = 0; k < t.shape()[0]; ++k) {
            const std::size_t i = t(k, 0) / 10;
            CHECK(t(k, 3) == 10 * i + 3);   // the rows of one sample stay together
            CHECK(y(k) == -double(i) / 2);  // and match across tensors
            seen.push_back(i);
        }
    }
    CHECK(sizes == std::vector<std::size_t>{4, 4, 2});
    CHECK(seen == loader.epoch(0).rows());
    Indices sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    Indices all(10);
    std::iota(all.begin(), all.end(), std::size_t(0));
    CHECK(sorted == all);

    // Same seed, same order; another seed or epoch, another order; the image loader's orders.
    tgd::DataLoader again(data, tgd::LoaderOptions().batch_size(4).seed(7));
    CHECK(again.epoch(3).rows() == loader.epoch(3).rows());
    CHECK(loader.epoch(1).rows() != loader.epoch(0).rows());
    CHECK(tgd::DataLoader(data, tgd::LoaderOptions().seed(8)).epoch(0).rows() != loader.epoch(0).rows());
    CHECK(loader.epoch(2).rows() == tgd::epoch_order(10, loader.options(), 2));

    tgd::DataLoader dropping(data, tgd::LoaderOptions().batch_size(4).drop_last(true).shuffle(false));
    CHECK(dropping.epoch(0).size() == 2);
    CHECK(std::get<0>(dropping.epoch(0).batch(1))(0, 0) == 40);
    CHECK_THROWS_WITH_AS(dropping.epoch(0).batch(2), doctest::Contains("batch 2 of an epoch of 2 batches"), tg::Error);

    tgd::DataLoader rank1(data, tgd::LoaderOptions().batch_size(2).shard(1, 3).seed(7));
    CHECK(rank1.samples_per_epoch() == 3);
    CHECK(rank1.epoch(0).rows().size() == 3);
}

TEST_CASE("DataLoader over a TensorDataset: an order seeded from a Generator repeats with the generator's seed") {
    Data d = make(50);
    tgd::TensorDataset data(d.y);
    tg::Generator a(42), b(42), c(43);
    tgd::DataLoader la(data, tgd::LoaderOptions().seed_from(a)), lb(data, tgd::LoaderOptions().seed_from(b)),
        lc(data, tgd::LoaderOptions().seed_from(c));
    CHECK(la.epoch(0).rows() == lb.epoch(0).rows());
    CHECK(la.epoch(0).rows() != lc.epoch(0).rows());
    tg::manual_seed(5);
    const Indices first =
        tgd::DataLoader(data, tgd::LoaderOptions().seed_from(tg::default_generator())).epoch(0).rows();
    tg::manual_seed(5);
    CHECK(tgd::DataLoader(data, tgd::LoaderOptions().seed_from(tg::default_generator())).epoch(0).rows() == first);
}

TEST_CASE("DataLoader over a TensorDataset refuses a loader with no batch") {
    Data d = make(3);
    tgd::TensorDataset<double> empty;
    CHECK_THROWS_WITH_AS(tgd::DataLoader(empty, tgd::LoaderOptions()),
                         doctest::Contains("0 batches per epoch: the dataset is empty"), tg::Error);
    tgd::TensorDataset data(d.y);
    CHECK_THROWS_WITH_AS(
        tgd::DataLoader(data, tgd::LoaderOptions().batch_size(4).drop_last(true)),
        doctest::Contains("drop_last drops the only, partial batch: 3 samples per epoch, batch_size 4"), tg::Error);
    CHECK_THROWS_WITH_AS(tgd::DataLoader(data, tgd::LoaderOptions().shard(3, 4)),
                         doctest::Contains("3 samples shared among 4 ranks leave none to rank 3"), tg::Error);
    tgd::DataLoader loader(data);
    CHECK_THROWS_WITH_AS(loader.over({0, 3}), doctest::Contains("row 3 (entry 1) of a dataset of 3 samples"),
                         tg::Error);
}

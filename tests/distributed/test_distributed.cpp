// Tests of distributed/, run by ctest as `mpirun -np 2 test_distributed`: collectives, broadcast, averaging,
// equivalence, sampler, checkpoints.
//
// Every test case runs on both ranks and makes the same collective calls in the same order on
// both, whatever its checks find (a rank that skipped one would leave the other waiting).
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdio>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <unistd.h>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
namespace opt = tapegrad::optim;
namespace dist = tapegrad::distributed;
namespace data = tapegrad::data;

namespace {

std::size_t rank() { return dist::world_rank(); }

template <class E, class F>
void check_throws(F f, const std::string& expected) {
    try {
        f();
        FAIL("no error thrown; expected: " << expected);
    } catch (const E& e) {
        CHECK_MESSAGE(std::string(e.what()) == expected, e.what());
    }
}

template <class T>
nn::Sequential<T> mlp(std::uint64_t seed, std::size_t hidden = 5) {
    tg::Generator gen(seed);
    return nn::Sequential<T>{nn::Linear<T>(6, hidden, true, gen), nn::Tanh{}, nn::Linear<T>(hidden, 3, true, gen)};
}

template <class T>
double max_rel_diff(const std::vector<tg::Variable<T>>& a, const std::vector<tg::Variable<T>>& b) {
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        REQUIRE(a[i].shape() == b[i].shape());
        for (std::size_t k = 0; k < a[i].size(); ++k) {
            const double x = a[i].value().data()[k], y = b[i].value().data()[k];
            worst = std::max(worst, std::abs(x - y) / (1 + std::abs(y)));
        }
    }
    return worst;
}

/// The largest difference between this rank's parameters and root's, on every rank.
template <class T>
double diff_from_root(const std::vector<tg::Variable<T>>& params) {
    double worst = 0;
    for (const auto& p : params) {
        std::vector<T> mine(p.value().begin(), p.value().end()), roots = mine;
        dist::broadcast(roots.data(), roots.size(), 0);
        for (std::size_t k = 0; k < mine.size(); ++k) worst = std::max(worst, double(std::abs(mine[k] - roots[k])));
    }
    return dist::all_max(worst);
}

}  // namespace

TEST_CASE("Session: one per process; rank and world size") {
    CHECK(dist::world_size() == 2);
    CHECK(rank() < 2);
    check_throws<tg::Error>([] { dist::Session again; },
                            "Session: a Session already exists in this process; create one, in main");
}

TEST_CASE("collectives: allreduce, broadcast, strings, one-value reductions, bad roots") {
    const double r = double(rank());
    double v[3] = {r + 1, 10 * r, -r};
    dist::allreduce(v, 3);
    CHECK(v[0] == 3);
    CHECK(v[1] == 10);
    CHECK(v[2] == -1);
    float f[2] = {float(r), float(r) + 0.5f};
    dist::allreduce(f, 2, dist::ReduceOp::max);
    CHECK(f[0] == 1.0f);
    std::int64_t i[1] = {std::int64_t(r) + 7};
    dist::allreduce(i, 1, dist::ReduceOp::min);
    CHECK(i[0] == 7);
    double b[2] = {r, r};
    dist::broadcast(b, 2, 1);
    CHECK(b[0] == 1);
    CHECK(dist::broadcast_string(rank() == 0 ? "from rank 0" : "", 0) == "from rank 0");
    CHECK(dist::all_sum(r + 1) == 3);
    CHECK(dist::all_min(r + 1) == 1);
    CHECK(dist::all_max(r + 1) == 2);
    dist::barrier();
    check_throws<tg::Error>([&] { dist::broadcast(b, 2, 2); }, "broadcast: root 2 is not a rank of a job of 2");
    check_throws<tg::Error>([] { dist::broadcast_string("x", 5); },
                            "broadcast_string: root 5 is not a rank of a job of 2");
}

TEST_CASE("throw_if_any_rank: every rank throws the first failing rank's message, as its type") {
    dist::throw_if_any_rank("");  // nobody failed: no throw
    check_throws<tg::Error>([] { dist::throw_if_any_rank(rank() == 1 ? "step 3: bad batch on rank 1" : ""); },
                            "step 3: bad batch on rank 1");
    check_throws<tg::Error>([] { dist::throw_if_any_rank(fmt::format("rank {} failed", rank())); }, "rank 0 failed");
    check_throws<tg::FileError>([] { dist::throw_if_any_rank(rank() == 1 ? "disk full" : "", true); }, "disk full");
}

TEST_CASE("broadcast_parameters: every rank takes root's parameters and buffers, in buckets") {
    tg::Generator gen(rank() + 1);  // different weights on each rank
    nn::Sequential<double> net{nn::Linear<double>(4, 3, true, gen), nn::BatchNorm1d<double>(3),
                               nn::Linear<double>(3, 2, true, gen)};
    tg::Variable<double> running_mean;
    for (const auto& [name, v] : net.state())
        if (name == "1.running_mean") running_mean = v;
    REQUIRE(running_mean.defined());
    running_mean.mutable_value().fill(double(rank() + 5));  // a buffer: 5 on rank 0, 6 on rank 1
    std::vector<tg::Variable<double>> all;
    for (const auto& [n, v] : net.state()) all.push_back(v);
    CHECK(diff_from_root(all) > 0);
    std::size_t root = 0;
    SUBCASE("from rank 0, one bucket") { dist::broadcast_parameters(net); }
    SUBCASE("from rank 0, buckets of 3 values") { dist::broadcast_parameters(net, 0, 3 * sizeof(double)); }
    SUBCASE("from rank 1") {
        root = 1;
        dist::broadcast_parameters(net, 1);
    }
    CHECK(diff_from_root(all) == 0);
    CHECK(running_mean.value()(0) == double(5 + root));  // root's buffer everywhere
    // unnamed lists, and floats
    tg::Generator g2(rank() + 10);
    std::vector<tg::Variable<float>> ps{tg::randn<float>({3, 2}, g2, true), tg::randn<float>({2}, g2, true)};
    dist::broadcast_parameters(ps);
    CHECK(diff_from_root(ps) == 0);
}

TEST_CASE("broadcast_parameters: a model that differs between ranks is the same Error on every rank") {
    const bool one = rank() == 1;
    SUBCASE("a shape") {
        nn::Sequential<double> net{nn::Linear<double>(6, one ? 4 : 5), nn::Linear<double>(one ? 4 : 5, 2)};
        const auto w0 = net.parameters()[0].value();
        check_throws<tg::Error>([&] { dist::broadcast_parameters(net); },
                                "broadcast_parameters: rank 1's model differs from root rank 0's: '0.weight' has "
                                "shape (4,6) on rank 1 but (5,6) on rank 0");
        CHECK(net.parameters()[0].value() == w0);  // nothing copied
    }
    SUBCASE("a name") {
        nn::Sequential<double> net{nn::Linear<double>(6, 5, !one), nn::Linear<double>(5, 2)};
        check_throws<tg::Error>([&] { dist::broadcast_parameters(net); },
                                "broadcast_parameters: rank 1's model differs from root rank 0's: entry 1 is "
                                "'1.weight' on rank 1 but '0.bias' on rank 0");
    }
    SUBCASE("a missing layer, named by the root of the check") {
        nn::Sequential<double> net{nn::Linear<double>(6, 5)};
        if (!one) net.push_back(nn::Linear<double>(5, 2));
        check_throws<tg::Error>([&] { dist::check_same_model(net); },
                                "check_same_model: rank 1's model differs from root rank 0's: it has 2 parameters and "
                                "buffers on rank 1 but 4 on rank 0 (the first missing on rank 1 is '1.weight' (2,5))");
        check_throws<tg::Error>([&] { dist::check_same_model(net, 1); },
                                "check_same_model: rank 0's model differs from root rank 1's: it has 4 parameters and "
                                "buffers on rank 0 but 2 on rank 1 (the first extra on rank 0 is '1.weight' (2,5))");
    }
    SUBCASE("the element type") {
        auto run = [&] {
            if (one) {
                std::vector<tg::Variable<float>> p{tg::zeros<float>({2}, true)};
                dist::broadcast_parameters(p);
            } else {
                std::vector<tg::Variable<double>> p{tg::zeros<double>({2}, true)};
                dist::broadcast_parameters(p);
            }
        };
        check_throws<tg::Error>(run,
                                "broadcast_parameters: rank 1's model differs from root rank 0's: it holds "
                                "float32 values on rank 1 but float64 on rank 0");
    }
    SUBCASE("an empty Variable, and a root that is no rank") {
        std::vector<tg::Variable<double>> p{tg::zeros<double>({2}, true),
                                            one ? tg::Variable<double>() : tg::zeros<double>({1})};
        check_throws<tg::Error>([&] { dist::broadcast_parameters(p); },
                                "broadcast_parameters: '#1' is an empty Variable on rank 1");
        check_throws<tg::Error>([&] { dist::broadcast_parameters(p, 2); },
                                "broadcast_parameters: root 2 is not a rank of a job of 2");
    }
}

TEST_CASE("averaging is exact: every rank ends with the mean of known gradients") {
    // rank r holds w.grad = (r+1) * [1, 2, 3, 4] and b.grad = [10 r]: the means are exact in binary.
    auto w = tg::zeros<double>({2, 2}, true), b = tg::zeros<double>({1}, true), unused = tg::zeros<double>({3}, true);
    const double r = double(rank());
    auto set = [&] {
        w.set_grad(tg::Tensor<double>{{1 * (r + 1), 2 * (r + 1)}, {3 * (r + 1), 4 * (r + 1)}});
        b.set_grad(tg::Tensor<double>{10 * r});
        unused.zero_grad();
    };
    SUBCASE("one bucket") {
        dist::GradientAverager<double> avg({w, b, unused});
        CHECK(avg.elements_per_step() == 4 + 1 + 3 + 3 + 1);  // grads, flags, weight
        CHECK(avg.buckets_per_step() == 1);
        set();
        avg.average();
        CHECK(w.grad() == tg::Tensor<double>{{1.5, 3.0}, {4.5, 6.0}});
        CHECK(b.grad() == tg::Tensor<double>{5.0});
        CHECK(!unused.has_grad());  // no rank had one: still none, so an optimizer skips it
        CHECK(avg.stats().steps == 1);
        CHECK(avg.stats().calls == 1);
        CHECK(avg.stats().bytes == 12 * sizeof(double));
    }
    SUBCASE("buckets of 5 values split tensors across calls") {
        dist::GradientAverager<double> avg({w, b, unused}, 5 * sizeof(double));
        CHECK(avg.buckets_per_step() == 3);
        for (int step = 0; step < 2; ++step) {
            set();
            avg.average();
            CHECK(w.grad() == tg::Tensor<double>{{1.5, 3.0}, {4.5, 6.0}});
        }
        CHECK(avg.stats().calls == 6);
    }
    SUBCASE("a gradient missing on one rank counts as zeros; every rank gets the mean") {
        dist::GradientAverager<double> avg({w, b});
        set();
        if (rank() == 1) w.zero_grad();
        avg.average();
        REQUIRE(w.has_grad());
        CHECK(w.grad() == tg::Tensor<double>{{0.5, 1.0}, {1.5, 2.0}});
    }
    SUBCASE("weighted by samples: 3 on rank 0, 1 on rank 1") {
        dist::GradientAverager<double> avg({w, b});
        set();
        avg.average(rank() == 0 ? 3 : 1);
        CHECK(w.grad() == tg::Tensor<double>{{1.25, 2.5}, {3.75, 5.0}});  // (3*1 + 1*2) / 4
        CHECK(b.grad() == tg::Tensor<double>{2.5});
    }
    SUBCASE("a rank with no samples and no backward") {
        dist::GradientAverager<double> avg({w, b});
        set();
        if (rank() == 1) {
            w.zero_grad();
            b.zero_grad();
        }
        avg.average(rank() == 0 ? 4 : 0);
        CHECK(w.grad() == tg::Tensor<double>{{1.0, 2.0}, {3.0, 4.0}});  // rank 0's alone
    }
    SUBCASE("no samples anywhere: no gradients anywhere") {
        dist::GradientAverager<double> avg({w, b});
        set();
        avg.average(0);
        CHECK(!w.has_grad());
        CHECK(!b.has_grad());
    }
    SUBCASE("float") {
        auto wf = tg::zeros<float>({3}, true);
        dist::GradientAverager<float> avg({wf}, 2 * sizeof(float));
        wf.set_grad(tg::Tensor<float>{float(r), 1.0f + float(r), -3.0f * float(r)});
        avg.average();
        CHECK(wf.grad() == tg::Tensor<float>{0.5f, 1.5f, -1.5f});
        CHECK(avg.buckets_per_step() == 3);
    }
    check_throws<tg::Error>([&] { dist::GradientAverager<double>({w}, 7); },
                            "GradientAverager: bucket_bytes 7 is smaller than one element (8 bytes)");
    check_throws<tg::Error>(
        [&] {
            dist::GradientAverager<double>({w, tg::Variable<double>()});
        },
        "GradientAverager: parameter 1 is an empty Variable");
    check_throws<tg::Error>([] { dist::DataParallelOptions().bucket_bytes(4); },
                            "DataParallelOptions::bucket_bytes: got 4; expected at least 8 (one element)");
}

namespace {

/// 5 SGD steps (momentum, weight decay) of the 6-5-3 network on 8 rows: in one process on all
/// rows, and data-parallel with each rank on its half. Returns the largest relative difference.
template <class T>
double equivalence(const opt::SGDOptions& options) {
    tg::Generator gen(42);
    tg::Tensor<T> X = tg::Tensor<T>::from_shape({8, 6});
    for (auto& x : X) x = T(gen.uniform(-1, 1));
    const tg::Indices labels{0, 2, 1, 1, 0, 2, 2, 1};

    auto whole = mlp<T>(7);
    opt::SGD<T> sgd1(whole.parameters(), options);
    for (int step = 0; step < 5; ++step) {
        sgd1.zero_grad();
        tg::cross_entropy(whole(tg::constant(X)), labels).backward();
        sgd1.step();
    }

    auto net = mlp<T>(rank() == 0 ? 7 : 99);  // rank 1 starts elsewhere: the broadcast fixes it
    dist::DataParallel<T> ddp(net);
    opt::SGD<T> sgd(net.parameters(), options);
    const std::size_t half = 4, first = rank() * half;
    tg::Tensor<T> mine = tg::Tensor<T>::from_shape({half, 6});
    std::copy(X.begin() + long(first * 6), X.begin() + long((first + half) * 6), mine.begin());
    const tg::Indices my_labels(labels.begin() + long(first), labels.begin() + long(first + half));
    for (int step = 0; step < 5; ++step) {
        sgd.zero_grad();
        tg::cross_entropy(ddp(tg::constant(mine)), my_labels).backward();
        ddp.step(sgd);
    }
    CHECK(ddp.stats().steps == 5);
    CHECK(ddp.stats().calls == 5);                 // one allreduce per step
    CHECK(diff_from_root(net.parameters()) == 0);  // the ranks agree bit for bit
    return max_rel_diff(net.parameters(), whole.parameters());
}

}  // namespace

TEST_CASE("equivalence: 5 SGD steps on 2 ranks with half a batch each = 5 steps on the whole batch") {
    const auto options = opt::SGDOptions(0.5).momentum(0.9).weight_decay(1e-3);
    CHECK(equivalence<double>(options) < 1e-12);
    CHECK(equivalence<float>(options) < 1e-5);
}

namespace {

/// n images of 1x2x3 random bytes and labels below 3.
data::ImageDataset random_images(std::size_t n, std::uint64_t seed) {
    tg::Generator gen(seed);
    std::vector<std::uint8_t> pixels(n * 6);
    for (auto& p : pixels) p = std::uint8_t(gen.uniform(0, 256));
    tg::Indices labels(n);
    for (auto& l : labels) l = std::size_t(gen.uniform(0, 3));
    return data::ImageDataset(std::move(pixels), std::move(labels), 1, 2, 3, 3);
}

}  // namespace

TEST_CASE("equivalence with the sampler: 2 ranks x batch 3 = one process x batch 6, uneven last batches too") {
    // 13 rows in global batches of 6: 6, 6, 1 — in the last step rank 1 has no row at all.
    const auto images = random_images(13, 3);
    const auto options = opt::SGDOptions(0.3).momentum(0.5);

    auto whole = mlp<double>(11);
    opt::SGD<double> sgd1(whole.parameters(), options);
    data::DataLoader<double> one(images, data::LoaderOptions().batch_size(6).seed(9));
    for (std::size_t e = 0; e < 2; ++e)
        for (const auto& batch : one.epoch(e)) {
            sgd1.zero_grad();
            tg::cross_entropy(whole(tg::constant(batch.images)), batch.labels).backward();
            sgd1.step();
        }

    auto net = mlp<double>(rank() == 0 ? 11 : 12);
    dist::DataParallel<double> ddp(net);
    opt::SGD<double> sgd(net.parameters(), options);
    const auto lo = data::LoaderOptions().batch_size(3).seed(9).shard(rank(), 2);
    data::DataLoader<double> loader(images, lo);
    dist::DistributedSampler sampler(images.size(), lo);
    CHECK(sampler.steps() == 3);
    std::size_t empty_steps = 0;
    for (std::size_t e = 0; e < 2; ++e) {
        const auto epoch = sampler.epoch(loader, e);
        CHECK(epoch.size() == (rank() == 0 ? 3 : 2));
        for (std::size_t i = 0; i < sampler.steps(); ++i) {
            sgd.zero_grad();
            std::size_t samples = 0;
            if (i < epoch.size()) {
                const auto batch = epoch.batch(i);
                tg::cross_entropy(ddp(tg::constant(batch.images)), batch.labels).backward();
                samples = batch.size();
            } else {
                ++empty_steps;
            }
            ddp.step(sgd, samples);
        }
    }
    CHECK(empty_steps == (rank() == 1 ? 2 : 0));
    CHECK(max_rel_diff(net.parameters(), whole.parameters()) < 1e-12);
    CHECK(diff_from_root(net.parameters()) == 0);
}

TEST_CASE("sampler: every index exactly once per epoch across ranks, reshuffled every epoch") {
    for (std::size_t world : {1, 2, 3, 4, 7})
        for (std::size_t n : {7, 8, 13, 100, 1001}) {
            const auto base = data::LoaderOptions().batch_size(4).seed(n * 31 + world);
            std::vector<tg::Indices> epochs;
            for (std::size_t e = 0; e < 3; ++e) {
                tg::Indices seen(n, 0), all;
                std::set<std::size_t> sizes;
                for (std::size_t r = 0; r < world; ++r) {
                    dist::DistributedSampler s(n, data::LoaderOptions(base).shard(r, world));
                    const auto mine = s.indices(e);
                    CHECK(mine.size() == s.size());
                    sizes.insert(mine.size());
                    for (auto i : mine) ++seen[i];
                    all.insert(all.end(), mine.begin(), mine.end());
                }
                INFO("n = " << n << ", world = " << world << ", epoch " << e);
                CHECK(std::all_of(seen.begin(), seen.end(), [](std::size_t c) { return c == 1; }));
                CHECK(*sizes.rbegin() - *sizes.begin() <= 1);
                epochs.push_back(all);
            }
            CHECK(epochs[0] != epochs[1]);
            CHECK(epochs[1] != epochs[2]);
            // the same seed and epoch give the same order
            dist::DistributedSampler s(n, data::LoaderOptions(base).shard(0, world));
            CHECK(s.indices(1) == s.indices(1));
        }
    // without shuffling: rank r takes r, r + world, ...
    dist::DistributedSampler s(7, data::LoaderOptions().shuffle(false).shard(1, 3));
    CHECK(s.indices(0) == tg::Indices{1, 4});
    CHECK(s.indices(5) == tg::Indices{1, 4});
    // batch i of every rank together = batch i of one process with a world-times larger batch
    const auto lo = data::LoaderOptions().batch_size(2).seed(4);
    const auto order = data::epoch_order(11, lo, 3);
    std::multiset<std::size_t> together;
    for (std::size_t r = 0; r < 2; ++r) {
        const auto mine = dist::DistributedSampler(11, data::LoaderOptions(lo).shard(r, 2)).indices(3);
        together.insert(mine.begin() + 2, mine.begin() + 4);  // batch 1 of rank r
    }
    CHECK(together == std::multiset<std::size_t>(order.begin() + 4, order.begin() + 8));
}

TEST_CASE("sampler: in the job, the two ranks' shares are disjoint and cover the dataset") {
    const std::size_t n = 1001;
    dist::DistributedSampler s(n, data::LoaderOptions().seed(77).shard(rank(), dist::world_size()));
    for (std::size_t e = 0; e < 2; ++e) {
        std::vector<std::int64_t> count(n, 0);
        for (auto i : s.indices(e)) ++count[i];
        dist::allreduce(count.data(), n);
        CHECK(std::all_of(count.begin(), count.end(), [](std::int64_t c) { return c == 1; }));
    }
    CHECK(s.size() == (rank() == 0 ? 501 : 500));
    CHECK(s.steps() == 8);  // ceil(1001 / (64 * 2))
}

TEST_CASE("sampler: errors") {
    check_throws<tg::Error>([] { dist::DistributedSampler(0, data::LoaderOptions()); },
                            "DistributedSampler: the dataset has no rows");
    check_throws<tg::Error>(
        [] { dist::DistributedSampler(3, data::LoaderOptions().shard(0, 4)); },
        "DistributedSampler: 3 rows cannot be shared by 4 ranks; expected at least one row per rank");
    const auto images = random_images(10, 1);
    data::DataLoader<float> loader(images, data::LoaderOptions().batch_size(4));
    check_throws<tg::Error>(
        [&] { dist::DistributedSampler(10, data::LoaderOptions().batch_size(5).drop_last(true)).epoch(loader, 0); },
        "DistributedSampler::epoch: the loader has 10 rows in batches of 4, the sampler 10 rows in batches of 5 "
        "(drop_last); make both from the same dataset and LoaderOptions");
    // drop_last: only full global batches
    CHECK(dist::DistributedSampler(21, data::LoaderOptions().batch_size(5).drop_last(true).shard(0, 2)).steps() == 2);
}

TEST_CASE("checkpoints: rank 0 writes, every rank loads the same model; failures reach every rank") {
    const std::string dir = dist::broadcast_string(
        (std::filesystem::temp_directory_path() / fmt::format("tapegrad_dist_{}", ::getpid())).string(), 0);
    if (rank() == 0) std::filesystem::create_directories(dir);
    dist::barrier();
    const std::string path = dir + "/model.npz";

    auto net = mlp<double>(rank() == 0 ? 1 : 2);
    const auto saved = mlp<double>(1).parameters();  // rank 0's values
    dist::save(net, path);
    CHECK(std::filesystem::exists(path));  // complete on return, on every rank

    auto other = mlp<double>(rank() + 30);
    dist::load(other, path);
    CHECK(max_rel_diff(other.parameters(), saved) == 0);
    CHECK(diff_from_root(other.parameters()) == 0);
    // every rank may also read the file itself with nn::load: the same model
    auto third = mlp<double>(rank() + 40);
    nn::load(third, path);
    CHECK(max_rel_diff(third.parameters(), saved) == 0);

    const std::string missing = dir + "/no/such/dir/model.npz";
    try {
        dist::save(net, missing);
        FAIL("no error thrown");
    } catch (const tg::FileError& e) {
        CHECK(std::string(e.what()).find(missing) != std::string::npos);
    }
    const auto before = other.parameters()[0].value();
    try {
        dist::load(other, missing);
        FAIL("no error thrown");
    } catch (const tg::FileError& e) {
        CHECK(std::string(e.what()).find(missing) != std::string::npos);
    }
    CHECK(other.parameters()[0].value() == before);
    // a model of another shape on rank 1: every rank refuses before rank 0 reads
    auto wrong = mlp<double>(3, rank() == 1 ? 4 : 5);
    const auto root_before = wrong.parameters()[0].value();
    check_throws<tg::Error>([&] { dist::load(wrong, path); },
                            "distributed::load: rank 1's model differs from root rank 0's: '0.weight' has shape (4,6) "
                            "on rank 1 but (5,6) on rank 0");
    CHECK(wrong.parameters()[0].value() == root_before);
    // a model of another shape everywhere: rank 0's load fails and everyone gets its Error
    auto small = mlp<double>(3, 4);
    check_throws<tg::Error>([&] { dist::load(small, path); },
                            fmt::format("load('{}'): '0.weight' has shape (5,6), but parameter 'weight' of layer 0, "
                                        "Linear(in_features=6, out_features=4, bias=true), expects (4,6)",
                                        path));
    check_throws<tg::Error>([&] { dist::save(net, path, 3); }, "distributed::save: root 3 is not a rank of a job of 2");

    dist::barrier();
    if (rank() == 0) std::filesystem::remove_all(dir);
}

int main(int argc, char** argv) {
    tapegrad::distributed::Session session(argc, argv);
    if (session.world_size() != 2) {
        std::fprintf(stderr, "test_distributed: run it with mpirun -np 2 (got %zu processes)\n", session.world_size());
        return 1;
    }
    doctest::Context context(argc, argv);
    // Both ranks run every test; rank 1 reports only failures, so the log stays readable.
    if (!session.is_root()) context.setOption("minimal", true);
    context.setOption("no-colors", true);  // mpirun hands the ranks a terminal, ctest's log is none
    const int failed = context.run();
    // A failure on either rank fails the job on both (mpirun reports the first non-zero exit).
    const double any = dist::all_max(failed ? 1.0 : 0.0);
    return any > 0 ? 1 : 0;
}

// mpi_mlp: the Fashion-MNIST MLP (784-128-10) trained data-parallel over MPI, with per-rank throughput and the share of
// step time spent communicating.
//
//     mpirun -np 2 ./build/examples/mpi_mlp                  (as root: add --allow-run-as-root)
//     ./build/examples/mpi_mlp                               (one process, for comparison)
//     options: --epochs N (default 2)  --batch B (global batch, default 128)  --limit N (first N images)
//              --split-wait 1 (a barrier before each allreduce, timed: how much of the communication
//              time is waiting for the slower rank rather than moving bytes)
//
// Every rank holds the whole model and a 1/world share of each global batch: rank 0's weights
// are broadcast at the start, each step averages the gradients over the ranks (one allreduce of
// ~0.4 MB), and every rank makes the same SGD update. With the same global batch, 1 and 2
// processes train the same model (up to rounding); 2 processes do each step's arithmetic in half
// the time, and pay for the allreduce.
#ifdef TAPEGRAD_HAS_MPI

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/core.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace data = tapegrad::data;
namespace dist = tapegrad::distributed;

namespace {

struct Settings {
    std::size_t epochs = 2, batch = 128, limit = 0;
    bool split_wait = false;
};

Settings parse(int argc, char** argv) {
    Settings s;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::size_t value = std::stoul(argv[i + 1]);
        if (flag == "--epochs")
            s.epochs = value;
        else if (flag == "--batch")
            s.batch = value;
        else if (flag == "--limit")
            s.limit = value;
        else if (flag == "--split-wait")
            s.split_wait = value != 0;
        else
            throw tg::Error(
                fmt::format("mpi_mlp: unknown option '{}' (expected --epochs, --batch, --limit, "
                            "--split-wait)",
                            flag));
    }
    return s;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Rank 0 prints every rank's line, in rank order.
void print_in_order(const dist::Session& s, const std::string& line) {
    for (std::size_t r = 0; r < s.world_size(); ++r) {
        const std::string got = dist::broadcast_string(line, r);
        if (s.is_root()) fmt::print("{}\n", got);
    }
}

/// Test accuracy, with the test set shared among the ranks and the counts summed.
double accuracy(nn::Module<float>& net, const data::ImageDataset& test, const dist::Session& s) {
    const auto options = data::LoaderOptions()
                             .batch_size(1000)
                             .shuffle(false)
                             .normalize(data::fashion_mnist_mean, data::fashion_mnist_std)
                             .shard(s.rank(), s.world_size());
    data::DataLoader<float> loader(test, options);
    dist::DistributedSampler sampler(test.size(), options);
    tg::NoGradGuard no_grad;
    double correct = 0;
    for (const auto& batch : sampler.epoch(loader, 0)) {
        const auto logits = net(tg::constant(batch.images));
        const float* z = logits.value().data();
        for (std::size_t i = 0; i < batch.size(); ++i, z += 10)
            correct += double(std::size_t(std::max_element(z, z + 10) - z) == batch.labels[i]);
    }
    return dist::all_sum(correct) / double(test.size());
}

void train(dist::Session& s, const Settings& settings) {
    // The ranks share this machine's cores: one OpenBLAS thread each (for an MLP of this size
    // one thread is also the fastest choice in one process).
    tg::set_num_threads(1);
    if (!data::fashion_mnist_available()) {
        if (s.is_root())
            fmt::print("mpi_mlp: Fashion-MNIST not found in {} (apt-get install dataset-fashion-mnist)\n",
                       data::fashion_mnist_default_dir());
        return;
    }
    data::ImageDataset train = data::load_fashion_mnist(data::Split::train);
    const data::ImageDataset test = data::load_fashion_mnist(data::Split::test);
    if (settings.limit > 0 && settings.limit < train.size()) train = train.subset(settings.limit);

    const std::size_t world = s.world_size();
    if (settings.batch % world != 0)
        throw tg::Error(
            fmt::format("mpi_mlp: the global batch {} does not split evenly over {} ranks", settings.batch, world));
    const std::size_t local_batch = settings.batch / world;
    const auto options = data::LoaderOptions()
                             .batch_size(local_batch)
                             .seed(1)
                             .normalize(data::fashion_mnist_mean, data::fashion_mnist_std)
                             .shard(s.rank(), world);
    data::DataLoader<float> loader(train, options);
    dist::DistributedSampler sampler(train.size(), options);

    tg::manual_seed(1);
    nn::Sequential<float> net{nn::Linear<float>(784, 128), nn::ReLU{}, nn::Linear<float>(128, 10)};
    dist::DataParallel<float> ddp(net);  // every rank now has rank 0's weights
    tg::optim::SGD<float> sgd(net.parameters(), tg::optim::SGDOptions(0.05).momentum(0.9));

    if (s.is_root())
        fmt::print(
            "mpi_mlp: {} rank(s), global batch {} ({} per rank), {} training images, {} epoch(s); "
            "{:.1f} KB allreduced per step in {} call(s)\n",
            world, settings.batch, local_batch, train.size(), settings.epochs,
            double(ddp.averager().bytes_per_step()) / 1e3, ddp.averager().buckets_per_step());

    double step_seconds = 0, wait_seconds = 0;
    std::size_t steps = 0, images = 0;
    for (std::size_t e = 0; e < settings.epochs; ++e) {
        const auto epoch = sampler.epoch(loader, e);
        double loss_sum = 0, seen = 0;
        for (std::size_t i = 0; i < sampler.steps(); ++i) {
            const auto start = std::chrono::steady_clock::now();
            sgd.zero_grad();
            std::size_t samples = 0;
            if (i < epoch.size()) {  // a rank may have no rows in an epoch's very last step
                const auto batch = epoch.batch(i);
                auto loss = tg::cross_entropy(ddp(tg::constant(batch.images)), batch.labels);
                loss.backward();
                samples = batch.size();
                loss_sum += double(loss.item()) * double(samples);
            }
            if (settings.split_wait) {
                const auto wait = std::chrono::steady_clock::now();
                dist::barrier();
                wait_seconds += seconds_since(wait);
            }
            ddp.step(sgd, samples);
            step_seconds += seconds_since(start);
            ++steps;
            images += samples;
            seen += double(samples);
        }
        const double mean_loss = dist::all_sum(loss_sum) / dist::all_sum(seen);
        const double acc = accuracy(net, test, s);
        if (s.is_root())
            fmt::print("epoch {}: training loss {:.4f}, test accuracy {:.2f}%\n", e + 1, mean_loss, 100 * acc);
    }

    const auto& st = ddp.stats();
    print_in_order(s, fmt::format("rank {}: {} images in {:.2f} s of steps = {:.0f} images/s; step {:.3f} ms, of which "
                                  "allreduce {:.3f} ms ({:.1f}%), packing and averaging {:.3f} ms",
                                  s.rank(), images, step_seconds, double(images) / step_seconds,
                                  1e3 * step_seconds / double(steps), 1e3 * st.allreduce_seconds / double(steps),
                                  100 * st.allreduce_seconds / step_seconds,
                                  1e3 * (st.seconds - st.allreduce_seconds) / double(steps)));
    if (settings.split_wait)
        print_in_order(s, fmt::format("rank {}: waiting for the other ranks before the allreduce {:.3f} ms per step "
                                      "({:.1f}%)",
                                      s.rank(), 1e3 * wait_seconds / double(steps), 100 * wait_seconds / step_seconds));
    const double total = dist::all_sum(double(images)) / dist::all_max(step_seconds);
    if (s.is_root()) fmt::print("all ranks: {:.0f} images/s\n", total);

    // Rank 0 alone writes the checkpoint; loading it gives every rank the same model.
    const std::string path = (std::filesystem::temp_directory_path() / "tapegrad_mpi_mlp.npz").string();
    dist::save(net, path);
    nn::Sequential<float> fresh{nn::Linear<float>(784, 128), nn::ReLU{}, nn::Linear<float>(128, 10)};
    dist::load(fresh, path);
    const double reloaded = accuracy(fresh, test, s);
    if (s.is_root())
        fmt::print("checkpoint {} (written by rank 0), reloaded on every rank: test accuracy {:.2f}%\n", path,
                   100 * reloaded);
}

}  // namespace

int main(int argc, char** argv) {
    // run(): an exception on any rank ends the whole job with that rank's message.
    return dist::run(argc, argv, [&](dist::Session& s) { train(s, parse(argc, argv)); });
}

#else  // built without MPI

#include <cstdio>

int main() {
    std::puts("mpi_mlp: this tapegrad was built without MPI; install libopenmpi-dev openmpi-bin and reconfigure");
}

#endif

// The two sides of every workload, with the same signatures: bench::tg (tapegrad) and bench::lt (libtorch).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common.hpp"

namespace bench {

namespace tg {
/// Threads for matrix products (tapegrad::set_num_threads: oneDNN and OpenBLAS).
void set_threads(int threads);
/// e.g. "tapegrad 0.1.0".
std::string version();
/// tapegrad::build_info() as text: GEMM libraries, OpenBLAS core, CPU features, threads, flags.
std::string build_info();
/// Training steps (forward, backward, SGD update) of `model` on a fixed pool of `batches` batches
/// of recipe.batch training images, from the shared initial weights. probe(): the last loss.
/// Null when the side cannot build the model.
std::unique_ptr<Runner> make_step(Model model, const ImageSet& train, const Recipe& recipe, std::size_t batches);
/// A chain of `length` ops alternating y*w, y+w, tanh(y), starting from x, on rows x cols values;
/// x and w require grad. One iteration: the chain and (with grad) its backward; without grad the
/// chain runs with recording off. probe(): the sum of w's gradient (of the output without grad).
std::unique_ptr<Runner> make_chain(std::size_t rows, std::size_t cols, bool grad, std::size_t length);
/// y = x W^T + b, then backward with a fixed upstream gradient into x, W and b.
/// probe(): the sum of W's gradient.
std::unique_ptr<Runner> make_linear(std::size_t batch, std::size_t in, std::size_t out);
/// One epoch over the training set (the first `limit` images when limit > 0) in the shared order,
/// then the accuracy on the test set.
EpochResult run_epoch(Model model, const Recipe& recipe, std::size_t limit);
}  // namespace tg

namespace lt {  // the same workloads on libtorch, written the way libtorch's users write them
void set_threads(int threads);
std::string version();
std::unique_ptr<Runner> make_step(Model model, const ImageSet& train, const Recipe& recipe, std::size_t batches);
std::unique_ptr<Runner> make_chain(std::size_t rows, std::size_t cols, bool grad, std::size_t length);
std::unique_ptr<Runner> make_linear(std::size_t batch, std::size_t in, std::size_t out);
EpochResult run_epoch(Model model, const Recipe& recipe, std::size_t limit);
}  // namespace lt

/// The three products of a Linear(in -> out) forward and backward on `batch` rows (x W^T, g W,
/// g^T x) called straight on OpenBLAS: what any framework could at best reach.
std::unique_ptr<Runner> make_sgemm_linear(std::size_t batch, std::size_t in, std::size_t out);
/// One square n x n x n sgemm: the machine's rate on a large, friendly shape (on OpenBLAS).
std::unique_ptr<Runner> make_sgemm_square(std::size_t n);
/// The same product on oneDNN's dnnl_sgemm: the reference is the faster of the two.
std::unique_ptr<Runner> make_dnnl_sgemm_square(std::size_t n);
/// OpenBLAS's build configuration and the kernel it picked for this CPU.
std::string openblas_info();

}  // namespace bench

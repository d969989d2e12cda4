// How many threads tapegrad's kernels use.
#pragma once

namespace tapegrad {

/// Threads each matrix product may use, in both GEMM libraries (oneDNN for float, OpenBLAS for
/// double). The default is 1, or the value of the environment variable TAPEGRAD_NUM_THREADS when
/// the library loads: small models (the lessons' MLP and CNN) are fastest on one thread, and a
/// shared machine is not flooded with spinning workers. Values below 1 count as 1. Process-wide:
/// OpenBLAS has one thread count per process (libtorch in the same process shares it).
void set_num_threads(int threads);
/// The thread count set_num_threads() last set (or the default).
int get_num_threads();

}  // namespace tapegrad

// How many threads tapegrad's kernels use.
#pragma once

namespace tapegrad {

/// Threads the matrix products use (for small MLPs one thread is often fastest).
void set_num_threads(int threads);
int get_num_threads();

}  // namespace tapegrad

// Uses the installed tapegrad's distributed component: a gradient summed over the ranks of the job.
#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <cstdio>

#ifndef TAPEGRAD_HAS_MPI
#error "linking tapegrad::distributed defines TAPEGRAD_HAS_MPI, so that tapegrad.hpp brings in distributed/"
#endif

int main(int argc, char** argv) {
    namespace tg = tapegrad;
    namespace dist = tapegrad::distributed;
    dist::Session session(argc, argv);  // one process when started without mpirun
    auto x = tg::parameter(xt::xarray<double>{0.5, -1.0});
    tg::sum(x * x).backward();
    tg::Tensor<double> g = x.grad();
    dist::allreduce(g.data(), g.size());
    const double expected = 2 * 0.5 * double(session.world_size());
    const bool ok = std::abs(g(0) - expected) < 1e-12;
    if (session.is_root())
        std::printf(
            "consumer_distributed: find_package(tapegrad COMPONENTS distributed) works, %zu rank(s), "
            "allreduced gradient %s\n",
            session.world_size(), ok ? "correct" : "WRONG");
    return ok ? 0 : 1;
}

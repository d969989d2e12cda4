// The MPI program test_distributed_abort launches: each mode fails (or not) in one way, to see how the job ends.
#include <cstdio>
#include <stdexcept>
#include <string>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;
namespace dist = tapegrad::distributed;

namespace {

// Rank 1 fails; rank 0 meanwhile waits in a collective that rank 1 never joins, and would
// wait forever if the failure did not end the job.
void rank1_throws(dist::Session& s) {
    s.barrier();
    if (s.rank() == 1) throw std::runtime_error("the data loader failed on rank 1");
    dist::all_sum(1.0);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "ok")  // a clean job, for comparison
        return dist::run(argc, argv, [](dist::Session& s) { dist::all_sum(double(s.rank())); });
    if (mode == "run")  // the recommended main: run() catches, prints and aborts
        return dist::run(argc, argv, rank1_throws);
    if (mode == "terminate") {  // no run(): the exception escapes main, std::terminate aborts the job
        dist::Session s(argc, argv);
        rank1_throws(s);
        return 0;
    }
    if (mode == "unwind") {  // caught outside the Session's scope: its destructor aborts the job
        try {
            dist::Session s(argc, argv);
            rank1_throws(s);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "caught after the Session: %s\n", e.what());
        }
        return 0;
    }
    if (mode == "mismatch")  // models differ: every rank throws the same Error, the job ends with it
        return dist::run(argc, argv, [](dist::Session& s) {
            tg::nn::Linear<float> layer(s.rank() == 1 ? 3 : 4, 2);
            tg::distributed::DataParallel<float> ddp(layer);
        });
    if (mode == "no-session") {  // a distributed call before any Session: a clear Error
        try {
            dist::all_sum(1.0);
        } catch (const tg::Error& e) {
            std::printf("%s\n", e.what());
            return 0;
        }
        return 1;
    }
    if (mode == "truncate")  // an MPI error (rank 1 expects fewer values than rank 0 sends) becomes an Error
        return dist::run(argc, argv, [](dist::Session& s) {
            double values[4] = {1, 2, 3, 4};
            dist::broadcast(values, s.rank() == 0 ? 4 : 2, 0);
            dist::barrier();
        });
    if (mode == "reinit") {  // MPI starts once per process: a second Session after the first is an Error
        { dist::Session first(argc, argv); }
        try {
            dist::Session second(argc, argv);
        } catch (const tg::Error& e) {
            std::printf("%s\n", e.what());
            return 0;
        }
        return 1;
    }
    std::fprintf(stderr,
                 "usage: test_distributed_abort_child ok|run|terminate|unwind|mismatch|no-session|truncate|"
                 "reinit\n");
    return 2;
}

// Tests of failure in an MPI job: a rank that throws ends the whole job within seconds, non-zero, with its message.
//
// Each test runs test_distributed_abort_child under mpirun (paths from CMake) and checks the
// exit status, the output and the time taken. `timeout` bounds a job that hangs.
#include <chrono>
#include <cstdio>
#include <string>

#include <sys/wait.h>

#include <doctest/doctest.h>

namespace {

struct Outcome {
    int status = -1;  // exit status of the shell command (124: killed by timeout)
    std::string output;
    double seconds = 0;
};

Outcome run(const std::string& command) {
    const auto start = std::chrono::steady_clock::now();
    Outcome out;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.output.append(buf, n);
    const int raw = pclose(pipe);
    out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
}

Outcome job(const std::string& mode) {
    return run(std::string("timeout 60 ") + TAPEGRAD_MPIEXEC + " " + TAPEGRAD_MPIEXEC_FLAGS + " -np 2 " +
               TAPEGRAD_ABORT_CHILD + " " + mode);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// "Within a few seconds": the job starts in about half a second here; a hang would be 60.
constexpr double prompt = 15.0;

}  // namespace

TEST_CASE("a clean job exits 0 (the harness itself works)") {
    const Outcome o = job("ok");
    INFO(o.output);
    CHECK(o.status == 0);
}

TEST_CASE("run(): rank 1 throws while rank 0 waits in a collective; the job ends at once with rank 1's message") {
    const Outcome o = job("run");
    INFO(o.output);
    CHECK(o.status != 0);
    CHECK(o.status != 124);  // not ended by the timeout
    CHECK(o.seconds < prompt);
    CHECK(contains(o.output, "rank 1: the data loader failed on rank 1"));
}

TEST_CASE("an uncaught exception under a Session (no run()) ends the job the same way") {
    const Outcome o = job("terminate");
    INFO(o.output);
    CHECK(o.status != 0);
    CHECK(o.status != 124);
    CHECK(o.seconds < prompt);
    CHECK(contains(o.output, "rank 1: the data loader failed on rank 1"));
}

TEST_CASE("an exception unwinding past the Session aborts the job instead of finalising") {
    const Outcome o = job("unwind");
    INFO(o.output);
    CHECK(o.status != 0);
    CHECK(o.status != 124);
    CHECK(o.seconds < prompt);
    CHECK(contains(o.output, "rank 1: an exception is unwinding past the Session"));
}

TEST_CASE("models that differ between ranks end the job with the broadcast's message") {
    const Outcome o = job("mismatch");
    INFO(o.output);
    CHECK(o.status != 0);
    CHECK(o.status != 124);
    CHECK(o.seconds < prompt);
    CHECK(contains(o.output,
                   "broadcast_parameters: rank 1's model differs from root rank 0's: 'weight' has shape "
                   "(2,3) on rank 1 but (2,4) on rank 0"));
}

TEST_CASE("a distributed call without a Session is an Error that says what to do") {
    const Outcome o = run(std::string(TAPEGRAD_ABORT_CHILD) + " no-session");
    INFO(o.output);
    CHECK(o.status == 0);
    CHECK(contains(o.output, "allreduce: MPI is not initialised; create a tapegrad::distributed::Session first"));
}

TEST_CASE("an MPI error comes back as an Error naming the call (and run() ends the job with it)") {
    const Outcome o = job("truncate");
    INFO(o.output);
    CHECK(o.status != 0);
    CHECK(o.status != 124);
    CHECK(o.seconds < prompt);
    CHECK(contains(o.output, "rank 1: MPI_Bcast: MPI_ERR_TRUNCATE: message truncated"));
}

TEST_CASE("a second Session after the first has ended is an Error: MPI starts once per process") {
    const Outcome o = run(std::string(TAPEGRAD_ABORT_CHILD) + " reinit");
    INFO(o.output);
    CHECK(o.status == 0);
    CHECK(contains(o.output,
                   "Session: MPI was already finalised in this process (by an earlier Session); MPI can be "
                   "initialised only once, so keep one Session for the whole program"));
}

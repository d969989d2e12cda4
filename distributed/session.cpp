// Session: MPI init/finalize, the error handler, the terminate handler and run()'s catch-and-abort.
#include <tapegrad/distributed/session.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include <fmt/format.h>
#include <mpi.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/distributed/collectives.hpp>

namespace tapegrad::distributed {

namespace {

// One live Session per process; the terminate handler reads its rank.
bool session_alive = false;
int live_rank = -1;

[[noreturn]] void abort_job(int rank, const std::string& message, int code) {
    // One write, flushed before MPI_Abort: mpirun kills the other ranks as soon as it hears
    // of the abort, and this line must already be on its way.
    const std::string line = fmt::format("rank {}: {}\n", rank, message);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; this is for the compiler
}

std::string describe(std::exception_ptr e) {
    if (!e) return "terminate called without an active exception";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "an exception of unknown type";
    }
}

void on_terminate() { abort_job(live_rank, describe(std::current_exception()), 1); }

}  // namespace

Session::Session() { start(nullptr, nullptr); }
Session::Session(int& argc, char**& argv) { start(&argc, &argv); }

void Session::start(int* argc, char*** argv) {
    if (session_alive) throw Error("Session: a Session already exists in this process; create one, in main");
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized)
        throw Error(
            "Session: MPI was already finalised in this process (by an earlier Session); MPI can be "
            "initialised only once, so keep one Session for the whole program");
    if (!initialized) {
        if (MPI_Init(argc, argv) != MPI_SUCCESS) throw Error("Session: MPI_Init failed");
        owns_mpi_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int r = 0, n = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    rank_ = std::size_t(r);
    world_ = std::size_t(n);
    session_alive = true;
    live_rank = r;
    uncaught_at_start_ = std::uncaught_exceptions();
    previous_terminate_ = std::set_terminate(on_terminate);
}

Session::~Session() {
    if (std::uncaught_exceptions() > uncaught_at_start_)
        abort_job(int(rank_),
                  "an exception is unwinding past the Session; aborting the job so that no other rank "
                  "waits for this one (catch exceptions inside the Session's scope, or use "
                  "distributed::run, to see their message)",
                  1);
    std::set_terminate(previous_terminate_);
    session_alive = false;
    live_rank = -1;
    if (owns_mpi_) MPI_Finalize();
}

void Session::barrier() const { distributed::barrier(); }

void Session::abort(const std::string& message, int code) const { abort_job(int(rank_), message, code); }

int run(int& argc, char**& argv, const std::function<void(Session&)>& body) {
    Session session(argc, argv);
    try {
        body(session);
    } catch (const std::exception& e) {
        session.abort(e.what());
    } catch (...) {
        session.abort("an exception of unknown type");
    }
    return 0;
}

}  // namespace tapegrad::distributed

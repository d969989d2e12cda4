// Session: the MPI job as an RAII object (init/finalize, rank, world size), and run(), which turns an exception on one
// rank into a prompt abort of the whole job.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace tapegrad::distributed {

/// The process's membership of the MPI job. Create one at the start of main, before any other
/// distributed call, and keep it until the end:
///
///     int main(int argc, char** argv) {
///         tapegrad::distributed::Session session(argc, argv);
///         ... session.rank(), session.world_size() ...
///     }
///
/// - The constructor initialises MPI (unless the program already did: then it only wraps it)
///   and makes MPI errors on MPI_COMM_WORLD come back as tapegrad::Error instead of killing
///   the process silently.
/// - The destructor finalises MPI (if the Session initialised it). If it runs while an
///   exception unwinds the stack, it aborts the whole job instead: finalising would leave
///   the other ranks waiting forever in their next collective.
/// - While a Session lives, an uncaught exception (std::terminate) prints
///   "rank <r>: <what>" to stderr and aborts the whole job (MPI_Abort), for the same reason.
///
/// MPI can be initialised once per process: a second Session while one lives, or a new one
/// after the first has finalised MPI, throws Error.
class Session {
public:
    Session();
    /// As Session(), passing the program's arguments to MPI_Init (which may remove the ones it handles).
    Session(int& argc, char**& argv);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// This process's rank, 0 .. world_size() - 1.
    std::size_t rank() const { return rank_; }
    /// The number of processes in the job (mpirun -np N).
    std::size_t world_size() const { return world_; }
    /// Rank 0: the one that prints and writes checkpoints.
    bool is_root() const { return rank_ == 0; }
    /// Waits until every rank has reached it.
    void barrier() const;
    /// Prints "rank <r>: <message>" to stderr and ends every process of the job with `code`.
    [[noreturn]] void abort(const std::string& message, int code = 1) const;

private:
    void start(int* argc, char*** argv);

    std::size_t rank_ = 0, world_ = 1;
    bool owns_mpi_ = false;
    int uncaught_at_start_ = 0;
    void (*previous_terminate_)() = nullptr;
};

/// Runs body(session) inside a Session and returns 0: the way to write main so that an
/// exception on any rank ends the whole job at once with that rank's message, instead of
/// leaving the other ranks waiting in a collective:
///
///     int main(int argc, char** argv) {
///         return tapegrad::distributed::run(argc, argv, [](tapegrad::distributed::Session& s) { ... });
///     }
///
/// An exception escaping body prints "rank <r>: <what>" to stderr and calls MPI_Abort, so
/// mpirun ends every rank and exits non-zero.
int run(int& argc, char**& argv, const std::function<void(Session&)>& body);

}  // namespace tapegrad::distributed

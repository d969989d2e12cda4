// Collectives over every rank (MPI_COMM_WORLD) on plain buffers: allreduce, broadcast, strings; mpi.h stays inside.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tapegrad::distributed {

/// How allreduce combines the ranks' values element by element.
enum class ReduceOp { sum, min, max };

/// Combines n values of every rank in place: afterwards every rank holds the same result.
/// T = float, double or std::int64_t. Buffers beyond INT_MAX elements go in several calls.
/// Every rank must call it with the same n and op (a mismatch is undefined in MPI).
template <class T>
void allreduce(T* data, std::size_t n, ReduceOp op = ReduceOp::sum);

/// Copies n values from rank `root` to every other rank, in place (T as above, or char).
template <class T>
void broadcast(T* data, std::size_t n, std::size_t root);

/// A string of rank `root` on every rank (its length travels first, so the others need not know it).
std::string broadcast_string(const std::string& s, std::size_t root);

/// The sum / min / max of one value over all ranks, on every rank.
double all_sum(double value);
double all_min(double value);
double all_max(double value);

/// A check the ranks make together: each passes "" (all is well here) or what went wrong on
/// it. If any rank passes a problem, every rank throws the same exception — the message of
/// the lowest such rank, as a FileError if that rank said file_error, else as an Error — so
/// no rank goes on into a collective the others have left. Returns normally otherwise.
void throw_if_any_rank(const std::string& problem, bool file_error = false);

/// Waits until every rank has called it.
void barrier();

/// This process's rank and the number of ranks in the job. Throw Error naming `fn` when MPI
/// is not initialised (no Session yet, or after it ended).
std::size_t world_rank(const char* fn = "world_rank");
std::size_t world_size(const char* fn = "world_size");

/// Throws Error("<fn>: MPI is not initialised; create a tapegrad::distributed::Session first")
/// unless a Session (or the user's own MPI_Init) is active.
void require_mpi(const char* fn);

/// Throws Error when root is not a rank of the job: "<fn>: root 2 is not a rank of a job of 2".
void check_root(const char* fn, std::size_t root);

}  // namespace tapegrad::distributed

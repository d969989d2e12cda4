// Collectives on MPI_COMM_WORLD: the one .cpp (with session.cpp) that includes mpi.h; MPI errors become Error.
#include <tapegrad/distributed/collectives.hpp>

#include <algorithm>
#include <climits>
#include <vector>

#include <fmt/format.h>
#include <mpi.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::distributed {

namespace {

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
    return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
    return MPI_DOUBLE;
}
template <>
MPI_Datatype mpi_type<std::int64_t>() {
    return MPI_INT64_T;
}
template <>
MPI_Datatype mpi_type<char>() {
    return MPI_CHAR;
}

MPI_Op mpi_op(ReduceOp op) {
    switch (op) {
        case ReduceOp::sum:
            return MPI_SUM;
        case ReduceOp::min:
            return MPI_MIN;
        case ReduceOp::max:
            return MPI_MAX;
    }
    return MPI_SUM;
}

// Session sets MPI_ERRORS_RETURN on MPI_COMM_WORLD, so a failing call comes back here.
void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    throw Error(fmt::format("{}: {}", call, std::string(text, std::size_t(len))));
}

// MPI counts are int: longer buffers go in chunks.
constexpr std::size_t max_chunk = std::size_t(INT_MAX);

}  // namespace

void require_mpi(const char* fn) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized)
        throw Error(fmt::format("{}: MPI is not initialised; create a tapegrad::distributed::Session first", fn));
}

std::size_t world_rank(const char* fn) {
    require_mpi(fn);
    int r = 0;
    check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "MPI_Comm_rank");
    return std::size_t(r);
}

std::size_t world_size(const char* fn) {
    require_mpi(fn);
    int n = 0;
    check(MPI_Comm_size(MPI_COMM_WORLD, &n), "MPI_Comm_size");
    return std::size_t(n);
}

void check_root(const char* fn, std::size_t root) {
    const std::size_t n = world_size(fn);
    if (root >= n) throw Error(fmt::format("{}: root {} is not a rank of a job of {}", fn, root, n));
}

template <class T>
void allreduce(T* data, std::size_t n, ReduceOp op) {
    require_mpi("allreduce");
    for (std::size_t first = 0; first < n; first += max_chunk) {
        const int count = int(std::min(max_chunk, n - first));
        check(MPI_Allreduce(MPI_IN_PLACE, data + first, count, mpi_type<T>(), mpi_op(op), MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
}

template <class T>
void broadcast(T* data, std::size_t n, std::size_t root) {
    check_root("broadcast", root);
    for (std::size_t first = 0; first < n; first += max_chunk) {
        const int count = int(std::min(max_chunk, n - first));
        check(MPI_Bcast(data + first, count, mpi_type<T>(), int(root), MPI_COMM_WORLD), "MPI_Bcast");
    }
}

std::string broadcast_string(const std::string& s, std::size_t root) {
    check_root("broadcast_string", root);
    std::int64_t len = std::int64_t(s.size());
    broadcast(&len, 1, root);
    std::vector<char> buf(s.begin(), s.end());
    buf.resize(std::size_t(len));
    broadcast(buf.data(), buf.size(), root);
    return std::string(buf.begin(), buf.end());
}

static double reduce_one(double v, ReduceOp op) {
    allreduce(&v, 1, op);
    return v;
}
double all_sum(double value) { return reduce_one(value, ReduceOp::sum); }
double all_min(double value) { return reduce_one(value, ReduceOp::min); }
double all_max(double value) { return reduce_one(value, ReduceOp::max); }

void throw_if_any_rank(const std::string& problem, bool file_error) {
    const std::size_t n = world_size("throw_if_any_rank"), me = world_rank("throw_if_any_rank");
    std::int64_t first = std::int64_t(problem.empty() ? n : me);
    allreduce(&first, 1, ReduceOp::min);
    if (first == std::int64_t(n)) return;
    // The kind travels as the first character, so every rank throws the same type.
    const std::string message = broadcast_string((file_error ? "F" : "E") + problem, std::size_t(first));
    if (message[0] == 'F') throw FileError(message.substr(1));
    throw Error(message.substr(1));
}

void barrier() {
    require_mpi("barrier");
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

template void allreduce(float*, std::size_t, ReduceOp);
template void allreduce(double*, std::size_t, ReduceOp);
template void allreduce(std::int64_t*, std::size_t, ReduceOp);
template void broadcast(float*, std::size_t, std::size_t);
template void broadcast(double*, std::size_t, std::size_t);
template void broadcast(std::int64_t*, std::size_t, std::size_t);
template void broadcast(char*, std::size_t, std::size_t);

}  // namespace tapegrad::distributed

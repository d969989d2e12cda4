// broadcast_parameters: compare the ranks' model layouts (type, names, shapes), then one flat bucketed MPI_Bcast.
#include <tapegrad/distributed/broadcast.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/distributed/collectives.hpp>

namespace tapegrad::distributed {

namespace {

struct Entry {
    std::string name, shape;
};

template <class T>
const char* dtype() {
    return std::is_same_v<T, float> ? "float32" : "float64";
}

// The layout as text, one line per entry ("name<TAB>shape") after a first line with the
// element type: root broadcasts its own, and every rank compares it with its own.
template <class T>
std::string encode(const nn::NamedVariables<T>& state) {
    std::string s = dtype<T>();
    for (const auto& [name, v] : state) s += "\n" + name + "\t" + (v.defined() ? shape_string(v.shape()) : "empty");
    return s;
}

std::vector<Entry> decode(const std::string& text, std::string& type) {
    std::istringstream in(text);
    std::getline(in, type);
    std::vector<Entry> out;
    for (std::string line; std::getline(in, line);) {
        const std::size_t tab = line.rfind('\t');
        out.push_back({line.substr(0, tab), line.substr(tab + 1)});
    }
    return out;
}

// "" when this rank's layout is root's, else what differs first.
std::string difference(const char* fn, const std::string& mine_text, const std::string& root_text, std::size_t me,
                       std::size_t root) {
    std::string my_type, root_type;
    const std::vector<Entry> mine = decode(mine_text, my_type), theirs = decode(root_text, root_type);
    std::string what;
    if (my_type != root_type) {
        what = fmt::format("it holds {} values on rank {} but {} on rank {}", my_type, me, root_type, root);
    } else {
        const std::size_t common = std::min(mine.size(), theirs.size());
        for (std::size_t i = 0; i < common && what.empty(); ++i) {
            if (mine[i].name != theirs[i].name)
                what = fmt::format("entry {} is '{}' on rank {} but '{}' on rank {}", i, mine[i].name, me,
                                   theirs[i].name, root);
            else if (mine[i].shape != theirs[i].shape)
                what = fmt::format("'{}' has shape {} on rank {} but {} on rank {}", mine[i].name, mine[i].shape, me,
                                   theirs[i].shape, root);
        }
        if (what.empty() && mine.size() != theirs.size()) {
            const bool fewer = mine.size() < theirs.size();
            const Entry& e = fewer ? theirs[common] : mine[common];
            what = fmt::format(
                "it has {} parameters and buffers on rank {} but {} on rank {} (the first {} is "
                "'{}' {})",
                mine.size(), me, theirs.size(), root,
                fewer ? fmt::format("missing on rank {}", me) : fmt::format("extra on rank {}", me), e.name, e.shape);
        }
    }
    return what.empty() ? std::string()
                        : fmt::format("{}: rank {}'s model differs from root rank {}'s: {}", fn, me, root, what);
}

}  // namespace

// Problems found on one rank are agreed on by all before any value moves, so a bad model
// ends in the same Error everywhere rather than in a hang or a half-copied model.
template <class T>
void check_layout(const char* fn, const nn::NamedVariables<T>& state, std::size_t root) {
    check_root(fn, root);
    const std::size_t me = world_rank(fn);
    std::string problem;
    for (const auto& [name, v] : state)
        if (!v.defined()) {
            problem = fmt::format("{}: '{}' is an empty Variable on rank {}", fn, name, me);
            break;
        }
    const std::string mine = encode(state);
    const std::string roots = broadcast_string(mine, root);
    if (problem.empty() && me != root) problem = difference(fn, mine, roots, me, root);
    throw_if_any_rank(problem);
}

template <class T>
void check_same_model(const nn::Module<T>& module, std::size_t root, const char* fn) {
    check_layout(fn, module.state(), root);
}

template <class T>
void broadcast_parameters(const nn::NamedVariables<T>& state, std::size_t root, std::size_t bucket_bytes) {
    check_layout("broadcast_parameters", state, root);
    const std::size_t me = world_rank("broadcast_parameters");

    std::size_t total = 0;
    for (const auto& [name, v] : state) total += v.size();
    std::vector<T> flat(total);
    if (me == root) {
        T* dst = flat.data();
        for (const auto& [name, v] : state) dst = std::copy(v.value().begin(), v.value().end(), dst);
    }
    const std::size_t bucket = std::max<std::size_t>(1, bucket_bytes / sizeof(T));
    for (std::size_t first = 0; first < total; first += bucket)
        broadcast(flat.data() + first, std::min(bucket, total - first), root);
    if (me != root) {
        const T* src = flat.data();
        for (const auto& [name, v] : state) {
            Tensor<T>& value = v.mutable_value();
            std::copy(src, src + value.size(), value.begin());
            src += value.size();
        }
    }
}

template <class T>
void broadcast_parameters(nn::Module<T>& module, std::size_t root, std::size_t bucket_bytes) {
    broadcast_parameters(module.state(), root, bucket_bytes);
}

template <class T>
void broadcast_parameters(const std::vector<Variable<T>>& params, std::size_t root, std::size_t bucket_bytes) {
    nn::NamedVariables<T> named;
    named.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) named.emplace_back(fmt::format("#{}", i), params[i]);
    broadcast_parameters(named, root, bucket_bytes);
}

template void check_same_model(const nn::Module<float>&, std::size_t, const char*);
template void check_same_model(const nn::Module<double>&, std::size_t, const char*);
template void broadcast_parameters(nn::Module<float>&, std::size_t, std::size_t);
template void broadcast_parameters(nn::Module<double>&, std::size_t, std::size_t);
template void broadcast_parameters(const nn::NamedVariables<float>&, std::size_t, std::size_t);
template void broadcast_parameters(const nn::NamedVariables<double>&, std::size_t, std::size_t);
template void broadcast_parameters(const std::vector<Variable<float>>&, std::size_t, std::size_t);
template void broadcast_parameters(const std::vector<Variable<double>>&, std::size_t, std::size_t);

}  // namespace tapegrad::distributed

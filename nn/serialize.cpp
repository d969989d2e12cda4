// save / load: module state (parameters, buffers, integer counters) through io/checkpoint.
#include <tapegrad/nn/serialize.hpp>

#include <algorithm>
#include <map>
#include <new>
#include <set>

#include <fmt/format.h>

#include <tapegrad/io/checkpoint.hpp>

namespace tapegrad::nn {

namespace {

// The state as arrays that view the module's own tensors (nothing is copied), then its counters.
template <class T>
io::Arrays state_arrays(const NamedVariables<T>& state, const NamedCounters& counters, const std::string& path) {
    io::Arrays arrays;
    arrays.reserve(state.size() + counters.size());
    for (const auto& [name, v] : state) {
        if (!v.defined()) throw Error(fmt::format("save('{}'): '{}' is an empty Variable", path, name));
        arrays.push_back(io::Array::view(name, v.value()));
    }
    for (const auto& [name, c] : counters) {
        Tensor<std::int64_t> t = Tensor<std::int64_t>::from_shape({});
        t() = *c;
        arrays.emplace_back(name, std::move(t));
    }
    return arrays;
}

}  // namespace

template <class T>
void save(const NamedVariables<T>& state, const std::string& path, const io::SaveOptions& options) {
    io::save_arrays(path, state_arrays(state, {}, path), options);
}

template <class T>
void save(const Module<T>& module, const std::string& path, const io::SaveOptions& options) {
    io::save_arrays(path, state_arrays(module.state(), module.named_counters(), path), options);
}

template <class T>
NamedVariables<T> load(const std::string& path, const io::LoadOptions& options) {
    const io::Arrays arrays = io::load_arrays(path, options);
    const std::string at = fmt::format("load('{}')", path);
    try {
        NamedVariables<T> state;
        state.reserve(arrays.size());
        for (const io::Array& a : arrays)
            if (a.dtype() != io::Dtype::int64) state.emplace_back(a.name(), Variable<T>(a.to<T>(at)));
        return state;
    } catch (const std::bad_alloc&) {
        throw FileError(at + ": out of memory while loading");
    }
}

template <class T>
void load(Module<T>& module, const std::string& path, const io::LoadOptions& options) {
    const std::string at = fmt::format("load('{}')", path);
    try {
        const io::Arrays arrays = io::load_arrays(path, options);
        std::map<std::string, std::shared_ptr<std::int64_t>> counters;
        for (const auto& [name, c] : module.named_counters()) counters.emplace(name, c);
        // Counters are checked first and set last, so a refused file changes nothing.
        std::map<std::string, std::int64_t> counts;
        std::set<std::string> state_names;
        for (const auto& [name, v] : module.state()) state_names.insert(name);
        NamedVariables<T> state;
        state.reserve(arrays.size());
        for (const io::Array& a : arrays) {
            if (a.dtype() == io::Dtype::int64 && !counters.count(a.name()) && !state_names.count(a.name())) {
                // Not the module's at all: load_state names it as unexpected (after anything missing).
                const Tensor<std::int64_t> v = a.to<std::int64_t>(at);
                Tensor<T> t = Tensor<T>::from_shape(v.shape());
                std::transform(v.begin(), v.end(), t.begin(), [](std::int64_t x) { return T(x); });
                state.emplace_back(a.name(), Variable<T>(std::move(t)));
            } else if (counters.count(a.name())) {
                const Tensor<std::int64_t> v = a.to<std::int64_t>(at);
                if (v.dimension() != 0 || v() < 0)
                    throw FileError(fmt::format("{}: counter '{}' of shape {} holds {}; expected one integer >= 0", at,
                                                a.name(), shape_string(v.shape()), v.size() ? v.data()[0] : -1));
                counts[a.name()] = v();
            } else {
                state.emplace_back(a.name(), Variable<T>(a.to<T>(at)));
            }
        }
        module.load_state(state, at);
        // A counter the file lacks (a checkpoint older than the counter) starts again from 0.
        for (auto& [name, c] : counters) {
            auto it = counts.find(name);
            *c = it == counts.end() ? 0 : it->second;
        }
    } catch (const std::bad_alloc&) {
        throw FileError(at + ": out of memory while loading");
    }
}

#define TAPEGRAD_INSTANTIATE(T)                                                               \
    template void save(const NamedVariables<T>&, const std::string&, const io::SaveOptions&); \
    template void save(const Module<T>&, const std::string&, const io::SaveOptions&);         \
    template NamedVariables<T> load(const std::string&, const io::LoadOptions&);              \
    template void load(Module<T>&, const std::string&, const io::LoadOptions&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::nn

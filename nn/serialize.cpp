// save / load: module state to and from a checkpoint file, on io::save_state / io::load_state.
#include <tapegrad/nn/serialize.hpp>

#include <new>

#include <fmt/format.h>

#include <tapegrad/io/checkpoint.hpp>

namespace tapegrad::nn {

template <class T>
void save(const NamedVariables<T>& state, const std::string& path, const io::SaveOptions& options) {
    io::NamedTensors<T> arrays;
    arrays.reserve(state.size());
    for (const auto& [name, v] : state) {
        if (!v.defined()) throw Error(fmt::format("save('{}'): '{}' is an empty Variable", path, name));
        arrays.emplace_back(name, v.value());
    }
    io::save_state<T>(path, arrays, options);
}

template <class T>
void save(const Module<T>& module, const std::string& path, const io::SaveOptions& options) {
    save(module.state(), path, options);
}

template <class T>
NamedVariables<T> load(const std::string& path, const io::LoadOptions& options) {
    io::NamedTensors<T> arrays = io::load_state<T>(path, options);
    try {
        NamedVariables<T> state;
        state.reserve(arrays.size());
        for (auto& [name, t] : arrays) state.emplace_back(std::move(name), Variable<T>(std::move(t)));
        return state;
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("load('{}'): out of memory while loading", path));
    }
}

template <class T>
void load(Module<T>& module, const std::string& path, const io::LoadOptions& options) {
    try {
        module.load_state(load<T>(path, options), fmt::format("load('{}')", path));
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("load('{}'): out of memory while loading", path));
    }
}

#define TAPEGRAD_INSTANTIATE(T)                                                 \
    template void save(const NamedVariables<T>&, const std::string&, const io::SaveOptions&); \
    template void save(const Module<T>&, const std::string&, const io::SaveOptions&);         \
    template NamedVariables<T> load(const std::string&, const io::LoadOptions&);              \
    template void load(Module<T>&, const std::string&, const io::LoadOptions&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::nn

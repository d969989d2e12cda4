// save / load: module state to and from .npz, on data::save_npz / data::load_npz.
#include <tapegrad/nn/serialize.hpp>

#include <fmt/format.h>

#include <tapegrad/data/npz.hpp>

namespace tapegrad::nn {

template <class T>
void save(const NamedVariables<T>& state, const std::string& path) {
    data::NamedTensors<T> arrays;
    arrays.reserve(state.size());
    for (const auto& [name, v] : state) {
        if (!v.defined()) throw Error(fmt::format("save('{}'): '{}' is an empty Variable", path, name));
        arrays.emplace_back(name, v.value());
    }
    data::save_npz<T>(path, arrays);
}

template <class T>
void save(const Module<T>& module, const std::string& path) {
    save(module.state(), path);
}

template <class T>
NamedVariables<T> load(const std::string& path) {
    data::NamedTensors<T> arrays = data::load_npz<T>(path);
    NamedVariables<T> state;
    state.reserve(arrays.size());
    for (auto& [name, t] : arrays) state.emplace_back(std::move(name), Variable<T>(std::move(t)));
    return state;
}

template <class T>
void load(Module<T>& module, const std::string& path) {
    module.load_state(load<T>(path), fmt::format("load('{}')", path));
}

#define TAPEGRAD_INSTANTIATE(T)                                                 \
    template void save(const NamedVariables<T>&, const std::string&);           \
    template void save(const Module<T>&, const std::string&);                   \
    template NamedVariables<T> load(const std::string&);                        \
    template void load(Module<T>&, const std::string&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::nn

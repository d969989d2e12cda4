// save_arrays / load_arrays: the one place that decides how a checkpoint is laid out on disk.
#include <tapegrad/io/checkpoint.hpp>

#include <fmt/format.h>

#include <tapegrad/io/safetensors.hpp>

namespace tapegrad::io {

Format format_of(const std::string& path) noexcept {
    const std::string ext = ".safetensors";
    return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0
               ? Format::safetensors
               : Format::npz;
}

void save_arrays(const std::string& path, const Arrays& arrays, const SaveOptions& options) {
    if (format_of(path) == Format::safetensors)
        save_safetensors(path, arrays, options);
    else
        save_npz(path, arrays, options);
}

Arrays load_arrays(const std::string& path, const LoadOptions& options) {
    return format_of(path) == Format::safetensors ? read_safetensors(path, options) : read_npz(path, options);
}

template <class T>
void save_state(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options) {
    Arrays views;
    views.reserve(arrays.size());
    for (const auto& [name, tensor] : arrays) views.push_back(Array::view(name, tensor));
    save_arrays(path, views, options);
}

template <class T>
NamedTensors<T> load_state(const std::string& path, const LoadOptions& options) {
    const Arrays arrays = load_arrays(path, options);
    const std::string at =
        fmt::format("{}: '{}'", format_of(path) == Format::safetensors ? "load_safetensors" : "load_npz", path);
    NamedTensors<T> out;
    out.reserve(arrays.size());
    for (const Array& a : arrays) out.emplace_back(a.name(), a.to<T>(at));
    return out;
}

template void save_state<float>(const std::string&, const NamedTensors<float>&, const SaveOptions&);
template void save_state<double>(const std::string&, const NamedTensors<double>&, const SaveOptions&);
template NamedTensors<float> load_state<float>(const std::string&, const LoadOptions&);
template NamedTensors<double> load_state<double>(const std::string&, const LoadOptions&);

}  // namespace tapegrad::io

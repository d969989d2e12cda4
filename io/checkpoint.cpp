// save_state / load_state: the one place that decides how a checkpoint is laid out on disk.
#include <tapegrad/io/checkpoint.hpp>

namespace tapegrad::io {

template <class T>
void save_state(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options) {
    save_npz<T>(path, arrays, options);
}

template <class T>
NamedTensors<T> load_state(const std::string& path, const LoadOptions& options) {
    return load_npz<T>(path, options);
}

template void save_state<float>(const std::string&, const NamedTensors<float>&, const SaveOptions&);
template void save_state<double>(const std::string&, const NamedTensors<double>&, const SaveOptions&);
template NamedTensors<float> load_state<float>(const std::string&, const LoadOptions&);
template NamedTensors<double> load_state<double>(const std::string&, const LoadOptions&);

}  // namespace tapegrad::io

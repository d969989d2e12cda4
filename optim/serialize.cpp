// save / load of optimizer state through data/npz.
#include <tapegrad/optim/serialize.hpp>

#include <new>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/npz.hpp>

namespace tapegrad::optim {

template <class T>
void save(const Optimizer<T>& optimizer, const std::string& path, const data::SaveOptions& options) {
    data::save_npz<T>(path, optimizer.state_dict(), options);
}

template <class T>
void load(Optimizer<T>& optimizer, const std::string& path, const data::LoadOptions& options) {
    try {
        optimizer.load_state_dict(data::load_npz<T>(path, options));
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("{}: load('{}'): out of memory while loading", optimizer.name(), path));
    }
}

template void save(const Optimizer<float>&, const std::string&, const data::SaveOptions&);
template void save(const Optimizer<double>&, const std::string&, const data::SaveOptions&);
template void load(Optimizer<float>&, const std::string&, const data::LoadOptions&);
template void load(Optimizer<double>&, const std::string&, const data::LoadOptions&);

}  // namespace tapegrad::optim

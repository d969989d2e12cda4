// save / load of optimizer state through io/checkpoint (the file format nn uses too).
#include <tapegrad/optim/serialize.hpp>

#include <new>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/checkpoint.hpp>

namespace tapegrad::optim {

template <class T>
void save(const Optimizer<T>& optimizer, const std::string& path, const io::SaveOptions& options) {
    io::save_state<T>(path, optimizer.state_dict(), options);
}

template <class T>
void load(Optimizer<T>& optimizer, const std::string& path, const io::LoadOptions& options) {
    try {
        optimizer.load_state_dict(io::load_state<T>(path, options));
    } catch (const std::bad_alloc&) {
        throw FileError(fmt::format("{}: load('{}'): out of memory while loading", optimizer.name(), path));
    }
}

void save(const LRScheduler& scheduler, const std::string& path, const io::SaveOptions& options) {
    io::save_arrays(path, scheduler.state_dict(), options);
}

void save(const ReduceLROnPlateau& scheduler, const std::string& path, const io::SaveOptions& options) {
    io::save_arrays(path, scheduler.state_dict(), options);
}

void load(LRScheduler& scheduler, const std::string& path, const io::LoadOptions& options) {
    scheduler.load_state_dict(io::load_arrays(path, options));
}

void load(ReduceLROnPlateau& scheduler, const std::string& path, const io::LoadOptions& options) {
    scheduler.load_state_dict(io::load_arrays(path, options));
}

template void save(const Optimizer<float>&, const std::string&, const io::SaveOptions&);
template void save(const Optimizer<double>&, const std::string&, const io::SaveOptions&);
template void load(Optimizer<float>&, const std::string&, const io::LoadOptions&);
template void load(Optimizer<double>&, const std::string&, const io::LoadOptions&);

}  // namespace tapegrad::optim

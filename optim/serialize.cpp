// save / load of optimizer state through data/npz.
#include <tapegrad/optim/serialize.hpp>

#include <tapegrad/data/npz.hpp>

namespace tapegrad::optim {

template <class T>
void save(const Optimizer<T>& optimizer, const std::string& path) {
    data::save_npz<T>(path, optimizer.state_dict());
}

template <class T>
void load(Optimizer<T>& optimizer, const std::string& path) {
    optimizer.load_state_dict(data::load_npz<T>(path));
}

template void save(const Optimizer<float>&, const std::string&);
template void save(const Optimizer<double>&, const std::string&);
template void load(Optimizer<float>&, const std::string&);
template void load(Optimizer<double>&, const std::string&);

}  // namespace tapegrad::optim

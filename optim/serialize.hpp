// save / load: an optimizer's state to and from an .npz checkpoint (data/npz, the format nn uses).
#pragma once

#include <string>

#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

/// Writes optimizer.state_dict() to an .npz file at `path`. The file is replaced atomically:
/// if saving fails, a previous file at `path` is unchanged. Throws FileError when writing fails.
template <class T>
void save(const Optimizer<T>& optimizer, const std::string& path);

/// Reads an .npz written by save() and loads it into the optimizer, which must be over
/// parameters of the same shapes. Throws FileError for a missing or corrupt file and Error for
/// state that does not fit the optimizer; in either case the optimizer is unchanged.
template <class T>
void load(Optimizer<T>& optimizer, const std::string& path);

extern template void save(const Optimizer<float>&, const std::string&);
extern template void save(const Optimizer<double>&, const std::string&);
extern template void load(Optimizer<float>&, const std::string&);
extern template void load(Optimizer<double>&, const std::string&);

}  // namespace tapegrad::optim

// save_state / load_state: the checkpoint file of nn::save and optim::save, its format chosen by the path's extension.
#pragma once

#include <string>

#include <tapegrad/io/npz.hpp>
#include <tapegrad/io/options.hpp>

namespace tapegrad::io {

/// Writes named arrays as a checkpoint: an uncompressed .npz (see save_npz), replaced
/// atomically. nn::save and optim::save write through this; it knows arrays, not modules.
template <class T>
void save_state(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options = {});

/// Reads a checkpoint written by save_state (or numpy.savez), in the order stored (see load_npz).
template <class T>
NamedTensors<T> load_state(const std::string& path, const LoadOptions& options = {});

}  // namespace tapegrad::io

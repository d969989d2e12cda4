// save_arrays / load_arrays: the checkpoint file nn::save and optim::save write, .npz or .safetensors by extension.
#pragma once

#include <string>

#include <tapegrad/io/array.hpp>
#include <tapegrad/io/npz.hpp>
#include <tapegrad/io/options.hpp>

namespace tapegrad::io {

/// The formats a checkpoint can be written in.
enum class Format { npz, safetensors };

/// The format of a path: .safetensors for a name ending in ".safetensors", .npz for anything else.
Format format_of(const std::string& path) noexcept;

/// Writes named arrays (of any element type) as a checkpoint in the format of the path's
/// extension: save_safetensors for ".safetensors", save_npz otherwise. Replaced atomically.
/// nn::save and optim::save write through this; it knows arrays, not modules.
void save_arrays(const std::string& path, const Arrays& arrays, const SaveOptions& options = {});
/// Reads a checkpoint written by save_arrays (or numpy.savez, or any safetensors writer), in the
/// format of the path's extension, every array in its stored element type.
Arrays load_arrays(const std::string& path, const LoadOptions& options = {});

/// As save_arrays, for tensors of one element type.
template <class T>
void save_state(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options = {});
/// As load_arrays, every array converted to T (an integer array is refused; see load_npz).
template <class T>
NamedTensors<T> load_state(const std::string& path, const LoadOptions& options = {});

}  // namespace tapegrad::io

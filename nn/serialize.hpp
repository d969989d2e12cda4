// save / load: a module's parameters, buffers and counters as a checkpoint, .npz or .safetensors.
#pragma once

#include <string>

#include <tapegrad/io/options.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// Writes module.state() — every parameter and buffer under its dotted name ("0.weight",
/// "bn.running_mean") — and its integer counters ("bn.num_batches_tracked", as int64): the
/// names and layout of PyTorch's state_dict, so torch's load_state_dict(strict=True) takes it.
/// The format follows the extension: a path ending in ".safetensors" gets safetensors, any
/// other an uncompressed .npz that numpy.load reads. Whatever load() would refuse is refused
/// first, before the file is touched (names over 200 characters, more than 32 dimensions, NaN
/// or infinite values unless SaveOptions::allow_non_finite). The file is written to a
/// temporary file beside `path`, flushed and renamed over it, so a failed save never leaves a
/// half-written checkpoint in place of a good one. Throws Error for state that cannot be
/// saved, FileError if writing fails.
template <class T>
void save(const Module<T>& module, const std::string& path, const io::SaveOptions& options = {});
/// As above, for named Variables (e.g. a state() or parameters given names by hand).
template <class T>
void save(const NamedVariables<T>& state, const std::string& path, const io::SaveOptions& options = {});

/// Sets the module's parameters, buffers and counters from a checkpoint written by save(), by
/// numpy.savez / numpy.savez_compressed, or by any safetensors writer (e.g. a PyTorch state
/// dict): float32 or float64 arrays, either converted to T; counters as int64. Every parameter
/// and buffer must be there with the module's shape, and nothing else: the Error names the
/// first that is missing, unexpected or of another shape, and the module is then unchanged. A
/// counter the file lacks (a checkpoint made before the module had it) is set to 0, as PyTorch
/// does. A missing, truncated, corrupt or hostile file, another dtype, an absurd header, a value
/// that does not fit T, or NaN / infinity (unless LoadOptions::allow_non_finite) is a FileError.
template <class T>
void load(Module<T>& module, const std::string& path, const io::LoadOptions& options = {});
/// Every floating-point array of a checkpoint as named Variables (leaves without grad), in the
/// order stored. Integer arrays (counters) are not Variables and are left out: io::load_arrays
/// gives every array.
template <class T>
NamedVariables<T> load(const std::string& path, const io::LoadOptions& options = {});

}  // namespace tapegrad::nn

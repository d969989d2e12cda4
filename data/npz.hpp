// save_npz / load_npz: named float or double tensors in NumPy's .npz format, the checkpoint format.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::data {

/// Named arrays, in order: what a checkpoint holds.
template <class T>
using NamedTensors = std::vector<std::pair<std::string, Tensor<T>>>;

/// Writes the arrays as an uncompressed .npz (a zip archive with one <name>.npy per array,
/// as numpy.savez writes it; numpy.load reads it). Names are 1 to 200 printable ASCII
/// characters without spaces, '/' or '\', and unique; checked before anything is written.
/// The archive is written to a temporary file beside `path`, synced and renamed over it:
/// on failure the previous file at `path`, if any, is unchanged. Members carry a fixed
/// date, so equal arrays give byte-identical files.
/// Throws Error on a bad name or path, FileError when writing fails.
template <class T>
void save_npz(const std::string& path, const NamedTensors<T>& arrays);

/// Reads every array of an .npz, in the order stored, as written by save_npz, numpy.savez
/// or numpy.savez_compressed. Elements must be little-endian float32 or float64 in C order;
/// either converts to T (float64 to float rounds to nearest). Every member's header is
/// checked, and the payload length must match its shape exactly, before anything is
/// allocated from it. Throws FileError on a missing, truncated, corrupt or hostile file,
/// a member that is not .npy, or a name stored twice.
template <class T>
NamedTensors<T> load_npz(const std::string& path);

}  // namespace tapegrad::data

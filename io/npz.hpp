// save_npz / load_npz: named arrays in NumPy's .npz format (a zip archive of .npy members).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/io/array.hpp>
#include <tapegrad/io/options.hpp>

namespace tapegrad::io {

/// Named arrays of one element type, in order: what a checkpoint of parameters holds.
template <class T>
using NamedTensors = std::vector<std::pair<std::string, Tensor<T>>>;

/// Writes the arrays as an uncompressed .npz (a zip archive with one <name>.npy per array,
/// as numpy.savez writes it; numpy.load reads it), float32 as '<f4', float64 as '<f8' and
/// int64 as '<i8'. Before anything is written, everything the reader would refuse is refused:
/// names must be 1 to 200 printable ASCII characters without spaces, '/' or '\', and unique;
/// shapes have at most 32 dimensions; NaN and infinite values need
/// SaveOptions::allow_non_finite. The archive is written to a temporary file beside `path`
/// (symlinks are written through, the mode is kept), synced and renamed over it: on failure the
/// previous file at `path`, if any, is unchanged. Members carry a fixed date, so equal arrays
/// give byte-identical files. Throws Error on a bad name, shape, value or path, FileError when
/// writing fails.
void save_npz(const std::string& path, const Arrays& arrays, const SaveOptions& options = {});
/// As above, for tensors of one element type (float or double).
template <class T>
void save_npz(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options = {});

/// Reads every array of an .npz in its stored element type, in the order stored, as written
/// by save_npz, numpy.savez or numpy.savez_compressed: little-endian float32, float64 or int64
/// in C order. NaN and infinite values are refused unless LoadOptions::allow_non_finite. The
/// archive must be one plain zip archive that every reader reads alike (nothing appended or
/// prepended, members that do not overlap). Every member's header is checked, and the payload
/// length must match its shape exactly, before anything is allocated from it; deflated members
/// may expand to LoadOptions::max_inflated_bytes in total. Throws FileError on a missing,
/// truncated, corrupt or hostile file, a member that is not .npy, a name stored twice, or
/// memory that cannot be allocated.
Arrays read_npz(const std::string& path, const LoadOptions& options = {});
/// As read_npz, every array converted to T: float32 and float64 convert to each other (a
/// finite float64 too large for float is refused, naming the array and the element); an
/// int64 array is refused.
template <class T>
NamedTensors<T> load_npz(const std::string& path, const LoadOptions& options = {});

}  // namespace tapegrad::io

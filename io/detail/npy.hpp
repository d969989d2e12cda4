// The .npy array header: writing one for a float/double array, and checking one before trusting it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <tapegrad/io/array.hpp>

namespace tapegrad::io::detail {

/// The element types a checkpoint may hold, as .npy writes them: little-endian float32 ('<f4'),
/// float64 ('<f8') and int64 ('<i8').
using NpyDtype = Dtype;

inline std::size_t npy_item_size(NpyDtype d) { return dtype_size(d); }
/// "<f4", "<f8" or "<i8".
const char* npy_descr(NpyDtype d);

/// Longest header dictionary accepted (NumPy's own bound).
constexpr std::size_t npy_max_header = 10000;
/// Most dimensions accepted (NumPy's NPY_MAXDIMS).
constexpr std::size_t npy_max_dimensions = 32;
/// Bytes of the fixed start: magic (6), version (2) and a header length of up to 4 bytes.
constexpr std::size_t npy_prefix_max = 12;

/// Magic, version 1.0, the header dictionary of a C-order little-endian array and padding
/// to a multiple of 64 bytes, as numpy.save writes it; the raw elements follow it.
std::string npy_preamble(NpyDtype dtype, const std::vector<std::size_t>& shape);

/// A checked header: the payload that follows it is exactly payload_bytes long.
struct NpyHeader {
    NpyDtype dtype = Dtype::float64;
    std::vector<std::size_t> shape;
    std::size_t count = 0;          // elements
    std::size_t payload_bytes = 0;  // count * item size
};

/// Checks the magic and the version (1.0, 2.0 or 3.0) in the first bytes of a .npy (10
/// for version 1.0, 12 otherwise; `have` says how many are available) and returns the
/// length of the whole preamble (prefix + header dictionary), at most npy_max_header +
/// npy_prefix_max. `at` starts every error message. Throws FileError.
std::size_t npy_preamble_length(const unsigned char* bytes, std::size_t have, const std::string& at);

/// Checks a shape as the reader does (at most npy_max_dimensions extents, a byte count that
/// fits a size_t, non-zero extents spanning at most PTRDIFF_MAX bytes) and gives its element
/// and byte counts; the writer checks the same before writing. Throws FileError.
void check_npy_shape(const std::vector<std::size_t>& shape, NpyDtype dtype, const std::string& at, std::size_t& count,
                     std::size_t& payload_bytes);

/// Parses and checks the header dictionary (the bytes after the prefix): exactly the keys
/// descr ('<f4', '<f8' or '<i8'), fortran_order (False) and shape (a tuple of at most
/// npy_max_dimensions extents whose product, in bytes, fits a size_t, and whose non-zero extents
/// span at most PTRDIFF_MAX bytes, so that even an empty array has valid strides). Throws FileError.
NpyHeader parse_npy_header(const std::string& dict, const std::string& at);

}  // namespace tapegrad::io::detail

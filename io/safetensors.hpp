// save_safetensors / load_safetensors: named arrays in the safetensors format PyTorch and Hugging Face users exchange
// weights in.
#pragma once

#include <cstdint>
#include <string>

#include <tapegrad/io/array.hpp>
#include <tapegrad/io/npz.hpp>
#include <tapegrad/io/options.hpp>

namespace tapegrad::io {

/// Largest JSON header accepted (the format's own limit: 100,000,000 bytes).
constexpr std::uint64_t safetensors_max_header = 100000000;

/// Writes the arrays as a .safetensors file: an 8-byte little-endian header length, a JSON
/// header {"<name>": {"dtype": "F32"|"F64"|"I64", "shape": [...], "data_offsets": [begin, end]}}
/// padded with spaces to a multiple of 8 bytes, then the raw little-endian data of each array
/// in the order given, back to back. The same checks as save_npz come first (names, dimensions,
/// NaN and infinity unless SaveOptions::allow_non_finite), and the same atomic write.
void save_safetensors(const std::string& path, const Arrays& arrays, const SaveOptions& options = {});
/// As above, for tensors of one element type (float or double).
template <class T>
void save_safetensors(const std::string& path, const NamedTensors<T>& arrays, const SaveOptions& options = {});

/// Reads every array of a .safetensors file in its stored element type (F32, F64 or I64), in
/// the order of their data in the file. The file is refused (FileError) unless it follows the
/// format exactly and every reader would read it alike: a header length within the file and
/// at most safetensors_max_header; a JSON header (parsed by nlohmann::json) that is one object
/// with no key twice, whose entries have exactly dtype, shape (at most 32 non-negative extents)
/// and data_offsets (two numbers), plus an optional "__metadata__" object of strings; the byte
/// size of each array matching its dtype and shape; the arrays' data covering the buffer after
/// the header exactly, with no gap, no overlap and nothing after. Other dtypes (F16, BF16, ...)
/// are refused by name. NaN and infinity are refused unless LoadOptions::allow_non_finite.
Arrays read_safetensors(const std::string& path, const LoadOptions& options = {});
/// As read_safetensors, every array converted to T (see load_npz).
template <class T>
NamedTensors<T> load_safetensors(const std::string& path, const LoadOptions& options = {});

}  // namespace tapegrad::io

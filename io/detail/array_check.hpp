// Checks shared by every checkpoint format: what a writer refuses before touching the file, and the values a reader
// refuses.
#pragma once

#include <cstddef>
#include <string>

#include <tapegrad/io/array.hpp>
#include <tapegrad/io/options.hpp>

namespace tapegrad::io::detail {

/// Longest array name accepted by every writer.
constexpr std::size_t max_array_name = 200;

/// "" for a legal array name (1 to 200 printable ASCII characters without spaces, '/' or '\');
/// otherwise what is wrong with it ("201 characters", "character 0x20").
std::string bad_array_name(const std::string& name);

/// Throws Error ("<who>: '<path>': ...") unless every array can be written and read back by
/// the readers with default limits: legal and unique names, at most npy_max_dimensions
/// dimensions and a byte size that fits a size_t (and PTRDIFF_MAX), finite floating-point
/// values unless options.allow_non_finite(). Called before the file is touched.
void check_arrays_for_save(const Arrays& arrays, const SaveOptions& options, const std::string& who,
                           const std::string& path);

/// Throws FileError ("<at>: ...") if a floating-point array holds NaN or infinity and the
/// options do not allow them.
void check_values_read(const Array& array, const LoadOptions& options, const std::string& at);

}  // namespace tapegrad::io::detail

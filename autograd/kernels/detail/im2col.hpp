// im2col and col2im: one image's group of channels unrolled into a column block, and its adjoint.
// Internal (not installed): included by the library's own .cpp files only.
#pragma once

#include <cstddef>

#include <tapegrad/autograd/kernels/conv.hpp>

namespace tapegrad::kernels {

/// Column block (cg*kh*kw, oh*ow), rows `ld` apart, of one image's group of channels starting at
/// src: row (c, i, j) holds the input pixel under kernel tap (i, j) for every output position.
template <class T>
void im2col(const T* src, T* col, std::size_t ld, const ConvGeom& g);
/// The adjoint of im2col: adds each entry of the column block back onto the pixel it came from.
template <class T>
void col2im(const T* col, std::size_t ld, T* dst, const ConvGeom& g);

}  // namespace tapegrad::kernels

// Loops for layer_norm: normalising rows of D elements, and the VJP of that, one pass per row.
#pragma once

#include <cstddef>

namespace tapegrad::kernels {

/// y = (x - mean) / sqrt(var + eps) * w + b for each of `rows` rows of `d` elements (w and b: d
/// elements, or null for none); the variance is the biased one, taken about the mean (two passes).
/// Writes each row's mean and 1 / sqrt(var + eps) to stats[2 r] and stats[2 r + 1].
template <class T>
void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* stats, std::size_t rows, std::size_t d, T eps);

/// The VJP of layer_norm_forward for the output gradient g: dx (null: not wanted; may be g itself) =
/// rstd (g w - mean(g w) - xhat mean(g w xhat)) per row, xhat = (x - mean) rstd; dw += sum over rows of
/// g xhat and db += sum of g (each null when not wanted).
template <class T>
void layer_norm_backward(const T* x, const T* w, const T* stats, const T* g, T* dx, T* dw, T* db, std::size_t rows,
                         std::size_t d);

}  // namespace tapegrad::kernels

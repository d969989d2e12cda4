// Reductions (sum, mean, max, min, logsumexp, var) and softmax / log_softmax along an axis.
#pragma once

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

// Without axes a reduction covers every element and gives a 0-d value; with axes it covers
// those (negative axes count from the end), and keepdims leaves them in place with size 1.

template <class T> Variable<T> sum(const Variable<T>& x);
template <class T> Variable<T> sum(const Variable<T>& x, int axis, bool keepdims = false);
template <class T> Variable<T> sum(const Variable<T>& x, const Axes& axes, bool keepdims = false);

template <class T> Variable<T> mean(const Variable<T>& x);
template <class T> Variable<T> mean(const Variable<T>& x, int axis, bool keepdims = false);
template <class T> Variable<T> mean(const Variable<T>& x, const Axes& axes, bool keepdims = false);

/// Largest element; tied maxima share the gradient equally.
template <class T> Variable<T> max(const Variable<T>& x);
template <class T> Variable<T> max(const Variable<T>& x, int axis, bool keepdims = false);
template <class T> Variable<T> max(const Variable<T>& x, const Axes& axes, bool keepdims = false);

template <class T> Variable<T> min(const Variable<T>& x);
template <class T> Variable<T> min(const Variable<T>& x, int axis, bool keepdims = false);
template <class T> Variable<T> min(const Variable<T>& x, const Axes& axes, bool keepdims = false);

/// log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m the maximum: no overflow.
template <class T> Variable<T> logsumexp(const Variable<T>& x);
template <class T> Variable<T> logsumexp(const Variable<T>& x, int axis, bool keepdims = false);
template <class T> Variable<T> logsumexp(const Variable<T>& x, const Axes& axes, bool keepdims = false);

/// Variance sum((x - mean)^2) / (n - correction); correction 1 (the default, as in PyTorch)
/// is the unbiased estimate, 0 the population variance.
template <class T> Variable<T> var(const Variable<T>& x, int correction = 1);
template <class T> Variable<T> var(const Variable<T>& x, int axis, bool keepdims, int correction = 1);
template <class T> Variable<T> var(const Variable<T>& x, const Axes& axes, bool keepdims, int correction = 1);

/// exp(x) / sum(exp(x)) along `axis`, shifted by the maximum so it never overflows.
template <class T> Variable<T> softmax(const Variable<T>& x, int axis = -1);
/// x - logsumexp(x) along `axis`, computed stably.
template <class T> Variable<T> log_softmax(const Variable<T>& x, int axis = -1);

}  // namespace tapegrad

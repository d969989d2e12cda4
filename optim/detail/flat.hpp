// Small loops over flat vectors (dot, max |x|, sum |x|) for BFGS, LBFGS and the line search.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace tapegrad::optim::detail {

/// a . b, summed in double in index order.
template <class T>
double dot(const std::vector<T>& a, const std::vector<T>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
    return s;
}

/// max |a_i| (0 for an empty vector; NaN if any element is NaN).
template <class T>
double max_abs(const std::vector<T>& a) {
    double m = 0;
    for (T v : a) {
        const double x = std::abs(double(v));
        if (std::isnan(x)) return x;
        if (x > m) m = x;
    }
    return m;
}

/// sum |a_i|.
template <class T>
double sum_abs(const std::vector<T>& a) {
    double s = 0;
    for (T v : a) s += std::abs(double(v));
    return s;
}

}  // namespace tapegrad::optim::detail

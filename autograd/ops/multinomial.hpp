// multinomial: seeded sampling of category indices from rows of probabilities or weights (for generation).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/random.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

namespace detail {
/// Index of the category that u in [0, total) falls in, over the running sums `cum`; never a
/// category of weight 0 (u equal to total after rounding takes the last category with weight).
inline std::size_t pick_category(const std::vector<double>& cum, const std::vector<double>& w, double u) {
    std::size_t i = std::size_t(std::upper_bound(cum.begin(), cum.end(), u) - cum.begin());
    if (i == cum.size()) i = cum.size() - 1;
    while (w[i] == 0 && i > 0) --i;
    return i;
}
}  // namespace detail

/// num_samples category indices drawn from each row of `probs` (1-D (n) or 2-D (rows, n)):
/// category j with probability probs[j] / sum(probs), so weights need not add up to 1, as
/// PyTorch's multinomial. Without replacement a category is drawn at most once per row (the
/// remaining weights renormalised after each draw). The result is (num_samples) or (rows,
/// num_samples); no gradient. The same generator state gives the same samples. A row with a
/// negative, NaN or infinite weight, or with every weight 0, is an Error naming the row.
template <class T>
Tensor<std::size_t> multinomial(const Variable<T>& probs, std::size_t num_samples, bool replacement = false,
                                Generator& gen = default_generator()) {
    const Shape& s = probs.shape();
    if (s.size() != 1 && s.size() != 2)
        throw Error(detail::message("multinomial: expected probs of 1 or 2 dimensions ((n) or (rows, n)), got shape ",
                                    shape_string(s)));
    const std::size_t rows = s.size() == 1 ? 1 : s[0], n = s.back();
    if (n == 0) throw Error(detail::message("multinomial: probs of shape ", shape_string(s), " has no categories"));
    if (num_samples == 0) throw Error("multinomial: num_samples must be at least 1, got 0");
    if (!replacement && num_samples > n)
        throw Error(detail::message("multinomial: cannot draw ", num_samples, " samples without replacement from ", n,
                                    " categories (expected num_samples <= ", n, ")"));
    // Every row is checked before anything is drawn: a bad row leaves the generator untouched.
    const T* p = probs.value().data();
    for (std::size_t r = 0; r < rows; ++r) {
        std::size_t nonzero = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const T v = p[r * n + j];
            if (!(v >= 0) || std::isinf(v))
                throw Error(detail::message("multinomial: row ", r, " has weight ", v, " at category ", j,
                                            " (expected finite weights >= 0)"));
            nonzero += v > 0;
        }
        if (nonzero == 0)
            throw Error(detail::message("multinomial: row ", r, " has every weight 0 (expected a positive sum)"));
        if (!replacement && nonzero < num_samples)
            throw Error(detail::message("multinomial: row ", r, " has ", nonzero, " categories of nonzero weight, ",
                                        "too few to draw ", num_samples, " samples without replacement"));
    }
    Tensor<std::size_t> out =
        Tensor<std::size_t>::from_shape(s.size() == 1 ? Shape{num_samples} : Shape{rows, num_samples});
    std::vector<double> w(n), cum(n);
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t j = 0; j < n; ++j) w[j] = double(p[r * n + j]);
        for (std::size_t k = 0; k < num_samples; ++k) {
            if (k == 0 || !replacement) {  // running sums in double: float weights of very different sizes add up
                double total = 0;
                for (std::size_t j = 0; j < n; ++j) cum[j] = total += w[j];
            }
            const std::size_t i = detail::pick_category(cum, w, gen.uniform(0.0, cum.back()));
            out.data()[r * num_samples + k] = i;
            if (!replacement) w[i] = 0;
        }
    }
    return out;
}

}  // namespace tapegrad

// Strong-Wolfe line search and cubic interpolation, ported from PyTorch's torch/optim/lbfgs.py.
#include <tapegrad/optim/line_search.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include <tapegrad/optim/detail/flat.hpp>

namespace tapegrad::optim {

double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi) {
    // Minimum of the cubic interpolating both points with their slopes (Nocedal & Wright, eq. 3.59).
    const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    const double d2_square = d1 * d1 - g1 * g2;
    if (d2_square >= 0) {
        const double d2 = std::sqrt(d2_square);
        const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
        // NaN only from 0/0 or an infinite f (PyTorch would go on with NaN): bisect instead.
        if (!std::isnan(min_pos)) return std::min(std::max(min_pos, lo), hi);
    }
    return (lo + hi) / 2.;
}

double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2) {
    return x1 <= x2 ? cubic_interpolate(x1, f1, g1, x2, f2, g2, x1, x2)
                    : cubic_interpolate(x1, f1, g1, x2, f2, g2, x2, x1);
}

template <class T>
LineSearchResult<T> strong_wolfe(const LineObjective<T>& objective, double t, const std::vector<T>& d, double f,
                                 const std::vector<T>& g, double gtd, const StrongWolfeOptions& o) {
    const double d_norm = detail::max_abs(d);
    auto armijo_fails = [&](double f_new, double t_new) { return f_new > f + o.c1 * t_new * gtd; };
    // A NaN loss (e.g. an overflow far along the line) counts as +infinity: too large, so the
    // bracket closes below it and the step shrinks.
    auto eval = [&](double t_new, std::vector<T>& g_out) {
        const double v = objective(t_new, g_out);
        return std::isnan(v) ? std::numeric_limits<double>::infinity() : v;
    };

    std::vector<T> g_new(d.size());
    double f_new = eval(t, g_new);
    std::size_t evals = 1;
    double gtd_new = detail::dot(g_new, d);

    // Bracketing phase: find an interval containing a point that satisfies the conditions.
    double t_prev = 0, f_prev = f, gtd_prev = gtd;
    std::vector<T> g_prev = g;
    double bracket[2] = {0, 0}, bracket_f[2] = {0, 0}, bracket_gtd[2] = {0, 0};
    std::vector<T> bracket_g[2];
    bool single = false;  // the bracket is one point that satisfies the conditions
    bool done = false;
    std::size_t ls_iter = 0;
    while (ls_iter < o.max_ls) {
        if (armijo_fails(f_new, t) || (ls_iter > 1 && f_new >= f_prev)) {
            bracket[0] = t_prev, bracket[1] = t;
            bracket_f[0] = f_prev, bracket_f[1] = f_new;
            bracket_g[0] = g_prev, bracket_g[1] = g_new;
            bracket_gtd[0] = gtd_prev, bracket_gtd[1] = gtd_new;
            break;
        }
        if (std::abs(gtd_new) <= -o.c2 * gtd) {
            bracket[0] = t, bracket_f[0] = f_new, bracket_g[0] = g_new;
            single = done = true;
            break;
        }
        if (gtd_new >= 0) {
            bracket[0] = t_prev, bracket[1] = t;
            bracket_f[0] = f_prev, bracket_f[1] = f_new;
            bracket_g[0] = g_prev, bracket_g[1] = g_new;
            bracket_gtd[0] = gtd_prev, bracket_gtd[1] = gtd_new;
            break;
        }
        // Extrapolate by cubic interpolation, between 1.01 and 10 times the current step.
        const double min_step = t + 0.01 * (t - t_prev);
        const double max_step = t * 10;
        const double tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new;
        gtd_prev = gtd_new;
        f_new = eval(t, g_new);
        ++evals;
        gtd_new = detail::dot(g_new, d);
        ++ls_iter;
    }
    if (ls_iter == o.max_ls) {  // out of evaluations: fall back to the interval [0, t]
        bracket[0] = 0, bracket[1] = t;
        bracket_f[0] = f, bracket_f[1] = f_new;
        bracket_g[0] = g, bracket_g[1] = g_new;
        single = false;
    }

    // Zoom phase: shrink the bracket until a point satisfies the conditions.
    bool insufficient_progress = false;
    std::size_t low = 0, high = 1;
    if (!single && !(bracket_f[0] <= bracket_f[1])) low = 1, high = 0;
    while (!done && ls_iter < o.max_ls) {
        if (std::abs(bracket[1] - bracket[0]) * d_norm < o.tolerance_change) break;  // bracket too small
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]);

        // A trial point too close to an end of the bracket moves 10% of its length inside,
        // unless the previous trial made enough progress and this one lies strictly inside.
        const double b_max = std::max(bracket[0], bracket[1]), b_min = std::min(bracket[0], bracket[1]);
        const double eps = 0.1 * (b_max - b_min);
        if (std::min(b_max - t, t - b_min) < eps) {
            if (insufficient_progress || t >= b_max || t <= b_min) {
                t = std::abs(t - b_max) < std::abs(t - b_min) ? b_max - eps : b_min + eps;
                insufficient_progress = false;
            } else {
                insufficient_progress = true;
            }
        } else {
            insufficient_progress = false;
        }

        f_new = eval(t, g_new);
        ++evals;
        gtd_new = detail::dot(g_new, d);
        ++ls_iter;

        if (armijo_fails(f_new, t) || f_new >= bracket_f[low]) {
            // Not a sufficient decrease, or not below the lowest point: the new high end.
            bracket[high] = t, bracket_f[high] = f_new, bracket_g[high] = g_new, bracket_gtd[high] = gtd_new;
            if (bracket_f[0] <= bracket_f[1])
                low = 0, high = 1;
            else
                low = 1, high = 0;
        } else {
            if (std::abs(gtd_new) <= -o.c2 * gtd) {
                done = true;  // strong Wolfe conditions hold
            } else if (gtd_new * (bracket[high] - bracket[low]) >= 0) {
                // The old high end becomes the new low end.
                bracket[high] = bracket[low], bracket_f[high] = bracket_f[low];
                bracket_g[high] = bracket_g[low], bracket_gtd[high] = bracket_gtd[low];
            }
            bracket[low] = t, bracket_f[low] = f_new, bracket_g[low] = g_new, bracket_gtd[low] = gtd_new;
        }
    }
    return {bracket_f[low], std::move(bracket_g[low]), bracket[low], evals};
}

template LineSearchResult<float> strong_wolfe(const LineObjective<float>&, double, const std::vector<float>&, double,
                                              const std::vector<float>&, double, const StrongWolfeOptions&);
template LineSearchResult<double> strong_wolfe(const LineObjective<double>&, double, const std::vector<double>&, double,
                                               const std::vector<double>&, double, const StrongWolfeOptions&);

}  // namespace tapegrad::optim

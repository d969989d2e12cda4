// Strong-Wolfe line search with cubic interpolation (PyTorch's _strong_wolfe), used by BFGS and LBFGS.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace tapegrad::optim {

/// The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped to
/// [lo, hi]; the midpoint of [lo, hi] when the cubic has no minimum or the formula gives NaN
/// (0/0, or an infinite f).
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi);
/// As above, clamped to the interval between x1 and x2.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2);

/// Settings of strong_wolfe (PyTorch's defaults).
struct StrongWolfeOptions {
    double c1 = 1e-4;                ///< sufficient decrease: f(t) <= f(0) + c1 t f'(0)
    double c2 = 0.9;                 ///< curvature: |f'(t)| <= -c2 f'(0)
    double tolerance_change = 1e-9;  ///< stop when the bracket is shorter than this (times max |d|)
    std::size_t max_ls = 25;         ///< at most this many evaluations
};

/// Where the line search stopped.
template <class T>
struct LineSearchResult {
    double loss;              ///< f(t)
    std::vector<T> grad;      ///< gradient at x + t d
    double t;                 ///< the step
    std::size_t evaluations;  ///< calls of the objective
};

/// The objective along the line: returns f(x + t d) and writes its gradient into `grad`
/// (leaving the parameters at x).
template <class T>
using LineObjective = std::function<double(double t, std::vector<T>& grad)>;

/// Finds a step t along the descent direction d satisfying the strong Wolfe conditions,
/// starting from the trial step t, given f, its gradient g and gtd = g.d at t = 0 — PyTorch's
/// _strong_wolfe, step for step, except that a NaN f(t) counts as +infinity (too large,
/// so the step shrinks) where PyTorch would go on with NaN.
template <class T>
LineSearchResult<T> strong_wolfe(const LineObjective<T>& objective, double t, const std::vector<T>& d, double f,
                                 const std::vector<T>& g, double gtd, const StrongWolfeOptions& options = {});

extern template LineSearchResult<float> strong_wolfe(const LineObjective<float>&, double, const std::vector<float>&,
                                                     double, const std::vector<float>&, double,
                                                     const StrongWolfeOptions&);
extern template LineSearchResult<double> strong_wolfe(const LineObjective<double>&, double, const std::vector<double>&,
                                                      double, const std::vector<double>&, double,
                                                      const StrongWolfeOptions&);

}  // namespace tapegrad::optim

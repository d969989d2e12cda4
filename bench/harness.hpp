// Timing: statistics of samples, calibration of a sample's length, and alternating rounds.
#pragma once

#include <cstddef>
#include <vector>

#include "common.hpp"

namespace bench {

/// Summary of repeated measurements (in whatever unit they were taken).
struct Stats {
    double median = 0, p25 = 0, p75 = 0, min = 0, max = 0;
    std::size_t count = 0;
    /// Half the interquartile range relative to the median: the "±" of the table.
    double spread() const { return median != 0 ? (p75 - p25) / 2 / median : 0; }
};

/// Median and quartiles (linear interpolation between order statistics).
Stats summarize(std::vector<double> samples);

/// Seconds since an arbitrary start, from a steady clock.
double now_seconds();

/// How many iterations make one sample last about `target_seconds` (at least 1).
std::size_t calibrate(Runner& r, double target_seconds);

/// Seconds per iteration of each runner, sampled in `rounds` rounds; within a round every
/// runner takes one sample of iterations[i] iterations, in forward order on even rounds and
/// in reverse on odd ones, so that neither side always follows the other (caches, clock boosts,
/// a neighbour's compile job hit both alike). Result: samples[runner][round].
std::vector<std::vector<double>> alternate(const std::vector<Runner*>& runners,
                                           const std::vector<std::size_t>& iterations, int rounds);

/// Per-round ratios a[i] / b[i], summarised: pairing rounds cancels drifts that hit both sides.
Stats paired_ratio(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace bench

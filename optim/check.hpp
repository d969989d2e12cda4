// Checks of optimizer and scheduler options, each throwing "<who>: <what> must be ..., got ...".
#pragma once

namespace tapegrad::optim::detail {

/// v >= 0 and finite (NaN fails).
void check_nonnegative(const char* who, const char* what, double v);
/// v > 0 and finite (NaN fails).
void check_positive(const char* who, const char* what, double v);
/// 0 <= v < 1 (NaN fails).
void check_unit_interval(const char* who, const char* what, double v);
/// v >= least, for counts.
void check_at_least(const char* who, const char* what, long long v, long long least);

}  // namespace tapegrad::optim::detail

// Thread-local switches: grad mode (record or not), anomaly mode (check for NaN/Inf) and whether the
// forward may free intermediate values that no backward needs.
#pragma once

namespace tapegrad {

namespace detail {
inline thread_local bool grad_mode_enabled = true;
inline thread_local bool anomaly_mode_enabled = false;
inline thread_local bool keep_values_mode = false;
}  // namespace detail

/// True when ops on Variables that require grad are recorded (the default).
inline bool grad_enabled() noexcept { return detail::grad_mode_enabled; }

/// True inside a DetectAnomalyGuard.
inline bool anomaly_enabled() noexcept { return detail::anomaly_mode_enabled; }

/// Sets grad mode for the current thread until the guard goes out of scope.
class GradModeGuard {
public:
    /// Recording on (true) or off (false) until the destructor restores the previous mode.
    explicit GradModeGuard(bool enabled) noexcept : previous_(detail::grad_mode_enabled) {
        detail::grad_mode_enabled = enabled;
    }
    ~GradModeGuard() { detail::grad_mode_enabled = previous_; }
    GradModeGuard(const GradModeGuard&) = delete;
    GradModeGuard& operator=(const GradModeGuard&) = delete;

private:
    bool previous_;
};

/// Nothing computed in this scope is recorded: for evaluation and for parameter updates.
class NoGradGuard : public GradModeGuard {
public:
    NoGradGuard() noexcept : GradModeGuard(false) {}
};

/// In this scope every op checks its output, and backward checks every gradient, for NaN
/// and Inf, and the error names the op and the chain of ops that led to it.
class DetectAnomalyGuard {
public:
    /// Anomaly checks on (or off) until the destructor restores the previous setting.
    explicit DetectAnomalyGuard(bool enabled = true) noexcept : previous_(detail::anomaly_mode_enabled) {
        detail::anomaly_mode_enabled = enabled;
    }
    ~DetectAnomalyGuard() { detail::anomaly_mode_enabled = previous_; }
    DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
    DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

private:
    bool previous_;
};

/// True inside a KeepValuesGuard.
inline bool keep_values_enabled() noexcept { return detail::keep_values_mode; }

/// Keeps the value of every intermediate recorded in this scope. By default the forward frees the
/// value of a large intermediate (16 KiB or more) as soon as no Variable holds it and no backward
/// will read it (the output of x * w once x * w + b is recorded, as PyTorch does), so long chains
/// keep a third of the memory. Hold this guard while recording a graph whose intermediate values you
/// want to print or draw afterwards (graph_print, graph_html).
class KeepValuesGuard {
public:
    /// Values kept (or, with false, freed as usual) until the destructor restores the previous setting.
    explicit KeepValuesGuard(bool enabled = true) noexcept : previous_(detail::keep_values_mode) {
        detail::keep_values_mode = enabled;
    }
    ~KeepValuesGuard() { detail::keep_values_mode = previous_; }
    KeepValuesGuard(const KeepValuesGuard&) = delete;
    KeepValuesGuard& operator=(const KeepValuesGuard&) = delete;

private:
    bool previous_;
};

}  // namespace tapegrad

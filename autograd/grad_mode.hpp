// Thread-local switches: grad mode (record or not) and anomaly mode (check for NaN/Inf).
#pragma once

namespace tapegrad {

namespace detail {
inline thread_local bool grad_mode_enabled = true;
inline thread_local bool anomaly_mode_enabled = false;
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

}  // namespace tapegrad

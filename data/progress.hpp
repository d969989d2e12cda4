// Progress: a progress display for a training loop: a redrawn bar on a terminal, plain lines otherwise.
//
// Not part of <tapegrad/tapegrad.hpp>: include <tapegrad/data/progress.hpp> yourself.
//
//     #include <tapegrad/data/progress.hpp>
//     tapegrad::data::Progress bar(loader.size(), "epoch 1");
//     for (std::size_t i = 0; i < loader.size(); ++i) { ...; bar.update(i + 1, loss); }
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

namespace tapegrad::data {

/// Where and how a Progress draws. By default it writes to std::cerr and asks the stream's file
/// descriptor whether it is a terminal (std::cout, std::cerr, std::clog or a FILE*; any other
/// stream is not a terminal).
struct ProgressOptions {
    std::ostream* stream = nullptr;  ///< written to when file is null; null for both: std::cerr
    std::FILE* file = nullptr;       ///< written to (and flushed) instead of stream when set
    /// Draw as on a terminal (true) or as plain lines (false) whatever the stream is; tests use it.
    std::optional<bool> force_terminal;
    /// Plain lines: one each time another `plain_every_percent` of the steps is done, and at the end.
    double plain_every_percent = 10.0;
    /// Terminal: at most this many redraws per second (the last step is always drawn).
    double redraws_per_second = 10.0;
    /// Characters in the terminal bar.
    std::size_t bar_width = 24;
    /// Seconds since any fixed point; by default std::chrono::steady_clock. Tests pass their own.
    std::function<double()> clock;
};

/// Steps done out of a total, with the rate, the time left and the latest loss. On a terminal
/// one line is redrawn in place (a carriage return, no newline):
///
///     epoch 1 [##########..............]  312/750  1520.3 it/s  ETA 0:00  loss 0.4821
///
/// and elsewhere (a log file, a pipe) a plain line is printed every 10% and at the end:
///
///     epoch 1: 75/750 (10%)  1498.2 it/s  ETA 0:00  loss 0.6012
class Progress {
public:
    /// `total` steps (at least 1), named `label` on every line.
    explicit Progress(std::size_t total, std::string label = {}, ProgressOptions options = {});
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// `step` of the total are done (1..total, never going back); `loss` is shown when given.
    void update(std::size_t step, std::optional<double> loss = std::nullopt);
    /// Ends the terminal line (a newline after the last redraw) if it is not ended yet; the
    /// destructor calls it, so a loop left early leaves the cursor on a fresh line.
    void finish();
    /// True when drawing on a terminal (redrawn line), false for plain lines.
    bool is_terminal() const { return terminal_; }

private:
    double now() const;
    void write(const std::string& text);
    std::string stats(std::size_t step, double elapsed, std::optional<double> loss) const;

    std::size_t total_;
    std::string label_;
    ProgressOptions options_;
    bool terminal_ = false;
    double start_ = 0;
    double last_draw_ = 0;
    bool drawn_ = false;      // terminal: something is on the current line
    bool line_open_ = false;  // terminal: the current line still needs its newline
    std::size_t last_width_ = 0;
    std::size_t step_ = 0;
    long long last_bucket_ = 0;  // plain: the last plain_every_percent bucket printed
};

}  // namespace tapegrad::data

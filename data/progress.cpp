// Progress: drawing the bar or the plain lines, throttled by the clock, and the checks of its arguments.
#include <tapegrad/data/progress.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::data {

namespace {

/// "0:07", "12:34", "1:02:03"; "?" when not known.
std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "?";
    const long long s = std::llround(seconds);
    if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    return fmt::format("{}:{:02}", s / 60, s % 60);
}

bool is_terminal_stream(const ProgressOptions& o) {
    if (o.force_terminal) return *o.force_terminal;
    if (o.file) return ::isatty(::fileno(o.file)) == 1;
    const std::ostream* s = o.stream ? o.stream : &std::cerr;
    if (s == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
    if (s == &std::cerr || s == &std::clog) return ::isatty(STDERR_FILENO) == 1;
    return false;  // a file or string stream: plain lines
}

}  // namespace

Progress::Progress(std::size_t total, std::string label, ProgressOptions options)
    : total_(total), label_(std::move(label)), options_(std::move(options)) {
    if (total_ == 0) throw Error("Progress: total must be at least 1 step, got 0");
    const double every = options_.plain_every_percent;
    if (!(every > 0 && every <= 100))
        throw Error(fmt::format("Progress: plain_every_percent must be in (0, 100], got {}", every));
    const double rate = options_.redraws_per_second;
    if (!(rate > 0 && std::isfinite(rate)))
        throw Error(fmt::format("Progress: redraws_per_second must be positive and finite, got {}", rate));
    if (!options_.clock) {
        options_.clock = [] {
            using namespace std::chrono;
            return duration<double>(steady_clock::now().time_since_epoch()).count();
        };
    }
    terminal_ = is_terminal_stream(options_);
    start_ = now();
}

Progress::~Progress() {
    try {
        finish();
    } catch (...) {  // a destructor must not throw; a failed final newline is not worth a crash
    }
}

double Progress::now() const { return options_.clock(); }

void Progress::write(const std::string& text) {
    if (options_.file) {
        std::fputs(text.c_str(), options_.file);
        std::fflush(options_.file);
    } else {
        std::ostream& os = options_.stream ? *options_.stream : std::cerr;
        os << text << std::flush;
    }
}

std::string Progress::stats(std::size_t step, double elapsed, std::optional<double> loss) const {
    std::string out;
    const bool known = elapsed > 0;
    const double rate = known ? double(step) / elapsed : 0.0;
    out += known ? fmt::format("{:.1f} it/s", rate) : std::string("? it/s");
    if (step == total_)
        out += "  in " + format_duration(elapsed);
    else
        out += "  ETA " + (known ? format_duration(double(total_ - step) / rate) : std::string("?"));
    if (loss) out += fmt::format("  loss {:.4f}", *loss);
    return out;
}

void Progress::update(std::size_t step, std::optional<double> loss) {
    if (step == 0 || step > total_)
        throw Error(fmt::format("Progress::update: step {} is outside 1..{}", step, total_));
    if (step < step_) throw Error(fmt::format("Progress::update: step {} is before the previous step {}", step, step_));
    if (step_ == total_) return;  // the last step is drawn once
    step_ = step;
    const double t = now();
    const double elapsed = t - start_;
    if (terminal_) {
        if (drawn_ && step < total_ && t - last_draw_ < 1.0 / options_.redraws_per_second) return;
        const std::size_t filled = options_.bar_width * step / total_;
        const std::string bar = std::string(filled, '#') + std::string(options_.bar_width - filled, '.');
        const std::size_t digits = std::to_string(total_).size();
        std::string line = fmt::format("{}{}[{}] {:>{}}/{}  {}", label_, label_.empty() ? "" : " ", bar, step, digits,
                                       total_, stats(step, elapsed, loss));
        const std::size_t width = line.size();
        if (width < last_width_) line += std::string(last_width_ - width, ' ');  // clear the longer old line
        write("\r" + line);
        last_width_ = width;
        last_draw_ = t;
        drawn_ = line_open_ = true;
        if (step == total_) finish();
        return;
    }
    const auto bucket =
        static_cast<long long>(std::floor(double(step) * 100.0 / (double(total_) * options_.plain_every_percent)));
    if (bucket <= last_bucket_ && step < total_) return;
    last_bucket_ = bucket;
    write(fmt::format("{}{}{}/{} ({}%)  {}\n", label_, label_.empty() ? "" : ": ", step, total_, step * 100 / total_,
                      stats(step, elapsed, loss)));
}

void Progress::finish() {
    if (terminal_ && line_open_) {
        line_open_ = false;
        write("\n");
    }
}

}  // namespace tapegrad::data

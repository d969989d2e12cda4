// The results table: rows of tapegrad vs libtorch figures, printed aligned and saved as CSV and JSON.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace bench {

/// One line of the table. Times are stored in the row's unit (µs, ms, s, MiB, %...).
struct Row {
    Row() = default;
    Row(std::string workload, std::string unit) : workload(std::move(workload)), unit(std::move(unit)) {}

    std::string workload;
    std::string unit;
    std::optional<Stats> tapegrad;
    std::optional<Stats> libtorch;
    /// tapegrad / libtorch (median of per-round ratios), or for rows where a ratio means
    /// nothing (accuracy, fraction of sgemm) the figure the target is about.
    std::optional<double> compare;
    std::string compare_kind = "ratio";  // "ratio", "diff" (tapegrad - libtorch) or "value"
    std::string target;                  // e.g. "<= 0.80"
    std::optional<bool> met;
    std::string note;
};

/// Everything about the run the table belongs to.
struct RunInfo {
    std::string date;  // UTC, ISO 8601
    int threads = 1;
    std::string host;  // CPU model
    std::string load;  // the machine's load average when the run started (other work slows both sides)
    bool libtorch = false;
    bool real_data = false;
    std::string versions;  // libtorch / OpenBLAS
    std::string build;     // tapegrad::build_info(), one "key: value" a line
};

/// The table as text for the terminal (and as Markdown when `markdown`).
std::string format_table(const RunInfo& info, const std::vector<Row>& rows, bool markdown);
void write_csv(const std::string& path, const RunInfo& info, const std::vector<Row>& rows);
void write_json(const std::string& path, const RunInfo& info, const std::vector<Row>& rows);

/// A number with three significant digits (or fewer decimals for large values).
std::string fmt_value(double v);

}  // namespace bench

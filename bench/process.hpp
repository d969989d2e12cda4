// Running a benchmark program as a child process: its output, wall time and peak resident memory.
#pragma once

#include <string>
#include <vector>

namespace bench {

struct ChildRun {
    double wall_seconds = 0;  // from start to exit: loading libraries and data included
    double peak_rss_mib = 0;  // the child's maximum resident set size (getrusage)
    int exit_code = -1;
    std::string output;  // its standard output
};

/// Runs `program` with `args` and waits for it; throws when it cannot be started.
ChildRun run_child(const std::string& program, const std::vector<std::string>& args);

/// The directory of the running executable (where its sibling programs are built).
std::string own_directory();

/// The value of `key=` in a "k=v k=v" line, or NaN.
double field(const std::string& line, const std::string& key);

}  // namespace bench

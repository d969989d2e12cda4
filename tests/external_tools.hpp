// Tests needing an outside tool (Graphviz, NumPy, PyTorch, a data set): failed under CI when missing, else skipped.
//
// Such a test case is tagged `* doctest::test_suite("external")`; tests/CMakeLists.txt registers
// those cases as their own ctest test, <binary>_external. When the tool is missing the case calls
// missing_tool(): under CI (the environment has CI=true, or TAPEGRAD_REQUIRE_TOOLS=1 as the
// test command sets) that is a failure; elsewhere the binary exits with 77, which ctest
// reports as "Skipped" (SKIP_RETURN_CODE), never as passed.
#pragma once

#include <atomic>
#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

namespace tgtest {

/// Exit code of a test binary whose tests passed but one was skipped.
constexpr int skip_exit_code = 77;

inline std::atomic<bool>& skipped_flag() {
    static std::atomic<bool> flag{false};
    return flag;
}

/// True when a missing tool must fail the test: CI=true, or TAPEGRAD_REQUIRE_TOOLS=1.
inline bool tools_required() {
    auto set = [](const char* name, const char* value) {
        const char* v = std::getenv(name);
        return v && std::string(v) == value;
    };
    return set("CI", "true") || set("CI", "1") || set("TAPEGRAD_REQUIRE_TOOLS", "1");
}

/// Call when a tool or data set the test needs is missing, then return from the test case:
/// a failure under CI, a skip (exit code 77) elsewhere.
inline void missing_tool(const std::string& what) {
    if (tools_required()) {
        FAIL_CHECK("required tool missing: " << what
                                             << " (CI=true / TAPEGRAD_REQUIRE_TOOLS=1: nothing may be skipped)");
    } else {
        MESSAGE("SKIPPED: " << what);
        skipped_flag() = true;
    }
}

/// A python3 that can import every module named (space-separated), or "".
inline std::string python_with(const std::string& modules) {
    for (const char* py : {"/usr/bin/python3", "python3"}) {
        std::string imports;
        std::size_t start = 0;
        while (start < modules.size()) {
            std::size_t end = modules.find(' ', start);
            if (end == std::string::npos) end = modules.size();
            if (end > start)
                imports += (imports.empty() ? "import " : "; import ") + modules.substr(start, end - start);
            start = end + 1;
        }
        const std::string cmd = std::string(py) + " -c '" + imports + "' >/dev/null 2>&1";
        if (std::system(cmd.c_str()) == 0) return py;
    }
    return {};
}

}  // namespace tgtest

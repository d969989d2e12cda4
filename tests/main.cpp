// The doctest main shared by every test executable: exit code 77 ("skipped" to ctest) when a test lacked its tool.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "external_tools.hpp"

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int rc = context.run();
    if (context.shouldExit()) return rc;
    if (rc == 0 && tgtest::skipped_flag()) return tgtest::skip_exit_code;
    return rc;
}

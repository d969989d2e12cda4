// Tests of data::Progress with an injected clock: exact plain lines, the terminal redraw ('\r', rate, ETA,
// throttling, clearing a longer line), FILE* output, and errors for bad arguments.
#include <cstdio>
#include <sstream>

#include <tapegrad/data/progress.hpp>

#include "helpers.hpp"

using namespace tgtest;
namespace data = tapegrad::data;

namespace {

/// Options writing to `os` with a clock that reads `t` (seconds), so nothing depends on real time.
data::ProgressOptions fake(std::ostringstream& os, const double& t, std::optional<bool> terminal = std::nullopt) {
    data::ProgressOptions o;
    o.stream = &os;
    o.force_terminal = terminal;
    o.clock = [&t] { return t; };
    return o;
}

std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("Progress on a stream that is not a terminal: a plain line every N% and at the end") {
    std::ostringstream os;
    double t = 0;
    auto options = fake(os, t);
    options.plain_every_percent = 25;
    {
        data::Progress progress(20, "epoch 1", options);
        CHECK(!progress.is_terminal());
        for (std::size_t step = 1; step <= 20; ++step) {
            t = 0.5 * double(step);  // 2 steps a second
            progress.update(step, 1.0 / double(step));
        }
        progress.update(20);  // the last step is printed once
    }
    CHECK(os.str() ==
          "epoch 1: 5/20 (25%)  2.0 it/s  ETA 0:08  loss 0.2000\n"
          "epoch 1: 10/20 (50%)  2.0 it/s  ETA 0:05  loss 0.1000\n"
          "epoch 1: 15/20 (75%)  2.0 it/s  ETA 0:03  loss 0.0667\n"
          "epoch 1: 20/20 (100%)  2.0 it/s  in 0:10  loss 0.0500\n");
}

TEST_CASE("Progress plain lines: by default every 10%, no label, no loss, the end even off the grid") {
    std::ostringstream os;
    double t = 0;
    data::Progress progress(1000, "", fake(os, t));
    for (std::size_t step = 1; step <= 999; ++step) {
        t = double(step) / 100.0;
        progress.update(step);
    }
    CHECK(count(os.str(), "\n") == 9);
    CHECK(os.str().substr(0, os.str().find('\n')) == "100/1000 (10%)  100.0 it/s  ETA 0:09");
    t = 10.0;
    progress.update(1000);
    CHECK(count(os.str(), "\n") == 10);
    CHECK(os.str().find("1000/1000 (100%)  100.0 it/s  in 0:10\n") != std::string::npos);
    CHECK(os.str().find('\r') == std::string::npos);
}

TEST_CASE("Progress on a terminal: one line redrawn with \\r, at most redraws_per_second, ended by a newline") {
    std::ostringstream os;
    double t = 0;
    data::Progress progress(100, "train", fake(os, t, true));
    CHECK(progress.is_terminal());
    for (std::size_t step = 1; step <= 100; ++step) {
        t = double(step) / 100.0;  // 100 steps a second: about every 10th step is drawn
        progress.update(step, 0.5);
    }
    const std::string out = os.str();
    CHECK(count(out, "\r") >= 10);
    CHECK(count(out, "\r") <= 12);
    CHECK(count(out, "\n") == 1);
    CHECK(out.back() == '\n');
    CHECK(out.rfind("\rtrain [", 0) == 0);
    CHECK(out.find("\rtrain [........................]   1/100  100.0 it/s  ETA 0:01  loss 0.5000") == 0);
    CHECK(out.find("ETA 0:0") != std::string::npos);
    // "in 0:01" is one column shorter than "ETA 0:00": a space clears the old line's last character.
    CHECK(out.find("\rtrain [########################] 100/100  100.0 it/s  in 0:01  loss 0.5000 \n") !=
          std::string::npos);
    progress.finish();  // the line is already ended: nothing more
    CHECK(os.str() == out);
}

TEST_CASE("Progress on a terminal: a shorter line clears the longer one, finish() ends a line left early") {
    std::ostringstream os;
    double t = 0;
    data::ProgressOptions options = fake(os, t, true);
    options.bar_width = 4;
    {
        data::Progress progress(4, "", options);
        t = 1;
        progress.update(1, 1234.5);
        t = 2;
        progress.update(2);
    }  // left at 2 of 4: the destructor ends the line
    const std::string first = "[#...] 1/4  1.0 it/s  ETA 0:03  loss 1234.5000";
    const std::string second = "[##..] 2/4  1.0 it/s  ETA 0:02";
    CHECK(os.str() == "\r" + first + "\r" + second + std::string(first.size() - second.size(), ' ') + "\n");
}

TEST_CASE("Progress writes to a FILE*, which is not a terminal when it is a file") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    double t = 0;
    data::ProgressOptions options;
    options.file = f;
    options.clock = [&t] { return t; };
    {
        data::Progress progress(2, "io", options);
        CHECK(!progress.is_terminal());
        t = 1;
        progress.update(2);
    }
    std::rewind(f);
    char buf[128] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    CHECK(std::string(buf, n) == "io: 2/2 (100%)  2.0 it/s  in 0:01\n");
    std::ostringstream os;  // a string stream is not a terminal either
    CHECK(!data::Progress(3, "",
                          [&] {
                              data::ProgressOptions o;
                              o.stream = &os;
                              return o;
                          }())
               .is_terminal());
}

TEST_CASE("Progress: bad arguments are Errors naming the function, what it got and what it expected") {
    std::ostringstream os;
    double t = 0;
    check_error([&] { data::Progress(0, "x", fake(os, t)); }, "Progress: total must be at least 1 step, got 0");
    auto options = fake(os, t);
    options.plain_every_percent = 0;
    check_error([&] { data::Progress(5, "x", options); }, "Progress: plain_every_percent must be in (0, 100], got 0");
    options = fake(os, t);
    options.redraws_per_second = -1;
    check_error([&] { data::Progress(5, "x", options); }, "redraws_per_second must be positive and finite, got -1");
    data::Progress progress(5, "x", fake(os, t));
    check_error([&] { progress.update(0); }, "Progress::update: step 0 is outside 1..5");
    check_error([&] { progress.update(6); }, "Progress::update: step 6 is outside 1..5");
    progress.update(3);
    check_error([&] { progress.update(2); }, "Progress::update: step 2 is before the previous step 3");
}

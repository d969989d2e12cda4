// Crash safety of saves: a child process killed (SIGKILL) in the middle of save_npz leaves the previous checkpoint
// loadable.
//
// The child saves checkpoint after checkpoint over the same path, each one filled with its own
// number k, and tells the parent through a pipe when save k starts and ends. The parent kills
// it at a random moment inside a save, then loads the path: it must hold a complete checkpoint,
// either the last one the child finished or the one it was writing (if the rename had just
// happened). Any torn, truncated or mixed file fails the test.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "helpers.hpp"
#include "test_data_helpers.hpp"

using namespace tgtest;
namespace tgio = tapegrad::io;

namespace {

using Clock = std::chrono::steady_clock;

/// A checkpoint of about 2 MB whose every element is k.
tgio::NamedTensors<double> checkpoint(double k) {
    tgio::NamedTensors<double> arrays;
    arrays.emplace_back("layer1.weight", tg::Tensor<double>(tg::Shape{256, 512}, k));
    arrays.emplace_back("layer1.bias", tg::Tensor<double>(tg::Shape{256}, k));
    arrays.emplace_back("layer2.weight", tg::Tensor<double>(tg::Shape{10, 256}, k));
    arrays.emplace_back("step", tg::Tensor<double>(tg::Shape{}, k));
    return arrays;
}

/// The k a loaded checkpoint holds everywhere, or -1 if it is not one of ours, whole.
double uniform_value(const tgio::NamedTensors<double>& arrays) {
    const auto expected = checkpoint(0);
    if (arrays.size() != expected.size()) return -1;
    const double k = arrays[0].second.data()[0];
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        if (arrays[i].first != expected[i].first || arrays[i].second.shape() != expected[i].second.shape()) return -1;
        for (double v : arrays[i].second)
            if (v != k) return -1;
    }
    return k;
}

struct Message {
    std::int32_t k;
    std::int32_t done;  // 0: save k starts, 1: save k is complete
};

/// The child: saves 1, 2, 3, ... until it is killed.
[[noreturn]] void saver(const std::string& path, int out) {
    for (std::int32_t k = 1;; ++k) {
        Message m{k, 0};
        if (write(out, &m, sizeof m) != sizeof m) _exit(3);
        try {
            tgio::save_npz(path, checkpoint(k));
        } catch (...) {
            _exit(2);
        }
        m.done = 1;
        if (write(out, &m, sizeof m) != sizeof m) _exit(3);
    }
}

std::size_t temp_files_in(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) ++n;
    return n;
}

}  // namespace

TEST_CASE("killing a process in the middle of a save leaves the previous checkpoint intact and loadable") {
    data_test::TempDir dir;
    const std::string path = dir / "model.npz";
    tgio::save_npz(path, checkpoint(0));
    // How long one save takes here (the fastest of three), to aim the kills inside one.
    long save_us = 1L << 30;
    for (int i = 0; i < 3; ++i) {
        const auto t0 = Clock::now();
        tgio::save_npz(path, checkpoint(0));
        save_us =
            std::min<long>(save_us, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
    }
    save_us = std::max<long>(save_us, 100);

    std::mt19937 rng(12345);
    const int rounds = 20;
    int mid_save = 0, kept_previous = 0, took_new = 0;
    for (int round = 0; round < rounds; ++round) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            saver(path, fds[1]);
        }
        close(fds[1]);
        // Let the child finish a random number of saves, then kill it a random time into the next.
        const int target = 1 + int(rng() % 3);
        std::int32_t started = 0, finished = 0;
        Message m{};
        while (started < target && read(fds[0], &m, sizeof m) == sizeof m) (m.done ? finished : started) = m.k;
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % std::uint32_t(save_us / 2)));
        REQUIRE(kill(pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status));  // killed, not exited with an error
        while (read(fds[0], &m, sizeof m) == sizeof m) (m.done ? finished : started) = m.k;
        close(fds[0]);

        // A temporary file left behind shows the kill landed inside a save.
        if (temp_files_in(dir.path()) > 0) ++mid_save;
        for (const auto& e : std::filesystem::directory_iterator(dir.path()))
            if (e.path().filename().string().find(".tmp-") != std::string::npos) std::filesystem::remove(e.path());

        double k = -1;
        std::string error;
        try {
            k = uniform_value(tgio::load_npz<double>(path));
        } catch (const std::exception& e) {
            error = e.what();
        }
        INFO("round " << round << ": child started save " << started << ", finished " << finished << "; " << error);
        REQUIRE(error.empty());
        // The last complete save, or the one being written if its rename had already happened.
        CHECK((k == finished || k == started));
        (k == finished ? kept_previous : took_new) += 1;
        // Start the next round from a checkpoint of this one.
        tgio::save_npz(path, checkpoint(0));
    }
    MESSAGE(rounds << " children killed during saves of " << save_us << " us: " << mid_save
                   << " left a half-written temporary file; the checkpoint loaded whole every time (" << kept_previous
                   << " times the previous one, " << took_new << " times the new one)");
    CHECK(mid_save >= 2);  // the kills really did land inside saves (about half do)
}

// What saving does to the file system (long names, symlinks, modes, stale temporaries) and what it refuses.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/atomic_file.hpp>
#include <tapegrad/io/npz.hpp>
#include <tapegrad/nn/linear.hpp>
#include <tapegrad/nn/serialize.hpp>

#include "test_data_helpers.hpp"

namespace tg = tapegrad;
namespace tgio = tapegrad::io;
namespace nn = tapegrad::nn;
namespace fs = std::filesystem;
using tapegrad::FileError;
using tg::Tensor;
using namespace data_test;

namespace {

tgio::NamedTensors<double> one_array(double v = 1.5) {
    tgio::NamedTensors<double> a;
    a.emplace_back("w", Tensor<double>{v, 2.0});
    return a;
}

std::size_t files_in(const fs::path& dir) {
    return std::size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

/// The pid of a process that has exited (and been reaped): no writer holds it.
pid_t dead_pid() {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    return pid;
}

}  // namespace

TEST_CASE("a legal 250-character (and 255-character) file name can be saved") {
    TempDir dir;
    for (std::size_t len : {250u, 255u}) {
        CAPTURE(len);
        const std::string name(len - 4, 'n');
        const std::string path = dir / (name + ".npz");
        tgio::save_npz(path, one_array());
        CHECK(tgio::load_npz<double>(path)[0].second(0) == 1.5);
        tgio::save_npz(path, one_array(2.5));  // and over an existing file of that name
        CHECK(tgio::load_npz<double>(path)[0].second(0) == 2.5);
    }
    CHECK(files_in(dir.path()) == 2);
    // Temporary names of long targets are cut with a hash, so two such targets never share one.
    const std::string a(250, 'a'), b = a.substr(0, 249) + "b";
    CHECK(tgio::detail::temp_prefix(a, 255) != tgio::detail::temp_prefix(b, 255));
    CHECK(tgio::detail::temp_prefix(a, 255).size() + 30 <= 255);
    CHECK(tgio::detail::temp_prefix("m.npz", 255) == "m.npz.tmp-");
}

TEST_CASE("saving over a symbolic link writes through to its target, and the link stays a link") {
    TempDir dir;
    fs::create_directory(dir.path() / "real");
    const std::string target = dir / "real/model.npz";
    tgio::save_npz(target, one_array(1.0));
    fs::create_symlink("real/model.npz", dir.path() / "latest.npz");          // relative
    fs::create_symlink(dir.path() / "latest.npz", dir.path() / "chain.npz");  // a link to a link
    tgio::save_npz(dir / "chain.npz", one_array(7.0));
    CHECK(fs::is_symlink(dir.path() / "chain.npz"));
    CHECK(fs::is_symlink(dir.path() / "latest.npz"));
    CHECK(tgio::load_npz<double>(target)[0].second(0) == 7.0);
    CHECK(files_in(dir.path() / "real") == 1);  // no temporary left beside the target
    CHECK(files_in(dir.path()) == 3);
    // A dangling link: the file it names is created.
    fs::create_symlink("real/new.npz", dir.path() / "dangling.npz");
    tgio::save_npz(dir / "dangling.npz", one_array(3.0));
    CHECK(fs::is_symlink(dir.path() / "dangling.npz"));
    CHECK(tgio::load_npz<double>(dir / "real/new.npz")[0].second(0) == 3.0);
    // A loop of links is an error, not a hang.
    fs::create_symlink("loop2", dir.path() / "loop1");
    fs::create_symlink("loop1", dir.path() / "loop2");
    CHECK_THROWS_WITH_AS(tgio::save_npz(dir / "loop1", one_array()), doctest::Contains("symbolic links"), FileError);
}

TEST_CASE("saving over a file keeps its mode: 0600 stays 0600, 0640 stays 0640, through a symlink too") {
    TempDir dir;
    const std::string path = dir / "secret.npz";
    tgio::save_npz(path, one_array());
    for (mode_t mode : {mode_t(0600), mode_t(0640), mode_t(0444)}) {
        CAPTURE(mode);
        REQUIRE(chmod(path.c_str(), mode) == 0);
        tgio::save_npz(path, one_array(4.0));
        CHECK(mode_of(path) == mode);
    }
    REQUIRE(chmod(path.c_str(), 0600) == 0);
    fs::create_symlink("secret.npz", dir.path() / "link.npz");
    tgio::save_npz(dir / "link.npz", one_array(5.0));
    CHECK(mode_of(path) == 0600);
    CHECK(tgio::load_npz<double>(path)[0].second(0) == 5.0);
    // A new file gets the mode of any new file: 0666 less the umask.
    const mode_t mask = umask(022);
    tgio::save_npz(dir / "fresh.npz", one_array());
    umask(mask);
    CHECK(mode_of(dir / "fresh.npz") == 0644);
}

TEST_CASE("stale temporaries of the same target are removed; a live writer's never are") {
    TempDir dir;
    const std::string path = dir / "ckpt.npz";
    const std::string prefix = tgio::detail::temp_prefix("ckpt.npz", 255);
    const pid_t gone = dead_pid();
    auto temp = [&](pid_t pid, const std::string& tail = "0000abcd-7") {
        const std::string p = dir / (prefix + std::to_string(pid) + "-" + tail);
        write_file(p, "half a checkpoint");
        return p;
    };
    const std::string stale = temp(gone);
    const std::string stale2 = temp(gone, "ffffffff-12");
    const std::string mine = temp(getpid());              // this process is alive: a writer in another thread
    const std::string parent = temp(getppid());           // alive too
    const std::string locked = temp(gone, "12345678-1");  // pid gone, but someone holds its lock
    const int fd = open(locked.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
    const std::string other_target =
        dir / (tgio::detail::temp_prefix("other.npz", 255) + std::to_string(gone) + "-0000abcd-7");
    write_file(other_target, "another target's");
    const std::string not_ours = dir / (prefix + std::to_string(gone) + "-notours");  // not a name we make
    write_file(not_ours, "a user's file");

    tgio::save_npz(path, one_array());
    CHECK(!fs::exists(stale));
    CHECK(!fs::exists(stale2));
    CHECK(fs::exists(mine));
    CHECK(fs::exists(parent));
    CHECK(fs::exists(locked));
    CHECK(fs::exists(other_target));
    CHECK(fs::exists(not_ours));
    close(fd);
    tgio::save_npz(path, one_array());  // the lock released: now it goes
    CHECK(!fs::exists(locked));
}

TEST_CASE("a save killed part-way leaves a temporary that the next save removes") {
    TempDir dir;
    const std::string path = dir / "ckpt.npz";
    tgio::save_npz(path, one_array(1.0));
    for (int round = 0; round < 3; ++round) {
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            tgio::detail::AtomicFile f(path, "child");
            f.write("partial", 7);
            raise(SIGKILL);  // killed between write and commit
            _exit(1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status));
        // The checkpoint and the temporary of the writer just killed (each writer removed the
        // one before it: its writer was gone).
        CHECK(files_in(dir.path()) == 2);
    }
    tgio::save_npz(path, one_array(2.0));
    CHECK(files_in(dir.path()) == 1);
    CHECK(tgio::load_npz<double>(path)[0].second(0) == 2.0);
}

TEST_CASE("save refuses what load would refuse, before touching the file (33 dimensions, NaN, long names)") {
    TempDir dir;
    const std::string path = dir / "good.npz";
    tgio::save_npz(path, one_array());
    const Bytes before = read_file(path);

    tg::Shape shape(33, 1);
    nn::NamedVariables<double> deep{{"deep", tg::Variable<double>(Tensor<double>::from_shape(shape))}};
    CHECK_THROWS_WITH_AS(nn::save(deep, path), doctest::Contains("has 33 dimensions; a .npy holds at most 32"),
                         tg::Error);
    nn::NamedVariables<double> nan{{"w", tg::Variable<double>(Tensor<double>{1.0, std::nan("")})}};
    CHECK_THROWS_WITH_AS(nn::save(nan, path),
                         doctest::Contains("array 'w': element 1 (nan) is not finite; expected finite values"),
                         tg::Error);
    nn::NamedVariables<double> inf{{"w", tg::Variable<double>(Tensor<double>{-INFINITY})}};
    CHECK_THROWS_AS(nn::save(inf, path), tg::Error);
    nn::NamedVariables<double> longname{{std::string(201, 'x'), tg::Variable<double>(Tensor<double>{1.0})}};
    CHECK_THROWS_WITH_AS(nn::save(longname, path), doctest::Contains("bad array name"), tg::Error);
    CHECK(read_file(path) == before);
    CHECK(files_in(dir.path()) == 1);

    // 32 dimensions is the most, and loads back.
    tg::Shape shape32(32, 1);
    nn::NamedVariables<double> ok{{"deep", tg::Variable<double>(Tensor<double>::from_shape(shape32))}};
    nn::save(ok, path);
    CHECK(nn::load<double>(path)[0].second.dim() == 32);
}

TEST_CASE("NaN and infinite weights are refused by save and load unless the caller opts in") {
    TempDir dir;
    nn::Linear<double> lin(2, 1);
    Tensor<double> w = {{1.0, std::numeric_limits<double>::quiet_NaN()}};
    lin.weight().set_value(w);
    CHECK_THROWS_WITH_AS(nn::save(lin, dir / "nan.npz"),
                         doctest::Contains("array 'weight': element 1 (nan) is not finite"), tg::Error);
    nn::save(lin, dir / "nan.npz", tgio::SaveOptions().allow_non_finite(true));
    nn::Linear<double> other(2, 1);
    const Tensor<double> before = other.weight().value();
    CHECK_THROWS_WITH_AS(nn::load(other, dir / "nan.npz"),
                         doctest::Contains("member 'weight.npy': element 1 (nan) is not finite; expected finite "
                                           "values (LoadOptions::allow_non_finite(true) accepts NaN and infinity)"),
                         FileError);
    CHECK(other.weight().value() == before);
    nn::load(other, dir / "nan.npz", tgio::LoadOptions().allow_non_finite(true));
    CHECK(std::isnan(other.weight().value()(0, 1)));
}

TEST_CASE("float64 values that do not fit a float model are refused, naming the tensor and the element") {
    TempDir dir;
    nn::NamedVariables<double> big{{"weight", tg::Variable<double>(Tensor<double>{{0.5, 1e300}})},
                                   {"bias", tg::Variable<double>(Tensor<double>{0.0})}};
    nn::save(big, dir / "big.npz");
    nn::Linear<float> lin(2, 1);
    CHECK_THROWS_WITH_AS(nn::load(lin, dir / "big.npz"),
                         doctest::Contains("array 'weight': element 1 (1e+300) does not fit float32"), FileError);
    // Values at the edge of float's range still fit (they round to the largest float).
    nn::NamedVariables<double> edge{{"weight", tg::Variable<double>(Tensor<double>{{3.4028235e38, -1e-50}})},
                                    {"bias", tg::Variable<double>(Tensor<double>{0.0})}};
    nn::save(edge, dir / "edge.npz");
    nn::load(lin, dir / "edge.npz");
    CHECK(lin.weight().value()(0, 0) == std::numeric_limits<float>::max());
    CHECK(lin.weight().value()(0, 1) == -0.0f);
}

TEST_CASE("a FIFO or a device is refused by every reader without blocking") {
    TempDir dir;
    const std::string fifo = dir / "pipe.npz";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(fifo), doctest::Contains("not a regular file"), FileError);
    CHECK_THROWS_WITH_AS(nn::load<double>(fifo), doctest::Contains("not a regular file"), FileError);
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>("/dev/zero"), doctest::Contains("not a regular file"), FileError);
    // and saving over one refuses rather than replacing it with a file
    CHECK_THROWS_WITH_AS(tgio::save_npz(fifo, one_array()), doctest::Contains("not a regular file"), FileError);
}

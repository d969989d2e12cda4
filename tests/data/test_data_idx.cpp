// Tests of read_idx: good raw and gzip files, and one test per kind of hostile file.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/idx.hpp>

#include "test_data_helpers.hpp"

namespace tgd = tapegrad::data;
namespace tgio = tapegrad::io;
using tapegrad::FileError;
using namespace data_test;

namespace {

Bytes pattern(std::size_t n) {
    Bytes b(n, '\0');
    for (std::size_t i = 0; i < n; ++i) b[i] = char((i * 7 + 3) % 256);
    return b;
}

std::string write_temp(const TempDir& dir, const std::string& name, const Bytes& bytes) {
    std::string path = dir / name;
    write_file(path, bytes);
    return path;
}

}  // namespace

TEST_CASE("read_idx reads a raw 3-d file") {
    TempDir dir;
    Bytes payload = pattern(2 * 3 * 4);
    auto a = tgd::read_idx(write_temp(dir, "a.idx", idx_bytes(0x08, {2, 3, 4}, payload)));
    CHECK(a.shape == std::vector<std::size_t>{2, 3, 4});
    CHECK(Bytes(a.data.begin(), a.data.end()) == payload);
}

TEST_CASE("read_idx reads a gzip file the same as the raw one") {
    TempDir dir;
    Bytes payload = pattern(100000);  // more than one stored deflate block
    auto a = tgd::read_idx(write_temp(dir, "a.gz", gzip_stored(idx_bytes(0x08, {100000}, payload))));
    CHECK(a.shape == std::vector<std::size_t>{100000});
    CHECK(Bytes(a.data.begin(), a.data.end()) == payload);
}

TEST_CASE("read_idx reads a deflate-compressed fixture") {
    auto a = tgd::read_idx(fixture("tiny-images-idx3-ubyte.gz"));
    REQUIRE(a.shape == std::vector<std::size_t>{5, 4, 3});
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t k = 0; k < 12; ++k) CHECK(a.data[i * 12 + k] == (37 * i + 11 * k) % 256);
}

TEST_CASE("read_idx accepts an empty dimension") {
    TempDir dir;
    auto a = tgd::read_idx(write_temp(dir, "e.idx", idx_bytes(0x08, {0, 28, 28}, "")));
    CHECK(a.shape == std::vector<std::size_t>{0, 28, 28});
    CHECK(a.data.empty());
}

TEST_CASE("read_idx: missing file") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgd::read_idx(dir / "nope.idx"), doctest::Contains("file not found"), FileError);
    CHECK_THROWS_WITH_AS(tgd::read_idx(dir / "nope.idx"), doctest::Contains("nope.idx"), FileError);
}

TEST_CASE("read_idx: a directory is not a file") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgd::read_idx(dir.path().string()), doctest::Contains("not a regular file"), FileError);
}

TEST_CASE("read_idx: wrong magic") {
    TempDir dir;
    Bytes b = idx_bytes(0x08, {3}, "abc");
    b[0] = 0x12;
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "m.idx", b)), doctest::Contains("wrong magic"), FileError);
}

TEST_CASE("read_idx: short header") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "s1.idx", Bytes("\0\0", 2))),
                         doctest::Contains("short header: 2 bytes"), FileError);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "s0.idx", "")), doctest::Contains("short header: 0 bytes"),
                         FileError);
    // Three dimensions declared, the bytes of one and a half given.
    Bytes b = idx_bytes(0x08, {60000, 28, 28}, "").substr(0, 4 + 6);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "s2.idx", b)),
                         doctest::Contains("short header: 6 of the 12 bytes of 3 dimension sizes"), FileError);
}

TEST_CASE("read_idx: zero dimensions") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "z.idx", idx_bytes(0x08, {}, "x"))),
                         doctest::Contains("0 dimensions; expected 1 to 8"), FileError);
}

TEST_CASE("read_idx: too many dimensions") {
    TempDir dir;
    std::vector<std::uint32_t> dims(9, 1);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "t.idx", idx_bytes(0x08, dims, "x"))),
                         doctest::Contains("9 dimensions; expected 1 to 8"), FileError);
}

TEST_CASE("read_idx: unsupported and unknown element types") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "f.idx", idx_bytes(0x0D, {1}, "abcd"))),
                         doctest::Contains("unsupported element type 0x0d (float32); expected 0x08"), FileError);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "u.idx", idx_bytes(0x42, {1}, "a"))),
                         doctest::Contains("unknown element type 0x42"), FileError);
}

TEST_CASE("read_idx: dimension product overflows size_t") {
    TempDir dir;
    Bytes b = idx_bytes(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, "tiny");
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "o.idx", b)), doctest::Contains("overflow a size_t"), FileError);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "o.gz", gzip_stored(b))), doctest::Contains("overflow a size_t"),
                         FileError);
}

TEST_CASE("read_idx: dimension product exceeds what the file holds") {
    TempDir dir;
    // A 28-byte file asking for 60000 images: refused from the file size, before allocating.
    Bytes raw = idx_bytes(0x08, {60000, 28, 28}, "0123456789ab");
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "big.idx", raw)),
                         doctest::Contains("payload short: 12 bytes; dimensions (60000,28,28) need 47040000"),
                         FileError);
    // 2^64 - 2^33 + 1 bytes fit a size_t but no gzip file of 47 bytes can inflate to them.
    Bytes gz = gzip_stored(idx_bytes(0x08, {0xffffffffu, 0xffffffffu}, "0123456789ab"));
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "big.gz", gz)),
                         doctest::Contains("more than a 47-byte gzip file can hold"), FileError);
}

TEST_CASE("read_idx: payload short by one byte") {
    TempDir dir;
    Bytes b = idx_bytes(0x08, {2, 5}, pattern(9));
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "p.idx", b)),
                         doctest::Contains("payload short: 9 bytes; dimensions (2,5) need 10"), FileError);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "p.gz", gzip_stored(b))),
                         doctest::Contains("payload short: 9 bytes; dimensions (2,5) need 10"), FileError);
}

TEST_CASE("read_idx: trailing bytes") {
    TempDir dir;
    Bytes b = idx_bytes(0x08, {2, 5}, pattern(11));
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "t.idx", b)),
                         doctest::Contains("1 trailing bytes after the 10 payload bytes"), FileError);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "t.gz", gzip_stored(b))),
                         doctest::Contains("trailing bytes after the 10 payload bytes"), FileError);
}

TEST_CASE("read_idx: corrupt gzip stream") {
    TempDir dir;
    Bytes good = gzip_stored(idx_bytes(0x08, {2, 5}, pattern(10)));
    Bytes bad_crc = good;
    bad_crc[bad_crc.size() - 8] ^= 0x01;
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "crc.gz", bad_crc)),
                         doctest::Contains("corrupt gzip stream (incorrect data check)"), FileError);
    Bytes bad_len = good;
    bad_len[bad_len.size() - 4] ^= 0x01;
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "len.gz", bad_len)),
                         doctest::Contains("corrupt gzip stream (incorrect length check)"), FileError);
    Bytes bad_block = good;
    bad_block[10] = char(0x07);  // block type 3: reserved
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "blk.gz", bad_block)),
                         doctest::Contains("corrupt gzip stream (invalid block type)"), FileError);
    // Damage inside a real deflate stream (the fixture) is caught too, whatever zlib calls it.
    Bytes real = read_file(fixture("tiny-images-idx3-ubyte.gz"));
    for (std::size_t i = 12; i < real.size() - 8; ++i) real[i] = char(~real[i]);
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "real.gz", real)), doctest::Contains("gzip stream"), FileError);
}

TEST_CASE("read_idx: truncated gzip stream") {
    TempDir dir;
    Bytes good = gzip_stored(idx_bytes(0x08, {2, 5}, pattern(10)));
    // Cut inside the data, and cut just before the end of the trailer: both truncated.
    for (std::size_t cut : {good.size() - 14, good.size() - 1, std::size_t(12)}) {
        CAPTURE(cut);
        CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "cut.gz", good.substr(0, cut))),
                             doctest::Contains("truncated gzip stream"), FileError);
    }
}

TEST_CASE("read_idx: data after the end of the gzip stream") {
    TempDir dir;
    Bytes b = gzip_stored(idx_bytes(0x08, {2, 5}, pattern(10))) + "junk";
    CHECK_THROWS_WITH_AS(tgd::read_idx(write_temp(dir, "after.gz", b)),
                         doctest::Contains("unexpected data after the end of the gzip stream"), FileError);
}

TEST_CASE("read_idx on a FIFO is refused at once instead of blocking for ever") {
    TempDir dir;
    const std::string fifo = dir / "images.idx";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // In a child process, so that a read_idx that blocks is killed rather than hanging the suite.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        try {
            tgd::read_idx(fifo);
            _exit(1);
        } catch (const FileError& e) {
            _exit(std::string(e.what()) == "read_idx: '" + fifo + "': not a regular file" ? 0 : 2);
        } catch (...) {
            _exit(3);
        }
    }
    int status = 0;
    bool done = false;
    for (int i = 0; i < 200 && !done; ++i) {  // up to 20 s: ample for a call that should not wait at all
        done = waitpid(pid, &status, WNOHANG) == pid;
        if (!done) usleep(100000);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK_MESSAGE(done, "read_idx blocked on a FIFO");
    CHECK((done && WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("read_idx: a gzip file expanding past the limit (256 MiB by default) is refused before inflating") {
    // 300 MiB of zero pixels from about 300 kB of gzip.
    TempDir dir;
    const std::uint32_t n = 300u << 20;
    z_stream s{};
    REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    const Bytes head = idx_bytes(0x08, {n}, "");
    const std::vector<char> zeros(1 << 20, '\0');
    std::vector<char> buf(1 << 16);
    Bytes gz;
    auto feed = [&](const char* p, std::size_t len, int flush) {
        s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
        s.avail_in = uInt(len);
        do {
            s.next_out = reinterpret_cast<Bytef*>(buf.data());
            s.avail_out = uInt(buf.size());
            deflate(&s, flush);
            gz.append(buf.data(), buf.size() - s.avail_out);
        } while (s.avail_out == 0);
    };
    feed(head.data(), head.size(), Z_NO_FLUSH);
    for (std::size_t left = n; left > 0;) {
        const std::size_t k = std::min<std::size_t>(left, zeros.size());
        left -= k;
        feed(zeros.data(), k, left == 0 ? Z_FINISH : Z_NO_FLUSH);
    }
    deflateEnd(&s);
    const std::string path = write_temp(dir, "bomb-idx1-ubyte.gz", gz);
    CHECK(gz.size() < 400000);
    CHECK_THROWS_WITH_AS(
        tgd::read_idx(path),
        doctest::Contains(("need " + std::to_string(n + 8) + " bytes from a " + std::to_string(gz.size()) +
                           "-byte gzip file, more than the limit of 268435456 bytes "
                           "(LoadOptions::max_inflated_bytes")
                              .c_str()),
        FileError);
}

TEST_CASE("read_idx: LoadOptions::max_inflated_bytes bounds gzip output, and a raw file is not bound by it") {
    TempDir dir;
    const Bytes payload = pattern(5000);
    const std::string gz = write_temp(dir, "a.gz", gzip_stored(idx_bytes(0x08, {5000}, payload)));
    CHECK_THROWS_WITH_AS(tgd::read_idx(gz, tgio::LoadOptions().max_inflated_bytes(4096)),
                         doctest::Contains("more than the limit of 4096 bytes"), FileError);
    CHECK(tgd::read_idx(gz, tgio::LoadOptions().max_inflated_bytes(5008)).data.size() == 5000);
    const std::string raw = write_temp(dir, "a.idx", idx_bytes(0x08, {5000}, payload));
    CHECK(tgd::read_idx(raw, tgio::LoadOptions().max_inflated_bytes(0)).data.size() == 5000);
}

#if !defined(__SANITIZE_ADDRESS__)
// (AddressSanitizer reserves terabytes of address space: a limit on it cannot run there.)
TEST_CASE("read_idx: memory that cannot be allocated is a FileError naming the file, never std::bad_alloc") {
    TempDir dir;
    const std::uint32_t n = 200u << 20;
    const std::string path = dir / "big.idx";
    {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f);
        const Bytes head = idx_bytes(0x08, {n}, "");
        std::fwrite(head.data(), 1, head.size(), f);
        std::fclose(f);
        REQUIRE(truncate(path.c_str(), off_t(head.size() + n)) == 0);  // a sparse file of zeros
    }
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        long vm_kb = 0;
        if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
            long pages = 0;
            if (std::fscanf(f, "%ld", &pages) == 1) vm_kb = pages * (sysconf(_SC_PAGESIZE) / 1024);
            std::fclose(f);
        }
        rlimit lim{};
        lim.rlim_cur = lim.rlim_max = rlim_t(vm_kb + (64 << 10)) * 1024;
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(10);
        try {
            tgd::read_idx(path);
            _exit(1);
        } catch (const FileError& e) {
            const std::string m = e.what();
            _exit(m.find("read_idx: '" + path + "': out of memory while allocating 209715200 bytes") == 0 ? 0 : 3);
        } catch (const std::bad_alloc&) {
            _exit(2);
        } catch (...) {
            _exit(4);
        }
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // 2: std::bad_alloc escaped
}
#endif

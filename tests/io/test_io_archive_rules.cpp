// Hostile .npz archives: concatenated, overlapping or gapped members, bombs, ambiguous names, memory that runs out.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/npz.hpp>

#include "test_data_helpers.hpp"

namespace tg = tapegrad;
namespace tgio = tapegrad::io;
using tapegrad::FileError;
using tg::Tensor;
using namespace data_test;

namespace {

/// A raw deflate stream (no zlib or gzip wrapper) of `content`.
Bytes deflate_raw(const Bytes& content) {
    z_stream s{};
    REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&s, uLong(content.size())), '\0');
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(content.data()));
    s.avail_in = uInt(content.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = uInt(out.size());
    REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

/// A raw deflate stream of `head` followed by n zero bytes, made without holding the zeros,
/// and the CRC-32 of the whole: a decompression bomb of n bytes in about n / 1000.
std::pair<Bytes, std::uint32_t> deflate_zeros(const Bytes& head, std::size_t n) {
    z_stream s{};
    REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    const std::vector<char> zeros(1 << 20, '\0');
    std::vector<char> buf(1 << 16);
    Bytes out;
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(head.data()), uInt(head.size()));
    auto feed = [&](const char* p, std::size_t len, int flush) {
        s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
        s.avail_in = uInt(len);
        do {
            s.next_out = reinterpret_cast<Bytef*>(buf.data());
            s.avail_out = uInt(buf.size());
            deflate(&s, flush);
            out.append(buf.data(), buf.size() - s.avail_out);
        } while (s.avail_out == 0);
    };
    feed(head.data(), head.size(), Z_NO_FLUSH);
    for (std::size_t left = n; left > 0;) {
        const std::size_t k = std::min(left, zeros.size());
        crc = crc32(crc, reinterpret_cast<const Bytef*>(zeros.data()), uInt(k));
        left -= k;
        feed(zeros.data(), k, left == 0 ? Z_FINISH : Z_NO_FLUSH);
    }
    if (n == 0) feed(nullptr, 0, Z_FINISH);
    deflateEnd(&s);
    return {out, std::uint32_t(crc)};
}

/// A .npy header for a float64 vector of n elements (the payload follows it).
Bytes f8_vector_header(std::size_t n) {
    return npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }", "");
}

/// An archive of members laid end to end (stored), with the central directory after them.
struct Member {
    std::string name;
    Bytes content;
};
Bytes plain_archive(const std::vector<Member>& members) {
    Bytes body, cd;
    for (const auto& m : members) {
        const std::uint32_t crc = crc32(m.content);
        cd += zip_central_entry(m.name, 0, crc, std::uint32_t(m.content.size()), std::uint32_t(m.content.size()),
                                std::uint32_t(body.size()));
        body += zip_local_header(m.name, 0, crc, std::uint32_t(m.content.size()), std::uint32_t(m.content.size())) +
                m.content;
    }
    return body + cd + zip_end_record(members.size(), cd.size(), body.size());
}

Bytes f8_member(const std::vector<double>& v) {
    return npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(v.size()) + ",), }",
                     raw_bytes(v));
}

std::string error_of(const std::string& path) {
    try {
        tgio::load_npz<double>(path);
    } catch (const FileError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("two archives concatenated are refused: NumPy would read the second, a naive reader the first") {
    TempDir dir;
    write_file(dir / "a.npz", plain_archive({{"a.npy", f8_member({1, 2})}}));
    write_file(dir / "b.npz", plain_archive({{"b.npy", f8_member({3, 4})}}));
    CHECK(tgio::load_npz<double>(dir / "a.npz")[0].first == "a");
    write_file(dir / "ab.npz", read_file(dir / "a.npz") + read_file(dir / "b.npz"));
    const std::string e = error_of(dir / "ab.npz");
    CHECK(e.find("not a valid zip archive") != std::string::npos);
    CHECK(e.find("two archives concatenated") != std::string::npos);
    // Anything before the first member or after the end record is refused the same way.
    write_file(dir / "pre.npz", "#!/bin/sh\n" + read_file(dir / "a.npz"));
    CHECK(error_of(dir / "pre.npz").find("two archives concatenated, or data prepended") != std::string::npos);
    write_file(dir / "post.npz", read_file(dir / "a.npz") + "trailing");
    CHECK(error_of(dir / "post.npz").find("does not end the") != std::string::npos);
}

TEST_CASE("members that share a local header (one deflated block under many names: a bomb) are refused") {
    // 40 names for one deflated member of 8 MiB: 320 MiB from a file of a few kB.
    TempDir dir;
    const std::size_t n = (8u << 20) / 8;
    const Bytes head = f8_vector_header(n);
    const auto [block, crc] = deflate_zeros(head, n * 8);
    const std::uint32_t usize = std::uint32_t(head.size() + n * 8);
    Bytes file = zip_local_header("m0.npy", 8, crc, std::uint32_t(block.size()), usize) + block;
    Bytes cd;
    for (int i = 0; i < 40; ++i)
        cd += zip_central_entry("m" + std::to_string(i) + ".npy", 8, crc, std::uint32_t(block.size()), usize, 0);
    const std::size_t cd_offset = file.size();
    file += cd + zip_end_record(40, cd.size(), cd_offset);
    write_file(dir / "bomb.npz", file);
    const std::string e = error_of(dir / "bomb.npz");
    INFO(e);
    CHECK(e.find("members 'm0.npy' and 'm1.npy' overlap: they share the local header at offset 0") !=
          std::string::npos);
}

TEST_CASE("a member whose data lies inside another member's is refused") {
    // The outer member stores the inner one whole (header and data): every byte of the inner
    // one is read twice.
    TempDir dir;
    const Bytes inner_content = f8_member({1, 2});
    const Bytes inner = zip_local_header("inner.npy", 0, crc32(inner_content), std::uint32_t(inner_content.size()),
                                         std::uint32_t(inner_content.size())) +
                        inner_content;
    const Bytes outer =
        zip_local_header("outer.npy", 0, crc32(inner), std::uint32_t(inner.size()), std::uint32_t(inner.size()));
    const Bytes body = outer + inner;
    const Bytes cd =
        zip_central_entry("outer.npy", 0, crc32(inner), std::uint32_t(inner.size()), std::uint32_t(inner.size()), 0) +
        zip_central_entry("inner.npy", 0, crc32(inner_content), std::uint32_t(inner_content.size()),
                          std::uint32_t(inner_content.size()), std::uint32_t(outer.size()));
    write_file(dir / "nested.npz", body + cd + zip_end_record(2, cd.size(), body.size()));
    CHECK(error_of(dir / "nested.npz").find("members 'outer.npy' and 'inner.npy' overlap") != std::string::npos);
}

TEST_CASE("bytes between members that belong to none (a place to hide a second archive) are refused") {
    TempDir dir;
    const Bytes a = f8_member({1}), b = f8_member({2});
    const Bytes la = zip_local_header("a.npy", 0, crc32(a), std::uint32_t(a.size()), std::uint32_t(a.size())) + a;
    const Bytes hidden = "PK hidden bytes";
    const Bytes lb = zip_local_header("b.npy", 0, crc32(b), std::uint32_t(b.size()), std::uint32_t(b.size())) + b;
    const Bytes body = la + hidden + lb;
    const Bytes cd = zip_central_entry("a.npy", 0, crc32(a), std::uint32_t(a.size()), std::uint32_t(a.size()), 0) +
                     zip_central_entry("b.npy", 0, crc32(b), std::uint32_t(b.size()), std::uint32_t(b.size()),
                                       std::uint32_t(la.size() + hidden.size()));
    write_file(dir / "gap.npz", body + cd + zip_end_record(2, cd.size(), body.size()));
    CHECK(error_of(dir / "gap.npz")
              .find(std::to_string(hidden.size()) + " bytes at offset " + std::to_string(la.size()) +
                    " belong to no member") != std::string::npos);
}

TEST_CASE("the local header must agree with the central directory") {
    TempDir dir;
    const Bytes a = f8_member({1, 2});
    const std::uint32_t n = std::uint32_t(a.size());
    const Bytes cd = zip_central_entry("a.npy", 0, crc32(a), n, n, 0);
    auto with_local = [&](const Bytes& local) {
        const Bytes body = local + a;
        write_file(dir / "x.npz", body + cd + zip_end_record(1, cd.size(), body.size()));
        return error_of(dir / "x.npz");
    };
    CHECK(with_local(zip_local_header("b.npy", 0, crc32(a), n, n)).find("its local header names it 'b.npy'") !=
          std::string::npos);
    CHECK(with_local(zip_local_header("a.npy", 0, crc32(a) ^ 1, n, n)).find("disagree on its CRC or sizes") !=
          std::string::npos);
    CHECK(with_local(zip_local_header("a.npy", 0, crc32(a), n, n, 0x800)).find("disagree on its flags or method") !=
          std::string::npos);
    CHECK(with_local(zip_local_header("a.npy", 0, crc32(a), n, n)) == "(no error)");
}

TEST_CASE("a member name that is not ASCII must be marked UTF-8 (else readers decode it differently)") {
    TempDir dir;
    const Bytes a = f8_member({1});
    const std::uint32_t n = std::uint32_t(a.size());
    const std::string name = "caf\xc3\xa9.npy";
    for (std::uint16_t flags : {std::uint16_t(0), std::uint16_t(0x800)}) {
        CAPTURE(flags);
        const Bytes body = zip_local_header(name, 0, crc32(a), n, n, flags) + a;
        const Bytes cd = zip_central_entry(name, 0, crc32(a), n, n, 0, flags);
        write_file(dir / "u.npz", body + cd + zip_end_record(1, cd.size(), body.size()));
        if (flags == 0) {
            CHECK(error_of(dir / "u.npz").find("not ASCII and not marked UTF-8") != std::string::npos);
        } else {
            const auto arrays = tgio::load_npz<double>(dir / "u.npz");
            REQUIRE(arrays.size() == 1);
            CHECK(arrays[0].first == "caf\xc3\xa9");
        }
    }
}

TEST_CASE("a zip64 end record is read, and must agree with the plain one") {
    TempDir dir;
    const Bytes a = f8_member({1, 2, 3});
    const std::uint32_t n = std::uint32_t(a.size());
    const Bytes body = zip_local_header("a.npy", 0, crc32(a), n, n) + a;
    const Bytes cd = zip_central_entry("a.npy", 0, crc32(a), n, n, 0);
    auto zip64 = [&](std::uint64_t count64, std::uint16_t count16) {
        Bytes rec;
        put_le(rec, 0x06064b50, 4);
        put_le(rec, 44, 8);
        put_le(rec, 45, 2);
        put_le(rec, 45, 2);
        put_le(rec, 0, 4);
        put_le(rec, 0, 4);
        put_le(rec, count64, 8);
        put_le(rec, count64, 8);
        put_le(rec, cd.size(), 8);
        put_le(rec, body.size(), 8);
        Bytes loc;
        put_le(loc, 0x07064b50, 4);
        put_le(loc, 0, 4);
        put_le(loc, body.size() + cd.size(), 8);
        put_le(loc, 1, 4);
        Bytes end;
        put_le(end, 0x06054b50, 4);
        put_le(end, 0, 4);
        put_le(end, count16, 2);
        put_le(end, count16, 2);
        put_le(end, 0xffffffff, 4);
        put_le(end, 0xffffffff, 4);
        put_le(end, 0, 2);
        return body + cd + rec + loc + end;
    };
    write_file(dir / "z64.npz", zip64(1, 0xffff));
    const auto arrays = tgio::load_npz<double>(dir / "z64.npz");
    REQUIRE(arrays.size() == 1);
    CHECK(arrays[0].second == Tensor<double>{1, 2, 3});
    write_file(dir / "z64-2.npz", zip64(1, 1));
    CHECK(tgio::load_npz<double>(dir / "z64-2.npz").size() == 1);
    write_file(dir / "z64-bad.npz", zip64(1, 2));
    CHECK(error_of(dir / "z64-bad.npz").find("the end record and the zip64 end record disagree") != std::string::npos);
}

TEST_CASE("a member with a data descriptor (as a streaming writer makes) is read") {
    TempDir dir;
    const Bytes a = f8_member({4, 5});
    const std::uint32_t n = std::uint32_t(a.size());
    for (bool signature : {true, false}) {
        CAPTURE(signature);
        Bytes desc;
        if (signature) put_le(desc, 0x08074b50, 4);
        put_le(desc, crc32(a), 4);
        put_le(desc, n, 4);
        put_le(desc, n, 4);
        const Bytes body = zip_local_header("a.npy", 0, 0, 0, 0, 0x08) + a + desc;
        const Bytes cd = zip_central_entry("a.npy", 0, crc32(a), n, n, 0, 0x08);
        write_file(dir / "d.npz", body + cd + zip_end_record(1, cd.size(), body.size()));
        const auto arrays = tgio::load_npz<double>(dir / "d.npz");
        REQUIRE(arrays.size() == 1);
        CHECK(arrays[0].second == Tensor<double>{4, 5});
    }
}

TEST_CASE("a deflated member must inflate to exactly its declared size") {
    TempDir dir;
    const Bytes a = f8_member({1, 2, 3, 4});
    const Bytes z = deflate_raw(a);
    auto archive = [&](const Bytes& content, std::uint32_t declared) {
        const Bytes body = zip_local_header("a.npy", 8, crc32(content), std::uint32_t(z.size()), declared) + z;
        const Bytes cd = zip_central_entry("a.npy", 8, crc32(content), std::uint32_t(z.size()), declared, 0);
        write_file(dir / "z.npz", body + cd + zip_end_record(1, cd.size(), body.size()));
        return error_of(dir / "z.npz");
    };
    CHECK(archive(a, std::uint32_t(a.size())) == "(no error)");
    // Declared shorter: the .npy inside says more than the member holds, or the stream goes on.
    CHECK(archive(a.substr(0, a.size() - 8), std::uint32_t(a.size() - 8)).find("member 'a.npy'") != std::string::npos);
    // Declared longer: the stream ends early.
    CHECK(archive(a + Bytes(8, '\0'), std::uint32_t(a.size() + 8)).find("member 'a.npy'") != std::string::npos);
}

TEST_CASE("a deflated member expanding past the default limit (256 MiB) is refused before inflating") {
    // 300 MiB of zeros in a .npy, deflated to about 300 kB: the bound, not the memory, stops it.
    TempDir dir;
    const std::size_t n = (300u << 20) / 8;
    const Bytes head = f8_vector_header(n);
    const auto [z, crc] = deflate_zeros(head, n * 8);
    const std::uint32_t usize = std::uint32_t(head.size() + n * 8);
    const Bytes body = zip_local_header("big.npy", 8, crc, std::uint32_t(z.size()), usize) + z;
    const Bytes cd = zip_central_entry("big.npy", 8, crc, std::uint32_t(z.size()), usize, 0);
    write_file(dir / "bomb.npz", body + cd + zip_end_record(1, cd.size(), body.size()));
    CHECK(read_file(dir / "bomb.npz").size() < 400000);
    const std::string e = error_of(dir / "bomb.npz");
    CHECK(e.find("its deflated members expand to " + std::to_string(usize) +
                 " bytes in total, more than the limit of 268435456 bytes (LoadOptions::max_inflated_bytes") !=
          std::string::npos);
}

TEST_CASE("LoadOptions::max_inflated_bytes bounds all deflated members together, and can be raised") {
    TempDir dir;
    const std::size_t n = (600u << 10) / 8;
    const Bytes head = f8_vector_header(n);
    const auto [z, crc] = deflate_zeros(head, n * 8);
    const std::uint32_t usize = std::uint32_t(head.size() + n * 8);
    Bytes body, cd;
    for (const char* name : {"a.npy", "b.npy"}) {
        cd += zip_central_entry(name, 8, crc, std::uint32_t(z.size()), usize, std::uint32_t(body.size()));
        body += zip_local_header(name, 8, crc, std::uint32_t(z.size()), usize) + z;
    }
    write_file(dir / "two.npz", body + cd + zip_end_record(2, cd.size(), body.size()));
    const auto one_mib = tgio::LoadOptions().max_inflated_bytes(1 << 20);
    CHECK_THROWS_WITH_AS(tgio::load_npz<double>(dir / "two.npz", one_mib),
                         doctest::Contains(("expand to " + std::to_string(2 * usize) +
                                            " bytes in total, more than the limit of 1048576 bytes")
                                               .c_str()),
                         FileError);
    const auto arrays = tgio::load_npz<double>(dir / "two.npz", tgio::LoadOptions().max_inflated_bytes(2 << 20));
    REQUIRE(arrays.size() == 2);
    CHECK(arrays[1].second.size() == n);
    // Stored members are bounded by the file itself and do not count.
    write_file(dir / "stored.npz", plain_archive({{"s.npy", f8_member(std::vector<double>(1 << 16, 1.0))}}));
    CHECK(tgio::load_npz<double>(dir / "stored.npz", tgio::LoadOptions().max_inflated_bytes(0)).size() == 1);
}

#if !defined(__SANITIZE_ADDRESS__)
// (AddressSanitizer reserves terabytes of address space: a limit on it cannot run there.)
TEST_CASE("memory that cannot be allocated is a FileError naming the file, never std::bad_alloc") {
    TempDir dir;
    const std::size_t n = (200u << 20) / 8;
    const Bytes head = f8_vector_header(n);
    const auto [z, crc] = deflate_zeros(head, n * 8);
    const std::uint32_t usize = std::uint32_t(head.size() + n * 8);
    const Bytes body = zip_local_header("big.npy", 8, crc, std::uint32_t(z.size()), usize) + z;
    const Bytes cd = zip_central_entry("big.npy", 8, crc, std::uint32_t(z.size()), usize, 0);
    const std::string path = dir / "big.npz";
    write_file(path, body + cd + zip_end_record(1, cd.size(), body.size()));

    // In a child process with its address space limited to what it uses now plus 64 MiB.
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
            tgio::load_npz<double>(path);
            _exit(1);  // loaded: the limit did not bite
        } catch (const FileError& e) {
            const std::string m = e.what();
            _exit(m.find("load_npz: '" + path + "': out of memory while allocating member 'big.npy'") == 0 ? 0 : 3);
        } catch (const std::bad_alloc&) {
            _exit(2);
        } catch (...) {
            _exit(4);
        }
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // 2: std::bad_alloc escaped; 3: another message
}
#endif

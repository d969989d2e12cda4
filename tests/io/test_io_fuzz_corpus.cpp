// Replays the fuzzers' committed seed corpus (fuzz/corpus) through the readers: valid files load, hostile ones throw
// FileError.
//
// Every input a fuzzer ever crashed on is added to fuzz/corpus once fixed, so this is also the
// regression test of those findings, run by the ordinary and the sanitizer test suites.
#include <filesystem>

#include <tapegrad/io/detail/npy.hpp>
#include <tapegrad/io/safetensors.hpp>

#include "helpers.hpp"
#include "test_data_helpers.hpp"

using namespace tgtest;
namespace tgd = tapegrad::data;
namespace tgio = tapegrad::io;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> corpus(const std::string& kind) {
    const fs::path dir = fs::path(__FILE__).parent_path().parent_path().parent_path() / "fuzz" / "corpus" / kind;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

bool valid(const fs::path& p) { return p.filename().string().rfind("valid", 0) == 0; }

/// The limit the fuzzers read with too (fuzz/fuzz_*.cpp): the corpus's bombs stay a few kB.
const tgio::LoadOptions corpus_limits = tgio::LoadOptions().max_inflated_bytes(1 << 20);

/// Loads `file` with `load`; checks that a valid file loads and anything else is refused with
/// a FileError whose message starts with `who: 'path'`.
template <class Load>
void replay(const fs::path& file, const std::string& who, Load load) {
    CAPTURE(file.filename().string());
    std::string error;
    try {
        load(file.string());
    } catch (const tg::FileError& e) {
        error = e.what();
    }
    if (valid(file)) {
        CHECK(error == "");
    } else {
        CHECK(error.rfind(who + ": '" + file.string() + "'", 0) == 0);
    }
}

}  // namespace

TEST_CASE("the IDX seed corpus: valid files load, hostile ones are refused with FileError") {
    const auto files = corpus("idx");
    CHECK(files.size() >= 20);
    for (const auto& f : files) replay(f, "read_idx", [](const std::string& p) { tgd::read_idx(p, corpus_limits); });
}

TEST_CASE("the checkpoint seed corpus: valid archives load, hostile ones are refused with FileError") {
    const auto files = corpus("npz");
    CHECK(files.size() >= 20);
    for (const auto& f : files) {
        replay(f, "load_npz", [](const std::string& p) { tgio::load_npz<double>(p, corpus_limits); });
        replay(f, "load_npz", [](const std::string& p) { tgio::load_npz<float>(p, corpus_limits); });
    }
}

TEST_CASE("the safetensors seed corpus: valid files load, hostile ones are refused with FileError") {
    const auto files = corpus("safetensors");
    CHECK(files.size() >= 15);
    for (const auto& f : files)
        replay(f, "load_safetensors", [](const std::string& p) { tgio::read_safetensors(p, corpus_limits); });
}

TEST_CASE("the .npy header seed corpus: valid headers parse, hostile ones are refused with FileError") {
    namespace npy = tgio::detail;
    const auto files = corpus("npy");
    CHECK(files.size() >= 10);
    for (const auto& f : files) {
        const data_test::Bytes b = data_test::read_file(f.string());
        replay(f, "npy", [&](const std::string& p) {
            const std::string at = "npy: '" + p + "'";
            const auto* u = reinterpret_cast<const unsigned char*>(b.data());
            const std::size_t have =
                std::min<std::size_t>(b.size(), b.size() > 6 && (u[6] == 2 || u[6] == 3) ? 12 : 10);
            const std::size_t preamble = npy::npy_preamble_length(u, have, at);
            if (preamble > b.size()) throw tg::FileError(at + ": shorter than its header");
            npy::parse_npy_header(b.substr(have, preamble - have), at);
        });
    }
}

TEST_CASE("an empty array whose other extents multiply past any array size is refused (found by fuzz_npz)") {
    data_test::TempDir dir;
    const auto file = corpus("npz");
    const auto it = std::find_if(file.begin(), file.end(),
                                 [](const fs::path& p) { return p.filename() == "zero-extent-huge-strides.npz"; });
    REQUIRE(it != file.end());
    CHECK_THROWS_WITH_AS(
        tgio::load_npz<double>(it->string()),
        ("load_npz: '" + it->string() +
         "': member 'z.npy': shape (0,1099511627776,1099511627776) of '<f8' is too large: its non-zero "
         "extents span more than 9223372036854775807 bytes")
            .c_str(),
        tg::FileError);
}

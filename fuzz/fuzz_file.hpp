// fuzz::write_input: the fuzzer's bytes as a file, for readers that take a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace fuzz {

/// The file the inputs go to: one per process, in /dev/shm when there is one (no disk
/// traffic), removed when the fuzzer exits.
struct InputFile {
    std::string path;
    explicit InputFile(const char* ext) {
        const char* tmp = std::getenv("TMPDIR");
        const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmp ? tmp : "/tmp";
        path = dir + "/tapegrad-fuzz-" + std::to_string(getpid()) + "." + ext;
    }
    ~InputFile() { unlink(path.c_str()); }
};

/// Writes the input to the process's input file and returns its path.
inline const std::string& write_input(const std::uint8_t* data, std::size_t size, const char* ext) {
    static const InputFile file(ext);
    std::FILE* f = std::fopen(file.path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return file.path;
}

}  // namespace fuzz

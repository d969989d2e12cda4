// LoadOptions and SaveOptions: the limits and choices of the file readers and writers, with plain setters.
#pragma once

#include <cstdint>

namespace tapegrad::io {

/// Default bound on the bytes decompression may produce from one file: 256 MiB.
constexpr std::uint64_t default_max_inflated_bytes = std::uint64_t(256) << 20;

/// How a reader treats the file it reads (load_npz, nn::load, optim::load, read_idx, ...):
///
///     auto state = load_npz<float>(path, LoadOptions().max_inflated_bytes(std::uint64_t(2) << 30));
class LoadOptions {
public:
    /// Most bytes that decompression (deflated .npz members, a gzip IDX file) may produce from
    /// one file, all members together. Default default_max_inflated_bytes (256 MiB): a small
    /// file that would expand past it (a decompression bomb) is refused before anything is
    /// inflated, and the error names this limit. Stored (uncompressed) data is bounded by the
    /// file's own size and does not count. Raise it to read larger compressed files.
    LoadOptions& max_inflated_bytes(std::uint64_t v) {
        max_inflated_bytes_ = v;
        return *this;
    }
    /// Accept NaN and infinite values. Default false: weights or state holding one are refused,
    /// naming the array and the element (a diverged run must not silently replace a good model).
    LoadOptions& allow_non_finite(bool v) {
        allow_non_finite_ = v;
        return *this;
    }

    /// The values set by the setters of the same names (or their defaults).
    ///@{
    std::uint64_t max_inflated_bytes() const { return max_inflated_bytes_; }
    bool allow_non_finite() const { return allow_non_finite_; }
    ///@}

private:
    std::uint64_t max_inflated_bytes_ = default_max_inflated_bytes;
    bool allow_non_finite_ = false;
};

/// How a writer treats what it writes (save_npz, nn::save, optim::save). A writer refuses,
/// before touching the file, anything that the reader with the same choices would refuse.
class SaveOptions {
public:
    /// Write NaN and infinite values. Default false: they are refused (as LoadOptions refuses
    /// them by default), so a diverged model does not replace a good checkpoint.
    SaveOptions& allow_non_finite(bool v) {
        allow_non_finite_ = v;
        return *this;
    }
    /// The value set by allow_non_finite(bool) (default false).
    bool allow_non_finite() const { return allow_non_finite_; }

private:
    bool allow_non_finite_ = false;
};

}  // namespace tapegrad::io

// read_idx: the IDX array format of (Fashion-)MNIST, raw or gzip-compressed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/io/options.hpp>

namespace tapegrad::data {

/// An IDX array: its extents and its elements in row-major order.
struct IdxArray {
    /// The extents, e.g. (60000, 28, 28).
    std::vector<std::size_t> shape;
    /// The elements, row-major.
    std::vector<std::uint8_t> data;
};

/// Most dimensions an IDX file may declare; MNIST's files have one (labels) or three (images).
constexpr std::size_t idx_max_dimensions = 8;

/// Reads an IDX file of unsigned bytes (element type 0x08), gzip-compressed or not (told
/// apart by gzip's magic bytes). The path must name a regular file (a FIFO or a device is
/// refused without blocking). The header is checked before anything is allocated from it:
/// magic, element type, 1..idx_max_dimensions dimensions, an extent product that fits a
/// size_t and the file (and, for gzip, LoadOptions::max_inflated_bytes); the payload must then
/// have exactly that many bytes. Throws FileError on a missing, truncated, corrupt or hostile
/// file, or when the memory for its payload cannot be allocated.
IdxArray read_idx(const std::string& path, const io::LoadOptions& options = {});

}  // namespace tapegrad::data

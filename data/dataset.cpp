// ImageDataset: construction checks, row access, subsets.
#include <tapegrad/data/dataset.hpp>

#include <algorithm>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/checked_size.hpp>

namespace tapegrad::data {

ImageDataset::ImageDataset(std::vector<std::uint8_t> pixels, Indices labels, std::size_t channels, std::size_t height,
                           std::size_t width, std::size_t classes)
    : pixels_(std::move(pixels)),
      labels_(std::move(labels)),
      channels_(channels),
      height_(height),
      width_(width),
      classes_(classes) {
    std::size_t per_image = 0, total = 0;
    if (channels == 0 || height == 0 || width == 0 ||
        !io::detail::checked_product(Indices{channels, height, width}, per_image))
        throw Error(
            fmt::format("ImageDataset: image shape ({},{},{}); expected positive extents whose product fits a size_t",
                        channels, height, width));
    if (classes == 0) throw Error("ImageDataset: 0 classes; expected at least 1");
    if (!io::detail::checked_mul(per_image, labels_.size(), total) || total != pixels_.size())
        throw Error(fmt::format("ImageDataset: {} pixel bytes for {} labels; expected {} images of {} bytes",
                                pixels_.size(), labels_.size(), labels_.size(), per_image));
    auto bad = std::find_if(labels_.begin(), labels_.end(), [&](std::size_t l) { return l >= classes; });
    if (bad != labels_.end())
        throw Error(fmt::format("ImageDataset: label {} at row {}; expected 0 to {}", *bad, bad - labels_.begin(),
                                classes - 1));
}

const std::uint8_t* ImageDataset::image(std::size_t i) const {
    if (i >= size()) throw Error(fmt::format("ImageDataset::image: row {} of a dataset of {} images", i, size()));
    return pixels_.data() + i * image_size();
}

std::size_t ImageDataset::label(std::size_t i) const {
    if (i >= size()) throw Error(fmt::format("ImageDataset::label: row {} of a dataset of {} images", i, size()));
    return labels_[i];
}

ImageDataset ImageDataset::subset(std::size_t n) const {
    if (n > size())
        throw Error(fmt::format("ImageDataset::subset: {} images asked of a dataset of {}; expected at most {}", n,
                                size(), size()));
    if (channels_ == 0) return ImageDataset();  // a default-constructed dataset has no image shape
    std::vector<std::uint8_t> pixels(pixels_.begin(), pixels_.begin() + std::ptrdiff_t(n * image_size()));
    Indices labels(labels_.begin(), labels_.begin() + std::ptrdiff_t(n));
    return ImageDataset(std::move(pixels), std::move(labels), channels_, height_, width_, classes_);
}

ImageDataset ImageDataset::select(const Indices& rows) const {
    if (channels_ == 0 && rows.empty()) return ImageDataset();
    const std::size_t bytes = image_size();
    std::size_t total = 0;
    if (!io::detail::checked_mul(rows.size(), bytes, total))
        throw Error(fmt::format("ImageDataset::select: {} rows of {} bytes overflow a size_t", rows.size(), bytes));
    std::vector<std::uint8_t> pixels(total);
    Indices labels(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
        if (rows[k] >= size())
            throw Error(
                fmt::format("ImageDataset::select: row {} (entry {}) of a dataset of {} images", rows[k], k, size()));
        std::copy_n(pixels_.data() + rows[k] * bytes, bytes, pixels.data() + k * bytes);
        labels[k] = labels_[rows[k]];
    }
    return ImageDataset(std::move(pixels), std::move(labels), channels_, height_, width_, classes_);
}

std::vector<std::size_t> ImageDataset::class_counts() const {
    std::vector<std::size_t> counts(classes_, 0);
    for (std::size_t l : labels_) ++counts[l];
    return counts;
}

}  // namespace tapegrad::data

// ImageDataset: labelled images kept as bytes in memory, converted to tensors only per batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::data {

/// n images of channels x height x width bytes each (CHW order, image after image) and one
/// class label per image. Bytes, not floats: Fashion-MNIST's training set is 47 MB this way
/// and four or eight times that as floats or doubles.
class ImageDataset {
public:
    ImageDataset() = default;
    /// Checks that pixels holds labels.size() images and that every label is below classes.
    ImageDataset(std::vector<std::uint8_t> pixels, Indices labels, std::size_t channels, std::size_t height,
                 std::size_t width, std::size_t classes);

    /// Number of images.
    std::size_t size() const { return labels_.size(); }
    /// True with no image.
    bool empty() const { return labels_.empty(); }
    /// The shape of one image: C, H, W.
    ///@{
    std::size_t channels() const { return channels_; }
    std::size_t height() const { return height_; }
    std::size_t width() const { return width_; }
    ///@}
    /// Bytes per image: channels * height * width.
    std::size_t image_size() const { return channels_ * height_ * width_; }
    /// Number of classes; every label is below it.
    std::size_t classes() const { return classes_; }

    /// The bytes of image i (image_size() of them).
    const std::uint8_t* image(std::size_t i) const;
    /// The class of image i (throws tapegrad::Error for i >= size()).
    std::size_t label(std::size_t i) const;
    /// All the bytes, image after image.
    const std::vector<std::uint8_t>& pixels() const { return pixels_; }
    /// The class of every image.
    const Indices& labels() const { return labels_; }

    /// The first n images, copied: a quick run on a small part of the data.
    ImageDataset subset(std::size_t n) const;
    /// The images at the given rows, in that order (rows may repeat).
    ImageDataset select(const Indices& rows) const;
    /// How many images each class has (classes() entries).
    std::vector<std::size_t> class_counts() const;

private:
    std::vector<std::uint8_t> pixels_;
    Indices labels_;
    std::size_t channels_ = 0, height_ = 0, width_ = 0, classes_ = 0;
};

}  // namespace tapegrad::data

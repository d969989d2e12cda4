// Fashion-MNIST (Debian's dataset-fashion-mnist) and any MNIST-format pair of IDX files.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include <tapegrad/data/dataset.hpp>
#include <tapegrad/io/options.hpp>

namespace tapegrad::data {

/// Which part of a data set: the training or the test images.
enum class Split { train, test };

/// Mean and standard deviation of Fashion-MNIST's training pixels scaled to [0,1], for
/// LoaderOptions::normalize.
constexpr double fashion_mnist_mean = 0.2860;
constexpr double fashion_mnist_std = 0.3530;
constexpr std::size_t fashion_mnist_classes = 10;

/// The ten class names, by label: "T-shirt/top", "Trouser", ..., "Ankle boot".
const std::array<std::string, fashion_mnist_classes>& fashion_mnist_class_names();

/// Where Debian's dataset-fashion-mnist puts the files, unless the environment variable
/// TAPEGRAD_FASHION_MNIST_DIR names another directory.
std::string fashion_mnist_default_dir();

/// True when dir holds the four Fashion-MNIST files (to skip a test or an example cleanly).
bool fashion_mnist_available(const std::string& dir = fashion_mnist_default_dir());

/// The 60000 training or 10000 test images (1 x 28 x 28 bytes each) with labels 0..9, from
/// train-*-idx?-ubyte.gz or t10k-*-idx?-ubyte.gz in dir. Throws FileError when the directory
/// or a file is missing (saying which package to install) or a file is bad.
ImageDataset load_fashion_mnist(Split split, const std::string& dir = fashion_mnist_default_dir(),
                                const io::LoadOptions& options = {});

/// Any MNIST-format pair: an IDX image file (n, height, width) and an IDX label file (n,)
/// with labels below classes; either may be gzip-compressed. Throws FileError on a count
/// mismatch, a label out of range, or no images at all (n = 0: an empty data set is refused
/// here rather than training on nothing).
ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path, std::size_t classes,
                             const io::LoadOptions& options = {});

}  // namespace tapegrad::data

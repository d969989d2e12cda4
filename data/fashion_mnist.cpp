// Fashion-MNIST: file names, the package hint, and the image/label consistency checks.
#include <tapegrad/data/fashion_mnist.hpp>

#include <cstdlib>
#include <new>

#include <sys/stat.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/idx.hpp>

namespace tapegrad::data {

namespace {

bool is_dir(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::array<std::string, 2> split_files(Split split) {
    if (split == Split::train) return {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"};
    return {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
}

const char* install_hint =
    "install Debian's data set with `apt-get install dataset-fashion-mnist`, or pass the directory that holds "
    "the four Fashion-MNIST .gz files";

}  // namespace

const std::array<std::string, fashion_mnist_classes>& fashion_mnist_class_names() {
    static const std::array<std::string, fashion_mnist_classes> names = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    return names;
}

std::string fashion_mnist_default_dir() {
    const char* env = std::getenv("TAPEGRAD_FASHION_MNIST_DIR");
    return env && *env ? std::string(env) : std::string("/usr/share/datasets/fashion-mnist");
}

bool fashion_mnist_available(const std::string& dir) {
    for (Split s : {Split::train, Split::test})
        for (const auto& name : split_files(s))
            if (!is_file(join(dir, name))) return false;
    return true;
}

namespace {

ImageDataset load_idx_images_unguarded(const std::string& images_path, const std::string& labels_path,
                                       std::size_t classes, const io::LoadOptions& options) {
    if (classes == 0 || classes > 256)
        throw Error(fmt::format("load_idx_images: {} classes; expected 1 to 256 (labels are bytes)", classes));
    IdxArray images = read_idx(images_path, options);
    if (images.shape.size() != 3)
        throw FileError(
            fmt::format("load_idx_images: '{}': image array of shape {}; expected 3 dimensions "
                        "(images, height, width)",
                        images_path, shape_string(images.shape)));
    if (images.shape[1] == 0 || images.shape[2] == 0)
        throw FileError(fmt::format("load_idx_images: '{}': image array of shape {}; expected images of at least 1x1",
                                    images_path, shape_string(images.shape)));
    if (images.shape[0] == 0)
        throw FileError(
            fmt::format("load_idx_images: '{}': image array of shape {} holds no images; expected at "
                        "least 1",
                        images_path, shape_string(images.shape)));
    IdxArray labels = read_idx(labels_path, options);
    if (labels.shape.size() != 1)
        throw FileError(fmt::format("load_idx_images: '{}': label array of shape {}; expected 1 dimension", labels_path,
                                    shape_string(labels.shape)));
    if (labels.shape[0] != images.shape[0])
        throw FileError(fmt::format("load_idx_images: count mismatch: {} images in '{}' but {} labels in '{}'",
                                    images.shape[0], images_path, labels.shape[0], labels_path));
    Indices label_values(labels.data.size());
    for (std::size_t i = 0; i < labels.data.size(); ++i) {
        if (labels.data[i] >= classes)
            throw FileError(fmt::format("load_idx_images: '{}': label {} at index {} is out of range; expected 0 to {}",
                                        labels_path, unsigned(labels.data[i]), i, classes - 1));
        label_values[i] = labels.data[i];
    }
    return ImageDataset(std::move(images.data), std::move(label_values), 1, images.shape[1], images.shape[2], classes);
}

}  // namespace

ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path, std::size_t classes,
                             const io::LoadOptions& options) {
    try {
        return load_idx_images_unguarded(images_path, labels_path, classes, options);
    } catch (const std::bad_alloc&) {
        throw FileError(
            fmt::format("load_idx_images: '{}' and '{}': out of memory while loading", images_path, labels_path));
    }
}

ImageDataset load_fashion_mnist(Split split, const std::string& dir, const io::LoadOptions& options) {
    if (split != Split::train && split != Split::test)
        throw Error("load_fashion_mnist: unknown split; expected Split::train or Split::test");
    if (!is_dir(dir))
        throw FileError(fmt::format("load_fashion_mnist: directory '{}' not found; {}", dir, install_hint));
    const auto names = split_files(split);
    for (const auto& name : names)
        if (!is_file(join(dir, name)))
            throw FileError(fmt::format("load_fashion_mnist: '{}' not found in '{}'; {}", name, dir, install_hint));
    ImageDataset data = load_idx_images(join(dir, names[0]), join(dir, names[1]), fashion_mnist_classes, options);
    if (data.height() != 28 || data.width() != 28)
        throw FileError(fmt::format("load_fashion_mnist: '{}': images of {}x{}; expected 28x28", join(dir, names[0]),
                                    data.height(), data.width()));
    return data;
}

}  // namespace tapegrad::data

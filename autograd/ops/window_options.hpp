// The settings of convolution and pooling: Size2, Conv2dOptions, Pool2dOptions.
#pragma once

#include <cstddef>

namespace tapegrad {

/// A height and a width: Size2(3) is 3 by 3, Size2(3, 5) (or {3, 5}) is 3 high and 5 wide.
struct Size2 {
    Size2(std::size_t both = 0) : h(both), w(both) {}  // NOLINT: implicit, so that 3 reads as 3x3
    Size2(std::size_t h, std::size_t w) : h(h), w(w) {}
    std::size_t h, w;
};

/// Settings of conv2d(): stride, zero padding on each side, dilation (spacing of the kernel
/// taps) and groups (channels split into independent groups; in and out channels must both
/// divide by it).
struct Conv2dOptions {
    Conv2dOptions& stride(Size2 v) {
        stride_ = v;
        return *this;
    }
    Conv2dOptions& padding(Size2 v) {
        padding_ = v;
        return *this;
    }
    Conv2dOptions& dilation(Size2 v) {
        dilation_ = v;
        return *this;
    }
    Conv2dOptions& groups(std::size_t v) {
        groups_ = v;
        return *this;
    }
    Size2 stride() const { return stride_; }
    Size2 padding() const { return padding_; }
    Size2 dilation() const { return dilation_; }
    std::size_t groups() const { return groups_; }

private:
    Size2 stride_{1}, padding_{0}, dilation_{1};
    std::size_t groups_ = 1;
};

/// Settings of the pooling functions: the window (kernel) size, the stride (by default the
/// window size: windows side by side), implicit padding on each side (at most half the
/// window), dilation (max pooling only), and whether average pooling divides by the whole
/// window or only by the part of it inside the image.
struct Pool2dOptions {
    explicit Pool2dOptions(Size2 kernel_size) : kernel_(kernel_size), stride_(kernel_size) {}
    Pool2dOptions& stride(Size2 v) {
        stride_ = v;
        return *this;
    }
    Pool2dOptions& padding(Size2 v) {
        padding_ = v;
        return *this;
    }
    Pool2dOptions& dilation(Size2 v) {
        dilation_ = v;
        return *this;
    }
    Pool2dOptions& count_include_pad(bool v) {
        count_include_pad_ = v;
        return *this;
    }
    Size2 kernel_size() const { return kernel_; }
    Size2 stride() const { return stride_; }
    Size2 padding() const { return padding_; }
    Size2 dilation() const { return dilation_; }
    bool count_include_pad() const { return count_include_pad_; }

private:
    Size2 kernel_, stride_, padding_{0}, dilation_{1};
    bool count_include_pad_ = true;
};

}  // namespace tapegrad

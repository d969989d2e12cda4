// The settings of convolution and pooling: Size2, Conv2dOptions, Pool2dOptions.
#pragma once

#include <cstddef>

namespace tapegrad {

/// A height and a width: Size2(3) is 3 by 3, Size2(3, 5) (or {3, 5}) is 3 high and 5 wide.
struct Size2 {
    /// `both` high and `both` wide (implicit: a plain 3 means 3x3).
    Size2(std::size_t both = 0) : h(both), w(both) {}  // NOLINT: implicit, so that 3 reads as 3x3
    /// `h` high and `w` wide.
    Size2(std::size_t h, std::size_t w) : h(h), w(w) {}
    /// Height (rows) and width (columns).
    ///@{
    std::size_t h, w;
    ///@}
};

/// Settings of conv2d(): stride, zero padding on each side, dilation (spacing of the kernel
/// taps) and groups (channels split into independent groups; in and out channels must both
/// divide by it).
struct Conv2dOptions {
    /// Step between windows (default 1).
    Conv2dOptions& stride(Size2 v) {
        stride_ = v;
        return *this;
    }
    /// Zeros added on each side (default 0).
    Conv2dOptions& padding(Size2 v) {
        padding_ = v;
        return *this;
    }
    /// Spacing of the kernel taps (default 1: adjacent).
    Conv2dOptions& dilation(Size2 v) {
        dilation_ = v;
        return *this;
    }
    /// Independent channel groups (default 1).
    Conv2dOptions& groups(std::size_t v) {
        groups_ = v;
        return *this;
    }
    /// The values set by the setters of the same names (or their defaults).
    ///@{
    Size2 stride() const { return stride_; }
    Size2 padding() const { return padding_; }
    Size2 dilation() const { return dilation_; }
    std::size_t groups() const { return groups_; }
    ///@}

private:
    Size2 stride_{1}, padding_{0}, dilation_{1};
    std::size_t groups_ = 1;
};

/// Settings of the pooling functions: the window (kernel) size, the stride (by default the
/// window size: windows side by side), implicit padding on each side (at most half the
/// window), dilation (max pooling only), and whether average pooling divides by the whole
/// window or only by the part of it inside the image.
struct Pool2dOptions {
    /// A window of `kernel_size`, the stride equal to it.
    explicit Pool2dOptions(Size2 kernel_size) : kernel_(kernel_size), stride_(kernel_size) {}
    /// Step between windows (default: the window size).
    Pool2dOptions& stride(Size2 v) {
        stride_ = v;
        return *this;
    }
    /// Implicit padding on each side, at most half the window (default 0).
    Pool2dOptions& padding(Size2 v) {
        padding_ = v;
        return *this;
    }
    /// Spacing of the window taps, max pooling only (default 1).
    Pool2dOptions& dilation(Size2 v) {
        dilation_ = v;
        return *this;
    }
    /// Average pooling divides by the whole window (true, the default) or by its part inside the image.
    Pool2dOptions& count_include_pad(bool v) {
        count_include_pad_ = v;
        return *this;
    }
    /// The values set by the constructor and the setters (or their defaults).
    ///@{
    Size2 kernel_size() const { return kernel_; }
    Size2 stride() const { return stride_; }
    Size2 padding() const { return padding_; }
    Size2 dilation() const { return dilation_; }
    bool count_include_pad() const { return count_include_pad_; }
    ///@}

private:
    Size2 kernel_, stride_, padding_{0}, dilation_{1};
    bool count_include_pad_ = true;
};

}  // namespace tapegrad

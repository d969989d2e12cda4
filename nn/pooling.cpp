// Pooling layers: forward through the pooling ops, with errors named by the layer.
#include <tapegrad/nn/pooling.hpp>

#include <tapegrad/nn/format.hpp>

namespace tapegrad::nn {
namespace {

std::string pool_settings(const Pool2dOptions& o, bool with_dilation) {
    std::string s =
        "kernel_size=" + detail::format_size(o.kernel_size()) + ", stride=" + detail::format_size(o.stride());
    if (o.padding().h || o.padding().w) s += ", padding=" + detail::format_size(o.padding());
    if (with_dilation && (o.dilation().h != 1 || o.dilation().w != 1))
        s += ", dilation=" + detail::format_size(o.dilation());
    return s;
}

template <class Layer, class T, class F>
Variable<T> run(const Layer& layer, F f) {
    return detail::in_layer(
        [&] { return layer.name() + "(k=" + detail::format_size(layer.options.kernel_size()) + ")"; }, f);
}

}  // namespace

std::string MaxPool2d::settings() const { return pool_settings(options, true); }
std::string AvgPool2d::settings() const {
    return pool_settings(options, false) + (options.count_include_pad() ? "" : ", count_include_pad=false");
}
std::string LPPool2d::settings() const {
    return "p=" + detail::format_number(p) + ", " + pool_settings(options, false);
}

Variable<float> MaxPool2d::operator()(const Variable<float>& x) const {
    return run<MaxPool2d, float>(*this, [&] { return max_pool2d(x, options); });
}
Variable<double> MaxPool2d::operator()(const Variable<double>& x) const {
    return run<MaxPool2d, double>(*this, [&] { return max_pool2d(x, options); });
}
Variable<float> AvgPool2d::operator()(const Variable<float>& x) const {
    return run<AvgPool2d, float>(*this, [&] { return avg_pool2d(x, options); });
}
Variable<double> AvgPool2d::operator()(const Variable<double>& x) const {
    return run<AvgPool2d, double>(*this, [&] { return avg_pool2d(x, options); });
}
Variable<float> LPPool2d::operator()(const Variable<float>& x) const {
    return run<LPPool2d, float>(*this, [&] { return lp_pool2d(x, p, options); });
}
Variable<double> LPPool2d::operator()(const Variable<double>& x) const {
    return run<LPPool2d, double>(*this, [&] { return lp_pool2d(x, p, options); });
}

}  // namespace tapegrad::nn

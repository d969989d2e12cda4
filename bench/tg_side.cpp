// The tapegrad side of every workload: training steps, op chains, a Linear layer, one epoch.
#include <algorithm>
#include <stdexcept>

#include <tapegrad/tapegrad.hpp>

#include "harness.hpp"
#include "sides.hpp"

namespace bench::tg {
namespace {

namespace tgd = tapegrad::data;
using V = tapegrad::Variable<float>;
using Tensor = tapegrad::Tensor<float>;

V parameter_from(const ParamInit& p) {
    Tensor t = Tensor::from_shape(tapegrad::Shape(p.shape.begin(), p.shape.end()));
    std::copy(p.values.begin(), p.values.end(), t.data());
    return tapegrad::parameter(std::move(t));
}

namespace nn = tapegrad::nn;

/// The model as tapegrad's users build it (tapegrad::nn), from the shared initial weights.
struct Net {
    std::shared_ptr<nn::Sequential<float>> module;
    std::vector<V> params;  // kept: parameters() collects names on every call
    tapegrad::Shape image_shape;
    V forward(const V& x) const { return (*module)(x); }
};

Net make_net(Model model, std::uint64_t seed) {
    Net net;
    if (model == Model::mlp) {
        net.module = std::make_shared<nn::Sequential<float>>(std::initializer_list<nn::Layer<float>>{
            nn::Linear<float>(784, 128), nn::ReLU{}, nn::Linear<float>(128, 10)});
        net.image_shape = {784};
    } else {
        net.module = std::make_shared<nn::Sequential<float>>(std::initializer_list<nn::Layer<float>>{
            nn::Conv2d<float>(1, 8, 5), nn::ReLU{}, nn::MaxPool2d(2), nn::Conv2d<float>(8, 16, 5), nn::ReLU{},
            nn::MaxPool2d(2), nn::Flatten{}, nn::Linear<float>(256, 10)});
        net.image_shape = {1, 28, 28};
    }
    net.params = net.module->parameters();
    const auto init = model == Model::mlp ? mlp_init(seed) : cnn_init(seed);
    if (init.size() != net.params.size()) throw std::logic_error("tapegrad: parameter count");
    tapegrad::NoGradGuard no_grad;
    for (std::size_t i = 0; i < init.size(); ++i) {
        Tensor& v = net.params[i].mutable_value();
        if (v.size() != init[i].values.size()) throw std::logic_error("tapegrad: parameter shape");
        std::copy(init[i].values.begin(), init[i].values.end(), v.data());
    }
    return net;
}

tapegrad::Shape batch_shape(const Net& net, std::size_t rows) {
    tapegrad::Shape s{rows};
    s.insert(s.end(), net.image_shape.begin(), net.image_shape.end());
    return s;
}

class Step final : public Runner {
public:
    Step(Model model, const ImageSet& train, const Recipe& recipe, std::size_t batches)
        : net_(make_net(model, recipe.weight_seed)), opt_(net_.params, tapegrad::optim::SGDOptions(recipe.lr)) {
        const auto order = epoch_order(train.n, recipe.order_seed, 0);
        for (std::size_t b = 0; b < batches; ++b) {
            Tensor x = Tensor::from_shape(batch_shape(net_, recipe.batch));
            batch_floats(train, order.data() + b * recipe.batch, recipe.batch, x.data());
            tapegrad::Indices labels(recipe.batch);
            for (std::size_t k = 0; k < recipe.batch; ++k)
                labels[k] = std::size_t(train.labels[order[b * recipe.batch + k]]);
            xs_.push_back(tapegrad::constant(std::move(x)));
            labels_.push_back(std::move(labels));
        }
    }
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            const std::size_t b = next_++ % xs_.size();
            opt_.zero_grad();
            V loss = nn::cross_entropy(net_.forward(xs_[b]), labels_[b]);
            loss.backward();
            opt_.step();
            last_ = std::move(loss);
        }
    }
    double probe() override { return last_.item(); }

private:
    Net net_;
    tapegrad::optim::SGD<float> opt_;
    std::vector<V> xs_;
    std::vector<tapegrad::Indices> labels_;
    std::size_t next_ = 0;
    V last_;
};

class Chain final : public Runner {
public:
    Chain(std::size_t rows, std::size_t cols, bool grad, std::size_t length)
        : x_(tapegrad::parameter(Tensor(make_shape(rows, cols), 0.5f))),
          w_(tapegrad::parameter(Tensor(make_shape(rows, cols), 0.9f))),
          seed_(make_shape(rows, cols), 1.0f),
          grad_(grad),
          length_(length) {}
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            if (grad_) {
                x_.zero_grad();
                w_.zero_grad();
                chain().backward(seed_);
            } else {
                tapegrad::NoGradGuard no_grad;
                out_ = chain();
            }
        }
    }
    double probe() override {
        const Tensor& t = grad_ ? w_.grad() : out_.value();
        double s = 0;
        for (std::size_t i = 0; i < t.size(); ++i) s += t.data()[i];
        return s;
    }

private:
    static tapegrad::Shape make_shape(std::size_t rows, std::size_t cols) {
        return rows == 1 && cols == 1 ? tapegrad::Shape{1} : tapegrad::Shape{rows, cols};
    }
    V chain() const {
        V y = x_;
        for (std::size_t k = 0; k < length_; ++k) {
            switch (k % 3) {
                case 0:
                    y = y * w_;
                    break;
                case 1:
                    y = y + w_;
                    break;
                default:
                    y = tapegrad::tanh(y);
                    break;
            }
        }
        return y;
    }
    V x_, w_;
    Tensor seed_;
    bool grad_;
    std::size_t length_;
    V out_;
};

class LinearLayer final : public Runner {
public:
    LinearLayer(std::size_t batch, std::size_t in, std::size_t out)
        : x_(parameter_from({{batch, in}, uniform_floats(batch * in, -1, 1, 31)})),
          w_(parameter_from({{out, in}, uniform_floats(out * in, -0.03f, 0.03f, 32)})),
          b_(parameter_from({{out}, uniform_floats(out, -0.03f, 0.03f, 34)})),
          g_(parameter_from({{batch, out}, uniform_floats(batch * out, -1, 1, 33)}).value()) {}
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            x_.zero_grad();
            w_.zero_grad();
            b_.zero_grad();
            tapegrad::linear(x_, w_, b_).backward(g_);
        }
    }
    double probe() override {
        double s = 0;
        for (float v : w_.grad()) s += v;
        return s;
    }

private:
    V x_, w_, b_;
    Tensor g_;
};

tgd::ImageDataset dataset(tgd::Split split, std::size_t limit) {
    if (tgd::fashion_mnist_available()) {
        tgd::ImageDataset d = tgd::load_fashion_mnist(split);
        if (limit > 0 && limit < d.size()) return d.subset(limit);
        return d;  // moved (a conditional expression would copy 47 MB here)
    }
    ImageSet s = load_images(split == tgd::Split::train, limit > 0 ? limit : 6000);
    return tgd::ImageDataset(std::move(s.pixels), tapegrad::Indices(s.labels.begin(), s.labels.end()), 1, 28, 28, 10);
}

}  // namespace

void set_threads(int threads) { tapegrad::set_num_threads(threads); }

std::string version() { return "tapegrad (this tree)"; }

std::string build_info() { return tapegrad::build_info().to_string(); }

std::unique_ptr<Runner> make_step(Model model, const ImageSet& train, const Recipe& recipe, std::size_t batches) {
    return std::make_unique<Step>(model, train, recipe, batches);
}

std::unique_ptr<Runner> make_chain(std::size_t rows, std::size_t cols, bool grad, std::size_t length) {
    return std::make_unique<Chain>(rows, cols, grad, length);
}

std::unique_ptr<Runner> make_linear(std::size_t batch, std::size_t in, std::size_t out) {
    return std::make_unique<LinearLayer>(batch, in, out);
}

EpochResult run_epoch(Model model, const Recipe& recipe, std::size_t limit) {
    EpochResult r;
    Net net = make_net(model, recipe.weight_seed);
    std::vector<double> losses;
    {  // the training set lives in this block: released before the test set loads, as lt_side.cpp does
        double t_load = now_seconds();
        const tgd::ImageDataset train = dataset(tgd::Split::train, limit);
        r.load_seconds = now_seconds() - t_load;
        const tgd::DataLoader<float> loader(
            train, tgd::LoaderOptions()
                       .batch_size(recipe.batch)
                       .seed(recipe.order_seed)
                       .normalize(pixel_mean, pixel_std)
                       .layout(model == Model::mlp ? tgd::ImageLayout::flat : tgd::ImageLayout::nchw));
        tapegrad::optim::SGD<float> opt(net.params, tapegrad::optim::SGDOptions(recipe.lr));

        const double t0 = now_seconds();
        const auto epoch = loader.epoch(0);
        for (std::size_t i = 0; i < epoch.size(); ++i) {
            auto batch = epoch.batch(i);
            const V x = tapegrad::constant(std::move(batch.images));
            opt.zero_grad();
            V loss = nn::cross_entropy(net.forward(x), batch.labels);
            loss.backward();
            opt.step();
            losses.push_back(loss.item());
        }
        r.train_seconds = now_seconds() - t0;
    }

    const double t_load = now_seconds();
    const tgd::ImageDataset test = dataset(tgd::Split::test, 0);
    r.load_seconds += now_seconds() - t_load;
    const tgd::DataLoader<float> test_loader(
        test, tgd::LoaderOptions()
                  .batch_size(1000)
                  .shuffle(false)
                  .normalize(pixel_mean, pixel_std)
                  .layout(model == Model::mlp ? tgd::ImageLayout::flat : tgd::ImageLayout::nchw));
    tapegrad::NoGradGuard no_grad;
    std::size_t correct = 0;
    const auto test_epoch = test_loader.epoch(0);
    for (std::size_t i = 0; i < test_epoch.size(); ++i) {
        auto batch = test_epoch.batch(i);
        const V logits = net.forward(tapegrad::constant(std::move(batch.images)));
        const Tensor& l = logits.value();
        const std::size_t classes = l.shape()[1];
        for (std::size_t k = 0; k < batch.size(); ++k) {
            const float* row = l.data() + k * classes;
            correct += std::size_t(std::max_element(row, row + classes) - row) == batch.labels[k];
        }
    }
    r.accuracy = 100.0 * double(correct) / double(test.size());
    const std::size_t tail = std::min<std::size_t>(100, losses.size());
    for (std::size_t i = losses.size() - tail; i < losses.size(); ++i) r.final_loss += losses[i] / double(tail);
    return r;
}

}  // namespace bench::tg

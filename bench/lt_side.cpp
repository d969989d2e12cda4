// The libtorch side of every workload, written the way libtorch's C++ users write it
// (torch::nn modules, torch::optim::SGD, the data set as one float tensor indexed per batch).
#include <algorithm>
#include <torch/torch.h>
#include <torch/version.h>

#include "harness.hpp"
#include "sides.hpp"

extern "C" void openblas_set_num_threads(int);  // libtorch's matrix products go to the same OpenBLAS

namespace bench::lt {
namespace {

namespace F = torch::nn::functional;

std::vector<std::int64_t> dims(const std::vector<std::size_t>& shape) {
    return std::vector<std::int64_t>(shape.begin(), shape.end());
}

/// Copies the shared initial weights into a module's parameters (registration order:
/// weight, bias of each layer in turn — the order of mlp_init / cnn_init).
void load_init(torch::nn::Module& m, const std::vector<ParamInit>& init) {
    torch::NoGradGuard no_grad;
    auto params = m.parameters();
    TORCH_CHECK(params.size() == init.size(), "parameter count");
    for (std::size_t i = 0; i < init.size(); ++i) {
        auto src = torch::from_blob(const_cast<float*>(init[i].values.data()), dims(init[i].shape), torch::kFloat32);
        TORCH_CHECK(params[i].sizes() == src.sizes(), "parameter shape");
        params[i].copy_(src);
    }
}

struct MlpImpl : torch::nn::Module {
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
    MlpImpl() {
        fc1 = register_module("fc1", torch::nn::Linear(784, 128));
        fc2 = register_module("fc2", torch::nn::Linear(128, 10));
    }
    torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::relu(fc1(x))); }
};

struct CnnImpl : torch::nn::Module {
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    torch::nn::Linear fc{nullptr};
    CnnImpl() {
        conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 5)));
        conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 5)));
        fc = register_module("fc", torch::nn::Linear(256, 10));
    }
    torch::Tensor forward(torch::Tensor x) {
        x = F::max_pool2d(torch::relu(conv1(x)), F::MaxPool2dFuncOptions(2));
        x = F::max_pool2d(torch::relu(conv2(x)), F::MaxPool2dFuncOptions(2));
        return fc(x.view({x.size(0), 256}));
    }
};

/// The model as a module and a forward function, so that steps and epochs need not know which.
struct Net {
    std::shared_ptr<torch::nn::Module> module;
    std::function<torch::Tensor(const torch::Tensor&)> forward;
    std::vector<std::int64_t> image_shape;  // one image as the model takes it
};

Net make_net(Model model, std::uint64_t seed) {
    if (model == Model::mlp) {
        auto m = std::make_shared<MlpImpl>();
        load_init(*m, mlp_init(seed));
        return {m, [m](const torch::Tensor& x) { return m->forward(x); }, {784}};
    }
    auto m = std::make_shared<CnnImpl>();
    load_init(*m, cnn_init(seed));
    return {m, [m](const torch::Tensor& x) { return m->forward(x); }, {1, 28, 28}};
}

std::vector<std::int64_t> batch_shape(const Net& net, std::int64_t rows) {
    std::vector<std::int64_t> s{rows};
    s.insert(s.end(), net.image_shape.begin(), net.image_shape.end());
    return s;
}

class Step final : public Runner {
public:
    Step(Model model, const ImageSet& train, const Recipe& recipe, std::size_t batches)
        : net_(make_net(model, recipe.weight_seed)),
          opt_(net_.module->parameters(), torch::optim::SGDOptions(recipe.lr)) {
        const auto order = epoch_order(train.n, recipe.order_seed, 0);
        const auto b = std::int64_t(recipe.batch);
        for (std::size_t i = 0; i < batches; ++i) {
            auto x = torch::empty(batch_shape(net_, b), torch::kFloat32);
            batch_floats(train, order.data() + i * recipe.batch, recipe.batch, x.data_ptr<float>());
            auto y = torch::empty({b}, torch::kInt64);
            for (std::int64_t k = 0; k < b; ++k) y[k] = train.labels[order[i * recipe.batch + std::size_t(k)]];
            xs_.push_back(x);
            ys_.push_back(y);
        }
    }
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            const std::size_t b = next_++ % xs_.size();
            opt_.zero_grad();
            auto loss = F::cross_entropy(net_.forward(xs_[b]), ys_[b]);
            loss.backward();
            opt_.step();
            last_ = loss;
        }
    }
    double probe() override { return last_.item<double>(); }

private:
    Net net_;
    torch::optim::SGD opt_;
    std::vector<torch::Tensor> xs_, ys_;
    std::size_t next_ = 0;
    torch::Tensor last_;
};

class Chain final : public Runner {
public:
    Chain(std::size_t rows, std::size_t cols, bool grad, std::size_t length)
        : shape_(rows == 1 && cols == 1 ? std::vector<std::int64_t>{1}
                                        : std::vector<std::int64_t>{std::int64_t(rows), std::int64_t(cols)}),
          x_(torch::full(shape_, 0.5f, torch::requires_grad())),
          w_(torch::full(shape_, 0.9f, torch::requires_grad())),
          seed_(torch::ones(shape_)),
          grad_(grad),
          length_(length) {}
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            if (grad_) {
                x_.mutable_grad() = torch::Tensor();  // "set to none", as tapegrad's zero_grad
                w_.mutable_grad() = torch::Tensor();
                chain().backward(seed_);
            } else {
                torch::NoGradGuard no_grad;
                out_ = chain();
            }
        }
    }
    double probe() override { return (grad_ ? w_.grad() : out_).sum().item<double>(); }

private:
    torch::Tensor chain() const {
        torch::Tensor y = x_;
        for (std::size_t k = 0; k < length_; ++k) {
            switch (k % 3) {
                case 0:
                    y = y * w_;
                    break;
                case 1:
                    y = y + w_;
                    break;
                default:
                    y = torch::tanh(y);
                    break;
            }
        }
        return y;
    }
    std::vector<std::int64_t> shape_;
    torch::Tensor x_, w_, seed_;
    bool grad_;
    std::size_t length_;
    torch::Tensor out_;
};

torch::Tensor tensor_from(std::vector<float> values, std::vector<std::int64_t> shape, bool requires_grad) {
    return torch::from_blob(values.data(), shape, torch::kFloat32).clone().requires_grad_(requires_grad);
}

class LinearLayer final : public Runner {
public:
    LinearLayer(std::size_t batch, std::size_t in, std::size_t out) {
        const auto b = std::int64_t(batch), i = std::int64_t(in), o = std::int64_t(out);
        x_ = tensor_from(uniform_floats(batch * in, -1, 1, 31), {b, i}, true);
        w_ = tensor_from(uniform_floats(out * in, -0.03f, 0.03f, 32), {o, i}, true);
        b_ = tensor_from(uniform_floats(out, -0.03f, 0.03f, 34), {o}, true);
        g_ = tensor_from(uniform_floats(batch * out, -1, 1, 33), {b, o}, false);
    }
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            for (auto* t : {&x_, &w_, &b_}) t->mutable_grad() = torch::Tensor();
            F::linear(x_, w_, b_).backward(g_);
        }
    }
    double probe() override { return w_.grad().sum().item<double>(); }

private:
    torch::Tensor x_, w_, b_, g_;
};

/// A split as libtorch's users hold it: all images as one normalised float tensor, labels int64.
struct TensorSet {
    torch::Tensor images, labels;
    std::size_t n = 0;
};

TensorSet tensor_set(bool train, std::size_t limit, const Net& net) {
    ImageSet s = load_images(train, limit > 0 ? limit : 6000);
    const std::size_t n = limit > 0 ? std::min(limit, s.n) : s.n;
    TensorSet t;
    t.n = n;
    t.images = torch::empty(batch_shape(net, std::int64_t(n)), torch::kFloat32);
    std::vector<std::size_t> rows(n);
    for (std::size_t i = 0; i < n; ++i) rows[i] = i;
    batch_floats(s, rows.data(), n, t.images.data_ptr<float>());
    t.labels = torch::from_blob(s.labels.data(), {std::int64_t(n)}, torch::kInt64).clone();
    return t;  // the bytes go with s
}

}  // namespace

void set_threads(int threads) {
    at::set_num_threads(threads);
    openblas_set_num_threads(threads);
}

std::string version() { return std::string("libtorch ") + TORCH_VERSION; }

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
    Net net = make_net(model, recipe.weight_seed);
    torch::optim::SGD opt(net.module->parameters(), torch::optim::SGDOptions(recipe.lr));
    EpochResult r;
    double t_load = now_seconds();
    TensorSet train = tensor_set(true, limit, net);
    r.load_seconds = now_seconds() - t_load;
    const auto order_v = epoch_order(train.n, recipe.order_seed, 0);
    const auto order = torch::tensor(std::vector<std::int64_t>(order_v.begin(), order_v.end()), torch::kInt64);
    std::vector<double> losses;

    const double t0 = now_seconds();
    const auto b = std::int64_t(recipe.batch), n = std::int64_t(train.n);
    for (std::int64_t first = 0; first < n; first += b) {
        const auto idx = order.slice(0, first, std::min(first + b, n));
        opt.zero_grad();
        auto loss = F::cross_entropy(net.forward(train.images.index_select(0, idx)), train.labels.index_select(0, idx));
        loss.backward();
        opt.step();
        losses.push_back(loss.item<double>());
    }
    r.train_seconds = now_seconds() - t0;

    train = TensorSet();
    t_load = now_seconds();
    const TensorSet test = tensor_set(false, 0, net);
    r.load_seconds += now_seconds() - t_load;
    torch::NoGradGuard no_grad;
    std::int64_t correct = 0;
    for (std::int64_t first = 0; first < std::int64_t(test.n); first += 1000) {
        const std::int64_t last = std::min(first + 1000, std::int64_t(test.n));
        const auto pred = net.forward(test.images.slice(0, first, last)).argmax(1);
        correct += pred.eq(test.labels.slice(0, first, last)).sum().item<std::int64_t>();
    }
    r.accuracy = 100.0 * double(correct) / double(test.n);
    const std::size_t tail = std::min<std::size_t>(100, losses.size());
    for (std::size_t i = losses.size() - tail; i < losses.size(); ++i) r.final_loss += losses[i] / double(tail);
    return r;
}

}  // namespace bench::lt

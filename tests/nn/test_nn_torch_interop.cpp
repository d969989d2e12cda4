// Every module's state dict both ways with PyTorch itself: saved by tapegrad, loaded by torch.nn with strict=True (and
// back), same outputs, in .npz and .safetensors.
//
// Each case is one entry of the table in cases(): a tapegrad model, the torch.nn expression that
// builds the same model, an input shape, and how many training-mode batches to run first (so
// batch norm's running statistics and num_batches_tracked are not their initial values). A new
// module is one more entry. The C++ side writes a manifest of the cases; one Python run (torch,
// numpy, and a safetensors reader/writer of struct + json) does the torch half of every case.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>

#include <tapegrad/io/npz.hpp>
#include <tapegrad/nn/serialize.hpp>

#include "external_tools.hpp"
#include "helpers.hpp"
#include "test_data_helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
namespace tgio = tapegrad::io;
using F = float;

namespace {

struct Case {
    std::string name;
    std::function<std::shared_ptr<nn::Module<F>>()> make;
    std::string torch;  // a Python expression over `nn` (torch.nn) building the same model
    tg::Shape input;
    int train_batches = 0;
    std::size_t vocab = 0;  // > 0: the input is token ids in [0, vocab) (stored as floats; torch gets .long())
};

std::vector<Case> cases() {
    using nn::Sequential;
    auto seq = [](Sequential<F> s) { return std::make_shared<Sequential<F>>(std::move(s)); };
    return {
        {"linear", [] { return std::make_shared<nn::Linear<F>>(5, 3); }, "nn.Linear(5, 3)", {4, 5}},
        {"linear_no_bias",
         [] { return std::make_shared<nn::Linear<F>>(5, 3, false); },
         "nn.Linear(5, 3, bias=False)",
         {4, 5}},
        {"conv2d",
         [] { return std::make_shared<nn::Conv2d<F>>(2, 4, 3, tg::Conv2dOptions().stride(2).padding(1)); },
         "nn.Conv2d(2, 4, 3, stride=2, padding=1)",
         {2, 2, 7, 7}},
        {"conv2d_groups_dilation",
         [] {
             return std::make_shared<nn::Conv2d<F>>(4, 6, tg::Size2(3, 2), tg::Conv2dOptions().dilation(2).groups(2),
                                                    false);
         },
         "nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2, bias=False)",
         {2, 4, 9, 8}},
        {"batchnorm1d", [] { return std::make_shared<nn::BatchNorm1d<F>>(3); }, "nn.BatchNorm1d(3)", {6, 3}, 3},
        {"batchnorm1d_no_affine",
         [] { return std::make_shared<nn::BatchNorm1d<F>>(3, 1e-5, 0.1, false); },
         "nn.BatchNorm1d(3, affine=False)",
         {5, 3, 4},
         2},
        {"batchnorm2d",
         [] { return std::make_shared<nn::BatchNorm2d<F>>(2, 1e-3, 0.2); },
         "nn.BatchNorm2d(2, eps=1e-3, momentum=0.2)",
         {3, 2, 4, 4},
         4},
        {"sequential_cnn",
         [=] {
             return seq(Sequential<F>{nn::Conv2d<F>(1, 4, 3, tg::Conv2dOptions().padding(1)), nn::BatchNorm2d<F>(4),
                                      nn::ReLU{}, nn::MaxPool2d(2), nn::Conv2d<F>(4, 2, 3), nn::Tanh{},
                                      nn::AvgPool2d(2), nn::Flatten{}, nn::Dropout<F>(0.5), nn::Linear<F>(2, 3),
                                      nn::LogSoftmax{}});
         },
         "nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), "
         "nn.Conv2d(4, 2, 3), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(2, 3), "
         "nn.LogSoftmax(dim=1))",
         {3, 1, 8, 8},
         2},
        {"sequential_mlp",
         [=] {
             return seq(Sequential<F>{nn::Linear<F>(6, 8), nn::BatchNorm1d<F>(8), nn::Sigmoid{}, nn::Linear<F>(8, 5),
                                      nn::LeakyReLU{0.1}, nn::Linear<F>(5, 4), nn::ELU{}, nn::GELU{},
                                      nn::Linear<F>(4, 3), nn::Softplus{}, nn::Softmax{}});
         },
         "nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Sigmoid(), nn.Linear(8, 5), nn.LeakyReLU(0.1), "
         "nn.Linear(5, 4), nn.ELU(), nn.GELU(), nn.Linear(4, 3), nn.Softplus(), nn.Softmax(dim=1))",
         {7, 6},
         3},
        // sequence layers (issue 14); first(...) keeps the output of a torch module that returns a tuple
        {"layernorm", [] { return std::make_shared<nn::LayerNorm<F>>(5); }, "nn.LayerNorm(5)", {4, 5}},
        {"layernorm_2d_no_affine",
         [] {
             return std::make_shared<nn::LayerNorm<F>>(tg::Shape{3, 4}, 1e-3, false);
         },
         "nn.LayerNorm((3, 4), eps=1e-3, elementwise_affine=False)",
         {2, 3, 4}},
        {"lstm",
         [] { return std::make_shared<nn::LSTM<F>>(3, 4, nn::RecurrentOptions().num_layers(2)); },
         "first(nn.LSTM)(3, 4, num_layers=2)",
         {5, 2, 3}},
        {"gru_batch_first",
         [] { return std::make_shared<nn::GRU<F>>(3, 4, nn::RecurrentOptions().batch_first(true)); },
         "first(nn.GRU)(3, 4, batch_first=True)",
         {2, 5, 3}},
        {"rnn_no_bias",
         [] { return std::make_shared<nn::RNN<F>>(3, 4, nn::RecurrentOptions().bias(false)); },
         "first(nn.RNN)(3, 4, bias=False)",
         {5, 2, 3}},
        {"multihead_attention",
         [] { return std::make_shared<nn::MultiheadAttention<F>>(8, 2); },
         "self_attention(8, 2)",
         {5, 2, 8}},
        {"lstm_bidirectional",
         [] {
             return std::make_shared<nn::LSTM<F>>(
                 3, 4, nn::RecurrentOptions().num_layers(2).bidirectional(true).dropout(0.3));
         },
         "first(nn.LSTM)(3, 4, num_layers=2, bidirectional=True, dropout=0.3)",
         {5, 2, 3}},
        {"gru_bidirectional_batch_first",
         [] {
             return std::make_shared<nn::GRU<F>>(3, 4, nn::RecurrentOptions().bidirectional(true).batch_first(true));
         },
         "first(nn.GRU)(3, 4, bidirectional=True, batch_first=True)",
         {2, 5, 3}},
        {"rnn_bidirectional",
         [] { return std::make_shared<nn::RNN<F>>(3, 4, nn::RecurrentOptions().num_layers(2).bidirectional(true)); },
         "first(nn.RNN)(3, 4, num_layers=2, bidirectional=True)",
         {5, 2, 3}},
        {"embedding_padding_idx",
         [] { return std::make_shared<nn::Embedding<F>>(10, 4, nn::EmbeddingOptions().padding_idx(0)); },
         "ids(nn.Embedding)(10, 4, padding_idx=0)",
         {3, 5},
         0,
         10},
        {"transformer_block_causal",
         [] {
             return std::make_shared<nn::TransformerBlock<F>>(8, 2,
                                                              nn::TransformerOptions()
                                                                  .dim_feedforward(16)
                                                                  .activation(nn::TransformerActivation::gelu)
                                                                  .batch_first(true)
                                                                  .causal(true));
         },
         "causal(nn.TransformerEncoderLayer)(8, 2, 16, 0.1, 'gelu', batch_first=True, norm_first=True)",
         {2, 5, 8}},
        {"transformer_block_relu",
         [] { return std::make_shared<nn::TransformerBlock<F>>(8, 4, nn::TransformerOptions().dim_feedforward(12)); },
         "nn.TransformerEncoderLayer(8, 4, 12, norm_first=True)",
         {5, 2, 8}},
        {"transformer_stack_causal",
         [] {
             return std::make_shared<nn::TransformerStack<F>>(
                 2, 8, 2, nn::TransformerOptions().dim_feedforward(16).batch_first(true).causal(true));
         },
         "causal(nn.TransformerEncoder)(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=True), 2, "
         "norm=nn.LayerNorm(8), enable_nested_tensor=False)",
         {2, 5, 8}},
        {"positional_embedding",
         [] { return std::make_shared<nn::PositionalEmbedding<F>>(7, 4); },
         "positional(7, 4)",
         {2, 5, 4}},
        {"gpt",
         [] {
             nn::GPTConfig c;
             c.vocab_size = 11;
             c.context = 8;
             c.d_model = 8;
             c.num_heads = 2;
             c.num_layers = 2;
             c.dim_feedforward = 16;
             return std::make_shared<nn::GPT<F>>(c);
         },
         "GPT(11, 8, 8, 2, 2, 16)",
         {2, 6},
         0,
         11},
    };
}

tg::Tensor<F> random_tensor(const tg::Shape& shape, std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<F> t = tg::Tensor<F>::from_shape(shape);
    for (auto& v : t) v = F(gen.normal());
    return t;
}

tg::Tensor<F> random_ids(const tg::Shape& shape, std::size_t vocab, std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<F> t = tg::Tensor<F>::from_shape(shape);
    for (auto& v : t) v = F(std::min<std::size_t>(vocab - 1, std::size_t(gen.uniform(0.0, double(vocab)))));
    return t;
}

tg::Tensor<F> run(nn::Module<F>& model, const tg::Tensor<F>& x) {
    tg::NoGradGuard no_grad;
    return model(tg::Variable<F>(x)).value();
}

// The torch half: for each case of the manifest, load tapegrad's files with strict=True and
// compare outputs; build the torch model, train it the same number of batches, save its
// state_dict in both formats with its output.
const char* torch_script = R"PY(
import json, struct, sys
import numpy as np
import torch
from torch import nn

def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    buf = data[8 + n:]
    kinds = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(buf[b:end], dtype=kinds[e["dtype"]]).reshape(e["shape"])
    return out

def write_safetensors(path, arrays):
    kinds = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i8"): "I64"}
    header, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        a = np.array(a, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        raw = a.tobytes()
        header[name] = {"dtype": kinds[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

def read(path):
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    z = np.load(path)
    return {k: z[k] for k in z.files}

def first(cls):  # the module with forward(x) returning only the first of its outputs
    return type(cls.__name__, (cls,), {"forward": lambda self, x: cls.forward(self, x)[0]})

def ids(cls):  # forward(x): x holds token ids as floats
    return type(cls.__name__, (cls,), {"forward": lambda self, x: cls.forward(self, x.long())})

def causal_mask(n):
    return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)

def causal(cls):  # forward(x) with the causal mask (PyTorch passes it per call; tapegrad's option)
    def forward(self, x):
        layer = self if hasattr(self, "self_attn") else self.layers[0]
        return cls.forward(self, x, causal_mask(x.shape[1] if layer.self_attn.batch_first else x.shape[0]))
    return type(cls.__name__, (cls,), {"forward": forward})

class positional(nn.Module):  # learned positions: an nn.Embedding of positions added to x (N, L, E)
    def __init__(self, max_len, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, dim))
    def forward(self, x):
        return x + self.weight[:x.shape[1]]

class GPT(nn.Module):  # tapegrad's nn::GPT written with torch.nn
    def __init__(self, vocab, context, d, heads, layers, ff):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = positional(context, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, 0.0, "gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.head = nn.Linear(d, vocab)
    def forward(self, ids):
        x = self.pos_emb(self.tok_emb(ids.long()))
        return self.head(self.blocks(x, causal_mask(ids.shape[1])))

def self_attention(*args, **kwargs):  # forward(x): attention of x to itself, the output alone
    mha = nn.MultiheadAttention
    return type("MultiheadAttention", (mha,),
                {"forward": lambda self, x: mha.forward(self, x, x, x, need_weights=False)[0]})(*args, **kwargs)

d = sys.argv[1]
failures = []
for line in open(d + "/manifest.txt"):
    name, expr, train = line.rstrip("\n").split("|")
    io = read(d + "/" + name + ".io.npz")
    x = torch.from_numpy(io["x"])
    for ext in ("npz", "safetensors"):
        # tapegrad -> torch: strict load, same output
        model = eval(expr)
        state = {k: torch.from_numpy(np.array(v)) for k, v in read(d + "/" + name + ".tg." + ext).items()}
        model.load_state_dict(state, strict=True)
        model.eval()
        with torch.no_grad():
            y = model(x).numpy()
        print("%s.%s: tapegrad -> torch, max output difference %.3g" % (name, ext, np.abs(y - io["y"]).max()))
        if not np.allclose(y, io["y"], rtol=1e-4, atol=1e-5):
            failures.append("%s.%s: torch's output differs from tapegrad's by %g"
                            % (name, ext, np.abs(y - io["y"]).max()))
        for k, v in model.state_dict().items():
            if not np.array_equal(v.numpy(), state[k].numpy()):
                failures.append("%s.%s: %s changed on load" % (name, ext, k))
    # torch -> tapegrad: torch's own weights and statistics, in both formats
    torch.manual_seed(7)
    model = eval(expr)
    model.train()
    g = torch.Generator().manual_seed(11)
    for _ in range(int(train)):
        model(torch.randn(x.shape, generator=g))
    model.eval()
    with torch.no_grad():
        y = model(x).numpy()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    np.savez(d + "/" + name + ".pt.npz", **state)
    write_safetensors(d + "/" + name + ".pt.safetensors", state)
    np.savez(d + "/" + name + ".pt_out.npz", y=y)
if failures:
    print("\n".join(failures))
    sys.exit(1)
)PY";

}  // namespace

TEST_CASE("every module's state dict goes to PyTorch and back (strict load, same outputs)" *
          doctest::test_suite("external")) {
    const std::string py = python_with("numpy torch");
    if (py.empty()) return missing_tool("python3 with torch and numpy (apt-get install python3-torch python3-numpy)");
    data_test::TempDir dir;
    std::string manifest;
    for (const Case& c : cases()) {
        CAPTURE(c.name);
        tg::manual_seed(1);
        auto model = c.make();
        model->train();
        for (int b = 0; b < c.train_batches; ++b) run(*model, random_tensor(c.input, 100 + std::uint64_t(b)));
        model->eval();
        const tg::Tensor<F> x = c.vocab ? random_ids(c.input, c.vocab, 42) : random_tensor(c.input, 42);
        tgio::save_npz<F>(dir / (c.name + ".io.npz"), {{"x", x}, {"y", run(*model, x)}});
        for (const char* ext : {"npz", "safetensors"}) nn::save(*model, dir / (c.name + ".tg." + ext));
        manifest += c.name + "|" + c.torch + "|" + std::to_string(c.train_batches) + "\n";
    }
    data_test::write_file(dir / "manifest.txt", manifest);
    data_test::write_file(dir / "torch_side.py", torch_script);
    const std::string log = dir / "torch_side.log";
    const int rc =
        std::system((py + " " + (dir / "torch_side.py") + " " + dir.path().string() + " > " + log + " 2>&1").c_str());
    const std::string torch_log = data_test::read_file(log);
    INFO(torch_log);
    REQUIRE(rc == 0);
    std::printf("%s", torch_log.c_str());

    for (const Case& c : cases()) {
        const tg::Tensor<F> x = tgio::load_npz<F>(dir / (c.name + ".io.npz"))[0].second;
        const tg::Tensor<F> y_torch = tgio::load_npz<F>(dir / (c.name + ".pt_out.npz"))[0].second;
        for (const char* ext : {"npz", "safetensors"}) {
            CAPTURE(c.name);
            CAPTURE(ext);
            tg::manual_seed(99);  // other initial weights: everything must come from the file
            auto model = c.make();
            nn::load(*model, dir / (c.name + ".pt." + ext));
            model->eval();
            const tg::Tensor<F> y = run(*model, x);
            REQUIRE(y.shape() == y_torch.shape());
            double worst = 0, max_diff = 0;
            for (std::size_t i = 0; i < y.size(); ++i) {
                const double diff = std::abs(double(y.data()[i]) - double(y_torch.data()[i]));
                max_diff = std::max(max_diff, diff);
                worst = std::max(worst, diff / (1e-5 + 1e-4 * std::abs(double(y_torch.data()[i]))));
            }
            std::printf("%s.%s: torch -> tapegrad, max output difference %.3g\n", c.name.c_str(), ext, max_diff);
            CHECK_MESSAGE(worst <= 1.0, "tapegrad's output differs from torch's");
            for (const auto& [name, counter] : model->named_counters()) CHECK(*counter == c.train_batches);
        }
    }
}

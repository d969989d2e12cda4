// The libtorch side of the sequence workloads, written as libtorch's C++ users write them: torch::nn
// Embedding, LSTM, MultiheadAttention, LayerNorm and Linear, torch::optim::SGD.
#include <torch/torch.h>

#include "seq.hpp"

namespace bench::lt {
namespace {

namespace F = torch::nn::functional;

struct LstmLmImpl : torch::nn::Module {
    torch::nn::Embedding emb{nullptr};
    torch::nn::LSTM lstm{nullptr};
    torch::nn::Linear head{nullptr};
    explicit LstmLmImpl(const SeqRecipe& r) {
        emb = register_module("emb", torch::nn::Embedding(torch::nn::EmbeddingOptions(r.vocab, r.embed)));
        lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(r.embed, r.hidden).batch_first(true)));
        head = register_module("head", torch::nn::Linear(r.hidden, r.vocab));
    }
    torch::Tensor forward(const torch::Tensor& ids) { return head(std::get<0>(lstm(emb(ids)))); }
};

/// The pre-LN block (PyTorch's TransformerEncoderLayer with norm_first=True, which libtorch's C++
/// options lack), batch first.
struct BlockImpl : torch::nn::Module {
    torch::nn::MultiheadAttention self_attn{nullptr};
    torch::nn::Linear linear1{nullptr}, linear2{nullptr};
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    explicit BlockImpl(const SeqRecipe& r) {
        const auto d = std::int64_t(r.d_model);
        self_attn = register_module("self_attn", torch::nn::MultiheadAttention(d, std::int64_t(r.heads)));
        linear1 = register_module("linear1", torch::nn::Linear(d, std::int64_t(r.feedforward)));
        linear2 = register_module("linear2", torch::nn::Linear(std::int64_t(r.feedforward), d));
        norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
        norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    }
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask) {
        const auto h = norm1(x).transpose(0, 1);  // the C++ MultiheadAttention is sequence first
        x = x + std::get<0>(self_attn->forward(h, h, h, torch::Tensor(), false, mask)).transpose(0, 1);
        return x + linear2(torch::gelu(linear1(norm2(x))));
    }
};
TORCH_MODULE(Block);

struct StackImpl : torch::nn::Module {
    torch::nn::ModuleList layers{nullptr};
    torch::nn::LayerNorm norm{nullptr};
    explicit StackImpl(const SeqRecipe& r) {
        layers = register_module("layers", torch::nn::ModuleList(Block(r)));
        norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({std::int64_t(r.d_model)})));
    }
};
TORCH_MODULE(Stack);

struct GptImpl : torch::nn::Module {
    torch::nn::Embedding tok_emb{nullptr}, pos_emb{nullptr};
    Stack blocks{nullptr};
    torch::nn::Linear head{nullptr};
    torch::Tensor mask;
    explicit GptImpl(const SeqRecipe& r) {
        tok_emb = register_module("tok_emb", torch::nn::Embedding(torch::nn::EmbeddingOptions(r.vocab, r.d_model)));
        pos_emb = register_module("pos_emb", torch::nn::Embedding(torch::nn::EmbeddingOptions(r.length, r.d_model)));
        blocks = register_module("blocks", Stack(r));
        head = register_module("head", torch::nn::Linear(r.d_model, r.vocab));
        const auto L = std::int64_t(r.length);
        mask = torch::triu(torch::full({L, L}, -std::numeric_limits<float>::infinity()), 1);
    }
    torch::Tensor forward(const torch::Tensor& ids) {
        auto x = tok_emb(ids) + pos_emb->weight.slice(0, 0, ids.size(1));
        for (const auto& b : *blocks->layers) x = b->as<Block>()->forward(x, mask);
        return head(blocks->norm(x));
    }
};

class SeqStep final : public Runner {
public:
    SeqStep(SeqModel model, std::size_t batches) : r_(seq_recipe(model)) {
        if (model == SeqModel::lstm) {
            lstm_ = std::make_shared<LstmLmImpl>(r_);
            module_ = lstm_;
        } else {
            gpt_ = std::make_shared<GptImpl>(r_);
            module_ = gpt_;
        }
        torch::NoGradGuard no_grad;
        std::vector<torch::Tensor> params;
        for (auto& p : module_->named_parameters()) {
            if (!p.value().defined()) continue;  // MultiheadAttention's unused q/k/v_proj_weight
            const std::vector<std::size_t> shape(p.value().sizes().begin(), p.value().sizes().end());
            std::vector<float> v = seq_init(p.key(), shape, r_.seed);
            p.value().copy_(torch::from_blob(v.data(), p.value().sizes(), torch::kFloat32));
            params.push_back(p.value());
        }
        opt_ = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(r_.lr));
        const auto B = std::int64_t(r_.batch), L = std::int64_t(r_.length);
        for (const auto& b : seq_batches(r_, batches)) {
            auto all = torch::from_blob(const_cast<std::int64_t*>(b.data()), {B, L + 1}, torch::kInt64).clone();
            ids_.push_back(all.slice(1, 0, L).contiguous());
            next_.push_back(all.slice(1, 1, L + 1).reshape({B * L}));
        }
    }
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            const std::size_t b = k_++ % ids_.size();
            opt_->zero_grad();
            const auto logits = lstm_ ? lstm_->forward(ids_[b]) : gpt_->forward(ids_[b]);
            auto loss = F::cross_entropy(logits.reshape({-1, std::int64_t(r_.vocab)}), next_[b]);
            loss.backward();
            opt_->step();
            last_ = loss;
        }
    }
    double probe() override { return last_.item<double>(); }

private:
    SeqRecipe r_;
    std::shared_ptr<LstmLmImpl> lstm_;
    std::shared_ptr<GptImpl> gpt_;
    std::shared_ptr<torch::nn::Module> module_;
    std::unique_ptr<torch::optim::SGD> opt_;
    std::vector<torch::Tensor> ids_, next_;
    std::size_t k_ = 0;
    torch::Tensor last_;
};

}  // namespace

std::unique_ptr<Runner> make_seq_step(SeqModel model, std::size_t batches) {
    return std::make_unique<SeqStep>(model, batches);
}

}  // namespace bench::lt

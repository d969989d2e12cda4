// The tapegrad side of the sequence workloads: Embedding -> LSTM -> Linear, and a one-block nn::GPT.
#include <stdexcept>

#include <tapegrad/tapegrad.hpp>

#include "seq.hpp"

namespace bench::tg {
namespace {

namespace nn = tapegrad::nn;
using V = tapegrad::Variable<float>;

/// The character LSTM as a tapegrad user writes it.
struct LstmLm : nn::Module<float> {
    explicit LstmLm(const SeqRecipe& r)
        : emb(register_module("emb", nn::Embedding<float>(r.vocab, r.embed))),
          lstm(register_module("lstm", nn::LSTM<float>(r.embed, r.hidden, nn::RecurrentOptions().batch_first(true)))),
          head(register_module("head", nn::Linear<float>(r.hidden, r.vocab))) {}
    V logits(const tapegrad::Tensor<std::size_t>& ids) const { return (*head)((*lstm)((*emb)(ids)).output); }
    std::shared_ptr<nn::Embedding<float>> emb;
    std::shared_ptr<nn::LSTM<float>> lstm;
    std::shared_ptr<nn::Linear<float>> head;
};

class SeqStep final : public Runner {
public:
    SeqStep(SeqModel model, std::size_t batches) : r_(seq_recipe(model)) {
        if (model == SeqModel::lstm) {
            lstm_ = std::make_shared<LstmLm>(r_);
            module_ = lstm_;
        } else {
            nn::GPTConfig c;
            c.vocab_size = r_.vocab;
            c.context = r_.length;
            c.d_model = r_.d_model;
            c.num_heads = r_.heads;
            c.num_layers = 1;
            c.dim_feedforward = r_.feedforward;
            gpt_ = std::make_shared<nn::GPT<float>>(c);
            module_ = gpt_;
        }
        tapegrad::NoGradGuard no_grad;
        for (auto& [name, p] : module_->named_parameters()) {
            const std::vector<std::size_t> shape(p.shape().begin(), p.shape().end());
            const std::vector<float> v = seq_init(name, shape, r_.seed);
            std::copy(v.begin(), v.end(), p.mutable_value().data());
        }
        params_ = module_->parameters();
        opt_ = std::make_unique<tapegrad::optim::SGD<float>>(params_, tapegrad::optim::SGDOptions(r_.lr));
        for (const auto& b : seq_batches(r_, batches)) {
            tapegrad::Tensor<std::size_t> ids = tapegrad::Tensor<std::size_t>::from_shape({r_.batch, r_.length});
            tapegrad::Indices next(r_.batch * r_.length);
            for (std::size_t i = 0; i < r_.batch; ++i)
                for (std::size_t t = 0; t < r_.length; ++t) {
                    ids(i, t) = std::size_t(b[i * (r_.length + 1) + t]);
                    next[i * r_.length + t] = std::size_t(b[i * (r_.length + 1) + t + 1]);
                }
            ids_.push_back(std::move(ids));
            next_.push_back(std::move(next));
        }
    }
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            const std::size_t b = k_++ % ids_.size();
            opt_->zero_grad();
            const V logits = lstm_ ? lstm_->logits(ids_[b]) : (*gpt_)(ids_[b]);
            V loss =
                nn::cross_entropy(tapegrad::reshape(logits, tapegrad::Shape{r_.batch * r_.length, r_.vocab}), next_[b]);
            loss.backward();
            opt_->step();
            last_ = std::move(loss);
        }
    }
    double probe() override { return last_.item(); }

private:
    SeqRecipe r_;
    std::shared_ptr<LstmLm> lstm_;
    std::shared_ptr<nn::GPT<float>> gpt_;
    std::shared_ptr<nn::Module<float>> module_;
    std::vector<V> params_;
    std::unique_ptr<tapegrad::optim::SGD<float>> opt_;
    std::vector<tapegrad::Tensor<std::size_t>> ids_;
    std::vector<tapegrad::Indices> next_;
    std::size_t k_ = 0;
    V last_;
};

}  // namespace

std::unique_ptr<Runner> make_seq_step(SeqModel model, std::size_t batches) {
    return std::make_unique<SeqStep>(model, batches);
}

}  // namespace bench::tg

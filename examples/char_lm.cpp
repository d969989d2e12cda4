// Lesson 8: a character-level LSTM and a small GPT on the King James Bible, trained by the same generic reverse sweep.
//
// Backprop through time is the reverse sweep over a graph that a loop over time steps recorded;
// backprop through attention is the reverse sweep over a graph where every position reads every
// earlier one. Neither model has a line of backward code: both are forward programs, and the
// tape does the rest. The lesson trains both on the same text, reports validation bits per
// character against the entropy of the text's character frequencies (what a model that knows
// no context at all can reach), prints samples as they learn, and proves both models causal:
// the gradient reaching a future character is exactly 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lesson.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
namespace data = tapegrad::data;
using Ids = tg::Tensor<std::size_t>;
using Var = tg::Variable<float>;

namespace {

// ---- the text ----

// The King James Bible (1611; public domain) as the `bible` program of Debian's bible-kjv prints
// it from bible-kjv-text's data: book and chapter headings, numbered verses, lines of 80 columns.
constexpr const char* kjv_command = "bible -l80 gen1:1-rev22:21";

std::optional<std::string> load_text(const std::string& path) {
    if (!path.empty()) return data::read_text_file(path);
    if (!lesson::have("bible")) {
        fmt::print(
            "The `bible` program is not installed (apt-get install bible-kjv), and no --text was given; "
            "skipping.\n");
        return std::nullopt;
    }
    std::string text;
    FILE* pipe = ::popen(kjv_command, "r");
    if (!pipe) throw std::runtime_error(std::string("cannot run ") + kjv_command);
    char buffer[1 << 16];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
    if (::pclose(pipe) != 0 || text.empty()) throw std::runtime_error(std::string("`") + kjv_command + "` failed");
    return text;
}

// -sum p log2 p over the characters: the bits per character of the best model that ignores context.
double unigram_entropy(const tg::Indices& ids, std::size_t vocab) {
    std::vector<double> count(vocab, 0.0);
    for (std::size_t id : ids) count[id] += 1;
    double h = 0;
    for (double c : count)
        if (c > 0) h -= c / double(ids.size()) * std::log2(c / double(ids.size()));
    return h;
}

// H(next | previous character) of the text: the bits per character of the best model that looks
// one character back. A model below it uses more context than a bigram table.
double bigram_entropy(const tg::Indices& ids, std::size_t vocab) {
    std::vector<double> pair(vocab * vocab, 0.0), first(vocab, 0.0);
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
        pair[ids[i] * vocab + ids[i + 1]] += 1;
        first[ids[i]] += 1;
    }
    const double n = double(ids.size() - 1);
    double h = 0;
    for (std::size_t a = 0; a < vocab; ++a)
        for (std::size_t b = 0; b < vocab; ++b)
            if (const double c = pair[a * vocab + b]; c > 0) h -= c / n * std::log2(c / first[a]);
    return h;
}

// ---- the two models: forward programs only ----

// Embedding -> LSTM -> Linear onto the vocabulary. The LSTM's loop over the characters records one
// LSTM cell per step on the tape; backward over that record is backprop through time.
struct CharLSTM : nn::Module<float> {
    CharLSTM(std::size_t vocab, std::size_t embed_dim, std::size_t hidden, std::size_t layers)
        : embed(register_module("embed", nn::Embedding<float>(vocab, embed_dim))),
          lstm(register_module(
              "lstm", nn::LSTM<float>(embed_dim, hidden, nn::RecurrentOptions().num_layers(layers).batch_first(true)))),
          head(register_module("head", nn::Linear<float>(hidden, vocab))) {}

    // Logits (B, L, vocab) for the characters x (B, L) from the state (zeros when empty), and the state after them.
    std::pair<Var, nn::LstmState<float>> run(const Var& x, const nn::LstmState<float>& state = {}) const {
        auto out = (*lstm)(x, state);
        return {(*head)(out.output), {out.h_n, out.c_n}};
    }
    Var embedded(const Ids& ids) const { return (*embed)(ids); }
    Var run_embedded(const Var& x) const { return run(x).first; }
    Var logits(const Ids& ids) const { return run_embedded(embedded(ids)); }

    std::shared_ptr<nn::Embedding<float>> embed;
    std::shared_ptr<nn::LSTM<float>> lstm;
    std::shared_ptr<nn::Linear<float>> head;
};

// A pre-LN transformer block: x + attention(LN(x)), then + MLP(LN(x)). The causal mask lets
// position t read positions 0..t only.
struct Block : nn::Module<float> {
    Block(std::size_t d, std::size_t heads)
        : ln1(register_module("ln1", nn::LayerNorm<float>(d))),
          attn(register_module("attn", nn::MultiheadAttention<float>(d, heads, 0.0, true, /*batch_first=*/true))),
          ln2(register_module("ln2", nn::LayerNorm<float>(d))),
          fc(register_module("fc", nn::Linear<float>(d, 4 * d))),
          proj(register_module("proj", nn::Linear<float>(4 * d, d))) {}

    Var forward(const Var& x) override {
        const Var h = (*ln1)(x);
        const Var y = x + (*attn)(h, h, h, nn::AttentionOptions().is_causal(true).need_weights(false)).output;
        return y + (*proj)(tg::gelu((*fc)((*ln2)(y))));
    }

    std::shared_ptr<nn::LayerNorm<float>> ln1;
    std::shared_ptr<nn::MultiheadAttention<float>> attn;
    std::shared_ptr<nn::LayerNorm<float>> ln2;
    std::shared_ptr<nn::Linear<float>> fc, proj;
};

// A decoder-only transformer: token and learned position embeddings, blocks, a final LayerNorm, a head.
struct GPT : nn::Module<float> {
    GPT(std::size_t vocab, std::size_t context, std::size_t d, std::size_t heads, std::size_t layers)
        : tok(register_module("tok", nn::Embedding<float>(vocab, d))),
          pos(register_module("pos", nn::Embedding<float>(context, d))),
          ln_f(register_module("ln_f", nn::LayerNorm<float>(d))),
          head(register_module("head", nn::Linear<float>(d, vocab))),
          context(context) {
        for (std::size_t i = 0; i < layers; ++i)
            blocks.push_back(register_module(fmt::format("h{}", i), Block(d, heads)));
        // Small embeddings (GPT-2's N(0, 0.02)) instead of Embedding's N(0, 1): the residual stream
        // starts small, and the blocks' contributions are not drowned by it.
        for (const auto& table : {tok->weight(), pos->weight()}) table.mutable_value() *= 0.02f;
    }

    Var embedded(const Ids& ids) const {
        const std::size_t L = ids.shape()[1];
        Ids positions = Ids::from_shape({L});
        std::iota(positions.begin(), positions.end(), std::size_t(0));
        return (*tok)(ids) + (*pos)(positions);
    }
    Var run_embedded(Var x) const {
        for (const auto& b : blocks) x = (*b)(x);
        return (*head)((*ln_f)(x));
    }
    Var logits(const Ids& ids) const { return run_embedded(embedded(ids)); }

    std::shared_ptr<nn::Embedding<float>> tok, pos;
    std::vector<std::shared_ptr<Block>> blocks;
    std::shared_ptr<nn::LayerNorm<float>> ln_f;
    std::shared_ptr<nn::Linear<float>> head;
    std::size_t context;
};

// ---- training and measuring, the same for both ----

// Mean cross-entropy in nats of logits (B, L, V) against the next characters (B, L).
Var next_char_loss(const Var& logits, const Ids& targets) {
    const std::size_t V = logits.shape().back();
    return tg::cross_entropy(tg::reshape(logits, tg::Shape{targets.size(), V}),
                             tg::Indices(targets.begin(), targets.end()));
}

// Validation bits per character: the mean loss over fixed, evenly spaced windows of the held-out
// text, every position of each window predicted (so short and long contexts both count).
template <class Model>
double bits_per_char(const Model& model, const data::CharTextDataset& valid, std::size_t windows) {
    tg::NoGradGuard no_grad;
    tg::Indices rows(std::min(windows, valid.size()));
    for (std::size_t k = 0; k < rows.size(); ++k) rows[k] = k * (valid.size() / rows.size());
    double nats = 0;
    const std::size_t batch = 32;
    for (std::size_t first = 0; first < rows.size(); first += batch) {
        const tg::Indices part(rows.begin() + std::ptrdiff_t(first),
                               rows.begin() + std::ptrdiff_t(std::min(first + batch, rows.size())));
        const auto [x, y] = valid.batch(part);
        nats += double(next_char_loss(model.logits(x), y).item()) * double(part.size());
    }
    return nats / double(rows.size()) / std::log(2.0);
}

// One draw from softmax(logits / temperature): the library's multinomial over the row's probabilities.
std::size_t draw(const float* logits, std::size_t V, double temperature, tg::Generator& gen) {
    tg::Tensor<float> row = tg::Tensor<float>::from_shape({V});
    std::copy(logits, logits + V, row.begin());
    const Var probs = tg::softmax(Var(std::move(row)) * float(1.0 / temperature));
    return tg::multinomial(probs, 1, false, gen)(0);
}

// n characters after the prompt. The LSTM carries its state from character to character; the GPT
// reads the last `context` characters again at every step.
std::string sample(const CharLSTM& model, const data::CharVocabulary& vocab, const std::string& prompt, std::size_t n,
                   tg::Generator& gen) {
    tg::NoGradGuard no_grad;
    const tg::Indices ids = vocab.encode(prompt);
    Ids x = Ids::from_shape({1, ids.size()});
    std::copy(ids.begin(), ids.end(), x.begin());
    auto [logits, state] = model.run(model.embedded(x));
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t V = vocab.size(), L = logits.shape()[1];
        const std::size_t next = draw(logits.value().data() + (L - 1) * V, V, 0.8, gen);
        out += vocab.character(next);
        Ids one = Ids::from_shape({1, 1});
        one(0, 0) = next;
        std::tie(logits, state) = model.run(model.embedded(one), state);
    }
    return out;
}

std::string sample(const GPT& model, const data::CharVocabulary& vocab, const std::string& prompt, std::size_t n,
                   tg::Generator& gen) {
    tg::NoGradGuard no_grad;
    tg::Indices ids = vocab.encode(prompt);
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t L = std::min(ids.size(), model.context), V = vocab.size();
        Ids x = Ids::from_shape({1, L});
        std::copy(ids.end() - std::ptrdiff_t(L), ids.end(), x.begin());
        const Var logits = model.logits(x);
        const std::size_t next = draw(logits.value().data() + (L - 1) * V, V, 0.8, gen);
        out += vocab.character(next);
        ids.push_back(next);
    }
    return out;
}

// A sample as one indented block, line breaks kept.
std::string indented(const std::string& text) {
    std::string out = "      ";
    for (char c : text) out += c == '\n' ? std::string("\n      ") : std::string(1, c);
    return out;
}

// True when the gradient of position t's logits reaches no embedded character after t, and some before.
template <class Model>
bool causal(const Model& model, const Ids& ids, std::size_t t) {
    const Var x = tg::parameter(tg::Tensor<float>(model.embedded(ids).value()));
    const Var logits = model.run_embedded(x);
    tg::Tensor<float> g = xt::zeros<float>(logits.shape());
    xt::view(g, 0, t, xt::all()) = 1.0f;
    logits.backward(g);
    const tg::Tensor<float>& dx = x.grad();
    const bool future_zero = xt::all(xt::equal(xt::view(dx, 0, xt::range(t + 1, ids.shape()[1]), xt::all()), 0.0f));
    const bool past_reached = xt::any(xt::not_equal(xt::view(dx, 0, xt::range(0, t + 1), xt::all()), 0.0f));
    return future_zero && past_reached;
}

struct RunSettings {
    std::size_t steps, batch, eval_every, eval_windows, sample_chars;
};

struct RunResult {
    double valid_bpc = 0, seconds = 0;
    std::size_t tape_ops = 0;
};

// The loop every lesson runs (forward, loss, zero_grad, backward, step), with evaluation and
// samples every eval_every steps, written to <out>/char_lm_<name>.csv.
template <class Model>
RunResult train(const std::string& name, Model& model, optim::Optimizer<float>& opt,
                const data::CharTextDataset& train_text, const data::CharTextDataset& valid, const RunSettings& s,
                double unigram, const std::string& out) {
    const data::CharVocabulary& vocab = train_text.vocabulary();
    data::DataLoader loader(train_text, data::LoaderOptions().batch_size(s.batch).drop_last(true).seed(8));
    // Learning rate: a linear warm-up over the first 5% of the steps, then a cosine down to a tenth.
    const double base_lr = opt.lr(0), warmup = std::max(1.0, 0.05 * double(s.steps));
    const auto lr_at = [&](std::size_t i) {
        const double cosine = 0.55 + 0.45 * std::cos(M_PI * double(i) / double(s.steps));
        return base_lr * std::min(1.0, double(i + 1) / warmup) * cosine;
    };
    lesson::Csv csv(lesson::path_in(out, "char_lm_" + name + ".csv"),
                    {"step", "seconds", "train_bpc", "valid_bpc", "unigram_bpc"});
    tg::Generator gen(2024);
    lesson::Stopwatch clock;
    RunResult r;
    double window = 0;
    std::size_t in_window = 0, step = 0;
    const auto report = [&](double train_bpc) {
        r.valid_bpc = bits_per_char(model, valid, s.eval_windows);
        csv.row(step, clock.seconds(), train_bpc, r.valid_bpc, unigram);
        fmt::print("  {:>5} step {:>4}  {:6.1f} s  train {:.3f}  valid {:.3f} bits/char\n", name, step, clock.seconds(),
                   train_bpc, r.valid_bpc);
        if (s.sample_chars) fmt::print("{}\n", indented(sample(model, vocab, "\n", s.sample_chars, gen)));
    };
    report(std::log2(double(vocab.size())));  // before training the predictions are about uniform
    for (std::size_t epoch = 0; step < s.steps; ++epoch)
        for (const auto& [x, y] : loader.epoch(epoch)) {
            if (step == s.steps) break;
            const Var loss = next_char_loss(model.logits(x), y);
            if (step == 0) r.tape_ops = tg::tape_order(loss).size();
            opt.zero_grad();
            loss.backward();
            optim::clip_grad_norm(model.parameters(), 1.0);
            opt.set_lr(lr_at(step));
            opt.step();
            ++step;
            window += double(loss.item()) / std::log(2.0);
            ++in_window;
            if (step % s.eval_every == 0 || step == s.steps) {
                report(window / double(in_window));
                window = 0;
                in_window = 0;
            }
        }
    r.seconds = clock.seconds();
    return r;
}

// AdamW with weight decay on the matrices only: not on biases and norm scales (1-D), nor on the
// embedding tables (see docs/optimizers.md, "Parameter groups").
std::unique_ptr<optim::AdamW<float>> adamw(const nn::Module<float>& model, double lr, double decay) {
    std::vector<Var> matrices, others;
    for (const auto& [pname, p] : model.named_parameters()) {
        const bool embedding =
            pname.rfind("tok.", 0) == 0 || pname.rfind("pos.", 0) == 0 || pname.rfind("embed.", 0) == 0;
        (p.dim() >= 2 && !embedding ? matrices : others).push_back(p);
    }
    auto opt = std::make_unique<optim::AdamW<float>>(matrices, optim::AdamWOptions(lr).weight_decay(decay));
    opt->add_param_group(others, optim::AdamWOptions(lr).weight_decay(0.0));
    return opt;
}

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&] {
        lesson::Flags flags(argc, argv,
                            "Lesson 8: a character-level LSTM and a small GPT on the King James Bible; backprop "
                            "through time and through attention are the same generic sweep.");
        const bool fast = flags.flag("--fast", "a quick run on a part of the text (the ctest check)");
        // The fast run's setting, or the default run's.
        const auto pick = [fast](std::size_t quick, std::size_t full) { return fast ? quick : full; };
        const std::string out = flags.value<std::string>("--out", ".", "directory for the CSV and PNG files");
        const std::string text_path =
            flags.value<std::string>("--text", "", "train on this text file instead of the King James Bible");
        const int threads = flags.value("--threads", 1, "threads for the matrix products");
        const std::size_t lstm_steps =
            flags.value<std::size_t>("--lstm-steps", pick(150, 400), "LSTM training steps (0: skip it)");
        const std::size_t gpt_steps =
            flags.value<std::size_t>("--gpt-steps", pick(150, 300), "GPT training steps (0: skip it)");
        const double lstm_lr = flags.value("--lstm-lr", fast ? 1e-2 : 4e-3, "the LSTM's peak learning rate (AdamW)");
        const double gpt_lr = flags.value("--gpt-lr", fast ? 1e-2 : 4e-3, "the GPT's peak learning rate (AdamW)");
        const std::size_t gpt_dim = flags.value<std::size_t>("--gpt-dim", fast ? 32 : 128, "the GPT's width d");
        const std::size_t gpt_layers = flags.value<std::size_t>("--gpt-layers", fast ? 2 : 4, "the GPT's blocks");
        flags.done();
        tg::set_num_threads(threads);
        lesson::Stopwatch total;

        std::optional<std::string> text = load_text(text_path);
        if (!text) return lesson::skipped;
        // The fast run keeps the first 200 000 characters (Genesis 1 to 9 or so).
        if (fast && text->size() > 200000) text->resize(200000);
        const std::size_t context = pick(32, 64);
        data::CharTextDataset all(*text, context);
        auto [train_text, valid] = all.split(0.9);
        const data::CharVocabulary& vocab = all.vocabulary();
        const double h1 = unigram_entropy(train_text.ids(), vocab.size());
        const double h2 = bigram_entropy(train_text.ids(), vocab.size());
        fmt::print(
            "{}: {} characters, {} distinct; training on the first 90% ({} windows of {}), validating on "
            "the last 10%\n",
            text_path.empty() ? "The King James Bible" : text_path, text->size(), vocab.size(), train_text.size(),
            context);
        fmt::print(
            "Unigram entropy of the training text: {:.3f} bits per character (no context); bigram: {:.3f} "
            "(one character of context); uniform: {:.3f}\n",
            h1, h2, std::log2(double(vocab.size())));
        const double target = fast ? 0.85 * h1 : 0.75 * h1;
        fmt::print(
            "Target for both models: validation bits per character below {:.2f} ({}% of the unigram "
            "entropy)\n\n",
            target, fast ? 85 : 75);

        lesson::Claims claims;
        tg::manual_seed(1);

        // The LSTM: backprop through time.
        CharLSTM lstm(vocab.size(), pick(16, 32), pick(64, 256), 1);
        fmt::print("Char-LSTM: {} parameters\n", lstm.num_parameters());
        auto lstm_opt = adamw(lstm, lstm_lr, 0.01);
        const RunSettings lstm_run{lstm_steps, 32, pick(20, 100), pick(64, 256), pick(0, 200)};
        const RunResult l = train("lstm", lstm, *lstm_opt, train_text, valid, lstm_run, h1, out);

        // The GPT: backprop through attention.
        GPT gpt(vocab.size(), context, gpt_dim, 4, gpt_layers);
        fmt::print("\nGPT ({} layers, 4 heads, d {}, context {}): {} parameters\n", gpt.blocks.size(), gpt_dim, context,
                   gpt.num_parameters());
        auto gpt_opt = adamw(gpt, gpt_lr, 0.1);
        const RunSettings gpt_run{gpt_steps, pick(16, 32), pick(20, 50), pick(64, 256), pick(0, 200)};
        const RunResult g = train("gpt", gpt, *gpt_opt, train_text, valid, gpt_run, h1, out);

        fmt::print(
            "\nOne training step records {} ops on the tape for the LSTM (a cell per character) and {} for the "
            "GPT; backward() walks either record the same way.\n",
            l.tape_ops, g.tape_ops);
        const Ids probe = std::get<0>(valid.batch({0}));
        if (lstm_steps) {
            claims.check(l.valid_bpc < target,
                         "char-LSTM: validation {:.3f} bits/char < {:.2f} (unigram entropy {:.3f})", l.valid_bpc,
                         target, h1);
            claims.check(causal(lstm, probe, context / 2),
                         "char-LSTM: the gradient of position {}'s prediction reaches no later character (exactly 0)",
                         context / 2);
        }
        if (gpt_steps) {
            claims.check(g.valid_bpc < target, "GPT: validation {:.3f} bits/char < {:.2f} (unigram entropy {:.3f})",
                         g.valid_bpc, target, h1);
            claims.check(causal(gpt, probe, context / 2),
                         "GPT: the gradient of position {}'s prediction reaches no later character (exactly 0)",
                         context / 2);
        }

        const std::string png = lesson::path_in(out, "char_lm.png");
        const std::string lcsv = lesson::path_in(out, "char_lm_lstm.csv"),
                          gcsv = lesson::path_in(out, "char_lm_gpt.csv");
        lesson::plot_png(png,
                         {{lcsv, "1:3", "LSTM, training batches"},
                          {lcsv, "1:4", "LSTM, validation", "linespoints"},
                          {gcsv, "1:3", "GPT, training batches"},
                          {gcsv, "1:4", "GPT, validation", "linespoints"},
                          {lcsv, "1:5", "unigram entropy"}},
                         lesson::PlotOptions("Character-level language models on the King James Bible", "step",
                                             "bits per character", false, "set yrange [0:*]"));
        fmt::print("Total time {:.0f} s ({} thread{}: LSTM {:.0f} s, GPT {:.0f} s).\n", total.seconds(), threads,
                   threads == 1 ? "" : "s", l.seconds, g.seconds);
        return claims.exit_code();
    });
}

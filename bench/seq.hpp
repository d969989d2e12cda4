// The sequence-model workloads both sides run: an LSTM language-model step and a GPT block step, their
// sizes, token data and initial weights keyed by PyTorch parameter names (tapegrad's modules use the same).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

namespace bench {

/// Which sequence model a step trains.
enum class SeqModel { lstm, gpt };
const char* seq_model_name(SeqModel m);

/// Sizes of the two workloads (issue 14): LSTM batch 32, sequence 64, hidden 256, vocabulary 96
/// (embedding 64 -> LSTM -> linear -> cross-entropy); GPT batch 16, context 64, d 128, 4 heads,
/// one causal pre-LN block (feed-forward 512, GELU) between token + learned position embeddings
/// and final LayerNorm + linear head.
struct SeqRecipe {
    std::size_t batch, length, vocab = 96;
    std::size_t embed = 64, hidden = 256;                     // LSTM
    std::size_t d_model = 128, heads = 4, feedforward = 512;  // GPT
    float lr = 0.1f;
    std::uint64_t seed = 3;
};
SeqRecipe seq_recipe(SeqModel m);

/// `batches` batches of batch x (length + 1) token ids in [0, vocab): inputs are the first
/// `length` of each row, targets the last `length`.
std::vector<std::vector<std::int64_t>> seq_batches(const SeqRecipe& r, std::size_t batches);

/// The initial value of the parameter `name` of `shape`: norm weights 1 and biases 0,
/// embeddings uniform(+-0.1), everything else uniform(+-1/sqrt(last dimension)), each
/// drawn from a seed made of the name, so either side gets the same numbers for the same name.
std::vector<float> seq_init(const std::string& name, const std::vector<std::size_t>& shape, std::uint64_t seed);

namespace tg {
std::unique_ptr<Runner> make_seq_step(SeqModel model, std::size_t batches);
}
namespace lt {
std::unique_ptr<Runner> make_seq_step(SeqModel model, std::size_t batches);
}

}  // namespace bench

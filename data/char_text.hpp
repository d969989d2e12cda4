// Character-level text: a vocabulary of the text's characters and (input, next-character) windows for a language model.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/data/loader.hpp>
#include <tapegrad/data/tensor_loader.hpp>

namespace tapegrad::data {

/// The characters of a text, sorted and unique, and the ids that stand for them (id i is the
/// i-th smallest character). A character is a byte: an ASCII text is exact; a UTF-8 text gets
/// its multi-byte characters as several ids, and decode() puts them back together.
class CharVocabulary {
public:
    CharVocabulary() = default;
    /// The characters of text. Throws Error for an empty text.
    explicit CharVocabulary(const std::string& text);

    /// Number of characters (ids 0 to size()-1).
    std::size_t size() const { return chars_.size(); }
    /// The characters in id order.
    const std::string& chars() const { return chars_; }
    /// True when c has an id.
    bool contains(char c) const { return ids_[static_cast<unsigned char>(c)] >= 0; }
    /// The id of c. Throws Error when c is not in the vocabulary.
    std::size_t id(char c) const;
    /// The character of an id. Throws Error for id >= size().
    char character(std::size_t id) const;
    /// The ids of text, one per character. Throws Error naming the first unknown character and its position.
    Indices encode(const std::string& text) const;
    /// The text of ids. Throws Error for an id >= size().
    std::string decode(const Indices& ids) const;

private:
    std::string chars_;
    std::array<int, 256> ids_ = filled();
    static std::array<int, 256> filled() {
        std::array<int, 256> a{};
        a.fill(-1);
        return a;
    }
};

/// The whole content of a file as a string. Throws Error when it cannot be read.
std::string read_text_file(const std::string& path);

/// A text as ids, cut into windows for next-character prediction: sample i is the input
/// ids[i .. i+context) and the target ids[i+1 .. i+context] (each input position's next
/// character), so a text of n characters has n - context samples. A batch is (inputs, targets),
/// each Tensor<std::size_t> (B, context): what Embedding and cross_entropy take.
///
///     tg::data::CharTextDataset text(tg::data::read_text_file("book.txt"), 64);
///     auto [train, valid] = text.split(0.9);
///     tg::data::DataLoader loader(train, tg::data::LoaderOptions().batch_size(32).seed(1));
class CharTextDataset {
public:
    /// What batch() returns: (inputs, targets), both of shape (rows, context); targets are the inputs shifted
    /// one character on.
    using batch_type = std::tuple<Tensor<std::size_t>, Tensor<std::size_t>>;

    CharTextDataset() = default;
    /// The text with its own vocabulary. Throws Error for an empty text, context 0, or a text
    /// of context characters or fewer (no window with a next character).
    CharTextDataset(const std::string& text, std::size_t context);
    /// The text with a given vocabulary (e.g. the training text's, for a held-out text).
    /// Throws Error as above, and for a character not in the vocabulary.
    CharTextDataset(const std::string& text, std::size_t context, CharVocabulary vocabulary);

    /// Number of windows: characters - context.
    std::size_t size() const { return ids_.size() - context_; }
    /// Characters per window.
    std::size_t context() const { return context_; }
    /// The vocabulary the ids refer to.
    const CharVocabulary& vocabulary() const { return vocab_; }
    /// The whole text as ids.
    const Indices& ids() const { return ids_; }

    /// The windows starting at the given positions: inputs and targets (rows.size(), context).
    batch_type batch(const Indices& rows) const;

    /// The text cut at one position: the first train_fraction of its characters and the rest,
    /// both with this vocabulary, so no window crosses from one part into the other (a split
    /// by position: the validation text is text the model never saw, not shuffled neighbours of
    /// training windows). Throws Error when the fraction is not in (0, 1) or a part would have
    /// no window.
    std::pair<CharTextDataset, CharTextDataset> split(double train_fraction) const;

private:
    CharTextDataset(Indices ids, std::size_t context, CharVocabulary vocabulary, const char* who);

    Indices ids_;
    std::size_t context_ = 0;
    CharVocabulary vocab_;
};

/// The DataLoader of a CharTextDataset: batches are (inputs, targets) windows.
template <>
class DataLoader<CharTextDataset> : public DatasetLoader<CharTextDataset> {
public:
    using DatasetLoader<CharTextDataset>::DatasetLoader;
};

DataLoader(const CharTextDataset&)->DataLoader<CharTextDataset>;
DataLoader(const CharTextDataset&, const LoaderOptions&)->DataLoader<CharTextDataset>;

}  // namespace tapegrad::data

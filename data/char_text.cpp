// CharVocabulary and CharTextDataset: vocabulary, encoding with clear errors, windows and the split by position.
#include <tapegrad/data/char_text.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::data {

namespace {

// A character as it reads in an error message: printable ones quoted, others as a byte value.
std::string shown(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return fmt::format("'{}'", c);
    return fmt::format("byte 0x{:02x}", unsigned(u));
}

}  // namespace

CharVocabulary::CharVocabulary(const std::string& text) {
    if (text.empty()) throw Error("CharVocabulary: an empty text; expected at least one character");
    std::array<bool, 256> seen{};
    for (char c : text) seen[static_cast<unsigned char>(c)] = true;
    for (int b = 0; b < 256; ++b)
        if (seen[std::size_t(b)]) {
            ids_[std::size_t(b)] = int(chars_.size());
            chars_ += static_cast<char>(b);
        }
}

std::size_t CharVocabulary::id(char c) const {
    const int i = ids_[static_cast<unsigned char>(c)];
    if (i < 0) throw Error(fmt::format("CharVocabulary::id: {} is not among the {} characters", shown(c), size()));
    return std::size_t(i);
}

char CharVocabulary::character(std::size_t id) const {
    if (id >= size())
        throw Error(fmt::format("CharVocabulary::character: id {}; expected 0 to {}", id, size() ? size() - 1 : 0));
    return chars_[id];
}

Indices CharVocabulary::encode(const std::string& text) const {
    Indices ids(text.size());
    for (std::size_t k = 0; k < text.size(); ++k) {
        const int i = ids_[static_cast<unsigned char>(text[k])];
        if (i < 0)
            throw Error(
                fmt::format("CharVocabulary::encode: {} at position {} is not among the {} characters of the "
                            "vocabulary",
                            shown(text[k]), k, size()));
        ids[k] = std::size_t(i);
    }
    return ids;
}

std::string CharVocabulary::decode(const Indices& ids) const {
    std::string text(ids.size(), '\0');
    for (std::size_t k = 0; k < ids.size(); ++k) {
        if (ids[k] >= size())
            throw Error(fmt::format("CharVocabulary::decode: id {} at position {}; expected 0 to {}", ids[k], k,
                                    size() ? size() - 1 : 0));
        text[k] = chars_[ids[k]];
    }
    return text;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("read_text_file: cannot open '{}'", path));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw Error(fmt::format("read_text_file: reading '{}' failed", path));
    return text.str();
}

CharTextDataset::CharTextDataset(Indices ids, std::size_t context, CharVocabulary vocabulary, const char* who)
    : ids_(std::move(ids)), context_(context), vocab_(std::move(vocabulary)) {
    if (context == 0) throw Error(fmt::format("{}: context 0; expected at least 1 character", who));
    if (ids_.size() <= context)
        throw Error(
            fmt::format("{}: a text of {} characters for context {}; expected at least {} characters (one "
                        "window and its next character)",
                        who, ids_.size(), context, context + 1));
}

CharTextDataset::CharTextDataset(const std::string& text, std::size_t context)
    : CharTextDataset(text, context,
                      text.empty() ? throw Error("CharTextDataset: an empty text; expected at least one character")
                                   : CharVocabulary(text)) {}

CharTextDataset::CharTextDataset(const std::string& text, std::size_t context, CharVocabulary vocabulary)
    : CharTextDataset(text.empty() ? throw Error("CharTextDataset: an empty text; expected at least one character")
                                   : vocabulary.encode(text),
                      context, vocabulary, "CharTextDataset") {}

CharTextDataset::batch_type CharTextDataset::batch(const Indices& rows) const {
    Tensor<std::size_t> inputs = Tensor<std::size_t>::from_shape({rows.size(), context_});
    Tensor<std::size_t> targets = Tensor<std::size_t>::from_shape({rows.size(), context_});
    for (std::size_t k = 0; k < rows.size(); ++k) {
        if (rows[k] >= size())
            throw Error(fmt::format("CharTextDataset::batch: window {} (entry {}) of a text of {} windows", rows[k], k,
                                    size()));
        const std::size_t* src = ids_.data() + rows[k];
        std::copy_n(src, context_, inputs.data() + k * context_);
        std::copy_n(src + 1, context_, targets.data() + k * context_);
    }
    return {std::move(inputs), std::move(targets)};
}

std::pair<CharTextDataset, CharTextDataset> CharTextDataset::split(double train_fraction) const {
    if (!(train_fraction > 0.0 && train_fraction < 1.0))
        throw Error(
            fmt::format("CharTextDataset::split: train fraction {}; expected a number in (0, 1)", train_fraction));
    const std::size_t n = ids_.size();
    const auto cut = std::size_t(std::llround(train_fraction * double(n)));
    const char* who = "CharTextDataset::split";
    if (cut <= context_ || n - cut <= context_)
        throw Error(
            fmt::format("{}: {} characters cut at {} for context {}; expected more than {} characters in "
                        "each part",
                        who, n, cut, context_, context_));
    return {CharTextDataset(Indices(ids_.begin(), ids_.begin() + std::ptrdiff_t(cut)), context_, vocab_, who),
            CharTextDataset(Indices(ids_.begin() + std::ptrdiff_t(cut), ids_.end()), context_, vocab_, who)};
}

}  // namespace tapegrad::data

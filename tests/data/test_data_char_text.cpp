// Tests of CharVocabulary and CharTextDataset: vocabulary order, encode/decode, windows, the split, errors.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/char_text.hpp>

namespace tg = tapegrad;
namespace tgd = tapegrad::data;
using tg::Indices;

TEST_CASE("CharVocabulary: sorted unique characters, encode and decode, unknown characters") {
    tgd::CharVocabulary v("hello, world\n");
    CHECK(v.chars() == "\n ,dehlorw");
    CHECK(v.size() == 10);
    CHECK(v.id('\n') == 0);
    CHECK(v.id('w') == 9);
    CHECK(v.character(5) == 'h');
    CHECK(v.encode("low") == Indices{6, 7, 9});
    CHECK(v.decode({4, 6, 6}) == "ell");
    CHECK(v.decode(v.encode("world, hello\n")) == "world, hello\n");
    CHECK(v.contains('o'));
    CHECK_FALSE(v.contains('x'));

    CHECK_THROWS_WITH_AS(v.encode("old fox"), doctest::Contains("'f' at position 4 is not among the 10 characters"),
                         tg::Error);
    CHECK_THROWS_WITH_AS(v.encode("ol\td"), doctest::Contains("byte 0x09 at position 2"), tg::Error);
    CHECK_THROWS_WITH_AS(v.id('Z'), doctest::Contains("'Z' is not among the 10 characters"), tg::Error);
    CHECK_THROWS_WITH_AS(v.decode({3, 10}), doctest::Contains("id 10 at position 1; expected 0 to 9"), tg::Error);
    CHECK_THROWS_WITH_AS(v.character(10), doctest::Contains("id 10; expected 0 to 9"), tg::Error);
    CHECK_THROWS_WITH_AS(tgd::CharVocabulary(""), doctest::Contains("an empty text"), tg::Error);

    // Bytes, not code points: a UTF-8 character is two ids, and decoding gives it back.
    tgd::CharVocabulary u("caf\xc3\xa9");
    CHECK(u.size() == 5);
    CHECK(u.decode(u.encode("\xc3\xa9"
                            "ca")) ==
          "\xc3\xa9"
          "ca");
}

TEST_CASE("CharTextDataset: windows of inputs and their next characters") {
    tgd::CharTextDataset text("abcabd", 3);
    CHECK(text.vocabulary().chars() == "abcd");
    CHECK(text.size() == 3);  // "abc"->"bca", "bca"->"cab", "cab"->"abd"
    auto [x, y] = text.batch({2, 0});
    CHECK(x.shape() == tg::Tensor<std::size_t>::shape_type{2, 3});
    CHECK(text.vocabulary().decode(Indices(x.begin(), x.begin() + 3)) == "cab");
    CHECK(text.vocabulary().decode(Indices(y.begin(), y.begin() + 3)) == "abd");
    CHECK(text.vocabulary().decode(Indices(x.begin() + 3, x.end())) == "abc");
    CHECK(text.vocabulary().decode(Indices(y.begin() + 3, y.end())) == "bca");
    CHECK_THROWS_WITH_AS(text.batch({3}), doctest::Contains("window 3 (entry 0) of a text of 3 windows"), tg::Error);

    tgd::DataLoader loader(text, tgd::LoaderOptions().batch_size(2).shuffle(false));
    static_assert(std::is_same_v<decltype(loader), tgd::DataLoader<tgd::CharTextDataset>>);
    std::size_t windows = 0;
    for (const auto& [xb, yb] : loader.epoch(0)) {
        for (std::size_t k = 0; k < xb.shape()[0]; ++k) CHECK(xb(k, 1) == yb(k, 0));  // targets are inputs shifted
        windows += xb.shape()[0];
    }
    CHECK(windows == 3);
}

TEST_CASE("CharTextDataset: clear errors for empty text, too long a context, unknown characters") {
    CHECK_THROWS_WITH_AS(tgd::CharTextDataset("", 4), doctest::Contains("CharTextDataset: an empty text"), tg::Error);
    CHECK_THROWS_WITH_AS(tgd::CharTextDataset("abcd", 4),
                         doctest::Contains("a text of 4 characters for context 4; expected at least 5 characters"),
                         tg::Error);
    CHECK_THROWS_WITH_AS(tgd::CharTextDataset("abcd", 0), doctest::Contains("context 0"), tg::Error);
    tgd::CharVocabulary v("abc");
    CHECK_THROWS_WITH_AS(tgd::CharTextDataset("abcabx", 2, v), doctest::Contains("'x' at position 5"), tg::Error);
    CHECK(tgd::CharTextDataset("cab", 2, v).vocabulary().size() == 3);
}

TEST_CASE("CharTextDataset::split cuts the text at one position and keeps the vocabulary") {
    const std::string s = "0123456789abcdefghij";  // 20 characters
    tgd::CharTextDataset text(s, 4);
    auto [train, valid] = text.split(0.75);
    CHECK(train.ids().size() == 15);
    CHECK(valid.ids().size() == 5);
    CHECK(train.size() == 11);
    CHECK(valid.size() == 1);
    CHECK(valid.vocabulary().chars() == text.vocabulary().chars());  // 'f'..'j' keep their ids
    CHECK(valid.vocabulary().decode(valid.ids()) == "fghij");
    CHECK(train.vocabulary().decode(train.ids()) == s.substr(0, 15));
    // No training window reaches into the validation text.
    auto [x, y] = train.batch({train.size() - 1});
    CHECK(text.vocabulary().decode(Indices(y.begin(), y.end())) == "bcde");

    CHECK_THROWS_WITH_AS(text.split(0.9), doctest::Contains("20 characters cut at 18 for context 4"), tg::Error);
    CHECK_THROWS_WITH_AS(text.split(1.0), doctest::Contains("train fraction 1; expected a number in (0, 1)"),
                         tg::Error);
}

TEST_CASE("read_text_file reads the whole file and names a missing one") {
    const std::string path = "test_data_char_text.tmp";
    const std::string content("line one\nline\0two", 17);  // a NUL byte too: the file is read as bytes
    std::ofstream(path, std::ios::binary) << content;
    CHECK(tgd::read_text_file(path) == content);
    std::remove(path.c_str());
    CHECK_THROWS_WITH_AS(tgd::read_text_file("no/such/file.txt"), doctest::Contains("cannot open 'no/such/file.txt'"),
                         tg::Error);
}

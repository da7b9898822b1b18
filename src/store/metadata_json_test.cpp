#include "store/metadata_json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace signalhub::store {
namespace {

Metadata Decoded(const std::string& text) {
    Result<Metadata> m = DecodeMetadataJson(text);
    EXPECT_TRUE(m.ok()) << text << ": " << m.status().ToString();
    return m.ok() ? *m : Metadata{};
}

TEST(MetadataJsonTest, FlatFormDecodesEveryType) {
    Metadata m = Decoded(R"({"file_path":"a/b.py","start_line":2,"end_line":30,"neg":-7,"ok":true,"no":false,"e":""})");
    EXPECT_EQ(m, (Metadata{{"file_path", std::string("a/b.py")},
                           {"start_line", std::int64_t{2}},
                           {"end_line", std::int64_t{30}},
                           {"neg", std::int64_t{-7}},
                           {"ok", true},
                           {"no", false},
                           {"e", std::string()}}));
    EXPECT_EQ(Decoded(" { } "), Metadata{});
    EXPECT_EQ(Decoded("{\n \"a\" :\t1 ,\r\n\"b\":\"x\"}"), (Metadata{{"a", std::int64_t{1}}, {"b", std::string("x")}}));
}

TEST(MetadataJsonTest, FormsBeyondTheFlatOneStillDecode) {
    // Escapes, non-ASCII, floats, large integers, the non-finite form: the full parser's cases.
    EXPECT_EQ(Decoded(R"({"s":"a\"b\\c\u00e9"})"), (Metadata{{"s", std::string("a\"b\\c\xc3\xa9")}}));
    EXPECT_EQ(Decoded("{\"s\":\"caf\xc3\xa9\"}"), (Metadata{{"s", std::string("caf\xc3\xa9")}}));
    EXPECT_EQ(Decoded(R"({"f":1.0,"g":2.5e3})"), (Metadata{{"f", 1.0}, {"g", 2500.0}}));
    EXPECT_EQ(Decoded(R"({"i":9223372036854775807,"j":-9223372036854775808})"),
              (Metadata{{"i", std::numeric_limits<std::int64_t>::max()},
                        {"j", std::numeric_limits<std::int64_t>::min()}}));
    Metadata inf = Decoded(R"({"x":{"$float":"inf"}})");
    ASSERT_TRUE(std::holds_alternative<double>(inf.at("x")));
    EXPECT_TRUE(std::isinf(std::get<double>(inf.at("x"))));
    // A repeated key keeps its last value on both paths.
    EXPECT_EQ(Decoded(R"({"a":1,"a":2})"), (Metadata{{"a", std::int64_t{2}}}));
    EXPECT_EQ(Decoded(R"({"a":1,"a":2.5})"), (Metadata{{"a", 2.5}}));
}

TEST(MetadataJsonTest, CorruptTextIsDataLoss) {
    for (const std::string bad : {"", "{", "{\"a\":1", "{\"a\":01}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":null}",
                                  "{\"a\":[1]}", "{\"a\":1,}", "{\"a\":1} x", "[]", "{\"a\" 1}", "{a:1}",
                                  "{\"a\":\"x\ny\"}", "{\"a\":\"\xff\"}", "{\"a\":18446744073709551615}"}) {
        Result<Metadata> m = DecodeMetadataJson(bad);
        EXPECT_EQ(m.status().code(), ErrorCode::kDataLoss) << bad;
    }
}

TEST(MetadataJsonTest, RandomMetadataRoundTrips) {
    std::mt19937_64 rng(16);
    const std::string alphabet = "ab _/.:\"\\\n\x01\xc3\xa9{}[],0-9";
    for (int round = 0; round < 2000; ++round) {
        Metadata m;
        const int keys = static_cast<int>(rng() % 6);
        for (int k = 0; k < keys; ++k) {
            std::string key(1 + rng() % 4, 'k');
            for (auto& c : key) c = "abcxyz_"[rng() % 7];
            switch (rng() % 5) {
                case 0: {
                    std::string v;
                    for (size_t n = rng() % 8; n > 0; --n) v += alphabet[rng() % alphabet.size()];
                    // Keep it valid UTF-8: drop a lone byte of the two-byte sequence.
                    if (v.find('\xc3') != std::string::npos || v.find('\xa9') != std::string::npos) v = "caf\xc3\xa9";
                    m[key] = v;
                    break;
                }
                case 1: m[key] = static_cast<std::int64_t>(rng()); break;
                case 2: m[key] = static_cast<std::int64_t>(rng() % 2000) - 1000; break;
                case 3: m[key] = (rng() % 2) == 0; break;
                default: m[key] = static_cast<double>(static_cast<std::int64_t>(rng() % 100000)) / 7.0; break;
            }
        }
        Result<std::string> text = EncodeMetadataJson("r", m);
        ASSERT_TRUE(text.ok());
        Result<Metadata> back = DecodeMetadataJson(*text);
        ASSERT_TRUE(back.ok()) << *text;
        EXPECT_EQ(*back, m) << *text;
    }
}

}  // namespace
}  // namespace signalhub::store

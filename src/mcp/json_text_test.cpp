#include "mcp/json_text.hpp"

#include <gtest/gtest.h>

#include <random>

namespace signalhub::mcp {
namespace {

using Json = nlohmann::json;

std::string Reference(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

TEST(JsonText, SameBytesAsNlohmannDumpForEveryKindOfValue) {
    const Json values[] = {
        nullptr, true, false, 0, -1, std::int64_t{-9223372036854775807 - 1}, std::uint64_t{18446744073709551615u},
        0.5, -1e300, 3.141592653589793, 1e-7, 0.0, Json::array(), Json::object(), "", "plain ascii",
        "quote \" backslash \\ slash / del \x7f", "\b\f\n\r\t\x01\x1f end",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",               // 2-, 3-, 4-byte sequences
        "lone \x80 continuation", "overlong \xc0\x80", "surrogate \xed\xa0\x80", "too big \xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "truncated \xe2\x82", "truncated at the end \xf0\x9f\x98",
        Json{{"jsonrpc", "2.0"}, {"id", 7}, {"result", {{"content", {{{"type", "text"}, {"text", "def f():\n\treturn 1\n"}}}},
                                                     {"isError", false}, {"score", 0.8123}}}},
        Json{{"k\xc3\xa9y", 1}, {"bad key \xff", 2}, {"z", Json::array({1, "two", nullptr, Json::object()})}},
    };
    for (const Json& v : values) EXPECT_EQ(JsonText(v), Reference(v)) << Reference(v);
}

TEST(JsonText, SameBytesAsNlohmannDumpForRandomBytes) {
    std::mt19937 rng(1234);
    for (int round = 0; round < 2000; ++round) {
        std::string s(rng() % 40, '\0');
        // Mostly ASCII with some high bytes and control characters, like code with the odd stray byte.
        for (char& c : s) {
            const unsigned r = rng() % 100;
            c = static_cast<char>(r < 70 ? 0x20 + rng() % 0x60 : r < 80 ? rng() % 0x20 : 0x80 + rng() % 0x80);
        }
        const Json v = Json{{"text", s}, {s, Json::array({s})}};
        ASSERT_EQ(JsonText(v), Reference(v)) << "round " << round;
    }
}

TEST(JsonText, AppendsToWhatIsThere) {
    std::string out = "data: ";
    AppendJsonText(out, Json{{"a", "b"}});
    EXPECT_EQ(out, "data: {\"a\":\"b\"}");
}

}  // namespace
}  // namespace signalhub::mcp

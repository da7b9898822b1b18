#include "core/text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace signalhub {
namespace {
using ::testing::ElementsAre;

TEST(CodeTokens, SplitsCamelSnakeAndAcronyms) {
    EXPECT_THAT(CodeTokens("getUserName"), ElementsAre("get", "user", "name", "getusername"));
    EXPECT_THAT(CodeTokens("get_user_name"), ElementsAre("get", "user", "name", "getusername"));
    EXPECT_THAT(CodeTokens("parseHTTPRequest2"), ElementsAre("parse", "http", "request", "2", "parsehttprequest2"));
    EXPECT_THAT(CodeTokens("urlparse(url)"), ElementsAre("urlparse", "url"));
}

TEST(CodeTokens, DropsPunctuationAndOverlongTokens) {
    EXPECT_THAT(CodeTokens("a + b; // c"), ElementsAre("a", "b", "c"));
    EXPECT_TRUE(CodeTokens(std::string(65, 'x')).empty());
}

TEST(SubWords, HasNoJoinedIdentifiers) {
    EXPECT_THAT(SubWords("splitURLParts now"), ElementsAre("split", "url", "parts", "now"));
}

TEST(DecodeBase64, DecodesTheStandardAlphabetAndStopsAtPadding) {
    EXPECT_EQ(DecodeBase64("aGVsbG8="), std::optional<std::string>("hello"));
    EXPECT_EQ(DecodeBase64("aGVsbG8h"), std::optional<std::string>("hello!"));
    EXPECT_EQ(DecodeBase64("+/8="), std::optional<std::string>(std::string("\xfb\xff", 2)));
    EXPECT_EQ(DecodeBase64(""), std::optional<std::string>(""));
}

TEST(DecodeBase64, RefusesCharactersOutsideTheAlphabet) {
    EXPECT_EQ(DecodeBase64("aGVs bG8="), std::nullopt);
    EXPECT_EQ(DecodeBase64("-_8="), std::nullopt);  // base64url is not this alphabet
}

}  // namespace
}  // namespace signalhub

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

}  // namespace
}  // namespace signalhub

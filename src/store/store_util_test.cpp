// LexicalQueryTerms: the terms every backend's lexical search matches (ADR-26).
#include "store/store_util.hpp"

#include <gtest/gtest.h>

namespace signalhub::store {
namespace {

using Terms = std::vector<std::string>;

TEST(LexicalQueryTerms, DropsEnglishStopWordsInQueryOrder) {
    EXPECT_EQ(LexicalQueryTerms("Return the number of items in the list"), (Terms{"return", "number", "items", "list"}));
    EXPECT_EQ(LexicalQueryTerms("parse a URL into components"), (Terms{"parse", "url", "components"}));
}

TEST(LexicalQueryTerms, KeepsDistinctTermsOnce) {
    EXPECT_EQ(LexicalQueryTerms("user User USER name"), (Terms{"user", "name"}));
}

TEST(LexicalQueryTerms, OnlyTheStopWordSubWordOfAnIdentifierIsDropped) {
    // is_valid -> is | valid | isvalid: the identifier itself still matches.
    EXPECT_EQ(LexicalQueryTerms("is_valid"), (Terms{"valid", "isvalid"}));
    EXPECT_EQ(LexicalQueryTerms("getTheValue"), (Terms{"get", "value", "getthevalue"}));
}

TEST(LexicalQueryTerms, AQueryOfOnlyStopWordsKeepsThemAll) {
    EXPECT_EQ(LexicalQueryTerms("to be or not to be"), (Terms{"to", "be", "or", "not"}));
    EXPECT_EQ(LexicalQueryTerms("The"), (Terms{"the"}));
    EXPECT_EQ(LexicalQueryTerms("NOT"), (Terms{"not"}));
}

TEST(LexicalQueryTerms, KeepStopWordsKeepsEveryTerm) {
    EXPECT_EQ(LexicalQueryTerms("parse a URL into components", true),
              (Terms{"parse", "a", "url", "into", "components"}));
}

TEST(LexicalQueryTerms, EmptyAndPunctuationOnlyQueriesHaveNoTerms) {
    EXPECT_TRUE(LexicalQueryTerms("").empty());
    EXPECT_TRUE(LexicalQueryTerms(" ()\"* ").empty());
    EXPECT_TRUE(LexicalQueryTerms("", true).empty());
}

TEST(IsStopWord, LowerCaseEnglishFunctionWordsOnly) {
    for (const char* w : {"the", "a", "of", "is", "to", "with", "not"}) EXPECT_TRUE(IsStopWord(w)) << w;
    for (const char* w : {"The", "url", "self", "return", "def", "", "there's"}) EXPECT_FALSE(IsStopWord(w)) << w;
}

}  // namespace
}  // namespace signalhub::store

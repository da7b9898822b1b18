#include "core/suggest.hpp"

#include <gtest/gtest.h>

namespace signalhub {
namespace {

TEST(EditDistance, CountsEditsAndTranspositionsIgnoringCase) {
    EXPECT_EQ(EditDistance("search", "search"), 0u);
    EXPECT_EQ(EditDistance("serch", "search"), 1u);    // deletion
    EXPECT_EQ(EditDistance("pyhton", "python"), 1u);   // transposition
    EXPECT_EQ(EditDistance("Python", "python"), 0u);   // case
    EXPECT_EQ(EditDistance("", "abc"), 3u);
    EXPECT_EQ(EditDistance("index", "status"), 6u);
}

TEST(Suggest, NearestPlausibleCandidate) {
    const std::vector<std::string> commands = {"index", "search", "status", "serve", "migrate", "keys", "check"};
    EXPECT_EQ(Suggest("serch", commands), "search");
    EXPECT_EQ(Suggest("statsu", commands), "status");
    EXPECT_EQ(Suggest("migrat", commands), "migrate");
    EXPECT_EQ(Suggest("serv", commands), "serve");
    EXPECT_EQ(Suggest("frobnicate", commands), std::nullopt);  // nothing close
    EXPECT_EQ(Suggest("ky", commands), std::nullopt);          // two letters: exact matches only
}

}  // namespace
}  // namespace signalhub

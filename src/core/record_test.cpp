#include "core/record.hpp"

#include <gtest/gtest.h>

#include "core/hash.hpp"

namespace signalhub {
namespace {

TEST(CollectionSpec, MismatchNamesEveryDifferingField) {
    CollectionSpec have{"repo", "builtin-hash-v1", 384, DistanceMetric::kCosine};
    CollectionSpec want{"repo", "text-embedding-3-small", 1536, DistanceMetric::kCosine};
    Status s = CheckCompatible(have, want);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("model"), std::string::npos);
    EXPECT_NE(s.message().find("dimension is 384"), std::string::npos);
    EXPECT_EQ(s.message().find("metric"), std::string::npos);
    EXPECT_TRUE(CheckCompatible(have, have).ok());
}

TEST(DistanceMetric, ParsesKnownNamesAndRejectsOthers) {
    EXPECT_EQ(*ParseDistanceMetric("cosine"), DistanceMetric::kCosine);
    EXPECT_EQ(*ParseDistanceMetric("l2"), DistanceMetric::kL2);
    EXPECT_FALSE(ParseDistanceMetric("manhattan").ok());
}

TEST(Metadata, TypedAccessorsDistinguishTypes) {
    Metadata m{{"a", std::string("x")}, {"n", std::int64_t{3}}, {"f", 3.0}, {"b", true}};
    EXPECT_EQ(GetString(m, "a"), "x");
    EXPECT_EQ(GetInt(m, "n"), 3);
    EXPECT_EQ(GetInt(m, "f"), std::nullopt);
    EXPECT_EQ(GetString(m, "missing"), std::nullopt);
}

TEST(Hash, IsStableAcrossRuns) {
    // Fixed expectations: ids derived from this must never change between versions.
    EXPECT_EQ(Hash128Hex("").size(), 32u);
    EXPECT_EQ(Hash128Hex("signal hub"), "ed4da1af9ada538d2775665d176d1ad5");
    EXPECT_EQ(Hash64("x", 7), 4248060192468963510ULL);
    EXPECT_NE(Hash128Hex("a"), Hash128Hex("b"));
}

}  // namespace
}  // namespace signalhub

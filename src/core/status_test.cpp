#include "core/status.hpp"

#include <gtest/gtest.h>

namespace signalhub {
namespace {

Result<int> Half(int x) {
    if (x % 2 != 0) return InvalidArgument("odd: " + std::to_string(x));
    return x / 2;
}

Result<int> Quarter(int x) {
    SH_ASSIGN_OR_RETURN(int h, Half(x));
    SH_ASSIGN_OR_RETURN(int q, Half(h));
    return q;
}

TEST(Status, OkAndErrorCarryCodeAndMessage) {
    EXPECT_TRUE(Status::Ok().ok());
    Status s = NotFound("no such collection 'x'");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kNotFound);
    EXPECT_EQ(s.ToString(), "NOT_FOUND: no such collection 'x'");
    EXPECT_EQ(s.WithContext("search").message(), "search: no such collection 'x'");
}

TEST(Result, PropagatesErrorsThroughMacros) {
    auto ok = Quarter(8);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, 2);
    auto bad = Quarter(6);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(bad.status().message(), "odd: 3");
}

TEST(ExitCode, DistinctClassesMapToDistinctCodes) {
    EXPECT_EQ(ExitCodeFor(ErrorCode::kOk), 0);
    EXPECT_EQ(ExitCodeFor(ErrorCode::kInvalidArgument), 2);
    EXPECT_EQ(ExitCodeFor(ErrorCode::kNotFound), 3);
    EXPECT_EQ(ExitCodeFor(ErrorCode::kFailedPrecondition), 4);
    EXPECT_EQ(ExitCodeFor(ErrorCode::kUnavailable), 6);
    EXPECT_NE(ExitCodeFor(ErrorCode::kInternal), 0);
}

}  // namespace
}  // namespace signalhub

#include "telemetry/otlp_http.hpp"

#include <gtest/gtest.h>

namespace signalhub::telemetry {
namespace {

TEST(OtlpTracesUrl, AddsTheTracesPathOnlyToABareEndpoint) {
    EXPECT_EQ(*OtlpTracesUrl("http://jaeger:4318"), "http://jaeger:4318/v1/traces");
    EXPECT_EQ(*OtlpTracesUrl("http://jaeger:4318/"), "http://jaeger:4318/v1/traces");
    EXPECT_EQ(*OtlpTracesUrl("https://otel.example.com"), "https://otel.example.com/v1/traces");
    EXPECT_EQ(*OtlpTracesUrl("https://otel.example.com/custom/v1/traces"), "https://otel.example.com/custom/v1/traces");
    EXPECT_EQ(*OtlpTracesUrl("http://[::1]:4318?tenant=a"), "http://[::1]:4318/v1/traces?tenant=a");
}

TEST(OtlpTracesUrl, RefusesWhatIsNotAnHttpUrlAndHidesPasswords) {
    for (const char* bad : {"jaeger:4318", "udp://jaeger:6831", "grpc://jaeger:4317", "http://", ""}) {
        auto r = OtlpTracesUrl(bad);
        EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
    auto r = OtlpTracesUrl("http://user:hunter2@jaeger:4318");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos) << r.status().message();
}

TEST(OtlpHttpSender, IsMadeForAValidEndpointOnly) {
    EXPECT_TRUE(MakeOtlpHttpSender(OtlpHttpOptions{.endpoint = "http://127.0.0.1:4318", .timeout = {}}).ok());
    EXPECT_FALSE(MakeOtlpHttpSender(OtlpHttpOptions{.endpoint = "udp://127.0.0.1:6831", .timeout = {}}).ok());
}

}  // namespace
}  // namespace signalhub::telemetry

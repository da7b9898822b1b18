// Offline tests: the factory, openai settings validation, URL parsing and
// Retry-After handling (no network).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "embed/builtin_embedder.hpp"
#include "embed/embedder.hpp"
#include "net/http_client.hpp"
#include "embed/openai_embedder.hpp"

namespace signalhub::embed {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(CreateEmbedder, BuildsBuiltinByDefault) {
    config::EmbeddingConfig cfg;
    auto e = CreateEmbedder(cfg);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ((*e)->model(), "builtin-hash-v1");
    EXPECT_EQ((*e)->dimension(), 512);
    EXPECT_EQ((*e)->metric(), DistanceMetric::kCosine);
}

TEST(CreateEmbedder, RejectsUnknownProvider) {
    config::EmbeddingConfig cfg;
    cfg.provider = "sentencepiece";
    auto e = CreateEmbedder(cfg);
    EXPECT_EQ(e.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.status().message(), HasSubstr("sentencepiece"));
}

TEST(CreateEmbedder, BuildsOpenAiWithoutNetwork) {
    config::EmbeddingConfig cfg;
    cfg.provider = "openai";
    cfg.api_key_env = "";
    cfg.base_url = "http://127.0.0.1:9/v1";  // nothing is contacted at creation
    auto e = CreateEmbedder(cfg);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ((*e)->model(), "text-embedding-3-small");
    EXPECT_EQ((*e)->dimension(), 1536);
    EXPECT_EQ((*e)->batch_size(), 64U);
}

TEST(OpenAiSettings, ValidatesConfiguration) {
    OpenAiOptions options;
    options.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    config::EmbeddingConfig base;
    base.provider = "openai";
    base.api_key_env = "";

    auto unknown_model = base;
    unknown_model.model = "nomic-embed-text";
    auto r = CreateOpenAiEmbedder(unknown_model, options);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("embedding.dimension"));
    unknown_model.dimension = 768;
    EXPECT_TRUE(CreateOpenAiEmbedder(unknown_model, options).ok());

    auto bad_url = base;
    bad_url.base_url = "ftp://example.com/v1";
    EXPECT_EQ(CreateOpenAiEmbedder(bad_url, options).status().code(), ErrorCode::kInvalidArgument);
    auto bad_batch = base;
    bad_batch.batch_size = 0;
    EXPECT_EQ(CreateOpenAiEmbedder(bad_batch, options).status().code(), ErrorCode::kInvalidArgument);
    auto bad_timeout = base;
    bad_timeout.timeout_seconds = 0;
    EXPECT_EQ(CreateOpenAiEmbedder(bad_timeout, options).status().code(), ErrorCode::kInvalidArgument);
    auto bad_retries = base;
    bad_retries.max_retries = -1;
    EXPECT_EQ(CreateOpenAiEmbedder(bad_retries, options).status().code(), ErrorCode::kInvalidArgument);

    auto needs_key = base;
    needs_key.api_key_env = "SOME_KEY_VAR";
    auto missing = CreateOpenAiEmbedder(needs_key, options);
    EXPECT_EQ(missing.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(missing.status().message(), HasSubstr("SOME_KEY_VAR"));
}

TEST(ParseHttpUrl, SplitsOriginPathAndQuery) {
    auto u = net::ParseHttpUrl("https://api.openai.com/v1");
    ASSERT_TRUE(u.ok());
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "api.openai.com");
    EXPECT_EQ(u->port, "443");
    EXPECT_EQ(u->HostHeader(), "api.openai.com");
    EXPECT_EQ(u->Target("/embeddings"), "/v1/embeddings");

    auto azure = net::ParseHttpUrl("https://res.openai.azure.com/openai/deployments/emb/?api-version=2024-02-01");
    ASSERT_TRUE(azure.ok());
    EXPECT_EQ(azure->Target("/embeddings"), "/openai/deployments/emb/embeddings?api-version=2024-02-01");

    auto local = net::ParseHttpUrl("http://[::1]:11434");
    ASSERT_TRUE(local.ok());
    EXPECT_FALSE(local->tls);
    EXPECT_EQ(local->host, "::1");
    EXPECT_EQ(local->HostHeader(), "[::1]:11434");
    EXPECT_EQ(local->Target("/embeddings"), "/embeddings");

    for (const char* bad : {"api.openai.com/v1", "http://", "http://h:0/", "http://h:99999/", "http://u:p@h/",
                            "http://h/#frag", "http://h:x1/"}) {
        EXPECT_EQ(net::ParseHttpUrl(bad).status().code(), ErrorCode::kInvalidArgument) << bad;
    }
}

TEST(RetryAfterHint, ReadsMillisecondsSecondsAndHttpDates) {
    auto now = std::chrono::sys_days{std::chrono::year{2024} / 1 / 2} + std::chrono::hours{10};
    net::HttpResponse r;
    EXPECT_FALSE(RetryAfterHint(r, now).has_value());
    r.headers = {{"retry-after", "3"}};
    EXPECT_EQ(RetryAfterHint(r, now), milliseconds(3000));
    r.headers = {{"retry-after", "0.5"}};
    EXPECT_EQ(RetryAfterHint(r, now), milliseconds(500));
    r.headers = {{"retry-after", "Tue, 02 Jan 2024 10:00:07 GMT"}};
    EXPECT_EQ(RetryAfterHint(r, now), milliseconds(7000));
    r.headers = {{"retry-after", "Tue, 02 Jan 2024 09:00:00 GMT"}};  // in the past
    EXPECT_EQ(RetryAfterHint(r, now), milliseconds(0));
    r.headers = {{"retry-after", "soon"}};
    EXPECT_FALSE(RetryAfterHint(r, now).has_value());
    r.headers = {{"retry-after", "3"}, {"retry-after-ms", "250"}};
    EXPECT_EQ(RetryAfterHint(r, now), milliseconds(250));
}

}  // namespace
}  // namespace signalhub::embed

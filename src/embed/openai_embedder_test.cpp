// Integration tests of the OpenAI-compatible embedder against
// tests/fixtures/openai_fixture.js (a Node.js stand-in for /v1/embeddings),
// started per test on 127.0.0.1 with an ephemeral port.

#include "embed/openai_embedder.hpp"
#include "signal_hub_test_paths.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

extern char** environ;

namespace signalhub::embed {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kNode = "/usr/bin/node";

// The fixture process: stdin is a pipe we hold open (closing it stops the
// fixture), the first stdout line is "PORT <n>".
class FixtureServer {
   public:
    explicit FixtureServer(const std::string& api_key = "") {
        std::string script = std::string(SIGNAL_HUB_SOURCE_DIR) + "/tests/fixtures/openai_fixture.js";
        int in[2];
        int out[2];
        if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
            ADD_FAILURE() << "pipe2: " << std::strerror(errno);
            return;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        std::vector<std::string> env_strings;
        for (char** e = environ; *e != nullptr; ++e) {
            if (std::strncmp(*e, "FIXTURE_", 8) != 0) env_strings.emplace_back(*e);
        }
        if (!api_key.empty()) env_strings.push_back("FIXTURE_API_KEY=" + api_key);
        std::vector<char*> envp;
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);
        std::string node = kNode;
        std::vector<char*> argv = {node.data(), script.data(), nullptr};
        int rc = posix_spawn(&pid_, kNode, &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        close(in[0]);
        close(out[1]);
        stdin_fd_ = in[1];
        stdout_fd_ = out[0];
        if (rc != 0) {
            pid_ = -1;
            ADD_FAILURE() << "cannot start " << kNode << ": " << std::strerror(rc);
            return;
        }
        std::string line;
        char c = 0;
        pollfd pfd{stdout_fd_, POLLIN, 0};
        while (line.size() < 64) {
            if (poll(&pfd, 1, 30'000) <= 0 || read(stdout_fd_, &c, 1) != 1 || c == '\n') break;
            line += c;
        }
        if (line.rfind("PORT ", 0) != 0) {
            ADD_FAILURE() << "fixture did not report its port, got '" << line << "'";
            return;
        }
        port_ = std::stoi(line.substr(5));
        auto url = net::ParseHttpUrl("http://127.0.0.1:" + std::to_string(port_));
        control_ = std::make_unique<net::HttpClient>(*url, milliseconds(10'000));
    }

    ~FixtureServer() {
        control_.reset();
        if (stdin_fd_ >= 0) close(stdin_fd_);  // the fixture exits on EOF
        if (pid_ > 0) {
            int status = 0;
            waitpid(pid_, &status, 0);
        }
        if (stdout_fd_ >= 0) close(stdout_fd_);
    }

    bool ok() const { return port_ > 0; }
    std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

    json Call(const std::string& method, const std::string& target, const json& body = json::object()) {
        auto r = control_->Request(method, target, {{"Content-Type", "application/json"}},
                                   method == "GET" ? "" : body.dump());
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        if (!r.ok()) return json();
        EXPECT_EQ(r->status, 200) << r->body;
        return json::parse(r->body, nullptr, false);
    }
    json Control(const json& change) { return Call("POST", "/control", change); }
    json Stats() { return Call("GET", "/stats"); }

   private:
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    int port_ = 0;
    std::unique_ptr<net::HttpClient> control_;
};

// Records requested sleeps instead of sleeping.
struct SleepRecorder {
    std::mutex mu;
    std::vector<milliseconds> sleeps;
    std::vector<milliseconds> Get() {
        std::lock_guard<std::mutex> lock(mu);
        return sleeps;
    }
};

config::EmbeddingConfig TestConfig(const FixtureServer& fx) {
    config::EmbeddingConfig cfg;
    cfg.provider = "openai";
    cfg.model = "test-model";
    cfg.dimension = 8;
    cfg.batch_size = 4;
    cfg.base_url = fx.BaseUrl();
    cfg.api_key_env = "";
    cfg.timeout_seconds = 10;
    cfg.max_retries = 3;
    return cfg;
}

OpenAiOptions TestOptions(SleepRecorder& recorder, const std::string& key = "") {
    OpenAiOptions o;
    o.backoff_base = milliseconds(1);
    o.backoff_cap = milliseconds(4);
    o.sleep = [&recorder](milliseconds d) {
        std::lock_guard<std::mutex> lock(recorder.mu);
        recorder.sleeps.push_back(d);
    };
    o.env = [key](const std::string& name) -> std::optional<std::string> {
        if (name == "TEST_EMBED_KEY" && !key.empty()) return key;
        return std::nullopt;
    };
    return o;
}

std::unique_ptr<OpenAiEmbedder> MustCreate(const config::EmbeddingConfig& cfg, OpenAiOptions options) {
    auto r = CreateOpenAiEmbedder(cfg, std::move(options));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
}

std::vector<std::string> Texts(int n) {
    std::vector<std::string> t;
    for (int i = 0; i < n; ++i) t.push_back("text number " + std::to_string(i));
    return t;
}

double Norm(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += static_cast<double>(x) * x;
    return std::sqrt(s);
}

#define START_FIXTURE(fx, ...)     \
    FixtureServer fx{__VA_ARGS__}; \
    ASSERT_TRUE(fx.ok())

TEST(OpenAiEmbedder, EmbedsInBatchesOverOneConnectionAndPlacesByIndex) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dimension(), 8);
    EXPECT_EQ(e->model(), "test-model");
    EXPECT_EQ(e->batch_size(), 4U);

    std::vector<std::string> texts = Texts(9);
    texts.insert(texts.begin() + 3, "");  // empty texts are not sent
    auto r = e->Embed(texts, Purpose::kDocument);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), 10U);
    for (size_t i = 0; i < r->size(); ++i) {
        ASSERT_EQ((*r)[i].size(), 8U);
        EXPECT_NEAR(Norm((*r)[i]), i == 3 ? 0.0 : 1.0, 1e-5) << i;
    }
    json stats = fx.Stats();
    EXPECT_EQ(stats["embedding_requests"], 3);
    EXPECT_EQ(stats["batch_sizes"], json({4, 4, 1}));
    EXPECT_EQ(stats["embedding_connections"], 1);  // keep-alive
    json last = json::parse(stats["last"]["body"].get<std::string>());
    EXPECT_EQ(last["model"], "test-model");
    EXPECT_EQ(last["dimensions"], 8);
    EXPECT_EQ(last["encoding_format"], "float");
    EXPECT_FALSE(stats["last"]["headers"].contains("authorization"));

    // The fixture shuffles "data"; each text embedded alone must match its slot.
    for (size_t i : {0U, 5U, 9U}) {
        std::vector<std::string> one = {texts[i]};
        auto single = e->Embed(one, Purpose::kQuery);
        ASSERT_TRUE(single.ok());
        EXPECT_EQ((*single)[0], (*r)[i]) << "text " << i;
    }
    EXPECT_TRUE(rec.Get().empty());
}

TEST(OpenAiEmbedder, KnownModelUsesNativeDimensionWithoutSendingIt) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto cfg = TestConfig(fx);
    cfg.model = "text-embedding-3-small";
    cfg.dimension = 0;
    auto e = MustCreate(cfg, TestOptions(rec));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dimension(), 1536);
    auto r = e->Embed(Texts(2), Purpose::kDocument);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)[1].size(), 1536U);
    json last = json::parse(fx.Stats()["last"]["body"].get<std::string>());
    EXPECT_FALSE(last.contains("dimensions"));
}

TEST(OpenAiEmbedder, SendsBearerKeyAndNeverEchoesIt) {
    START_FIXTURE(fx, "sk-right-0123456789");
    SleepRecorder rec;
    auto cfg = TestConfig(fx);
    cfg.api_key_env = "TEST_EMBED_KEY";

    auto wrong = MustCreate(cfg, TestOptions(rec, "sk-wrong-9876543210"));
    ASSERT_NE(wrong, nullptr);
    auto denied = wrong->Embed(Texts(1), Purpose::kQuery);
    EXPECT_EQ(denied.status().code(), ErrorCode::kUnauthenticated);
    EXPECT_THAT(denied.status().message(), HasSubstr("Incorrect API key provided"));
    EXPECT_THAT(denied.status().message(), Not(HasSubstr("sk-wrong-9876543210")));
    EXPECT_EQ(fx.Stats()["served_401"], 1);  // not retried

    auto right = MustCreate(cfg, TestOptions(rec, "sk-right-0123456789"));
    ASSERT_NE(right, nullptr);
    EXPECT_TRUE(right->Embed(Texts(1), Purpose::kQuery).ok());
    EXPECT_EQ(fx.Stats()["last"]["headers"]["authorization"], "Bearer sk-right-0123456789");
    EXPECT_TRUE(rec.Get().empty());
}

TEST(OpenAiEmbedder, MissingKeyVariableIsInvalidArgument) {
    config::EmbeddingConfig cfg;
    cfg.provider = "openai";
    cfg.api_key_env = "TEST_EMBED_KEY";
    SleepRecorder rec;
    auto r = CreateOpenAiEmbedder(cfg, TestOptions(rec));
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("TEST_EMBED_KEY"));
}

TEST(OpenAiEmbedder, RetriesRateLimitsHonouringRetryAfterMs) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    fx.Control({{"fail_429", 2}});
    auto r = e->Embed(Texts(3), Purpose::kDocument);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    json stats = fx.Stats();
    EXPECT_EQ(stats["served_429"], 2);
    EXPECT_EQ(stats["served_ok"], 1);
    auto sleeps = rec.Get();
    ASSERT_EQ(sleeps.size(), 2U);
    for (auto d : sleeps) EXPECT_GE(d, milliseconds(1000));
}

TEST(OpenAiEmbedder, RetriesRateLimitsHonouringRetryAfterSeconds) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    fx.Control({{"fail_429", 1}, {"retry_after", "2"}, {"retry_after_ms", nullptr}});
    ASSERT_TRUE(e->Embed(Texts(1), Purpose::kDocument).ok());
    EXPECT_EQ(fx.Stats()["served_429"], 1);
    EXPECT_THAT(rec.Get(), ::testing::ElementsAre(milliseconds(2000)));
}

TEST(OpenAiEmbedder, RetriesServerErrorsWithCappedBackoff) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    fx.Control({{"fail_500", 2}});
    auto r = e->Embed(Texts(2), Purpose::kDocument);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(fx.Stats()["served_500"], 2);
    auto sleeps = rec.Get();
    ASSERT_EQ(sleeps.size(), 2U);
    for (auto d : sleeps) EXPECT_LE(d, milliseconds(4));
}

TEST(OpenAiEmbedder, ExhaustedRetriesAreUnavailable) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    fx.Control({{"fail_500", 100}});
    auto r = e->Embed(Texts(2), Purpose::kDocument);
    EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(r.status().message(), HasSubstr("HTTP 500"));
    EXPECT_THAT(r.status().message(), HasSubstr("4 attempt"));
    EXPECT_EQ(fx.Stats()["served_500"], 4);  // 1 + max_retries
    EXPECT_EQ(rec.Get().size(), 3U);
}

TEST(OpenAiEmbedder, SlowServerIsDeadlineExceededThenRecovers) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto cfg = TestConfig(fx);
    cfg.timeout_seconds = 0.2;
    cfg.max_retries = 1;
    auto e = MustCreate(cfg, TestOptions(rec));
    ASSERT_NE(e, nullptr);
    fx.Control({{"delay_ms", 5000}, {"delay_count", 2}});
    auto r = e->Embed(Texts(1), Purpose::kDocument);
    EXPECT_EQ(r.status().code(), ErrorCode::kDeadlineExceeded) << r.status().ToString();
    EXPECT_EQ(fx.Stats()["embedding_requests"], 2);
    EXPECT_EQ(rec.Get().size(), 1U);
    auto again = e->Embed(Texts(1), Purpose::kDocument);
    EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(OpenAiEmbedder, BadRequestIsInvalidArgumentWithServerMessage) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    std::vector<std::string> texts = {"fine", "has FIXTURE_BAD_INPUT inside"};
    auto r = e->Embed(texts, Purpose::kDocument);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("the marker FIXTURE_BAD_INPUT is not allowed"));
    EXPECT_THAT(r.status().message(), HasSubstr("HTTP 400"));
    EXPECT_EQ(fx.Stats()["served_400"], 1);
    EXPECT_TRUE(rec.Get().empty());
}

TEST(OpenAiEmbedder, UnsupportedDimensionsIsInvalidArgument) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto cfg = TestConfig(fx);
    cfg.model = "text-embedding-3-small";
    cfg.dimension = 4000;  // larger than the model's 1536
    auto e = MustCreate(cfg, TestOptions(rec));
    ASSERT_NE(e, nullptr);
    auto r = e->Embed(Texts(1), Purpose::kDocument);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("dimensions"));
}

TEST(OpenAiEmbedder, WrongCountOrDimensionIsInternal) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    fx.Control({{"wrong_count", 1}});
    auto count = e->Embed(Texts(3), Purpose::kDocument);
    EXPECT_EQ(count.status().code(), ErrorCode::kInternal);
    EXPECT_THAT(count.status().message(), HasSubstr("2 embeddings for 3 inputs"));
    fx.Control({{"wrong_dimension", 1}});
    auto dim = e->Embed(Texts(3), Purpose::kDocument);
    EXPECT_EQ(dim.status().code(), ErrorCode::kInternal);
    EXPECT_THAT(dim.status().message(), HasSubstr("9 dimensions, expected 8"));
    EXPECT_TRUE(e->Embed(Texts(3), Purpose::kDocument).ok());
}

TEST(OpenAiEmbedder, CountsTheTokensTheProviderReports) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->tokens_used(), std::optional<std::uint64_t>(0));  // reported from the start, for the metric

    // Three requests (batch size 4), each answer's usage added; the empty text is not sent.
    // The fixture reports words + 1 per input: "text number i" is 4, "one-word" 2.
    std::vector<std::string> texts = Texts(9);
    texts.push_back("");
    texts.push_back("one-word");
    ASSERT_TRUE(e->Embed(texts, Purpose::kDocument).ok());
    EXPECT_EQ(fx.Stats()["embedding_requests"], 3);
    EXPECT_EQ(e->tokens_used(), std::optional<std::uint64_t>(9 * 4 + 2));
    EXPECT_EQ(fx.Stats()["tokens"], 9 * 4 + 2);

    // An answer without usage (older TEI) is accepted and adds nothing.
    fx.Control({{"no_usage", 1}});
    ASSERT_TRUE(e->Embed(Texts(2), Purpose::kQuery).ok());
    EXPECT_EQ(e->tokens_used(), std::optional<std::uint64_t>(38));
    // prompt_tokens alone counts.
    fx.Control({{"prompt_tokens_only", 1}});
    ASSERT_TRUE(e->Embed(Texts(1), Purpose::kQuery).ok());
    EXPECT_EQ(e->tokens_used(), std::optional<std::uint64_t>(42));
    // A retried request counts the answer it finally got, once.
    fx.Control({{"fail_500", 1}});
    ASSERT_TRUE(e->Embed(Texts(3), Purpose::kDocument).ok());
    EXPECT_EQ(fx.Stats()["served_500"], 1);
    EXPECT_EQ(e->tokens_used(), std::optional<std::uint64_t>(54));
    EXPECT_EQ(fx.Stats()["tokens"], 54);
}

TEST(OpenAiEmbedder, ReconnectsWhenServerDropsIdleConnection) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(e->Embed(Texts(2), Purpose::kDocument).ok());
    fx.Call("POST", "/drop_connections");
    auto r = e->Embed(Texts(2), Purpose::kDocument);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(fx.Stats()["embedding_connections"], 2);
    EXPECT_TRUE(rec.Get().empty());  // a stale connection is not a retry
}

TEST(OpenAiEmbedder, KeepsBaseUrlQueryAfterEmbeddingsPath) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto cfg = TestConfig(fx);
    cfg.base_url = fx.BaseUrl() + "/?api-version=2024-02-01";
    auto e = MustCreate(cfg, TestOptions(rec));
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(e->Embed(Texts(1), Purpose::kDocument).ok());
    EXPECT_EQ(fx.Stats()["last"]["target"], "/v1/embeddings?api-version=2024-02-01");
}

TEST(OpenAiEmbedder, ConcurrentCallsMatchSequentialResults) {
    START_FIXTURE(fx);
    SleepRecorder rec;
    auto e = MustCreate(TestConfig(fx), TestOptions(rec));
    ASSERT_NE(e, nullptr);
    std::vector<std::string> texts = Texts(10);
    auto reference = e->Embed(texts, Purpose::kDocument);
    ASSERT_TRUE(reference.ok());
    std::vector<Result<std::vector<std::vector<float>>>> results(
        4, Result<std::vector<std::vector<float>>>(Internal("not run")));
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t) {
        threads.emplace_back([&, t] { results[t] = e->Embed(texts, Purpose::kDocument); });
    }
    for (auto& th : threads) th.join();
    for (const auto& r : results) {
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_EQ(*r, *reference);
    }
}

TEST(OpenAiEmbedder, TlsFailureIsUnavailableWithoutRetries) {
    START_FIXTURE(fx);  // speaks plain HTTP, so a TLS handshake must fail
    SleepRecorder rec;
    auto cfg = TestConfig(fx);
    cfg.base_url = "https" + fx.BaseUrl().substr(4);
    auto e = MustCreate(cfg, TestOptions(rec));
    ASSERT_NE(e, nullptr);
    auto r = e->Embed(Texts(1), Purpose::kDocument);
    EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(r.status().message(), HasSubstr("TLS handshake"));
    EXPECT_TRUE(rec.Get().empty());
}

TEST(OpenAiEmbedder, ConnectionRefusedIsUnavailableAfterRetries) {
    std::string base;
    {
        START_FIXTURE(fx);
        base = fx.BaseUrl();
    }  // the fixture has exited: nothing listens on its port now
    SleepRecorder rec;
    config::EmbeddingConfig cfg;
    cfg.model = "test-model";
    cfg.dimension = 8;
    cfg.base_url = base;
    cfg.api_key_env = "";
    cfg.max_retries = 2;
    auto e = MustCreate(cfg, TestOptions(rec));
    ASSERT_NE(e, nullptr);
    auto r = e->Embed(Texts(1), Purpose::kDocument);
    EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(r.status().message(), HasSubstr("cannot connect"));
    EXPECT_EQ(rec.Get().size(), 2U);
}

}  // namespace
}  // namespace signalhub::embed

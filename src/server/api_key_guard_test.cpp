// ApiKeyGuard and the endpoint's authorisation: which request gets which
// status, what the admitted Caller carries, and what the audit log records.
#include "server/api_key_guard.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "security/memory_key_store.hpp"
#include "security/rate_limiter.hpp"

namespace signalhub::server {
namespace {

namespace http = boost::beast::http;
using security::Scope;

HttpRequest Request(std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest req{http::verb::post, "/mcp?x=1", 11};
    for (const auto& [name, value] : headers) req.set(name, value);
    return req;
}

class ApiKeyGuardTest : public ::testing::Test {
   protected:
    void SetUp() override {
        clock_.SetUnixSeconds(1'800'000'000);
        auto hasher = security::KeyHasher::Create(std::string(40, 'p'));
        ASSERT_TRUE(hasher.ok());
        keys_ = std::make_unique<security::MemoryKeyStore>(*hasher, clock_);
        audit_path_ = (std::filesystem::temp_directory_path() / ("guard-audit-" + std::to_string(::getpid()))).string();
        std::filesystem::remove(audit_path_);
        auto audit = security::AuditLog::Open(audit_path_, clock_);
        ASSERT_TRUE(audit.ok());
        audit_ = std::move(*audit);
        guard_ = std::make_unique<ApiKeyGuard>(ApiKeyGuardOptions{.keys = keys_.get(), .audit = audit_.get()});
    }
    void TearDown() override { std::filesystem::remove(audit_path_); }

    std::string NewKey(std::vector<Scope> scopes, std::vector<std::string> collections = {}) {
        security::CreateKeyRequest request;
        request.name = "k" + std::to_string(++n_);
        request.scopes = std::move(scopes);
        request.collections = std::move(collections);
        auto issued = keys_->Create(request);
        EXPECT_TRUE(issued.ok());
        return issued->key;
    }
    std::vector<nlohmann::json> AuditLines() {
        std::ifstream in(audit_path_);
        std::vector<nlohmann::json> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
        return lines;
    }

    FakeClock clock_;
    std::unique_ptr<security::MemoryKeyStore> keys_;
    std::string audit_path_;
    std::unique_ptr<security::AuditLog> audit_;
    std::unique_ptr<ApiKeyGuard> guard_;
    int n_ = 0;
};

TEST_F(ApiKeyGuardTest, PresentedKeyComesFromBearerOrXApiKey) {
    EXPECT_EQ(*PresentedKey(Request({})), std::nullopt);
    EXPECT_EQ(**PresentedKey(Request({{"Authorization", "Bearer abc"}})), "abc");
    EXPECT_EQ(**PresentedKey(Request({{"Authorization", "bearer   abc  "}})), "abc");
    EXPECT_EQ(**PresentedKey(Request({{"X-API-Key", "abc"}})), "abc");
    EXPECT_EQ(**PresentedKey(Request({{"Authorization", "Bearer abc"}, {"X-API-Key", "abc"}})), "abc");
    EXPECT_EQ(PresentedKey(Request({{"Authorization", "Basic dTpw"}})).status().message(),
              "the Authorization header must be \"Bearer KEY\"");
    EXPECT_EQ(PresentedKey(Request({{"Authorization", "Bearer a"}, {"X-API-Key", "b"}})).status().message(),
              "the Authorization and X-API-Key headers carry different keys");
}

TEST_F(ApiKeyGuardTest, RefusalsAre401WithTheReasonAndAudited) {
    const std::string key = NewKey({Scope::kSearch});
    struct Case {
        std::vector<std::pair<std::string, std::string>> headers;
        std::string reason;
    };
    const std::string wrong_secret = key.substr(0, key.size() - 43) + std::string(43, 'A');
    const std::vector<Case> cases = {
        {{}, "missing"},
        {{{"Authorization", "Token x"}}, "malformed"},
        {{{"X-API-Key", "nope"}}, "malformed"},
        {{{"X-API-Key", "shk_0123456789abcdef_" + std::string(43, 'A')}}, "unknown_key"},
        {{{"X-API-Key", wrong_secret}}, "wrong_secret"},
    };
    for (const Case& c : cases) {
        GuardDecision d = guard_->Admit(Request(c.headers), "127.0.0.1");
        ASSERT_TRUE(d.refusal) << c.reason;
        EXPECT_EQ(d.refusal->result(), http::status::unauthorized) << c.reason;
        EXPECT_NE(std::string((*d.refusal)[http::field::www_authenticate]).find("Bearer realm=\"signal-hub\""),
                  std::string::npos);
    }
    const auto lines = AuditLines();
    ASSERT_EQ(lines.size(), cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        EXPECT_EQ(lines[i]["event"], "auth_failure");
        EXPECT_EQ(lines[i]["reason"], cases[i].reason);
        EXPECT_EQ(lines[i]["remote"], "127.0.0.1");
        EXPECT_EQ(lines[i]["method"], "POST");
        EXPECT_EQ(lines[i]["path"], "/mcp");
        EXPECT_EQ(lines[i]["time"], "2027-01-15T08:00:00Z");
        EXPECT_EQ(lines[i].dump().find(key.substr(key.size() - 43)), std::string::npos) << "secret in the audit log";
    }
    EXPECT_EQ(lines[4]["key_id"], key.substr(4, 16));  // well-formed: the id (never the secret) is recorded
}

// A caller without the secret must not learn whether a key id exists: an unknown id and a known id
// with a wrong secret get byte-identical 401s (issue 20, item 12); only the audit log tells them apart.
TEST_F(ApiKeyGuardTest, UnknownKeyAndWrongSecretGetTheSame401) {
    const std::string key = NewKey({Scope::kSearch});
    const std::string unknown = "shk_0123456789abcdef_" + std::string(43, 'A');
    const std::string wrong_secret = key.substr(0, key.size() - 43) + std::string(43, 'A');
    GuardDecision a = guard_->Admit(Request({{"X-API-Key", unknown}}), "127.0.0.1");
    GuardDecision b = guard_->Admit(Request({{"X-API-Key", wrong_secret}}), "127.0.0.1");
    ASSERT_TRUE(a.refusal);
    ASSERT_TRUE(b.refusal);
    EXPECT_EQ(a.refusal->result(), http::status::unauthorized);
    EXPECT_EQ(a.refusal->body(), b.refusal->body());
    EXPECT_EQ(a.refusal->body().find("0123456789abcdef"), std::string::npos) << a.refusal->body();
    EXPECT_EQ(b.refusal->body().find(key.substr(4, 16)), std::string::npos) << b.refusal->body();
    EXPECT_NE(a.refusal->body().find("invalid API key"), std::string::npos) << a.refusal->body();
    std::vector<std::string> headers_a, headers_b;
    for (const auto& f : *a.refusal) headers_a.push_back(std::string(f.name_string()) + ": " + std::string(f.value()));
    for (const auto& f : *b.refusal) headers_b.push_back(std::string(f.name_string()) + ": " + std::string(f.value()));
    EXPECT_EQ(headers_a, headers_b);
    EXPECT_EQ(a.headers, b.headers);
    const auto lines = AuditLines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["reason"], "unknown_key");
    EXPECT_EQ(lines[1]["reason"], "wrong_secret");
}

// Audit records name the request (the X-Request-Id the HTTP server sets on it and answers with).
TEST_F(ApiKeyGuardTest, AuditRecordsCarryTheRequestId) {
    const std::string key = NewKey({Scope::kSearch});
    (void)guard_->Admit(Request({{"X-Request-Id", "req-401"}}), "127.0.0.1");
    GuardDecision admitted = guard_->Admit(Request({{"X-API-Key", key}, {"X-Request-Id", "req-403"}}), "127.0.0.1");
    ASSERT_FALSE(admitted.refusal);
    EXPECT_EQ(admitted.caller.request_id, "req-403");
    guard_->Forbidden(admitted.caller, "API key " + admitted.caller.id + " may not read collection 'x'");
    const auto lines = AuditLines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["event"], "auth_failure");
    EXPECT_EQ(lines[0]["request_id"], "req-401");
    EXPECT_EQ(lines[1]["event"], "forbidden");
    EXPECT_EQ(lines[1]["request_id"], "req-403");
}

TEST_F(ApiKeyGuardTest, RevokedAndExpiredKeysAre401) {
    const std::string revoked = NewKey({Scope::kSearch});
    ASSERT_TRUE(keys_->Revoke(revoked.substr(4, 16)).ok());
    security::CreateKeyRequest short_lived;
    short_lived.name = "short";
    short_lived.scopes = {Scope::kSearch};
    short_lived.ttl_seconds = 10;
    auto expiring = keys_->Create(short_lived);
    ASSERT_TRUE(expiring.ok());
    clock_.Advance(std::chrono::seconds(11));
    for (const std::string& key : {revoked, expiring->key}) {
        GuardDecision d = guard_->Admit(Request({{"X-API-Key", key}}), "10.0.0.1");
        ASSERT_TRUE(d.refusal);
        EXPECT_EQ(d.refusal->result(), http::status::unauthorized);
    }
    const auto lines = AuditLines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["reason"], "revoked");
    EXPECT_EQ(lines[1]["reason"], "expired");
}

TEST_F(ApiKeyGuardTest, AValidKeyBecomesACallerWithItsScopesAndCollections) {
    const std::string key = NewKey({Scope::kSearch, Scope::kIndex}, {"a", "b"});
    GuardDecision d = guard_->Admit(Request({{"Authorization", "Bearer " + key}}), "[::1]");
    ASSERT_FALSE(d.refusal);
    EXPECT_EQ(d.caller.id, key.substr(4, 16));
    EXPECT_EQ(d.caller.remote, "[::1]");
    EXPECT_EQ(d.caller.scopes, (std::vector<std::string>{"search", "index"}));
    EXPECT_EQ(d.caller.collections, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(d.caller.HasScope("index"));
    EXPECT_FALSE(d.caller.HasScope("admin"));
    EXPECT_TRUE(d.caller.AllowsCollection("b"));
    EXPECT_FALSE(d.caller.AllowsCollection("c"));
    EXPECT_TRUE(AuditLines().empty());

    const std::string all = NewKey({Scope::kSearch});
    GuardDecision unrestricted = guard_->Admit(Request({{"X-API-Key", all}}), "127.0.0.1");
    ASSERT_FALSE(unrestricted.refusal);
    EXPECT_FALSE(unrestricted.caller.collections) << "an empty allow-list means every collection";
}

TEST_F(ApiKeyGuardTest, AKeysOwnRateLimitReplacesItsScopesLimit) {
    security::MemoryRateLimiter limiter(clock_);
    ApiKeyGuardOptions options;
    options.keys = keys_.get();
    options.limiter = &limiter;
    options.limits.search = {100, 5};
    ApiKeyGuard guard(options);
    const std::string plain = NewKey({Scope::kSearch});
    security::CreateKeyRequest request;
    request.name = "throttled";
    request.scopes = {Scope::kSearch};
    request.rate_limit = security::KeyRateLimit{1, 2};
    auto throttled = keys_->Create(request);
    ASSERT_TRUE(throttled.ok());

    auto admitted = [&](const std::string& key, int n) {
        int ok = 0;
        for (int i = 0; i < n; ++i) ok += guard.Admit(Request({{"X-API-Key", key}}), "127.0.0.1").refusal ? 0 : 1;
        return ok;
    };
    EXPECT_EQ(admitted(throttled->key, 4), 2) << "the key's burst of 2, not the scope's 5";
    EXPECT_EQ(admitted(plain, 7), 5) << "keys without their own limit keep the scope's";
    GuardDecision refused = guard.Admit(Request({{"X-API-Key", throttled->key}}), "127.0.0.1");
    ASSERT_TRUE(refused.refusal);
    EXPECT_EQ(refused.refusal->result(), http::status::too_many_requests);

    // Back to the scope's limit (a fresh burst of 5 after the key's own bucket drained).
    ASSERT_TRUE(keys_->SetRateLimit(throttled->record.id, std::nullopt).ok());
    clock_.Advance(std::chrono::seconds(10));
    EXPECT_EQ(admitted(throttled->key, 7), 5);
}

TEST_F(ApiKeyGuardTest, WithoutAKeyStoreEveryoneIsAdmitted) {
    ApiKeyGuard open(ApiKeyGuardOptions{});
    GuardDecision d = open.Admit(Request({}), "127.0.0.1");
    EXPECT_FALSE(d.refusal);
    EXPECT_FALSE(d.caller.scopes);
    EXPECT_FALSE(d.caller.collections);
    EXPECT_EQ(d.caller.remote, "127.0.0.1");
}

TEST_F(ApiKeyGuardTest, ForbiddenIsAudited) {
    mcp::Caller caller;
    caller.id = "0123456789abcdef";
    caller.name = "ci";
    caller.remote = "127.0.0.1";
    guard_->Forbidden(caller, "API key 0123456789abcdef may not read collection 'x'");
    const auto lines = AuditLines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["event"], "forbidden");
    EXPECT_EQ(lines[0]["key_id"], "0123456789abcdef");
    EXPECT_EQ(lines[0]["key_name"], "ci");
    EXPECT_EQ(lines[0]["reason"], "API key 0123456789abcdef may not read collection 'x'");
}

}  // namespace
}  // namespace signalhub::server

namespace signalhub::server {
namespace {

TEST_F(ApiKeyGuardTest, ObserverSeesReasonsAndRateLimitDecisions) {
    std::vector<std::string> failures;
    std::vector<std::string> forbidden;
    std::vector<std::string> limits;
    security::MemoryRateLimiter limiter(clock_);
    ApiKeyGuardOptions options;
    options.keys = keys_.get();
    options.limiter = &limiter;
    options.limits.search = security::RateLimit{1, 1};
    options.limits.anonymous = security::RateLimit{1, 2};
    options.observer.on_auth_failure = [&](std::string_view reason) { failures.emplace_back(reason); };
    options.observer.on_forbidden = [&](std::string_view reason) { forbidden.emplace_back(reason); };
    options.observer.on_rate_limit = [&](std::string_view scope, bool allowed, bool backend_failed) {
        EXPECT_FALSE(backend_failed);
        limits.push_back(std::string(scope) + (allowed ? ":allowed" : ":limited"));
    };
    ApiKeyGuard guard(options);
    const std::string key = NewKey({Scope::kSearch});
    EXPECT_FALSE(guard.Admit(Request({{"Authorization", "Bearer " + key}}), "10.0.0.1").refusal);
    EXPECT_TRUE(guard.Admit(Request({{"Authorization", "Bearer " + key}}), "10.0.0.1").refusal);  // 429
    EXPECT_TRUE(guard.Admit(Request({}), "10.0.0.2").refusal);                                     // missing
    EXPECT_TRUE(guard.Admit(Request({{"Authorization", "Basic x"}}), "10.0.0.2").refusal);         // malformed
    EXPECT_TRUE(guard.Admit(Request({{"Authorization", "Bearer " + key + "x"}}), "10.0.0.3").refusal);
    guard.Forbidden(mcp::Caller{}, "API key 0123456789abcdef may not read collection 'x'");
    guard.Forbidden(mcp::Caller{}, "API key 0123456789abcdef lacks the 'index' scope that tool t needs");
    ASSERT_EQ(failures.size(), 3u);
    EXPECT_EQ(failures[0], "missing");
    EXPECT_EQ(failures[1], "malformed");
    EXPECT_TRUE(failures[2] == "wrong_secret" || failures[2] == "unknown_key" || failures[2] == "malformed")
        << failures[2];
    EXPECT_EQ(forbidden, (std::vector<std::string>{"collection", "scope"}));
    EXPECT_EQ(limits, (std::vector<std::string>{"search:allowed", "search:limited", "anonymous:allowed",
                                                "anonymous:allowed", "anonymous:allowed"}));
}

}  // namespace
}  // namespace signalhub::server

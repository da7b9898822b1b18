#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "security/file_key_store.hpp"
#include "security/key_store.hpp"
#include "security/memory_key_store.hpp"
#ifdef SIGNAL_HUB_KEYSTORES_CONFORMANCE
// keystores_test compiles this suite again for the sh_keystores backends.
#include "security/keystores_test_util.hpp"
#endif

// The KeyStore contract (key_store.hpp), run against every implementation.
namespace signalhub::security {
namespace {

namespace fs = std::filesystem;

KeyHasher Hasher() {
    auto hasher = KeyHasher::Create(std::string(40, 'p'));
    EXPECT_TRUE(hasher.ok());
    return *hasher;
}

CreateKeyRequest Request(std::string name, std::vector<Scope> scopes = {Scope::kSearch}) {
    CreateKeyRequest r;
    r.name = std::move(name);
    r.scopes = std::move(scopes);
    return r;
}

class KeyStoreConformance : public ::testing::TestWithParam<std::string> {
   protected:
    void SetUp() override {
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        std::replace(name.begin(), name.end(), '/', '-');
        dir_ = fs::temp_directory_path() / ("sh-auth-conformance-" + std::to_string(::getpid()) + "-" + name);
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<KeyStore> OpenStore() {
        if (GetParam() == "memory") return std::make_unique<MemoryKeyStore>(Hasher(), clock_);
#ifdef SIGNAL_HUB_KEYSTORES_CONFORMANCE
        if (GetParam() != "file") return keystoretest::OpenConformanceBackend(GetParam(), Hasher(), clock_);
#endif
        auto store = FileKeyStore::Open((dir_ / "keys.json").string(), Hasher(), clock_);
        EXPECT_TRUE(store.ok()) << store.status().ToString();
        if (!store.ok()) return nullptr;
        return std::move(store).value();
    }
    IssuedKey MustCreate(KeyStore& store, CreateKeyRequest request) {
        auto issued = store.Create(request);
        EXPECT_TRUE(issued.ok()) << issued.status().ToString();
        return issued.ok() ? *issued : IssuedKey{};
    }
    AuthFailure Why(KeyStore& store, const std::string& key) {
        AuthFailure failure = AuthFailure::kNone;
        auto result = store.Authenticate(key, &failure);
        if (result.ok()) return AuthFailure::kNone;
        EXPECT_EQ(result.status().code(), ErrorCode::kUnauthenticated) << result.status().ToString();
        EXPECT_NE(failure, AuthFailure::kNone);
        return failure;
    }

    fs::path dir_;
    FakeClock clock_;
};

TEST_P(KeyStoreConformance, CreateThenAuthenticateAndList) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    CreateKeyRequest request = Request("ci", {Scope::kIndex, Scope::kSearch, Scope::kIndex});
    request.collections = {"repo-a"};
    IssuedKey issued = MustCreate(*store, request);
    EXPECT_TRUE(ParseApiKey(issued.key).ok());
    EXPECT_EQ(issued.record.scopes, (std::vector<Scope>{Scope::kSearch, Scope::kIndex}));
    EXPECT_EQ(issued.record.created, clock_.UnixSeconds());
    EXPECT_FALSE(issued.record.expires);
    EXPECT_FALSE(issued.record.last_used);

    clock_.Advance(std::chrono::seconds(5));
    AuthFailure failure = AuthFailure::kMalformed;
    auto auth = store->Authenticate(issued.key, &failure);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    EXPECT_EQ(failure, AuthFailure::kNone);
    EXPECT_EQ(auth->record.id, issued.record.id);
    EXPECT_FALSE(auth->via_previous_key);
    EXPECT_EQ(auth->record.last_used, clock_.UnixSeconds());
    EXPECT_TRUE(auth->record.HasScope(Scope::kSearch));
    EXPECT_FALSE(auth->record.HasScope(Scope::kAdmin));
    EXPECT_TRUE(auth->record.AllowsCollection("repo-a"));
    EXPECT_FALSE(auth->record.AllowsCollection("repo-b"));

    auto list = store->List();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].name, "ci");
    EXPECT_EQ((*list)[0].last_used, clock_.UnixSeconds());
}


TEST_P(KeyStoreConformance, RefusesMalformedUnknownAndWrongSecret) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    IssuedKey issued = MustCreate(*store, Request("a"));
    EXPECT_EQ(Why(*store, ""), AuthFailure::kMalformed);
    EXPECT_EQ(Why(*store, "Bearer " + issued.key), AuthFailure::kMalformed);
    EXPECT_EQ(Why(*store, issued.key.substr(0, 40)), AuthFailure::kMalformed);

    auto other_id = GenerateKeyId();
    ASSERT_TRUE(other_id.ok());
    const std::string unknown = FormatApiKey(*other_id, issued.key.substr(21));
    EXPECT_EQ(Why(*store, unknown), AuthFailure::kUnknownKey);
    auto refused = store->Authenticate(unknown);
    EXPECT_NE(refused.status().message().find("unknown API key id " + *other_id), std::string::npos);

    auto secret = GenerateSecret();
    ASSERT_TRUE(secret.ok());
    const std::string wrong = FormatApiKey(issued.record.id, *secret);
    EXPECT_EQ(Why(*store, wrong), AuthFailure::kWrongSecret);
    auto wrong_result = store->Authenticate(wrong);
    EXPECT_EQ(wrong_result.status().message().find(*secret), std::string::npos);
    EXPECT_EQ(Why(*store, issued.key), AuthFailure::kNone);
}


TEST_P(KeyStoreConformance, RevokedKeysFail) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    IssuedKey issued = MustCreate(*store, Request("a"));
    clock_.Advance(std::chrono::seconds(10));
    auto revoked = store->Revoke(issued.record.id);
    ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
    EXPECT_EQ(revoked->revoked, clock_.UnixSeconds());
    EXPECT_EQ(Why(*store, issued.key), AuthFailure::kRevoked);
    EXPECT_NE(store->Authenticate(issued.key).status().message().find("was revoked at"), std::string::npos);

    EXPECT_EQ(store->Revoke(issued.record.id).status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(store->Revoke("0123456789abcdef").status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store->Rotate(issued.record.id, 60).status().code(), ErrorCode::kFailedPrecondition);
    // The name of a revoked key can be used again.
    MustCreate(*store, Request("a"));
    EXPECT_EQ(store->Create(Request("a")).status().code(), ErrorCode::kAlreadyExists);
}


TEST_P(KeyStoreConformance, ExpiredKeysFail) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    CreateKeyRequest request = Request("temp");
    request.ttl_seconds = 60;
    IssuedKey issued = MustCreate(*store, request);
    EXPECT_EQ(issued.record.expires, clock_.UnixSeconds() + 60);
    clock_.Advance(std::chrono::seconds(59));
    EXPECT_EQ(Why(*store, issued.key), AuthFailure::kNone);
    clock_.Advance(std::chrono::seconds(1));
    EXPECT_EQ(Why(*store, issued.key), AuthFailure::kExpired);
    EXPECT_NE(store->Authenticate(issued.key).status().message().find("expired at"), std::string::npos);
    EXPECT_EQ(store->Rotate(issued.record.id, 0).status().code(), ErrorCode::kFailedPrecondition);
}


TEST_P(KeyStoreConformance, RotationKeepsTheOldKeyForTheGracePeriod) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    IssuedKey original = MustCreate(*store, Request("svc", {Scope::kSearch, Scope::kAdmin}));
    auto rotated = store->Rotate(original.record.id, 3600);
    ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
    EXPECT_EQ(rotated->record.id, original.record.id);
    EXPECT_EQ(rotated->record.scopes, original.record.scopes);
    EXPECT_NE(rotated->key, original.key);
    EXPECT_EQ(rotated->record.previous_hash, original.record.hash);
    EXPECT_EQ(rotated->record.previous_valid_until, clock_.UnixSeconds() + 3600);

    clock_.Advance(std::chrono::seconds(3599));
    auto old_auth = store->Authenticate(original.key);
    ASSERT_TRUE(old_auth.ok()) << old_auth.status().ToString();
    EXPECT_TRUE(old_auth->via_previous_key);
    auto new_auth = store->Authenticate(rotated->key);
    ASSERT_TRUE(new_auth.ok());
    EXPECT_FALSE(new_auth->via_previous_key);

    clock_.Advance(std::chrono::seconds(1));
    EXPECT_EQ(Why(*store, original.key), AuthFailure::kExpired);
    EXPECT_NE(store->Authenticate(original.key).status().message().find("grace period ended"), std::string::npos);
    EXPECT_EQ(Why(*store, rotated->key), AuthFailure::kNone);

    // Rotating without grace: the replaced key stops at once; the one before is forgotten.
    auto again = store->Rotate(original.record.id, 0);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->record.previous_hash);
    EXPECT_EQ(Why(*store, rotated->key), AuthFailure::kWrongSecret);
    EXPECT_EQ(Why(*store, original.key), AuthFailure::kWrongSecret);
    EXPECT_EQ(Why(*store, again->key), AuthFailure::kNone);
    EXPECT_EQ(store->Rotate(original.record.id, -1).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->Rotate("ffffffffffffffff", 10).status().code(), ErrorCode::kNotFound);

    // Revoking a key in its grace period stops the previous key too.
    auto third = store->Rotate(original.record.id, 600);
    ASSERT_TRUE(third.ok());
    ASSERT_TRUE(store->Revoke(original.record.id).ok());
    EXPECT_EQ(Why(*store, again->key), AuthFailure::kRevoked);
    EXPECT_EQ(Why(*store, third->key), AuthFailure::kRevoked);
}


TEST_P(KeyStoreConformance, CreateValidatesTheRequest) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->Create(Request("")).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->Create(Request("a\nb")).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->Create(Request(std::string(129, 'n'))).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->Create(Request("a", {})).status().code(), ErrorCode::kInvalidArgument);
    CreateKeyRequest empty_collection = Request("a");
    empty_collection.collections = {""};
    EXPECT_EQ(store->Create(empty_collection).status().code(), ErrorCode::kInvalidArgument);
    CreateKeyRequest bad_ttl = Request("a");
    bad_ttl.ttl_seconds = 0;
    EXPECT_EQ(store->Create(bad_ttl).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->List()->size(), 0u);
}

TEST_P(KeyStoreConformance, PerKeyRateLimitIsStoredSetAndCleared) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    CreateKeyRequest request = Request("limited");
    request.rate_limit = KeyRateLimit{2.5, 7};
    IssuedKey limited = MustCreate(*store, request);
    EXPECT_EQ(limited.record.rate_limit, (KeyRateLimit{2.5, 7}));
    clock_.Advance(std::chrono::seconds(1));  // List orders by creation time
    IssuedKey plain = MustCreate(*store, Request("plain"));
    EXPECT_FALSE(plain.record.rate_limit);

    auto auth = store->Authenticate(limited.key);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    EXPECT_EQ(auth->record.rate_limit, (KeyRateLimit{2.5, 7}));

    auto set = store->SetRateLimit(plain.record.id, KeyRateLimit{100, 1});
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    EXPECT_EQ(set->rate_limit, (KeyRateLimit{100, 1}));
    ASSERT_TRUE(store->SetRateLimit(limited.record.id, std::nullopt).ok());
    auto list = store->List();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 2u);
    EXPECT_FALSE((*list)[0].rate_limit);
    EXPECT_EQ((*list)[1].rate_limit, (KeyRateLimit{100, 1}));
    // Still the same keys: a limit change does not touch the secret.
    EXPECT_TRUE(store->Authenticate(plain.key).ok());

    // Refusals change nothing.
    EXPECT_EQ(store->SetRateLimit(plain.record.id, KeyRateLimit{0, 1}).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->SetRateLimit(plain.record.id, KeyRateLimit{1, 0}).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->SetRateLimit("0123456789abcdef", std::nullopt).status().code(), ErrorCode::kNotFound);
    ASSERT_TRUE(store->Revoke(plain.record.id).ok());
    EXPECT_EQ(store->SetRateLimit(plain.record.id, std::nullopt).status().code(), ErrorCode::kFailedPrecondition);
    CreateKeyRequest bad = Request("bad");
    bad.rate_limit = KeyRateLimit{-1, 1};
    EXPECT_EQ(store->Create(bad).status().code(), ErrorCode::kInvalidArgument);
    list = store->List();
    ASSERT_TRUE(list.ok());
    EXPECT_EQ((*list)[1].rate_limit, (KeyRateLimit{100, 1}));
    EXPECT_EQ(list->size(), 2u);
}

#ifndef SIGNAL_HUB_KEYSTORES_CONFORMANCE
TEST(KeyRateLimitText, ParsesRpsAndBurst) {
    auto both = ParseKeyRateLimit("5:20");
    ASSERT_TRUE(both.ok()) << both.status().ToString();
    EXPECT_EQ(*both, (KeyRateLimit{5, 20}));
    auto rps_only = ParseKeyRateLimit("0.5");
    ASSERT_TRUE(rps_only.ok());
    EXPECT_EQ(*rps_only, (KeyRateLimit{0.5, 1})) << "the burst defaults to max(1, rps)";
    EXPECT_EQ(ParseKeyRateLimit("12")->burst, 12);
    EXPECT_EQ(FormatKeyRateLimit(KeyRateLimit{2.5, 4}), "2.5 req/s, burst 4");
    for (const char* bad : {"", "x", "5:", ":5", "5:2.5", "0", "-1", "5:0", "inf", "nan", "5:20:1", "1e7"}) {
        auto parsed = ParseKeyRateLimit(bad);
        EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
    EXPECT_NE(ParseKeyRateLimit("x").status().message().find("RPS:BURST"), std::string::npos);
}
#endif

#ifdef SIGNAL_HUB_KEYSTORES_CONFORMANCE
// database: the `postgres` CTest fixture's server (label postgres); vault: the KV v2 fixture (label vault).
#define SH_KEY_STORE_BACKENDS "database", "vault"
#else
#define SH_KEY_STORE_BACKENDS "memory", "file"
#endif
INSTANTIATE_TEST_SUITE_P(Backends, KeyStoreConformance, ::testing::Values(SH_KEY_STORE_BACKENDS),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

}  // namespace
}  // namespace signalhub::security

#include "core/test_temp_dir.hpp"
#include "security/vault_key_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "security/key_store_factory.hpp"
#include "security/keystores_test_util.hpp"

using signalhub::testing_util::TempDir;

// VaultKeyStore against tests/fixtures/vault_fixture.py, a stand-in for Vault's KV v2, Kubernetes
// auth and token renewal APIs (HashiCorp Vault itself cannot run here). Label `vault`.
namespace signalhub::security {
namespace {

namespace fs = std::filesystem;
using keystoretest::kFixtureToken;
using keystoretest::TestHasher;
using keystoretest::VaultFixture;
using nlohmann::json;

CreateKeyRequest Request(std::string name) {
    CreateKeyRequest r;
    r.name = std::move(name);
    r.scopes = {Scope::kSearch};
    return r;
}

VaultKeyStoreOptions TokenOptions(const VaultFixture& fixture) {
    VaultKeyStoreOptions o;
    o.url = fixture.Url();
    o.token = kFixtureToken;
    return o;
}

std::unique_ptr<VaultKeyStore> MustOpen(VaultKeyStoreOptions options, const Clock& clock) {
    auto store = VaultKeyStore::Open(std::move(options), TestHasher(), clock);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
}

AuthFailure Why(KeyStore& store, const std::string& key) {
    AuthFailure failure = AuthFailure::kNone;
    auto r = store.Authenticate(key, &failure);
    if (!r.ok()) {
        EXPECT_EQ(r.status().code(), ErrorCode::kUnauthenticated) << r.status().ToString();
    }
    return failure;
}


void WriteFile(const fs::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
}

TEST(VaultKeyStoreTest, StoresTheKeyDocumentInOneSecretWithCheckAndSet) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    auto store = MustOpen(TokenOptions(fixture), clock);
    ASSERT_TRUE(store);
    auto issued = store->Create(Request("ci"));
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();

    auto raw = fixture.Request("GET", "/v1/secret/data/signal-hub/api-keys", "", {{"X-Vault-Token", kFixtureToken}});
    ASSERT_EQ(raw.status, 200);
    json doc = json::parse(raw.body);
    EXPECT_EQ(doc["data"]["metadata"]["version"], 1);
    const json& data = doc["data"]["data"];
    EXPECT_EQ(data["format"], "signal-hub-api-keys");
    EXPECT_EQ(data["pepper_fingerprint"], TestHasher().fingerprint());
    ASSERT_EQ(data["keys"].size(), 1u);
    EXPECT_EQ(data["keys"][0]["id"], issued->record.id);
    EXPECT_EQ(data["keys"][0]["hash"], issued->record.hash);
    EXPECT_EQ(raw.body.find(issued->key.substr(21)), std::string::npos);  // never the secret
    EXPECT_EQ(fixture.Stats()["writes"], 1);
}

TEST(VaultKeyStoreTest, CasConflictBetweenTwoStoresIsRetriedWithoutLosingAKey) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    auto a = MustOpen(TokenOptions(fixture), clock);
    auto b = MustOpen(TokenOptions(fixture), clock);  // both read version 0 (no secret yet)
    ASSERT_TRUE(a && b);
    auto k1 = a->Create(Request("one"));    // writes version 1 with cas=0
    ASSERT_TRUE(k1.ok()) << k1.status().ToString();
    auto k2 = b->Create(Request("two"));    // cas=0 refused; re-read version 1; writes version 2
    ASSERT_TRUE(k2.ok()) << k2.status().ToString();
    auto k3 = a->Create(Request("three"));  // cas=1 refused; re-read version 2; writes version 3
    ASSERT_TRUE(k3.ok()) << k3.status().ToString();
    EXPECT_EQ(a->stats().cas_conflicts, 1);
    EXPECT_EQ(b->stats().cas_conflicts, 1);
    EXPECT_EQ(fixture.Stats()["cas_failures"], 2);
    EXPECT_EQ(fixture.Stats()["writes"], 3);

    for (KeyStore* store : {static_cast<KeyStore*>(a.get()), static_cast<KeyStore*>(b.get())}) {
        auto listed = store->List();
        ASSERT_TRUE(listed.ok());
        ASSERT_EQ(listed->size(), 3u);
        for (const IssuedKey* k : {&*k1, &*k2, &*k3}) EXPECT_EQ(Why(*store, k->key), AuthFailure::kNone);
    }
    // A rule decided on a stale cache is decided again on fresh data: B's cache says "one" is
    // free of conflicts, but A revoked it... and the name check sees A's latest write.
    ASSERT_TRUE(a->Revoke(k1->record.id).ok());
    EXPECT_EQ(b->Revoke(k1->record.id).status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(b->Create(Request("two")).status().code(), ErrorCode::kAlreadyExists);
}

TEST(VaultKeyStoreTest, ConcurrentWritersNeverLoseAnUpdate) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    auto a = MustOpen(TokenOptions(fixture), clock);
    auto b = MustOpen(TokenOptions(fixture), clock);
    ASSERT_TRUE(a && b);
    constexpr int kThreads = 4, kPerThread = 5;
    std::vector<std::thread> threads;
    std::vector<int> failures(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            KeyStore& store = t % 2 == 0 ? static_cast<KeyStore&>(*a) : static_cast<KeyStore&>(*b);
            for (int i = 0; i < kPerThread; ++i) {
                auto r = store.Create(Request("k-" + std::to_string(t) + "-" + std::to_string(i)));
                if (!r.ok()) {
                    ADD_FAILURE() << r.status().ToString();
                    ++failures[t];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    auto listed = a->List();
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), static_cast<size_t>(kThreads * kPerThread));
    EXPECT_EQ(fixture.Stats()["writes"], kThreads * kPerThread);
}

TEST(VaultKeyStoreTest, WrongTokenIsAClearErrorWithoutTheToken) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    VaultKeyStoreOptions options = TokenOptions(fixture);
    options.token = "hvs.wrong-token-do-not-print-me";
    auto store = VaultKeyStore::Open(options, TestHasher(), clock);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kPermissionDenied);
    const std::string& m = store.status().message();
    EXPECT_NE(m.find("HTTP 403 (permission denied)"), std::string::npos) << m;
    EXPECT_NE(m.find("secret/data/signal-hub/api-keys"), std::string::npos) << m;
    EXPECT_EQ(m.find("do-not-print-me"), std::string::npos) << m;

    // No token at all: named, before any request.
    options.token.clear();
    const char* saved = std::getenv("VAULT_TOKEN");
    const std::string saved_token = saved != nullptr ? saved : "";
    ::unsetenv("VAULT_TOKEN");
    auto missing = VaultKeyStore::Open(options, TestHasher(), clock);
    EXPECT_EQ(missing.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(missing.status().message().find("vault_token is empty and VAULT_TOKEN is not set"), std::string::npos);
    // VAULT_TOKEN is the fallback.
    ::setenv("VAULT_TOKEN", kFixtureToken, 1);
    EXPECT_TRUE(VaultKeyStore::Open(options, TestHasher(), clock).ok());
    if (saved_token.empty()) {
        ::unsetenv("VAULT_TOKEN");
    } else {
        ::setenv("VAULT_TOKEN", saved_token.c_str(), 1);
    }
}

TEST(VaultKeyStoreTest, VaultErrorsBecomeClearStatuses) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    VaultKeyStoreOptions wrong_mount = TokenOptions(fixture);
    wrong_mount.mount = "kv";
    auto no_mount = VaultKeyStore::Open(wrong_mount, TestHasher(), clock);
    EXPECT_EQ(no_mount.status().code(), ErrorCode::kNotFound);
    EXPECT_NE(no_mount.status().message().find("no handler for route"), std::string::npos);
    EXPECT_NE(no_mount.status().message().find("KV version 2 secrets engine mounted at 'kv'"), std::string::npos);

    VaultKeyStoreOptions options = TokenOptions(fixture);
    options.cache_ttl = 0;
    auto store = MustOpen(options, clock);
    ASSERT_TRUE(store);
    auto issued = store->Create(Request("a"));
    ASSERT_TRUE(issued.ok());
    fixture.Control("seal");
    auto sealed = store->Authenticate(issued->key);
    EXPECT_EQ(sealed.status().code(), ErrorCode::kUnavailable);
    EXPECT_NE(sealed.status().message().find("HTTP 503 (Vault is sealed)"), std::string::npos)
        << sealed.status().message();
    EXPECT_EQ(store->Create(Request("b")).status().code(), ErrorCode::kUnavailable);
    fixture.Control("unseal");
    EXPECT_EQ(Why(*store, issued->key), AuthFailure::kNone);

    // A secret that is not a key document is DataLoss, naming the secret.
    auto put = fixture.Request("POST", "/v1/secret/data/other", R"({"data":{"hello":"world"}})",
                               {{"X-Vault-Token", kFixtureToken}});
    ASSERT_EQ(put.status, 200);
    VaultKeyStoreOptions other = TokenOptions(fixture);
    other.path = "other";
    auto bad = VaultKeyStore::Open(other, TestHasher(), clock);
    EXPECT_EQ(bad.status().code(), ErrorCode::kDataLoss);
    EXPECT_NE(bad.status().message().find("secret/data/other"), std::string::npos) << bad.status().message();
    // Written with another pepper: FailedPrecondition, like the file store.
    auto other_pepper = VaultKeyStore::Open(TokenOptions(fixture), TestHasher('q'), clock);
    EXPECT_EQ(other_pepper.status().code(), ErrorCode::kFailedPrecondition);
}

TEST(VaultKeyStoreTest, CacheServesForTheTtlAndUnknownIdsRefreshAtMostOncePerSecond) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    VaultKeyStoreOptions options = TokenOptions(fixture);
    options.cache_ttl = 30;
    auto reader = MustOpen(options, clock);  // read 1
    auto writer = MustOpen(options, clock);
    ASSERT_TRUE(reader && writer);
    EXPECT_EQ(reader->stats().reads, 1);

    auto issued = writer->Create(Request("svc"));
    ASSERT_TRUE(issued.ok());
    EXPECT_EQ(Why(*reader, issued->key), AuthFailure::kNone);  // unknown id in the cache: read 2
    EXPECT_EQ(reader->stats().reads, 2);
    EXPECT_EQ(Why(*reader, issued->key), AuthFailure::kNone);  // from the cache
    EXPECT_EQ(reader->stats().reads, 2);

    ASSERT_TRUE(writer->Revoke(issued->record.id).ok());
    clock.Advance(std::chrono::seconds(29));
    EXPECT_EQ(Why(*reader, issued->key), AuthFailure::kNone);  // still cached: revocation not seen yet
    EXPECT_EQ(reader->stats().reads, 2);
    clock.Advance(std::chrono::seconds(1));
    EXPECT_EQ(Why(*reader, issued->key), AuthFailure::kRevoked);  // TTL over: read 3
    EXPECT_EQ(reader->stats().reads, 3);

    // Unknown ids (a scanner trying keys) cause at most one read per second.
    auto secret = GenerateSecret();
    ASSERT_TRUE(secret.ok());
    for (int i = 0; i < 5; ++i) {
        auto id = GenerateKeyId();
        ASSERT_TRUE(id.ok());
        EXPECT_EQ(Why(*reader, FormatApiKey(*id, *secret)), AuthFailure::kUnknownKey);
    }
    EXPECT_EQ(reader->stats().reads, 4);
    clock.Advance(std::chrono::milliseconds(999));
    auto id = GenerateKeyId();
    EXPECT_EQ(Why(*reader, FormatApiKey(*id, *secret)), AuthFailure::kUnknownKey);
    EXPECT_EQ(reader->stats().reads, 4);
    clock.Advance(std::chrono::milliseconds(1));
    EXPECT_EQ(Why(*reader, FormatApiKey(*id, *secret)), AuthFailure::kUnknownKey);
    EXPECT_EQ(reader->stats().reads, 5);
    // Malformed keys never reach Vault.
    EXPECT_EQ(Why(*reader, "shk_nonsense"), AuthFailure::kMalformed);
    EXPECT_EQ(reader->stats().reads, 5);

    // A key rotated elsewhere: the new secret does not match the cached hash, so the reader reads
    // the secret again (rate-limited like unknown ids) and accepts it at once.
    auto second = writer->Create(Request("svc2"));
    ASSERT_TRUE(second.ok());
    clock.Advance(std::chrono::seconds(1));
    EXPECT_EQ(Why(*reader, second->key), AuthFailure::kNone);  // unknown id: read 6
    auto rotated = writer->Rotate(second->record.id, 0);
    ASSERT_TRUE(rotated.ok());
    EXPECT_EQ(Why(*reader, rotated->key), AuthFailure::kWrongSecret);  // < 1 s since the last such read
    EXPECT_EQ(reader->stats().reads, 6);
    clock.Advance(std::chrono::seconds(1));
    EXPECT_EQ(Why(*reader, rotated->key), AuthFailure::kNone);  // wrong secret in the cache: read 7
    EXPECT_EQ(reader->stats().reads, 7);
    EXPECT_EQ(Why(*reader, second->key), AuthFailure::kWrongSecret);  // the replaced key, no read
    EXPECT_EQ(reader->stats().reads, 7);
    // The writer sees its own changes at once, without reading.
    EXPECT_EQ(writer->stats().reads, 1);
}

TEST(VaultKeyStoreTest, LastUsedIsWrittenOncePerInterval) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    auto store = MustOpen(TokenOptions(fixture), clock);
    ASSERT_TRUE(store);
    auto issued = store->Create(Request("busy"));
    ASSERT_TRUE(issued.ok());
    const std::int64_t t0 = clock.UnixSeconds();
    for (int i = 0; i < 10; ++i) {
        clock.Advance(std::chrono::seconds(5));
        ASSERT_TRUE(store->Authenticate(issued->key).ok());
    }
    EXPECT_EQ(fixture.Stats()["writes"], 1);  // the create only: 50 s of use, no write yet
    auto listed = store->List();
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ((*listed)[0].last_used, t0 + 50);  // in memory, shown by List
    clock.Advance(std::chrono::seconds(10));
    ASSERT_TRUE(store->Authenticate(issued->key).ok());  // 60 s since the last write: one write
    EXPECT_EQ(fixture.Stats()["writes"], 2);
    auto raw = fixture.Request("GET", "/v1/secret/data/signal-hub/api-keys", "", {{"X-Vault-Token", kFixtureToken}});
    EXPECT_EQ(json::parse(raw.body)["data"]["data"]["keys"][0]["last_used"], t0 + 60);
    ASSERT_TRUE(store->FlushUsage().ok());  // nothing pending: no write
    EXPECT_EQ(fixture.Stats()["writes"], 2);
}

TEST(VaultKeyStoreTest, KubernetesAuthLogsInRenewsAndLogsInAgain) {
    TempDir dir;
    const fs::path jwt = fs::path(dir / "token");
    WriteFile(jwt, "eyJhbGciOiJSUzI1NiJ9.service-account-jwt.signature\n");
    VaultFixture fixture({"--k8s-role", "signal-hub", "--k8s-jwt-file", jwt.string(), "--lease-duration", "300"});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    VaultKeyStoreOptions options;
    options.url = fixture.Url();
    options.auth = "kubernetes";
    options.role = "signal-hub";
    options.jwt_file = jwt.string();
    auto store = MustOpen(options, clock);
    ASSERT_TRUE(store);
    EXPECT_EQ(fixture.Stats()["logins"], 1);
    ASSERT_TRUE(store->Create(Request("a")).ok());

    clock.Advance(std::chrono::seconds(201));  // past two thirds of the 300 s lease: renew-self
    ASSERT_TRUE(store->List().ok());
    EXPECT_EQ(fixture.Stats()["renewals"], 1);
    EXPECT_EQ(fixture.Stats()["logins"], 1);

    clock.Advance(std::chrono::seconds(301));  // the renewed lease ended: log in again
    ASSERT_TRUE(store->List().ok());
    EXPECT_EQ(fixture.Stats()["logins"], 2);

    fixture.Control("revoke-tokens");  // Vault forgot the token (403): log in again, once, and retry
    auto listed = store->List();
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    EXPECT_EQ(listed->size(), 1u);
    EXPECT_EQ(fixture.Stats()["logins"], 3);
    EXPECT_EQ(store->stats().logins, 3);
    EXPECT_EQ(store->stats().renewals, 1);

    VaultKeyStoreOptions wrong_role = options;
    wrong_role.role = "other";
    auto refused = VaultKeyStore::Open(wrong_role, TestHasher(), clock);
    EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("invalid role name \"other\""), std::string::npos)
        << refused.status().message();

    WriteFile(fs::path(dir / "wrong"), "eyJhbGciOiJSUzI1NiJ9.another-account.signature");
    VaultKeyStoreOptions wrong_jwt = options;
    wrong_jwt.jwt_file = (dir / "wrong");
    auto denied = VaultKeyStore::Open(wrong_jwt, TestHasher(), clock);
    EXPECT_EQ(denied.status().code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(denied.status().message().find("another-account"), std::string::npos) << denied.status().message();

    VaultKeyStoreOptions no_file = options;
    no_file.jwt_file = (dir / "absent");
    auto absent = VaultKeyStore::Open(no_file, TestHasher(), clock);
    EXPECT_EQ(absent.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(absent.status().message().find("vault_jwt_file"), std::string::npos);
}

TEST(VaultKeyStoreTest, NamespaceHeaderIsSentWhenConfigured) {
    VaultFixture fixture({"--token", kFixtureToken, "--namespace", "team-a"});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    auto outside = VaultKeyStore::Open(TokenOptions(fixture), TestHasher(), clock);
    EXPECT_EQ(outside.status().code(), ErrorCode::kPermissionDenied);
    VaultKeyStoreOptions options = TokenOptions(fixture);
    options.vault_namespace = "team-a";
    auto inside = MustOpen(options, clock);
    ASSERT_TRUE(inside);
    EXPECT_TRUE(inside->Create(Request("a")).ok());
    EXPECT_EQ(fixture.Stats()["namespaces"].back(), "team-a");
}

TEST(VaultKeyStoreTest, OptionsAreChecked) {
    FakeClock clock;
    VaultKeyStoreOptions o;
    o.token = "t";
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("vault_url is required"),
              std::string::npos);
    o.url = "ftp://vault";
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("vault_url"), std::string::npos);
    o.url = "http://127.0.0.1:1";
    o.mount = "a b";
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("vault_mount"), std::string::npos);
    o.mount = "secret";
    o.path = "../x";
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("vault_path"), std::string::npos);
    o.path = "p";
    o.cache_ttl = -1;
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("cache_ttl"), std::string::npos);
    o.cache_ttl = 30;
    o.auth = "approle";
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("vault_auth"), std::string::npos);
    o.auth = "kubernetes";
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("vault_role"), std::string::npos);
    o.auth = "token";
    o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    EXPECT_NE(VaultKeyStore::Open(o, TestHasher(), clock).status().message().find("vault_ca_file"), std::string::npos);
    o.url = "https://127.0.0.1:1";
    o.ca_file = "/nonexistent/ca.pem";
    auto no_ca = VaultKeyStore::Open(o, TestHasher(), clock);
    EXPECT_EQ(no_ca.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(no_ca.status().message().find("/nonexistent/ca.pem"), std::string::npos);
    o.url = "http://127.0.0.1:1";
    o.ca_file.clear();
    EXPECT_EQ(VaultKeyStore::Open(o, TestHasher(), clock).status().code(), ErrorCode::kUnavailable);
}

// https with a private CA: vault_ca_file is what makes the certificate trusted.
TEST(VaultKeyStoreTest, HttpsWithAPrivateCaFile) {
    TempDir dir;
    const std::string cert = (dir / "vault.crt"), key = (dir / "vault.key");
    const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                                "-addext subjectAltName=IP:127.0.0.1 -keyout '" + key + "' -out '" + cert +
                                "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << "openssl could not make a test certificate";
    VaultFixture fixture({"--token", kFixtureToken, "--tls-cert", cert, "--tls-key", key});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    VaultKeyStoreOptions options = TokenOptions(fixture);
    options.url = fixture.HttpsUrl();
    auto untrusted = VaultKeyStore::Open(options, TestHasher(), clock);  // the system store does not know it
    ASSERT_FALSE(untrusted.ok());
    EXPECT_EQ(untrusted.status().code(), ErrorCode::kUnavailable) << untrusted.status().ToString();
    options.ca_file = cert;
    auto store = MustOpen(options, clock);
    ASSERT_TRUE(store);
    auto issued = store->Create(Request("tls"));
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    EXPECT_EQ(Why(*store, issued->key), AuthFailure::kNone);
}

TEST(VaultKeyStoreTest, FactoryOpensTheVaultStore) {
    VaultFixture fixture({"--token", kFixtureToken});
    ASSERT_TRUE(fixture.ok());
    FakeClock clock;
    KeyStoreOptions options;
    options.storage = "vault";
    options.vault_url = fixture.Url();
    options.vault_token = kFixtureToken;
    options.vault_path = "team/keys";
    options.cache_ttl = 5;
    auto store = OpenKeyStore(options, TestHasher(), clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto issued = (*store)->Create(Request("via-factory"));
    ASSERT_TRUE(issued.ok());
    EXPECT_EQ(Why(**store, issued->key), AuthFailure::kNone);
    EXPECT_EQ(fixture.Request("GET", "/v1/secret/data/team/keys", "", {{"X-Vault-Token", kFixtureToken}}).status, 200);
}

}  // namespace
}  // namespace signalhub::security

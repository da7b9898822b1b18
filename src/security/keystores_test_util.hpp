#pragma once
// Test helpers for keystores_test (header-only, tests only):
//  - PostgreSQL: the server of the CTest fixture `postgres` (SIGNAL_HUB_TEST_PG_URL, or the file
//    named by SIGNAL_HUB_TEST_PG_URL_FILE); a test FAILS, never skips, without one. Each store
//    lives in a schema of its own, dropped afterwards (db/postgres/pg_test_server.hpp).
//  - Vault: VaultFixture starts tests/fixtures/vault_fixture.py (python3 stdlib, 127.0.0.1, a free
//    port) for one test and stops it when destroyed.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "db/postgres/pg_test_server.hpp"
#include "net/http_client.hpp"
#include "security/database_key_store.hpp"
#include "security/key_store.hpp"
#include "security/vault_key_store.hpp"
#include "signal_hub_test_paths.hpp"

namespace signalhub::security::keystoretest {

inline KeyHasher TestHasher(char fill = 'p') {
    auto hasher = KeyHasher::Create(std::string(40, fill));
    EXPECT_TRUE(hasher.ok());
    return *hasher;
}

// ---- PostgreSQL -------------------------------------------------------------------------------

using db::pgtest::ExecSql;
using db::pgtest::ServerUrl;
using db::pgtest::WithParam;

// The first value of the first row as text ("" on error or no rows).
inline std::string QueryText(const std::string& url, const std::string& sql) {
    return db::pgtest::QueryValue(url, sql).value_or("");
}

// A schema of the test server, dropped when destroyed.
class PgSchema {
   public:
    PgSchema() : server_(ServerUrl()), name_(db::pgtest::UniqueSchema("sh_keys_")) {}
    ~PgSchema() {
        if (server_.empty()) return;
        EXPECT_EQ(ExecSql(server_, "DROP SCHEMA IF EXISTS \"" + name_ + "\" CASCADE"), "") << "dropping " << name_;
    }
    PgSchema(const PgSchema&) = delete;
    PgSchema& operator=(const PgSchema&) = delete;
    bool ok() const { return !server_.empty(); }
    const std::string& server() const { return server_; }
    const std::string& name() const { return name_; }
    std::string StoreUrl() const { return WithParam(server_, "schema=" + name_); }

   private:
    std::string server_;
    std::string name_;
};

// ---- Vault fixture ----------------------------------------------------------------------------

class VaultFixture {
   public:
    // `args`: vault_fixture.py options (e.g. {"--token", "t"}). On failure ok() is false and a test
    // failure is recorded.
    explicit VaultFixture(std::vector<std::string> args) {
        int out[2];
        if (::pipe(out) != 0) {
            ADD_FAILURE() << "pipe failed";
            return;
        }
        std::vector<std::string> argv = {"python3", std::string(SIGNAL_HUB_SOURCE_DIR) + "/tests/fixtures/vault_fixture.py"};
        argv.insert(argv.end(), args.begin(), args.end());
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            ::dup2(out[1], 1);
            ::close(out[0]);
            ::close(out[1]);
            std::vector<char*> cargv;
            for (std::string& a : argv) cargv.push_back(a.data());
            cargv.push_back(nullptr);
            ::execvp("python3", cargv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        std::string line;
        char c = 0;
        while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
        ::close(out[0]);
        if (!line.starts_with("PORT ")) {
            ADD_FAILURE() << "the Vault fixture did not start (python3 tests/fixtures/vault_fixture.py): '" << line << "'";
            return;
        }
        port_ = std::stoi(line.substr(5));
    }
    ~VaultFixture() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    VaultFixture(const VaultFixture&) = delete;
    VaultFixture& operator=(const VaultFixture&) = delete;

    bool ok() const { return port_ > 0; }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::string HttpsUrl() const { return "https://127.0.0.1:" + std::to_string(port_); }

    // Raw request to the fixture (test controls under /fixture/, or Vault paths).
    net::HttpResponse Request(const std::string& method, const std::string& target, const std::string& body = "",
                              std::vector<net::HttpHeader> headers = {}) {
        auto url = net::ParseHttpUrl(Url());
        net::HttpClient client(*url, std::chrono::seconds(10));
        auto r = client.Request(method, target, headers, body);
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        return r.ok() ? *r : net::HttpResponse{};
    }
    nlohmann::json Stats() { return nlohmann::json::parse(Request("GET", "/fixture/stats").body); }
    void Control(const std::string& what) { EXPECT_EQ(Request("POST", "/fixture/" + what).status, 200) << what; }

   private:
    pid_t pid_ = -1;
    int port_ = 0;
};

// ---- stores that own their backing service for the conformance suite --------------------------

// Forwards to a store and keeps what it needs alive (a schema, a fixture) until after it.
class OwningKeyStore final : public KeyStore {
   public:
    OwningKeyStore(std::shared_ptr<void> keep_alive, std::unique_ptr<KeyStore> store)
        : keep_alive_(std::move(keep_alive)), store_(std::move(store)) {}
    ~OwningKeyStore() override { store_.reset(); }  // the store first, then its service
    Result<IssuedKey> Create(const CreateKeyRequest& r) override { return store_->Create(r); }
    Result<std::vector<ApiKeyRecord>> List() override { return store_->List(); }
    Result<ApiKeyRecord> Revoke(std::string_view id) override { return store_->Revoke(id); }
    Result<IssuedKey> Rotate(std::string_view id, std::int64_t g) override { return store_->Rotate(id, g); }
    Result<ApiKeyRecord> SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& l) override {
        return store_->SetRateLimit(id, l);
    }
    Result<AuthenticatedKey> Authenticate(std::string_view k, AuthFailure* f = nullptr) override {
        return store_->Authenticate(k, f);
    }
    std::optional<PoolStats> pool_stats() const override { return store_->pool_stats(); }

   private:
    std::shared_ptr<void> keep_alive_;
    std::unique_ptr<KeyStore> store_;
};

inline constexpr const char* kFixtureToken = "s.fixture-root-token-0123456789";

// "database": a fresh schema of the `postgres` fixture's server; "vault": a fresh fixture.
inline std::unique_ptr<KeyStore> OpenConformanceBackend(const std::string& name, KeyHasher hasher,
                                                        const Clock& clock) {
    if (name == "database") {
        auto schema = std::make_shared<PgSchema>();
        if (!schema->ok()) return nullptr;
        auto store = DatabaseKeyStore::Open(schema->StoreUrl(), std::move(hasher), clock);
        EXPECT_TRUE(store.ok()) << store.status().ToString();
        if (!store.ok()) return nullptr;
        return std::make_unique<OwningKeyStore>(schema, std::move(store).value());
    }
    if (name == "vault") {
        auto fixture = std::make_shared<VaultFixture>(std::vector<std::string>{"--token", kFixtureToken});
        if (!fixture->ok()) return nullptr;
        VaultKeyStoreOptions options;
        options.url = fixture->Url();
        options.token = kFixtureToken;
        auto store = VaultKeyStore::Open(options, std::move(hasher), clock);
        EXPECT_TRUE(store.ok()) << store.status().ToString();
        if (!store.ok()) return nullptr;
        return std::make_unique<OwningKeyStore>(fixture, std::move(store).value());
    }
    ADD_FAILURE() << "unknown key store backend " << name;
    return nullptr;
}

}  // namespace signalhub::security::keystoretest

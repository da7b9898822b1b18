#include "core/test_temp_dir.hpp"
#include "ops/doctor.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/embedded/embedded_store.hpp"
#include "tests/support/test_pki.hpp"

using signalhub::testing_util::TempDir;

namespace signalhub::ops {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;


std::string ReadAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const Finding* Find(const std::vector<Finding>& findings, const std::string& name) {
    for (const Finding& f : findings) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

// A loopback port nothing listens on (bound, then closed).
int ClosedPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

TEST(DoctorConfig, FailureCarriesTheErrorVerbatimAndAFix) {
    const Result<config::Config> bad = InvalidArgument("config.yaml: database.type: 'mysql' is not one of embedded, postgresql, chromadb");
    const Finding f = CheckConfiguration(bad);
    EXPECT_EQ(f.status, FindingStatus::kFail);
    EXPECT_EQ(f.detail, "config.yaml: database.type: 'mysql' is not one of embedded, postgresql, chromadb");
    EXPECT_FALSE(f.fix.empty());
    EXPECT_EQ(f.doc, "docs/production/operations/troubleshooting.md#config-does-not-load");
    config::Config good;
    good.source = "defaults";
    EXPECT_EQ(CheckConfiguration(good).status, FindingStatus::kOk);
}

TEST(DoctorDisk, Thresholds) {
    const DoctorOptions o;
    const std::int64_t gib = 1LL << 30;
    EXPECT_EQ(DiskVerdict(50 * gib, 100 * gib, o), FindingStatus::kOk);
    EXPECT_EQ(DiskVerdict(10 * gib, 100 * gib, o), FindingStatus::kWarn);     // 10 % < 15 %
    EXPECT_EQ(DiskVerdict(4 * gib, 100 * gib, o), FindingStatus::kFail);      // 4 % < 5 %
    EXPECT_EQ(DiskVerdict(900LL << 20, 2 * gib, o), FindingStatus::kWarn);    // 44 % but < 1 GiB
    EXPECT_EQ(DiskVerdict(99LL << 20, 200LL << 20, o), FindingStatus::kFail); // 49 % but < 100 MiB
    EXPECT_EQ(DiskVerdict(0, 0, o), FindingStatus::kFail);
}

TEST(DoctorDisk, ReadsTheFilesystemOfTheNearestExistingParent) {
    TempDir dir;
    DoctorOptions o;
    o.disk_fail_bytes = 0;
    o.disk_warn_bytes = 0;
    o.disk_fail_fraction = 0;
    o.disk_warn_fraction = 0;
    const Finding f = CheckDiskHeadroom("store", fs::path(dir / "not") / "yet", o);
    EXPECT_EQ(f.name, "disk:store");
    EXPECT_EQ(f.status, FindingStatus::kOk) << f.detail;
    EXPECT_THAT(f.detail, HasSubstr("on the filesystem of " + dir.path()));
    o.disk_fail_fraction = 1.01;  // nothing has more than everything free
    EXPECT_EQ(CheckDiskHeadroom("store", dir.path(), o).status, FindingStatus::kFail);
}

TEST(DoctorPgvector, VersionComparison) {
    EXPECT_FALSE(PgvectorVersionSupported("0.7.4"));
    EXPECT_FALSE(PgvectorVersionSupported("0.5.1"));
    EXPECT_FALSE(PgvectorVersionSupported(""));
    EXPECT_TRUE(PgvectorVersionSupported("0.8.0"));
    EXPECT_TRUE(PgvectorVersionSupported("0.10.0"));
    EXPECT_TRUE(PgvectorVersionSupported("1.0.0"));
}

class DoctorTls : public ::testing::Test {
   protected:
    void SetUp() override {
        testing::TestPki pki;
        const testing::IssuedCert server = pki.IssueServer("localhost", 2);
        const testing::IssuedCert other = pki.IssueServer("other", 3);
        tls_.enabled = true;
        tls_.cert_file = (dir_ / "cert.pem");
        tls_.key_file = (dir_ / "key.pem");
        other_key_ = (dir_ / "other-key.pem");
        ca_ = (dir_ / "ca.pem");
        testing::WriteTextFile(tls_.cert_file, server.cert_pem);
        testing::WriteTextFile(tls_.key_file, server.key_pem);
        testing::WriteTextFile(other_key_, other.key_pem);
        testing::WriteTextFile(ca_, pki.ca_pem());
        clock_.SetUnixSeconds(::time(nullptr));  // the certificate is valid from an hour ago for a day
    }
    TempDir dir_;
    config::TlsConfig tls_;
    std::string other_key_, ca_;
    FakeClock clock_;
};

TEST_F(DoctorTls, NothingWhenTlsIsOff) {
    tls_.enabled = false;
    EXPECT_TRUE(CheckTlsCertificates(tls_, {}, clock_).empty());
}

TEST_F(DoctorTls, KeyMatchesAndChainVerifiesAgainstTheConfiguredCa) {
    tls_.client_ca_file = ca_;
    const auto findings = CheckTlsCertificates(tls_, {}, clock_);
    ASSERT_NE(Find(findings, "tls_key"), nullptr);
    EXPECT_EQ(Find(findings, "tls_key")->status, FindingStatus::kOk);
    ASSERT_NE(Find(findings, "tls_chain"), nullptr);
    EXPECT_EQ(Find(findings, "tls_chain")->status, FindingStatus::kOk) << Find(findings, "tls_chain")->detail;
}

TEST_F(DoctorTls, ChainWithoutItsCaDoesNotVerify) {
    const auto findings = CheckTlsCertificates(tls_, {}, clock_);
    ASSERT_NE(Find(findings, "tls_chain"), nullptr);
    EXPECT_EQ(Find(findings, "tls_chain")->status, FindingStatus::kWarn);
    EXPECT_THAT(Find(findings, "tls_chain")->detail, HasSubstr("unable to get local issuer certificate"));
}

TEST_F(DoctorTls, WrongKeyFails) {
    tls_.key_file = other_key_;
    const auto findings = CheckTlsCertificates(tls_, {}, clock_);
    ASSERT_NE(Find(findings, "tls_key"), nullptr);
    EXPECT_EQ(Find(findings, "tls_key")->status, FindingStatus::kFail);
    EXPECT_THAT(Find(findings, "tls_key")->detail, HasSubstr("is not the private key of"));
    EXPECT_THAT(Find(findings, "tls_key")->doc, HasSubstr("#certificate-key-mismatch"));
}

TEST_F(DoctorTls, ExpiryWarnsWithinTheWindowAndFailsWhenExpired) {
    auto findings = CheckTlsCertificates(tls_, {}, clock_);
    ASSERT_NE(Find(findings, "tls_expiry"), nullptr);
    EXPECT_EQ(Find(findings, "tls_expiry")->status, FindingStatus::kWarn);  // a day < 14 days
    EXPECT_THAT(Find(findings, "tls_expiry")->detail, ::testing::ContainsRegex("expires in [01] days?$"));
    DoctorOptions shorter;
    shorter.certificate_warn_days = 0;
    const auto relaxed = CheckTlsCertificates(tls_, shorter, clock_);
    EXPECT_EQ(Find(relaxed, "tls_expiry")->status, FindingStatus::kOk);
    clock_.SetUnixSeconds(clock_.UnixSeconds() + 2 * 86400);
    findings = CheckTlsCertificates(tls_, {}, clock_);
    EXPECT_EQ(Find(findings, "tls_expiry")->status, FindingStatus::kFail);
    EXPECT_THAT(Find(findings, "tls_expiry")->detail, HasSubstr("has expired"));
}

TEST_F(DoctorTls, UnreadableCertificateFails) {
    tls_.cert_file = (dir_ / "missing.pem");
    const auto findings = CheckTlsCertificates(tls_, {}, clock_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].status, FindingStatus::kFail);
}

// An embedded store with one collection "repo": two files owning three records.
class DoctorEmbedded : public ::testing::Test {
   protected:
    void SetUp() override {
        store_dir_ = dir_ / "store";
        auto s = store::EmbeddedStore::Open(store_dir_.string(), {});
        ASSERT_TRUE(s.ok()) << s.status().ToString();
        ASSERT_TRUE((*s)->EnsureCollection({"repo", "test-model", 4, DistanceMetric::kCosine}).ok());
        store::ChangeSet changes;
        for (int i = 0; i < 3; ++i) {
            changes.upserts.push_back({"r" + std::to_string(i), "text", {}, {1.0f + static_cast<float>(i), 2, 3, 4}});
        }
        changes.put_files.push_back({"a.py", "h1", 1, 1, {"r0", "r1"}});
        changes.put_files.push_back({"b.py", "h2", 1, 1, {"r2"}});
        ASSERT_TRUE((*s)->Commit("repo", changes).ok());
        graph_ = *(*s)->HnswPath("repo");
        ASSERT_TRUE((*s)->Flush().ok());
    }
    std::vector<Finding> Run() {
        config::Config cfg;
        return CheckStore(cfg, {store_dir_.string(), store_dir_, store_dir_.string()}, {}, Clock::Real());
    }
    TempDir dir_;
    fs::path store_dir_;
    std::string graph_;
};

TEST_F(DoctorEmbedded, HealthyStore) {
    const auto findings = Run();
    ASSERT_NE(Find(findings, "store"), nullptr);
    EXPECT_EQ(Find(findings, "store")->status, FindingStatus::kOk);
    EXPECT_EQ(Find(findings, "schema")->status, FindingStatus::kOk);
    ASSERT_NE(Find(findings, "index:repo"), nullptr);
    EXPECT_EQ(Find(findings, "index:repo")->status, FindingStatus::kOk) << Find(findings, "index:repo")->detail;
    EXPECT_EQ(Find(findings, "files:repo")->status, FindingStatus::kOk) << Find(findings, "files:repo")->detail;
    EXPECT_THAT(Find(findings, "files:repo")->detail, HasSubstr("2 files own the 3 records"));
}

TEST_F(DoctorEmbedded, MissingGraphIsFound) {
    fs::remove(graph_);
    const auto findings = Run();
    const Finding* f = Find(findings, "index:repo");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->status, FindingStatus::kWarn);
    EXPECT_THAT(f->detail, HasSubstr("is missing"));
    EXPECT_THAT(f->fix, HasSubstr("signal-hub index"));
    EXPECT_THAT(f->doc, HasSubstr("#stale-hnsw-graph"));
}

TEST_F(DoctorEmbedded, TruncatedGraphIsFound) {
    fs::resize_file(graph_, 16);
    const auto findings = Run();
    const Finding* f = Find(findings, "index:repo");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->status, FindingStatus::kWarn);
    EXPECT_THAT(f->detail, HasSubstr("stale or damaged"));
}

TEST_F(DoctorEmbedded, RecordsWithoutAFileAreFound) {
    {
        auto s = store::EmbeddedStore::Open(store_dir_.string(), {});
        ASSERT_TRUE(s.ok());
        store::ChangeSet changes;
        changes.upserts.push_back({"orphan", "text", {}, {4, 3, 2, 1}});
        ASSERT_TRUE((*s)->Commit("repo", changes).ok());
    }
    const auto findings = Run();
    const Finding* f = Find(findings, "files:repo");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->status, FindingStatus::kWarn);
    EXPECT_THAT(f->detail, HasSubstr("2 files own 3 records, the collection holds 4"));
}

TEST_F(DoctorEmbedded, NoStoreFails) {
    const fs::path none = fs::path(dir_ / "none");
    config::Config cfg;
    const auto findings = CheckStore(cfg, {none.string(), none, none.string()}, {}, Clock::Real());
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].status, FindingStatus::kFail);
    EXPECT_THAT(findings[0].detail, HasSubstr("no Signal Hub store at"));
}

TEST(DoctorNetwork, ClosedPortsFailWithTheirFix) {
    const int port = ClosedPort();
    config::Config cfg;
    cfg.database.type = "postgresql";
    cfg.database.url = "postgresql://hub:pw@127.0.0.1:" + std::to_string(port) + "/hub";
    auto store = CheckStore(cfg, {cfg.database.url, std::nullopt, ""}, {}, Clock::Real());
    ASSERT_FALSE(store.empty());
    EXPECT_EQ(store[0].name, "store");
    EXPECT_EQ(store[0].status, FindingStatus::kFail);
    EXPECT_THAT(store[0].detail, HasSubstr("127.0.0.1:" + std::to_string(port)));
    EXPECT_THAT(store[0].detail, Not(HasSubstr("pw@")));
    EXPECT_THAT(store[0].fix, HasSubstr("start PostgreSQL"));

    cfg.security.rate_limiting.enabled = true;
    cfg.security.rate_limiting.backend = "redis";
    cfg.security.rate_limiting.redis_url = "redis://127.0.0.1:" + std::to_string(port);
    const auto redis = CheckRedis(cfg, {});
    ASSERT_EQ(redis.size(), 1u);
    EXPECT_EQ(redis[0].name, "redis:rate_limiting");
    EXPECT_EQ(redis[0].status, FindingStatus::kFail);
    EXPECT_THAT(redis[0].doc, HasSubstr("#redis-unreachable"));

    cfg.security.api_keys.enabled = true;
    cfg.security.api_keys.storage = "vault";
    cfg.security.api_keys.vault_url = "http://127.0.0.1:" + std::to_string(port);
    const auto vault = CheckVault(cfg, {});
    ASSERT_EQ(vault.size(), 1u);
    EXPECT_EQ(vault[0].status, FindingStatus::kFail);

    cfg.embedding.provider = "openai";
    cfg.embedding.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
    cfg.embedding.api_key_env = "";
    cfg.embedding.model = "m";
    cfg.embedding.dimension = 8;
    cfg.embedding.max_retries = 0;
    const auto embeddings = CheckEmbeddings(cfg);
    ASSERT_EQ(embeddings.size(), 1u);
    EXPECT_EQ(embeddings[0].status, FindingStatus::kFail);
}

TEST(DoctorBundle, RedactsSecretNamedKeysAndUrlPasswords) {
    const std::string text = RedactConfigText(
        "database:\n  type: postgresql\n  url: postgresql://hub:s3cretDbPass@db:5432/hub\n"
        "security:\n  api_keys:\n    pepper: inline-pepper-value-1234\n");
    EXPECT_THAT(text, Not(HasSubstr("s3cretDbPass")));
    EXPECT_THAT(text, Not(HasSubstr("inline-pepper-value-1234")));
    EXPECT_THAT(text, HasSubstr("postgresql://hub:***@db:5432/hub"));
    EXPECT_THAT(text, HasSubstr("type: postgresql"));
}

TEST(DoctorBundle, NoSecretAppearsAnywhere) {
    TempDir dir;
    const std::string log = (dir / "hub.log");
    const std::string pepper_file = (dir / "pepper");
    const std::string keys_file = (dir / "api-keys.json");
    testing::WriteTextFile(pepper_file, "pepper-from-file-0123456789abcdef0123456789\n");
    testing::WriteTextFile(keys_file, "{\"keys\":[{\"id\":\"k1\",\"hash\":\"keystore-hash-content-77aa\"}]}\n");
    // A log line a careless component wrote with a secret in it: the scrubber still removes it.
    testing::WriteTextFile(log, "INFO started\nWARN redis redis://:RedisPassw0rd-xyz@127.0.0.1:1 down\n"
                                "DEBUG key sk-openai-TESTKEY-abcdef123456 pepper env-pepper-value-0123456789abcdef0123\n");
    const std::map<std::string, std::string> env = {
        {"DB_URL", "postgresql://hub:Db-Passw0rd-9f8e@127.0.0.1:1/hub?sslmode=disable"},
        {"SIGNAL_HUB_API_KEY_PEPPER", "env-pepper-value-0123456789abcdef0123"},
        {"OPENAI_API_KEY", "sk-openai-TESTKEY-abcdef123456"},
        {"VAULT_TOKEN", "hvs.vault-token-secret-5566"},
    };
    const config::EnvLookup lookup = [&env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    const std::string yaml =
        "database:\n  type: postgresql\n  url: ${DB_URL}\n"
        "embedding:\n  provider: openai\n  model: text-embedding-3-small\n"
        "security:\n  api_keys:\n    storage: file\n    file: " + keys_file + "\n    pepper_file: " + pepper_file + "\n"
        "  rate_limiting:\n    backend: redis\n    redis_url: redis://:RedisPassw0rd-xyz@127.0.0.1:1/0\n"
        "monitoring:\n  logging:\n    output: " + log + "\n";
    const std::string config_path = (dir / "config.yaml");
    testing::WriteTextFile(config_path, yaml);
    Result<config::Config> cfg = config::ParseConfig(yaml, config_path, lookup);
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    BundleInputs inputs;
    inputs.config_source = config_path;
    inputs.raw_config = yaml;
    inputs.config = &*cfg;
    inputs.findings = {Finding{"store", FindingStatus::kFail, "connection to " + cfg->database.url + " refused", "start it", ""}};
    inputs.version = "signal-hub test";
    const std::string bundle = (dir / "bundle.json");
    ASSERT_TRUE(WriteSupportBundle(bundle, inputs, lookup, {}).ok());
    const std::string bytes = ReadAll(bundle);
    for (const std::string secret : {"Db-Passw0rd-9f8e", "env-pepper-value-0123456789abcdef0123",
                                     "pepper-from-file-0123456789abcdef0123456789", "sk-openai-TESTKEY-abcdef123456",
                                     "hvs.vault-token-secret-5566", "RedisPassw0rd-xyz", "keystore-hash-content-77aa"}) {
        EXPECT_THAT(bytes, Not(HasSubstr(secret))) << secret;
    }
    EXPECT_EQ(fs::status(bundle).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    const auto j = nlohmann::json::parse(bytes);
    EXPECT_EQ(j["versions"]["signal_hub"], "signal-hub test");
    EXPECT_EQ(j["log"]["lines"].size(), 3u);
    EXPECT_THAT(j["log"]["lines"][0].get<std::string>(), HasSubstr("INFO started"));
    EXPECT_EQ(j["doctor"]["findings"][0]["name"], "store");
    EXPECT_THAT(j["config"]["text"].get<std::string>(), HasSubstr("${DB_URL}"));
    EXPECT_THAT(j["config"]["effective"]["database"]["url"].get<std::string>(), HasSubstr("hub:***@127.0.0.1"));
}

}  // namespace
}  // namespace signalhub::ops

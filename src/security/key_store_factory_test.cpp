#include "security/key_store_factory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "security/keystores_test_util.hpp"

// OpenKeyStore's option checks (no service needed); opening the database and Vault stores through
// the factory is tested in DatabaseKeyStoreTest.FactoryOpensTheDatabaseStore (label postgres) and
// VaultKeyStoreTest.FactoryOpensTheVaultStore (label vault).
namespace signalhub::security {
namespace {

namespace fs = std::filesystem;
using keystoretest::TestHasher;

std::string Refusal(const KeyStoreOptions& options) {
    FakeClock clock;
    auto store = OpenKeyStore(options, TestHasher(), clock);
    EXPECT_FALSE(store.ok());
    if (store.ok()) return "";
    EXPECT_EQ(store.status().code(), ErrorCode::kInvalidArgument) << store.status().ToString();
    return store.status().message();
}

TEST(KeyStoreFactoryTest, StorageMustBeNamed) {
    KeyStoreOptions o;
    EXPECT_EQ(Refusal(o), "security.api_keys.storage must be file, database or vault (it is not set)");
    o.storage = "redis";
    EXPECT_EQ(Refusal(o), "security.api_keys.storage must be file, database or vault, not 'redis'");
}

TEST(KeyStoreFactoryTest, EachStorageNamesItsMissingOption) {
    KeyStoreOptions o;
    o.storage = "file";
    EXPECT_EQ(Refusal(o), "security.api_keys.file is required for storage: file");
    o.storage = "database";
    EXPECT_EQ(Refusal(o), "security.api_keys.database_url is required for storage: database");
    o.storage = "vault";
    EXPECT_EQ(Refusal(o), "security.api_keys.vault_url is required for storage: vault");
    o.vault_url = "http://127.0.0.1:1";
    o.vault_auth = "kubernetes";
    EXPECT_EQ(Refusal(o), "security.api_keys.vault_role is required for vault_auth: kubernetes");
    o.vault_auth = "token";
    const char* saved = std::getenv("VAULT_TOKEN");
    const std::string saved_token = saved != nullptr ? saved : "";
    ::unsetenv("VAULT_TOKEN");
    EXPECT_NE(Refusal(o).find("security.api_keys: vault_token is empty and VAULT_TOKEN is not set"),
              std::string::npos);
    if (!saved_token.empty()) ::setenv("VAULT_TOKEN", saved_token.c_str(), 1);
    o.vault_auth = "ldap";
    EXPECT_NE(Refusal(o).find("vault_auth must be 'token' or 'kubernetes', not 'ldap'"), std::string::npos);
}

TEST(KeyStoreFactoryTest, SettingsOfAnotherStorageAreRefusedNotIgnored) {
    KeyStoreOptions o;
    o.storage = "file";
    o.file = "/tmp/keys.json";
    o.vault_url = "https://vault:8200";
    EXPECT_EQ(Refusal(o), "security.api_keys.vault_url is set but not used with storage: file; remove it or change "
                          "storage");
    o.vault_url.clear();
    o.cache_ttl = 5;
    EXPECT_NE(Refusal(o).find("security.api_keys.cache_ttl is set but not used"), std::string::npos);
    o.cache_ttl = 30;
    o.storage = "database";
    o.database_url = "postgresql://x/y";
    EXPECT_NE(Refusal(o).find("security.api_keys.file is set but not used with storage: database"),
              std::string::npos);
    o.file.clear();
    o.storage = "vault";
    o.database_url.clear();
    o.vault_url = "http://127.0.0.1:1";
    o.vault_token = "t";
    o.vault_role = "r";
    EXPECT_EQ(Refusal(o), "security.api_keys.vault_role is set but not used with storage: vault with vault_auth: "
                          "token; remove it or change storage");
    o.vault_role.clear();
    o.vault_ca_file = "/etc/ssl/certs/ca-certificates.crt";
    EXPECT_NE(Refusal(o).find("vault_ca_file is set but vault_url is not https://"), std::string::npos);
}

TEST(KeyStoreFactoryTest, FileStorageOpensAFileKeyStore) {
    const fs::path dir = fs::temp_directory_path() / ("sh-factory-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    FakeClock clock;
    KeyStoreOptions o;
    o.storage = "file";
    o.file = (dir / "keys.json").string();
    auto store = OpenKeyStore(o, TestHasher(), clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    CreateKeyRequest request;
    request.name = "local";
    request.scopes = {Scope::kAdmin};
    auto issued = (*store)->Create(request);
    ASSERT_TRUE(issued.ok());
    EXPECT_TRUE((*store)->Authenticate(issued->key).ok());
    EXPECT_TRUE(fs::exists(dir / "keys.json"));
    fs::remove_all(dir);
}

}  // namespace
}  // namespace signalhub::security

#include "core/test_temp_dir.hpp"
#include "security/file_key_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using signalhub::testing_util::TempDir;

namespace signalhub::security {
namespace {

namespace fs = std::filesystem;


std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Replaces the file the way an operator's tool or a Secret mount would: a new inode.
void ReplaceFile(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".external";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << content;
    }
    fs::rename(tmp, path);
}

KeyHasher Hasher(char fill = 'p') {
    auto hasher = KeyHasher::Create(std::string(40, fill));
    EXPECT_TRUE(hasher.ok());
    return *hasher;
}

CreateKeyRequest Request(std::string name, std::vector<Scope> scopes = {Scope::kSearch}) {
    CreateKeyRequest r;
    r.name = std::move(name);
    r.scopes = std::move(scopes);
    return r;
}

class FileKeyStoreTest : public ::testing::Test {
   protected:
    std::unique_ptr<FileKeyStore> OpenStore() {
        auto store = FileKeyStore::Open(path_, Hasher(), clock_);
        EXPECT_TRUE(store.ok()) << store.status().ToString();
        return store.ok() ? std::move(store).value() : nullptr;
    }
    IssuedKey MustCreate(FileKeyStore& store, CreateKeyRequest request) {
        auto issued = store.Create(request);
        EXPECT_TRUE(issued.ok()) << issued.status().ToString();
        return issued.ok() ? *issued : IssuedKey{};
    }
    AuthFailure Why(FileKeyStore& store, const std::string& key) {
        AuthFailure failure = AuthFailure::kNone;
        auto result = store.Authenticate(key, &failure);
        if (result.ok()) return AuthFailure::kNone;
        EXPECT_EQ(result.status().code(), ErrorCode::kUnauthenticated) << result.status().ToString();
        EXPECT_NE(failure, AuthFailure::kNone);
        return failure;
    }

    TempDir dir_;
    std::string path_ = dir_ / "api-keys.json";
    FakeClock clock_;
};

TEST_F(FileKeyStoreTest, TheFileHoldsOnlyTheKeyedHash) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    IssuedKey issued = MustCreate(*store, Request("a"));
    auto rotated = store->Rotate(issued.record.id, 600);
    ASSERT_TRUE(rotated.ok());
    const std::string text = ReadFile(path_);
    for (const std::string& key : {issued.key, rotated->key}) {
        const std::string secret = ParseApiKey(key)->secret;
        EXPECT_EQ(text.find(key), std::string::npos);
        EXPECT_EQ(text.find(secret), std::string::npos);
        EXPECT_EQ(text.find(secret.substr(0, 10)), std::string::npos);
    }
    EXPECT_NE(text.find(rotated->record.hash), std::string::npos);
    EXPECT_NE(text.find(issued.record.hash), std::string::npos);  // as previous_hash
    EXPECT_NE(text.find("\"hmac-sha256\""), std::string::npos);
    EXPECT_NE(text.find(Hasher().fingerprint()), std::string::npos);
}

TEST_F(FileKeyStoreTest, RefusedRequestsDoNotWriteTheFile) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->Create(Request("")).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->Rotate("0123456789abcdef", 5).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store->Revoke("0123456789abcdef").status().code(), ErrorCode::kNotFound);
    EXPECT_FALSE(fs::exists(path_));
}

TEST_F(FileKeyStoreTest, FileIsMode0600WhateverTheUmask) {
    const mode_t old_umask = ::umask(0);
    auto store = OpenStore();
    ASSERT_TRUE(store);
    MustCreate(*store, Request("a"));
    ::umask(old_umask);
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    // Still 0600 after a rewrite over a file someone loosened.
    ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
    MustCreate(*store, Request("b"));
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// A fresh machine: the documented directory (/var/lib/signal-hub) does not exist yet. The first write
// creates it, only its owner may read it; a file where a directory should be is named.
TEST_F(FileKeyStoreTest, MissingDirectoriesAreCreatedMode0700) {
    const std::string nested = dir_ / "var/lib/signal-hub";
    const std::string path = nested + "/api-keys.json";
    auto store = FileKeyStore::Open(path, Hasher(), clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_FALSE(fs::exists(nested));  // opening (reading) creates nothing
    const mode_t old_umask = ::umask(0);
    auto issued = (*store)->Create(Request("a"));
    ::umask(old_umask);
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    struct stat st {};
    for (const std::string& d : {dir_ / "var", dir_ / "var/lib", nested}) {
        ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
        EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
    }
    EXPECT_TRUE(fs::exists(path));

    { std::ofstream(dir_ / "plainfile") << "x"; }
    auto blocked = FileKeyStore::Open(dir_ / "plainfile/keys/api-keys.json", Hasher(), clock_);
    ASSERT_FALSE(blocked.ok());
    EXPECT_NE(blocked.status().message().find("plainfile/keys/api-keys.json: Not a directory"), std::string::npos)
        << blocked.status().ToString();
}

TEST_F(FileKeyStoreTest, RewritesAreAtomicReplacements) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    MustCreate(*store, Request("a"));
    struct stat before {};
    ASSERT_EQ(::stat(path_.c_str(), &before), 0);
    const std::string old_text = ReadFile(path_);
    std::ifstream held(path_, std::ios::binary);  // a reader that opened the old file

    MustCreate(*store, Request("b"));
    struct stat after {};
    ASSERT_EQ(::stat(path_.c_str(), &after), 0);
    EXPECT_NE(before.st_ino, after.st_ino) << "rewritten in place instead of renamed";
    EXPECT_FALSE(fs::exists(path_ + ".tmp"));
    std::stringstream ss;
    ss << held.rdbuf();
    EXPECT_EQ(ss.str(), old_text) << "the old file changed under its reader";

    // A write that cannot complete leaves the file and the keys in memory untouched.
    const std::string committed = ReadFile(path_);
    fs::create_directory(path_ + ".tmp");  // the temp file cannot be created
    auto failed = store->Create(Request("c"));
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), ErrorCode::kUnavailable) << failed.status().ToString();
    EXPECT_EQ(ReadFile(path_), committed);
    auto list = store->List();
    ASSERT_TRUE(list.ok());
    EXPECT_EQ(list->size(), 2u);
    fs::remove(path_ + ".tmp");
    MustCreate(*store, Request("c"));
    EXPECT_EQ(store->List()->size(), 3u);
}

TEST_F(FileKeyStoreTest, ReloadsAfterAnExternalChange) {
    auto server = OpenStore();  // e.g. `signal-hub serve`
    auto cli = OpenStore();     // e.g. `signal-hub keys ...`, another process on the same file
    ASSERT_TRUE(server && cli);
    IssuedKey issued = MustCreate(*cli, Request("a"));
    EXPECT_EQ(Why(*server, issued.key), AuthFailure::kNone) << "no reload on access";
    ASSERT_TRUE(cli->Revoke(issued.record.id).ok());
    EXPECT_EQ(Why(*server, issued.key), AuthFailure::kRevoked);

    // Both write: each change is applied to what is on disk, none is lost.
    IssuedKey from_server = MustCreate(*server, Request("b"));
    IssuedKey from_cli = MustCreate(*cli, Request("c"));
    auto fresh = OpenStore();
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->List()->size(), 3u);
    EXPECT_EQ(Why(*fresh, from_server.key), AuthFailure::kNone);
    EXPECT_EQ(Why(*server, from_cli.key), AuthFailure::kNone);

    // An external replacement (e.g. a Secret update) with only one of the keys.
    const std::string saved = ReadFile(path_);
    ReplaceFile(path_, "{\"format\":\"signal-hub-api-keys\",\"version\":1,\"hash\":\"hmac-sha256\","
                       "\"pepper_fingerprint\":\"" + Hasher().fingerprint() + "\",\"keys\":[]}");
    ASSERT_TRUE(server->Reload().ok());
    EXPECT_EQ(server->List()->size(), 0u);
    EXPECT_EQ(Why(*server, from_cli.key), AuthFailure::kUnknownKey);
    ReplaceFile(path_, saved);
    EXPECT_EQ(Why(*server, from_cli.key), AuthFailure::kNone);

    // A deleted file is an empty store (fail closed).
    fs::remove(path_);
    EXPECT_EQ(Why(*server, from_cli.key), AuthFailure::kUnknownKey);
}

TEST_F(FileKeyStoreTest, CorruptedFileIsAClearErrorAndKeepsTheKeysInMemory) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    IssuedKey issued = MustCreate(*store, Request("a"));
    ReplaceFile(path_, "{\"format\": \"signal-hub-api-keys\", \"keys\": [");

    Status reload = store->Reload();
    ASSERT_FALSE(reload.ok());
    EXPECT_EQ(reload.code(), ErrorCode::kDataLoss);
    EXPECT_NE(reload.message().find(path_), std::string::npos) << reload.message();
    EXPECT_NE(reload.message().find("not valid JSON"), std::string::npos) << reload.message();
    EXPECT_EQ(store->last_reload_status().code(), ErrorCode::kDataLoss);

    // The previous keys keep working, on explicit and on automatic reload.
    EXPECT_EQ(Why(*store, issued.key), AuthFailure::kNone);
    EXPECT_EQ(store->List()->size(), 1u);
    // Changes are refused rather than overwriting a file nobody can read.
    auto create = store->Create(Request("b"));
    ASSERT_FALSE(create.ok());
    EXPECT_EQ(create.status().code(), ErrorCode::kDataLoss);
    EXPECT_NE(create.status().message().find("not changing the API key file"), std::string::npos);
    EXPECT_EQ(ReadFile(path_), "{\"format\": \"signal-hub-api-keys\", \"keys\": [");

    // A new store cannot open it.
    auto fresh = FileKeyStore::Open(path_, Hasher(), clock_);
    ASSERT_FALSE(fresh.ok());
    EXPECT_EQ(fresh.status().code(), ErrorCode::kDataLoss);

    // Semantic damage is named precisely.
    ReplaceFile(path_, "{\"format\":\"signal-hub-api-keys\",\"version\":1,\"hash\":\"hmac-sha256\","
                       "\"pepper_fingerprint\":\"" + Hasher().fingerprint() +
                       "\",\"keys\":[{\"id\":\"0123456789abcdef\",\"name\":\"x\",\"scopes\":[\"root\"],"
                       "\"created\":1,\"hash\":\"" + std::string(64, 'a') + "\"}]}");
    reload = store->Reload();
    EXPECT_EQ(reload.code(), ErrorCode::kDataLoss);
    EXPECT_NE(reload.message().find("keys[0]: key 0123456789abcdef: unknown scope 'root'"), std::string::npos)
        << reload.message();
    EXPECT_EQ(Why(*store, issued.key), AuthFailure::kNone);
}

TEST_F(FileKeyStoreTest, AnotherPepperIsRefusedLoudly) {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    MustCreate(*store, Request("a"));
    auto other = FileKeyStore::Open(path_, Hasher('z'), clock_);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(other.status().message().find("another pepper"), std::string::npos);
}

TEST_F(FileKeyStoreTest, UsageIsWrittenByFlushNotByAuthenticate) {
    auto server = OpenStore();
    ASSERT_TRUE(server);
    IssuedKey issued = MustCreate(*server, Request("a"));
    struct stat before {};
    ASSERT_EQ(::stat(path_.c_str(), &before), 0);
    clock_.Advance(std::chrono::seconds(30));
    ASSERT_TRUE(server->Authenticate(issued.key).ok());
    struct stat after {};
    ASSERT_EQ(::stat(path_.c_str(), &after), 0);
    EXPECT_EQ(before.st_ino, after.st_ino) << "authenticating rewrote the file";

    ASSERT_TRUE(server->FlushUsage().ok());
    auto reader = OpenStore();
    ASSERT_TRUE(reader);
    EXPECT_EQ(reader->List()->at(0).last_used, clock_.UnixSeconds());
    EXPECT_TRUE(server->FlushUsage().ok());  // nothing pending: no-op
}

}  // namespace
}  // namespace signalhub::security

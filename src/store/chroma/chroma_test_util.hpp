#pragma once
// Test helpers for the ChromaDB-backed tests (label `chroma`): the server URL
// comes from SIGNAL_HUB_TEST_CHROMA_URL, or from the file named by
// SIGNAL_HUB_TEST_CHROMA_URL_FILE (written by the CTest fixture `chroma`,
// scripts/chroma-test-server.sh). Each store lives in a Chroma database of its
// own, deleted when the store is destroyed, so tests are hermetic and may run
// in parallel against one server.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "net/http_client.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::chromatest {

// The test server's chroma+http:// URL; a test failure (not a skip) when none is configured.
inline std::string ServerUrl() {
    if (const char* url = std::getenv("SIGNAL_HUB_TEST_CHROMA_URL"); url != nullptr && *url != '\0') return url;
    if (const char* file = std::getenv("SIGNAL_HUB_TEST_CHROMA_URL_FILE"); file != nullptr && *file != '\0') {
        std::ifstream in(file);
        std::string line;
        if (std::getline(in, line) && !line.empty()) return line;
        ADD_FAILURE() << "no ChromaDB URL in " << file << " (did the CTest fixture chroma.server_start fail?)";
        return "";
    }
    ADD_FAILURE() << "ChromaDB tests need a server: run them through `ctest -L chroma` (the fixture starts a "
                     "throw-away server) or set SIGNAL_HUB_TEST_CHROMA_URL=chroma+http://HOST:PORT";
    return "";
}

inline std::string UniqueDatabase() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    return "sh_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
           std::to_string(rd() % 100000);
}

inline std::string WithParam(const std::string& url, const std::string& param) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

// One raw API v2 call on the test server (outside the store): the HTTP status, or -1. Chroma answers
// 500 "database is locked" while its SQLite is busy with another test's writes (tests run in parallel
// against one server): such a call is tried again, up to 20 times, 100 ms apart.
inline int RawCall(const std::string& server, const std::string& method, const std::string& api_path,
                   const std::string& body = "", std::string* reply = nullptr) {
    auto url = net::ParseHttpUrl(server.substr(std::string("chroma+").size()));
    if (!url.ok()) return -1;
    url->query.clear();
    net::HttpClient client(*url, std::chrono::milliseconds(30'000));
    std::vector<net::HttpHeader> headers = {{"Content-Type", "application/json"}};
    for (int attempt = 0;; ++attempt) {
        auto r = client.Request(method, url->Target("/api/v2" + api_path), headers, body);
        if (!r.ok()) return -1;
        const bool locked = r->status == 500 && r->body.find("database is locked") != std::string::npos;
        if (!locked || attempt == 19) {
            if (reply != nullptr) *reply = r->body;
            return r->status;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// Deletes a test database; a test failure naming Chroma's answer when that fails.
inline void DeleteDatabase(const std::string& server, const std::string& database) {
    std::string reply;
    const int status = RawCall(server, "DELETE", "/tenants/default_tenant/databases/" + database, "", &reply);
    EXPECT_EQ(status, 200) << "deleting test database " << database << ": " << reply;
}

// Forwards to a store and deletes its database when destroyed.
class DatabaseScopedStore final : public VectorStore {
   public:
    DatabaseScopedStore(std::unique_ptr<VectorStore> store, std::string server_url, std::string database)
        : store_(std::move(store)), server_url_(std::move(server_url)), database_(std::move(database)) {}
    ~DatabaseScopedStore() override {
        store_.reset();
        DeleteDatabase(server_url_, database_);
    }
    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override { return store_->EnsureCollection(spec); }
    Result<CollectionInfo> GetCollection(std::string_view name) override { return store_->GetCollection(name); }
    Result<std::vector<CollectionInfo>> ListCollections() override { return store_->ListCollections(); }
    Status DropCollection(std::string_view name) override { return store_->DropCollection(name); }
    Status Commit(std::string_view collection, const ChangeSet& changes) override {
        return store_->Commit(collection, changes);
    }
    Result<std::vector<FileState>> ListFiles(std::string_view collection) override { return store_->ListFiles(collection); }
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override {
        return store_->Get(collection, ids);
    }
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override {
        return store_->Scan(collection, after_id, limit);
    }
    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) override {
        return store_->VectorSearch(collection, query, options);
    }
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) override {
        return store_->LexicalSearch(collection, query, options);
    }
    Status CheckHealth() override { return store_->CheckHealth(); }
    Result<std::int64_t> DataVersion() override { return store_->DataVersion(); }
    Status Flush() override { return store_->Flush(); }

   private:
    std::unique_ptr<VectorStore> store_;
    std::string server_url_;
    std::string database_;
};

// A fresh store in a new database of the test server, collection names prefixed
// with "t-" (Chroma wants names of 3+ characters); nullptr and a test failure when impossible.
inline std::unique_ptr<VectorStore> OpenFreshStore(std::string* database_out = nullptr) {
    const std::string server = ServerUrl();
    if (server.empty()) return nullptr;
    const std::string database = UniqueDatabase();
    if (database_out != nullptr) *database_out = database;
    auto store = OpenStore(WithParam(server, "database=" + database + "&prefix=t-"), OpenOptions{});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    return std::make_unique<DatabaseScopedStore>(std::move(store).value(), server, database);
}

}  // namespace signalhub::store::chromatest

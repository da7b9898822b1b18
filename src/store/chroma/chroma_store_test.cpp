// ChromaStore specifics the conformance suite does not cover. ChromaStoreUrl.*
// needs no server; ChromaStoreTest.* runs against the `chroma` CTest fixture's
// server (label `chroma`; fails, never skips, without one).

#include "store/chroma/chroma_store.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/chroma/chroma_test_util.hpp"

namespace signalhub::store {
namespace {

using json = nlohmann::json;
using testing::HasSubstr;
using testing::Not;

TEST(ChromaStoreUrl, BadUrlsAreInvalidArgument) {
    for (const std::string url : {"chroma+ftp://h:1", "chroma+http://", "chroma+http://h:1?colour=red",
                                  "chroma+http://h:1?auth_header=basic", "chroma+http://h:1?timeout_ms=x",
                                  "chroma+http://h:1?database=", "chroma+http://h:1?bookkeeping=maybe"}) {
        auto store = OpenStore(url, OpenOptions{});
        ASSERT_FALSE(store.ok()) << url;
        EXPECT_EQ(store.status().code(), ErrorCode::kInvalidArgument) << url << ": " << store.status().ToString();
    }
}

TEST(ChromaStoreUrl, UnreachableServerIsUnavailableAndNamesHostNotToken) {
    auto store = OpenStore("chroma+http://127.0.0.1:1?token=very-secret-token&timeout_ms=5000", OpenOptions{});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(store.status().message(), HasSubstr("127.0.0.1:1"));
    EXPECT_THAT(store.status().message(), Not(HasSubstr("very-secret-token")));
}

// A fake server on 127.0.0.1 (port 0) that records each request's head and
// answers every request with HTTP 401, as Chroma does for a bad token.
class RefusingServer {
   public:
    RefusingServer() {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(listen(fd_, 8), 0);
        socklen_t len = sizeof addr;
        EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { Serve(); });
    }
    ~RefusingServer() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    int port() const { return port_; }
    std::string heads() {
        std::lock_guard lock(mu_);
        return heads_;
    }

   private:
    void Serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            int conn = accept(fd_, nullptr, nullptr);
            if (conn < 0) continue;
            std::string head;
            char buf[4096];
            while (head.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = read(conn, buf, sizeof buf);
                if (n <= 0) break;
                head.append(buf, static_cast<size_t>(n));
            }
            {
                std::lock_guard lock(mu_);
                heads_ += head;
            }
            const std::string body = R"({"error":"AuthError","message":"token refused"})";
            const std::string reply = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: " +
                                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
            (void)!write(conn, reply.data(), reply.size());
            close(conn);
        }
    }
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::string heads_;
    std::thread thread_;
};

TEST(ChromaStoreUrl, TokenGoesInTheChosenHeaderAndARefusalIsUnauthenticated) {
    RefusingServer server;
    const std::string base = "chroma+http://127.0.0.1:" + std::to_string(server.port());
    auto store = OpenStore(base + "?token=tok-from-url", OpenOptions{});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kUnauthenticated) << store.status().ToString();
    EXPECT_THAT(store.status().message(), Not(HasSubstr("tok-from-url")));
    EXPECT_THAT(server.heads(), HasSubstr("GET /api/v2/heartbeat HTTP/1.1"));
    EXPECT_THAT(server.heads(), HasSubstr("Authorization: Bearer tok-from-url\r\n"));
    EXPECT_THAT(server.heads(), Not(HasSubstr("token=")));  // the store's parameters stay off the wire

    ASSERT_EQ(setenv("CHROMA_TOKEN", "tok-from-env", 1), 0);
    store = OpenStore(base + "?auth_header=x-chroma-token", OpenOptions{});
    unsetenv("CHROMA_TOKEN");
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kUnauthenticated);
    EXPECT_THAT(server.heads(), HasSubstr("X-Chroma-Token: tok-from-env\r\n"));
}

std::vector<float> V(std::initializer_list<float> v) { return v; }

TEST(ChromaStoreTest, ReadOnlyOpenOfMissingDatabaseIsNotFound) {
    const std::string server = chromatest::ServerUrl();
    ASSERT_FALSE(server.empty());
    auto store = OpenStore(chromatest::WithParam(server, "database=" + chromatest::UniqueDatabase()),
                           OpenOptions{.read_only = true});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kNotFound);
}

// A collection written by another Chroma client (here: the raw HTTP API) reads
// through the store: records, typed metadata, metric from the configuration.
TEST(ChromaStoreTest, ReadsACollectionMadeByAnotherClient) {
    const std::string server = chromatest::ServerUrl();
    ASSERT_FALSE(server.empty());
    const std::string db = chromatest::UniqueDatabase();
    const std::string dbs = "/tenants/default_tenant/databases";
    ASSERT_EQ(chromatest::RawCall(server, "POST", dbs, json{{"name", db}}.dump()), 200);
    std::string reply;
    ASSERT_EQ(chromatest::RawCall(server, "POST", dbs + "/" + db + "/collections",
                                  json{{"name", "legacy"}, {"configuration", {{"hnsw", {{"space", "ip"}}}}}}.dump(),
                                  &reply),
              200);
    const std::string id = json::parse(reply)["id"].get<std::string>();
    json add = {{"ids", {"x", "y"}},
                {"embeddings", {{1.0, 0.0}, {0.0, 1.0}}},
                {"documents", {"hello world", nullptr}},
                {"metadatas", {{{"file_path", "a.py"}, {"n", 3}, {"f", 2.5}, {"b", true}}, nullptr}}};
    const int added = chromatest::RawCall(server, "POST", dbs + "/" + db + "/collections/" + id + "/add", add.dump());
    ASSERT_TRUE(added == 200 || added == 201) << added;

    auto store = OpenStore(chromatest::WithParam(server, "database=" + db), OpenOptions{.read_only = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto info = (*store)->GetCollection("legacy");
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->spec.dimension, 2);
    EXPECT_EQ(info->spec.metric, DistanceMetric::kInnerProduct);
    EXPECT_EQ(info->spec.model, "");
    EXPECT_EQ(info->records, 2);
    std::vector<std::string> ids{"x", "y"};
    auto got = (*store)->Get("legacy", ids);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[0].document, std::optional<std::string>("hello world"));
    EXPECT_EQ((*got)[0].metadata.at("n"), MetadataValue(std::int64_t{3}));
    EXPECT_EQ((*got)[0].metadata.at("f"), MetadataValue(2.5));
    EXPECT_EQ((*got)[0].metadata.at("b"), MetadataValue(true));
    EXPECT_EQ((*got)[1].document, std::nullopt);
    EXPECT_TRUE((*got)[1].metadata.empty());
    std::vector<float> q = V({0.2f, 1.0f});
    auto hits = (*store)->VectorSearch("legacy", q, SearchOptions{.k = 2});
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ((*hits)[0].record.id, "y");
    EXPECT_NEAR((*hits)[0].score, 1.0, 1e-6);
    auto lexical = (*store)->LexicalSearch("legacy", "hello", {});
    ASSERT_TRUE(lexical.ok());
    ASSERT_EQ(lexical->size(), 1u);
    EXPECT_EQ((*lexical)[0].record.id, "x");
    EXPECT_EQ((*store)->Commit("legacy", ChangeSet{.delete_ids = {"x"}}).code(), ErrorCode::kFailedPrecondition);
    store->reset();
    chromatest::DeleteDatabase(server, db);
}

// A Commit interrupted half-way is repaired by running it again: every step is idempotent.
TEST(ChromaStoreTest, ReplayingACommitGivesTheSameState) {
    auto store = chromatest::OpenFreshStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection(CollectionSpec{"repo", "m", 2, DistanceMetric::kCosine}).ok());
    Record a{"a", "alpha", {{"file_path", std::string("a.py")}}, V({1, 0})};
    Record b{"b", std::nullopt, {}, V({0, 1})};
    ASSERT_TRUE(store->Commit("repo", ChangeSet{.upserts = {a, b}}).ok());
    Record a2{"a", std::nullopt, {{"k", std::int64_t{1}}}, V({1, 1})};
    ChangeSet change{.delete_ids = {"b"},
                     .upserts = {a2},
                     .put_files = {FileState{"a.py", "h", 1, 2, {"a"}}},
                     .touch_last_indexed = true};
    for (int run = 0; run < 2; ++run) {
        Status s = store->Commit("repo", change);
        ASSERT_TRUE(s.ok()) << s.ToString();
        std::vector<std::string> ids{"a", "b"};
        auto got = store->Get("repo", ids);
        ASSERT_TRUE(got.ok());
        ASSERT_EQ(got->size(), 1u) << "run " << run;
        // Replaced, not merged: the old document and metadata key are gone.
        EXPECT_EQ((*got)[0].document, std::nullopt);
        EXPECT_EQ((*got)[0].metadata, a2.metadata);
        EXPECT_EQ(store->ListFiles("repo")->size(), 1u);
        EXPECT_EQ(store->GetCollection("repo")->records, 1);
    }
}

TEST(ChromaStoreTest, ReservedNamesAndKeysAreRefused) {
    auto store = chromatest::OpenFreshStore();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->EnsureCollection(CollectionSpec{"x.sh-files", "m", 2, DistanceMetric::kCosine}).status().code(),
              ErrorCode::kInvalidArgument);
    ASSERT_TRUE(store->EnsureCollection(CollectionSpec{"repo", "m", 2, DistanceMetric::kCosine}).ok());
    Record r{"a", std::nullopt, {{"signal_hub:floats", std::string("x")}}, V({1, 0})};
    EXPECT_EQ(store->Commit("repo", ChangeSet{.upserts = {r}}).code(), ErrorCode::kInvalidArgument);
    Record bad_utf8{"b", std::string("\xff"), {}, V({1, 0})};
    EXPECT_EQ(store->Commit("repo", ChangeSet{.upserts = {bad_utf8}}).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->GetCollection("repo")->records, 0);
    // Only the Signal Hub collection is listed, not its companions.
    auto list = store->ListCollections();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].spec.name, "repo");
}

// bookkeeping=off (a rollback into the user's Chroma, ADR-25): the collection gets exactly the
// Chroma metadata and configuration given, records exactly their metadata, and nothing else is
// written (no .sh-files, no signal-hub-meta, no signal_hub:* key), as the server itself shows.
TEST(ChromaStoreTest, BookkeepingOffWritesOnlyTheUsersData) {
    const std::string server = chromatest::ServerUrl();
    ASSERT_FALSE(server.empty());
    const std::string db = chromatest::UniqueDatabase();
    auto opened = OpenStore(chromatest::WithParam(server, "database=" + db + "&bookkeeping=off"), OpenOptions{});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto* store = dynamic_cast<ChromaStore*>(opened->get());
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(store->bookkeeping());
    ChromaStore::ChromaShape shape{R"({"hnsw:space":"cosine","owner":"a","n":3,"r":0.5,"ok":true})",
                                   R"({"hnsw":{"space":"cosine","ef_construction":150,"max_neighbors":20}})"};
    auto made = store->EnsureCollection(CollectionSpec{"orders", "", 2, DistanceMetric::kCosine}, shape);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    Record a{"a", "alpha", {{"k", std::int64_t{1}}, {"f", 1.5}}, V({3, 4})};
    ChangeSet change{.upserts = {a}, .put_files = {FileState{"a.py", "h", 1, 2, {"a"}}}, .touch_last_indexed = true};
    change.set_properties.emplace("imported_at", "1");
    ASSERT_TRUE(store->Commit("orders", change).ok());
    ASSERT_TRUE(store->EnsureCollection(CollectionSpec{"orders", "", 2, DistanceMetric::kCosine}, shape).ok());  // re-run

    std::string reply;
    ASSERT_EQ(chromatest::RawCall(server, "GET", "/tenants/default_tenant/databases/" + db + "/collections", "", &reply), 200);
    json list = json::parse(reply);
    ASSERT_EQ(list.size(), 1u) << reply;  // no orders.sh-files, no signal-hub-meta
    EXPECT_EQ(list[0]["metadata"], json::parse(shape.metadata)) << reply;
    EXPECT_EQ(list[0]["configuration_json"]["hnsw"]["max_neighbors"], 20) << reply;
    const std::string id = list[0]["id"].get<std::string>();
    ASSERT_EQ(chromatest::RawCall(server, "POST", "/tenants/default_tenant/databases/" + db + "/collections/" + id + "/get",
                                  json{{"include", {"metadatas", "documents"}}}.dump(), &reply),
              200);
    EXPECT_EQ(json::parse(reply)["metadatas"][0], json::parse(R"({"k":1,"f":1.5})")) << reply;
    auto info = store->GetCollection("orders");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->properties.at("chroma.metadata"), json::parse(shape.metadata).dump());
    EXPECT_EQ(info->files, 0);
    auto version = store->DataVersion();
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(*version, 0);
    // A value Chroma cannot store has no reserved key to hide in: refused, nothing written.
    Record nan{"b", std::nullopt, {{"x", -0.0}}, V({1, 0})};
    EXPECT_EQ(store->Commit("orders", ChangeSet{.upserts = {nan}}).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->GetCollection("orders")->records, 1);
    opened->reset();
    chromatest::DeleteDatabase(server, db);
}

}  // namespace
}  // namespace signalhub::store

#include "core/test_temp_dir.hpp"
#include "store/embedded/embedded_sql.hpp"
#include "store/embedded/embedded_store.hpp"
#include "store/embedded/store_layout.hpp"
#include "store/embedded/writer_lock.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "store/registry.hpp"
#include "store/store_util.hpp"

using signalhub::testing_util::TempDir;

namespace signalhub::store {
namespace {

namespace fs = std::filesystem;


constexpr int kDim = 16;

std::vector<float> VectorFor(int i) {
    std::mt19937 rng(static_cast<unsigned>(i) * 7919u + 1);
    std::normal_distribution<float> dist(0, 1);
    std::vector<float> v(kDim);
    for (auto& x : v) x = dist(rng);
    return v;
}

Record MakeRecord(int i, const std::string& language = "python") {
    Record r;
    r.id = "rec-" + std::to_string(i);
    r.document = "document number " + std::to_string(i);
    r.metadata["file_path"] = "src/f" + std::to_string(i % 10) + (language == "go" ? ".go" : ".py");
    r.metadata["language"] = language;
    r.embedding = VectorFor(i);
    return r;
}

CollectionSpec Spec() { return CollectionSpec{"c", "model", kDim, DistanceMetric::kCosine}; }

std::unique_ptr<EmbeddedStore> MustOpen(const std::string& dir, bool read_only = false,
                                        const EmbeddedStoreOptions& tuning = {}) {
    auto store = EmbeddedStore::Open(dir, OpenOptions{.read_only = read_only}, tuning);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
}

void CommitRange(VectorStore& store, int begin, int end) {
    ChangeSet c;
    for (int i = begin; i < end; ++i) c.upserts.push_back(MakeRecord(i));
    Status s = store.Commit("c", c);
    ASSERT_TRUE(s.ok()) << s.ToString();
}

// Every record in [begin, end) is its own nearest neighbour.
void ExpectFindable(VectorStore& store, int begin, int end) {
    for (int i = begin; i < end; ++i) {
        auto v = VectorFor(i);
        auto hits = store.VectorSearch("c", v, SearchOptions{.k = 1});
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        ASSERT_EQ(hits->size(), 1u) << i;
        EXPECT_EQ((*hits)[0].record.id, "rec-" + std::to_string(i));
    }
}

// Record i's document holds the word "<i>" (and nothing else does): the lexical index finds it.
void ExpectLexicallyFindable(VectorStore& store, int begin, int end, int step = 1) {
    for (int i = begin; i < end; i += step) {
        auto hits = store.LexicalSearch("c", std::to_string(i), SearchOptions{.k = 1});
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        ASSERT_EQ(hits->size(), 1u) << i;
        EXPECT_EQ((*hits)[0].record.id, "rec-" + std::to_string(i));
    }
}

// Runs `body` in a child process that exits without running destructors (as
// after a crash) and returns whether it succeeded.
bool RunInChild(const std::function<bool()>& body) {
    pid_t pid = fork();
    if (pid == 0) _exit(body() ? 0 : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(EmbeddedStore, PersistsAcrossReopen) {
    TempDir dir;
    {
        auto store = MustOpen((dir / "store"));
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 50);
    }
    EXPECT_TRUE(fs::exists((dir / "store") + "/store.db"));
    auto store = MustOpen((dir / "store"));
    auto hnsw = store->HnswPath("c");
    ASSERT_TRUE(hnsw.ok());
    EXPECT_TRUE(fs::exists(*hnsw));
    EXPECT_TRUE(fs::exists(*store->SidecarPath("c")));
    EXPECT_EQ(store->GetCollection("c")->records, 50);
    ExpectFindable(*store, 0, 50);
    EXPECT_EQ(store->stats().hnsw_loads, 1);
    EXPECT_EQ(store->stats().hnsw_rebuilds, 0);
    EXPECT_EQ(store->stats().replayed_changes, 0);
}

// ADR-32a: files.record_ids are read by a direct scan when written the way Commit writes them; every
// input must read exactly as the JSON parser reads it, and what is not an array of strings is refused.
TEST(EmbeddedStore, RecordIdsReadLikeTheJsonParser) {
    using embedded_detail::ParseRecordIdsJson;
    const std::vector<std::string> inputs = {
        "[]", "[\"a\"]", R"(["0123abcd","ffee","x#1"])", R"([""])", R"([ "a" , "b" ])", R"(["a\"b","c\\d"])",
        "[\"caf\xc3\xa9\"]", R"(["\u00e9"])", "[\"a\tb\"]", R"(["a",])", R"(["a")", R"(["a"])", R"(["a"]x)",
        R"(["a""b"])", R"([1])", R"(["a",2])", R"({"a":1})", "", "[", "]", R"("a")", R"([["a"]])", "[\"\xff\"]",
        R"([null])", R"(["a" "b"])"};
    for (const std::string& text : inputs) {
        std::vector<std::string> got;
        const bool ok = ParseRecordIdsJson(text, got);
        std::vector<std::string> want;
        bool want_ok = false;
        const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (!j.is_discarded() && j.is_array()) {
            want_ok = std::all_of(j.begin(), j.end(), [](const nlohmann::json& e) { return e.is_string(); });
            if (want_ok) {
                for (const auto& e : j) want.push_back(e.get<std::string>());
            }
        }
        EXPECT_EQ(ok, want_ok) << text;
        if (want_ok) {
            EXPECT_EQ(got, want) << text;
        }
    }
    // What Commit writes reads back through the fast path.
    const std::vector<std::string> ids = {"9f86d081884c7d659a2feaa0c55ad015", "a#2", ""};
    std::vector<std::string> got;
    ASSERT_TRUE(ParseRecordIdsJson(nlohmann::json(ids).dump(), got));
    EXPECT_EQ(got, ids);
}

// A damaged record_ids column is still reported as data loss naming the file, not read as empty.
TEST(EmbeddedStore, CorruptRecordIdsOfAFileAreDataLoss) {
    TempDir dir;
    auto store = MustOpen((dir / "store"));
    ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
    ChangeSet add;
    add.put_files = {FileState{.path = "x.py", .content_hash = "h", .size = 1, .mtime_ns = 1, .record_ids = {"r1"}}};
    ASSERT_TRUE(store->Commit("c", add).ok());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "store/store.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE files SET record_ids = '[\"r1\",' WHERE path = 'x.py'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto files = store->ListFiles("c");
    ASSERT_FALSE(files.ok());
    EXPECT_EQ(files.status().code(), ErrorCode::kDataLoss);
    EXPECT_THAT(files.status().message(), ::testing::HasSubstr("x.py"));
}

// Issue 20 item 13c: a new store directory tells git to ignore it; a directory
// that already held other files is left alone. The scanner's predicate knows it.
TEST(EmbeddedStore, NewStoreDirectoryIsIgnoredByGitAndRecognised) {
    TempDir dir;
    EXPECT_FALSE(IsEmbeddedStoreDir((dir / "store")));
    { MustOpen((dir / "store")); }
    std::ifstream in((dir / "store") + "/.gitignore");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("\n*\n"), std::string::npos) << text;
    EXPECT_TRUE(IsEmbeddedStoreDir((dir / "store")));
    EXPECT_FALSE(IsEmbeddedStoreDir(dir.path()));

    const std::string used = dir.path() + "/used";
    fs::create_directories(used);
    { std::ofstream(used + "/notes.txt") << "mine"; }
    { MustOpen(used); }
    EXPECT_FALSE(fs::exists(used + "/.gitignore"));
    EXPECT_TRUE(IsEmbeddedStoreDir(used));
}

TEST(EmbeddedStore, MissingOrCorruptHnswFileIsRebuilt) {
    TempDir dir;
    std::string hnsw;
    {
        auto store = MustOpen((dir / "store"));
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 40);
        ASSERT_TRUE(store->Flush().ok());
        hnsw = *store->HnswPath("c");
    }
    fs::remove(hnsw);
    {
        auto store = MustOpen((dir / "store"));
        ExpectFindable(*store, 0, 40);
        EXPECT_EQ(store->stats().hnsw_rebuilds, 1);
        EXPECT_EQ(store->stats().hnsw_loads, 0);
    }
    ASSERT_TRUE(fs::exists(hnsw));  // the writer saved the rebuilt graph on close
    {
        std::fstream f(hnsw, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(200);
        f.write("garbage!", 8);
    }
    {
        auto store = MustOpen((dir / "store"), /*read_only=*/true);
        ExpectFindable(*store, 0, 40);
        EXPECT_EQ(store->stats().hnsw_rebuilds, 1);
    }
}

TEST(EmbeddedStore, StaleHnswCatchesUpWithTheChangeLog) {
    TempDir dir;
    {
        auto store = MustOpen((dir / "store"));
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 30);
    }
    // A writer that commits and dies without flushing its graph.
    ASSERT_TRUE(RunInChild([&] {
        auto store = EmbeddedStore::Open((dir / "store"), OpenOptions{});
        if (!store.ok()) return false;
        ChangeSet c;
        for (int i = 30; i < 45; ++i) c.upserts.push_back(MakeRecord(i));
        c.delete_ids = {"rec-0", "rec-1"};
        c.upserts.push_back(MakeRecord(1000));
        c.upserts.back().id = "rec-2";  // replaced vector
        if (!(*store)->Commit("c", c).ok()) return false;
        (void)store->release();  // no destructor: nothing flushed
        return true;
    }));
    auto store = MustOpen((dir / "store"));
    EXPECT_EQ(store->GetCollection("c")->records, 43);
    ExpectFindable(*store, 30, 45);
    ExpectFindable(*store, 3, 30);
    EXPECT_EQ(store->stats().hnsw_loads, 1);
    EXPECT_EQ(store->stats().hnsw_rebuilds, 0) << "replayed " << store->stats().replayed_changes;
    EXPECT_EQ(store->stats().replayed_changes, 18);
    auto hits = store->VectorSearch("c", VectorFor(1000), SearchOptions{.k = 1});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ((*hits)[0].record.id, "rec-2");
    auto all = store->VectorSearch("c", VectorFor(0), SearchOptions{.k = 100});
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 43u);
    for (const auto& h : *all) {
        EXPECT_NE(h.record.id, "rec-0");
        EXPECT_NE(h.record.id, "rec-1");
    }
}

TEST(EmbeddedStore, SurvivesSigkillAtRandomPoints) {
    TempDir dir;
    {
        auto store = MustOpen((dir / "store"));
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
    }
    constexpr int kBatch = 20;
    std::mt19937 rng(1234);
    int committed_batches = 0;
    for (int iteration = 0; iteration < 5; ++iteration) {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        const int first_batch = committed_batches;
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            auto store = EmbeddedStore::Open((dir / "store"), OpenOptions{});
            if (!store.ok()) _exit(2);
            for (int b = first_batch;; ++b) {
                int started = -(b + 1);  // "about to commit batch b"
                if (write(fds[1], &started, sizeof started) != sizeof started) _exit(3);
                ChangeSet c;
                for (int i = b * kBatch; i < (b + 1) * kBatch; ++i) c.upserts.push_back(MakeRecord(i));
                c.put_files.push_back(FileState{"batch" + std::to_string(b), "h", b, b, {}});
                if (!(*store)->Commit("c", c).ok()) _exit(4);
                int done = b + 1;  // batches committed so far
                if (write(fds[1], &done, sizeof done) != sizeof done) _exit(5);
                if (b % 3 == 2 && !(*store)->Flush().ok()) _exit(6);
            }
        }
        close(fds[1]);
        const int kill_after = std::uniform_int_distribution<int>(1, 6)(rng);
        int reports = 0;
        int last_done = first_batch;
        int last_started = -1;
        int value = 0;
        while (read(fds[0], &value, sizeof value) == sizeof value) {
            if (value > 0) {
                last_done = value;
                if (++reports >= kill_after) break;
            } else {
                last_started = -value - 1;
            }
        }
        usleep(static_cast<useconds_t>(std::uniform_int_distribution<int>(0, 3000)(rng)));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
        while (read(fds[0], &value, sizeof value) == sizeof value) {
            if (value > 0) last_done = value;
            else last_started = -value - 1;
        }
        close(fds[0]);

        {
            sqlite3* db = nullptr;
            ASSERT_EQ(sqlite3_open_v2(((dir / "store") + "/store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
                      SQLITE_OK);
            sqlite3_stmt* stmt = nullptr;
            ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr), SQLITE_OK);
            ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
            EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "ok");
            sqlite3_finalize(stmt);
            sqlite3_close(db);
        }
        auto store = MustOpen((dir / "store"));
        ASSERT_NE(store, nullptr);
        auto info = store->GetCollection("c");
        ASSERT_TRUE(info.ok());
        // The batch in flight at the kill may or may not have committed, but whole.
        const std::int64_t records = info->records;
        const bool in_flight_committed = records == static_cast<std::int64_t>(last_done + 1) * kBatch;
        EXPECT_TRUE(records == static_cast<std::int64_t>(last_done) * kBatch ||
                    (in_flight_committed && last_started == last_done))
            << "records " << records << " reported done " << last_done;
        committed_batches = static_cast<int>(records / kBatch);
        EXPECT_EQ(store->ListFiles("c")->size(), static_cast<size_t>(committed_batches));
        ExpectFindable(*store, 0, committed_batches * kBatch);
        ExpectLexicallyFindable(*store, 0, committed_batches * kBatch, 7);
        auto all = store->LexicalSearch("c", "document", SearchOptions{.k = 100000});
        ASSERT_TRUE(all.ok());
        EXPECT_EQ(all->size(), static_cast<size_t>(records));
    }
    EXPECT_GT(committed_batches, 5);
}

std::string LexicalDir(const std::string& store_dir) { return store_dir + "/lexical"; }

TEST(EmbeddedStore, MissingOrCorruptLexicalIndexIsRebuilt) {
    TempDir dir;
    {
        auto store = MustOpen((dir / "store"));
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 40);
        ASSERT_TRUE(store->Flush().ok());
        EXPECT_EQ(store->stats().lexical_rebuilds, 1);  // created for the first commit
    }
    ASSERT_TRUE(fs::exists(LexicalDir(dir / "store") + "/1"));
    {
        auto store = MustOpen((dir / "store"));
        ExpectLexicallyFindable(*store, 0, 40);
        EXPECT_GE(store->stats().lexical_loads, 1);
        EXPECT_EQ(store->stats().lexical_rebuilds, 0);
    }
    fs::remove_all(LexicalDir(dir / "store"));
    {
        auto reader = MustOpen((dir / "store"), /*read_only=*/true);
        ExpectLexicallyFindable(*reader, 0, 40);  // rebuilt in memory: a reader writes nothing
        EXPECT_EQ(reader->stats().lexical_rebuilds, 1);
        EXPECT_FALSE(fs::exists(LexicalDir(dir / "store") + "/1"));
    }
    {
        auto store = MustOpen((dir / "store"));
        ExpectLexicallyFindable(*store, 0, 40);
        EXPECT_EQ(store->stats().lexical_rebuilds, 1);
    }
    // Garbage over every file of the database.
    for (const auto& entry : fs::directory_iterator(LexicalDir(dir / "store") + "/1")) {
        std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(0);
        f.write("garbage!garbage!", 16);
    }
    for (bool read_only : {true, false}) {
        auto store = MustOpen((dir / "store"), read_only);
        ExpectLexicallyFindable(*store, 0, 40);
        EXPECT_EQ(store->stats().lexical_rebuilds, 1) << read_only;
    }
}

TEST(EmbeddedStore, LexicalIndexFollowsAnotherProcessesCommits) {
    TempDir dir;
    {
        auto store = MustOpen((dir / "store"));
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 30);
    }
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ExpectLexicallyFindable(*reader, 0, 30);
    const std::string index = LexicalDir(dir / "store") + "/1";
    fs::copy(index, dir / "index-before", fs::copy_options::recursive);
    // A writer that commits and dies without flushing.
    ASSERT_TRUE(RunInChild([&] {
        auto store = EmbeddedStore::Open((dir / "store"), OpenOptions{});
        if (!store.ok()) return false;
        ChangeSet c;
        for (int i = 30; i < 45; ++i) c.upserts.push_back(MakeRecord(i));
        c.delete_ids = {"rec-0", "rec-1"};
        c.upserts.push_back(MakeRecord(2));
        c.upserts.back().document = "replaced zebra";
        if (!(*store)->Commit("c", c).ok()) return false;
        (void)store->release();  // no destructor: nothing flushed
        return true;
    }));
    // The reader follows the index the writer committed; then, with the index put back as it was
    // before that commit (as if the writer died between its SQLite and its Xapian commit), a new
    // reader and a new writer catch up from the change log.
    std::unique_ptr<EmbeddedStore> late_reader;
    for (int pass = 0; pass < 2; ++pass) {
        if (pass == 1) {
            fs::remove_all(index);
            fs::rename(dir / "index-before", index);
            late_reader = MustOpen((dir / "store"), /*read_only=*/true);
        }
        VectorStore* store = pass == 0 ? reader.get() : late_reader.get();
        ExpectLexicallyFindable(*store, 30, 45);
        ExpectLexicallyFindable(*store, 3, 30);
        auto zero_one = store->LexicalSearch("c", "0 1", {.k = 100});
        ASSERT_TRUE(zero_one.ok());
        for (const auto& h : *zero_one) {
            EXPECT_NE(h.record.id, "rec-0");
            EXPECT_NE(h.record.id, "rec-1");
        }
        auto zebra = store->LexicalSearch("c", "zebra", {});
        ASSERT_EQ(zebra->size(), 1u);
        EXPECT_EQ((*zebra)[0].record.id, "rec-2");
        EXPECT_EQ(store->LexicalSearch("c", "document", {.k = 100})->size(), 42u);
    }
    EXPECT_EQ(late_reader->stats().lexical_rebuilds, 0);
    EXPECT_EQ(late_reader->stats().lexical_replayed, 18);
    auto writer = MustOpen((dir / "store"));
    ExpectLexicallyFindable(*writer, 30, 45);
    auto zero_one = writer->LexicalSearch("c", "0 1", {.k = 100});
    ASSERT_TRUE(zero_one.ok());
    for (const auto& h : *zero_one) EXPECT_NE(h.record.id, "rec-0");
    EXPECT_EQ(writer->LexicalSearch("c", "document", {.k = 100})->size(), 42u);
    EXPECT_EQ(writer->stats().lexical_rebuilds, 0);
    EXPECT_GE(writer->stats().lexical_loads, 1);
    EXPECT_EQ(writer->stats().lexical_replayed, 18);
}

// A store written before ADR-28 (schema 1) kept its lexical index in FTS5 tables.
void MakeVersion1(const std::string& store_dir) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((store_dir + "/store.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE VIRTUAL TABLE fts_1 USING fts5(tokens, tokenize = 'ascii');"
                           "INSERT INTO fts_1(rowid, tokens) SELECT row_id, document FROM records;"
                           "PRAGMA user_version=1",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    fs::remove_all(store_dir + "/lexical");
}

std::int64_t QueryStoreInt(const std::string& store_dir, const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((store_dir + "/store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
    std::int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

TEST(EmbeddedStore, Version1StoreIsReadAndUpgradedByTheFirstWriter) {
    TempDir dir;
    {
        auto store = MustOpen((dir / "store"));
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 30);
    }
    MakeVersion1(dir / "store");
    const char* kFtsTables = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'fts_%'";
    {
        auto reader = MustOpen((dir / "store"), /*read_only=*/true);
        ASSERT_NE(reader, nullptr);
        EXPECT_TRUE(reader->CheckHealth().ok());
        ExpectLexicallyFindable(*reader, 0, 30);
        EXPECT_EQ(QueryStoreInt(dir / "store", "PRAGMA user_version"), 1);
    }
    // A writer killed after opening (the upgrade is one transaction) leaves a readable store.
    ASSERT_TRUE(RunInChild([&] {
        auto store = EmbeddedStore::Open((dir / "store"), OpenOptions{});
        if (!store.ok()) return false;
        (void)store->release();
        return true;
    }));
    EXPECT_EQ(QueryStoreInt(dir / "store", "PRAGMA user_version"), EmbeddedStore::kSchemaVersion);
    EXPECT_EQ(QueryStoreInt(dir / "store", kFtsTables), 0);
    MakeVersion1(dir / "store");
    {
        auto writer = MustOpen((dir / "store"));
        ASSERT_NE(writer, nullptr);
        EXPECT_EQ(QueryStoreInt(dir / "store", "PRAGMA user_version"), EmbeddedStore::kSchemaVersion);
        EXPECT_EQ(QueryStoreInt(dir / "store", kFtsTables), 0);
        ExpectLexicallyFindable(*writer, 0, 30);
        CommitRange(*writer, 30, 35);
        ExpectLexicallyFindable(*writer, 0, 35);
        EXPECT_TRUE(writer->CheckHealth().ok());
    }
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ExpectLexicallyFindable(*reader, 0, 35);
    EXPECT_EQ(reader->stats().lexical_rebuilds, 0);
}

TEST(EmbeddedStore, SecondWriterIsRefusedNamingThePid) {
    TempDir dir;
    auto writer = MustOpen((dir / "store"));
    auto second = EmbeddedStore::Open((dir / "store"), OpenOptions{});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(second.status().message(), testing::HasSubstr("locked by pid " + std::to_string(getpid())));
    EXPECT_THAT(second.status().message(), testing::HasSubstr("wait for it to finish"));
    // No holder given: the lock names this process's command line (the test binary).
    EXPECT_THAT(second.status().message(), testing::HasSubstr("(`store_test"));
    EXPECT_THAT(second.status().message(), testing::MatchesRegex(".*since 20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T.*"));
    writer.reset();
    EXPECT_TRUE(EmbeddedStore::Open((dir / "store"), OpenOptions{}).ok());  // released on close
}

// `serve --watch` holds the lock for as long as it runs: the next writer is told what holds it, since
// when, and what to do instead of "wait for it to finish" (issue 20, item 9).
TEST(EmbeddedStore, SecondWriterIsToldAWatchingServerHoldsTheStore) {
    TempDir dir;
    auto writer = EmbeddedStore::Open((dir / "store"), OpenOptions{.holder = "signal-hub serve --watch"});
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    auto second = EmbeddedStore::Open((dir / "store"), OpenOptions{});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), ErrorCode::kFailedPrecondition);
    const std::string& message = second.status().message();
    EXPECT_THAT(message, testing::HasSubstr("locked by pid " + std::to_string(getpid()) +
                                            " (`signal-hub serve --watch`, since "));
    EXPECT_THAT(message, testing::HasSubstr("let it re-index for you"));
    EXPECT_THAT(message, testing::HasSubstr("or stop it (pid " + std::to_string(getpid()) + ")"));
    EXPECT_THAT(message, testing::Not(testing::HasSubstr("wait for it to finish")));
}

// A lock file of an older version holds only the pid: the message still names it.
TEST(EmbeddedStore, HeldMessageReadsAnOldLockFile) {
    EXPECT_EQ(WriterLock::HeldMessage("/s", "4242\n"),
              "store /s is locked by pid 4242: another signal-hub writer (index, migrate) is running; wait for it to "
              "finish");
    EXPECT_THAT(WriterLock::HeldMessage("/s", "7\ncommand: signal-hub index /repo\nsince: 2026-12-07T03:30:00Z\n"),
                testing::StartsWith("store /s is locked by pid 7 (`signal-hub index /repo`, since "
                                    "2026-12-07T03:30:00Z): another signal-hub writer"));
}

TEST(EmbeddedStore, LockOfAKilledWriterDoesNotBlock) {
    TempDir dir;
    ASSERT_TRUE(RunInChild([&] {
        auto store = EmbeddedStore::Open((dir / "store"), OpenOptions{});
        if (!store.ok()) return false;
        (void)store->release();
        return true;  // exits holding the lock; the OS releases it
    }));
    EXPECT_TRUE(EmbeddedStore::Open((dir / "store"), OpenOptions{}).ok());
}

TEST(EmbeddedStore, ReaderWorksWhileWriterHoldsLockAndSeesNewCommits) {
    TempDir dir;
    auto writer = MustOpen((dir / "store"));
    ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
    CommitRange(*writer, 0, 20);
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    ExpectFindable(*reader, 0, 20);
    CommitRange(*writer, 20, 30);
    ExpectFindable(*reader, 20, 30);  // caught up from the change log
    ASSERT_TRUE(writer->Flush().ok());  // saves and prunes past the reader's position
    CommitRange(*writer, 30, 35);
    ExpectFindable(*reader, 0, 35);
    EXPECT_EQ(reader->GetCollection("c")->records, 35);

    EXPECT_EQ(reader->Commit("c", ChangeSet{.touch_last_indexed = true}).code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(reader->DropCollection("c").code(), ErrorCode::kFailedPrecondition);
    auto create = reader->EnsureCollection(CollectionSpec{"new", "m", 4, DistanceMetric::kCosine});
    EXPECT_EQ(create.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(reader->EnsureCollection(Spec()).ok());  // existing and matching: fine
    EXPECT_TRUE(reader->Flush().ok());
}

TEST(EmbeddedStore, ReaderOpensAfterWriterClosed) {
    TempDir dir;
    {
        auto writer = MustOpen((dir / "store"));
        ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
        CommitRange(*writer, 0, 10);
    }
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    ExpectFindable(*reader, 0, 10);
    auto lexical = reader->LexicalSearch("c", "document", SearchOptions{.k = 20});
    ASSERT_TRUE(lexical.ok()) << lexical.status().ToString();
    EXPECT_EQ(lexical->size(), 10u);
}

TEST(EmbeddedStore, ReadOnlyOpenOfMissingStoreIsNotFound) {
    TempDir dir;
    auto store = EmbeddedStore::Open(dir.path() + "/absent", OpenOptions{.read_only = true});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kNotFound);
    EXPECT_THAT(store.status().message(), testing::HasSubstr("run `signal-hub index` first"));
    EXPECT_FALSE(fs::exists(dir.path() + "/absent"));  // readers create nothing
}

std::int64_t PageSizeOf(const std::string& db_path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::int64_t size = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        size = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return size;
}

// New stores use kPageSize; a store made with 4 KiB pages (every store before issue 16) keeps them and
// goes on working: written, reopened, searched.
TEST(EmbeddedStore, NewStoresUseLargePagesAndOldStoresKeepTheirs) {
    TempDir dir;
    {
        auto store = MustOpen(dir / "new");
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 20);
    }
    EXPECT_EQ(PageSizeOf((dir / "new") + "/store.db"), EmbeddedStore::kPageSize);
    {
        auto store = MustOpen(dir / "old");
        ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
        CommitRange(*store, 0, 20);
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(((dir / "old") + "/store.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA page_size=4096; VACUUM; PRAGMA journal_mode=WAL",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ(PageSizeOf((dir / "old") + "/store.db"), 4096);
    {
        auto store = MustOpen(dir / "old");
        CommitRange(*store, 20, 40);
    }
    EXPECT_EQ(PageSizeOf((dir / "old") + "/store.db"), 4096);
    auto store = MustOpen(dir / "old", /*read_only=*/true);
    EXPECT_EQ(store->GetCollection("c")->records, 40);
    ExpectFindable(*store, 0, 40);
}

TEST(EmbeddedStore, NewerSchemaVersionIsRefused) {
    TempDir dir;
    { MustOpen((dir / "store")); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(((dir / "store") + "/store.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    for (bool read_only : {false, true}) {
        auto store = EmbeddedStore::Open((dir / "store"), OpenOptions{.read_only = read_only});
        ASSERT_FALSE(store.ok());
        EXPECT_EQ(store.status().code(), ErrorCode::kFailedPrecondition);
        EXPECT_THAT(store.status().message(), testing::HasSubstr("schema version 99"));
    }
}

TEST(EmbeddedStore, ForeignDatabaseIsRefused) {
    TempDir dir;
    fs::create_directories((dir / "store"));
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(((dir / "store") + "/store.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto store = EmbeddedStore::Open((dir / "store"), OpenOptions{});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kFailedPrecondition);
}

TEST(EmbeddedStore, NonSelectiveFilterUsesHnswAndStillReturnsK) {
    TempDir dir;
    EmbeddedStoreOptions tuning;
    tuning.exact_scan_min = 50;
    tuning.exact_scan_fraction = 0.01;
    auto store = MustOpen((dir / "store"), false, tuning);
    ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
    ChangeSet c;
    for (int i = 0; i < 3000; ++i) c.upserts.push_back(MakeRecord(i, i % 3 == 0 ? "go" : "python"));
    ASSERT_TRUE(store->Commit("c", c).ok());
    Filter go;
    go.language = "go";
    Filter rare;
    rare.path_glob = "src/f3.go";  // 100 records: above exact_scan_min
    for (int q = 0; q < 10; ++q) {
        auto v = VectorFor(5000 + q);
        for (const Filter& f : {go, rare}) {
            auto hits = store->VectorSearch("c", v, SearchOptions{.k = 10, .filter = f});
            ASSERT_TRUE(hits.ok()) << hits.status().ToString();
            ASSERT_EQ(hits->size(), 10u);
            for (const auto& h : *hits) EXPECT_TRUE(f.Matches(h.record.metadata));
        }
    }
    EXPECT_GT(store->stats().hnsw_searches, 0);
    // A record whose own vector is queried with a matching filter is found first.
    auto own = store->VectorSearch("c", VectorFor(33), SearchOptions{.k = 1, .filter = rare});
    ASSERT_TRUE(own.ok());
    ASSERT_EQ(own->size(), 1u);
    EXPECT_EQ((*own)[0].record.id, "rec-33");
}

TEST(EmbeddedStore, DropCollectionRemovesGraphFiles) {
    TempDir dir;
    auto store = MustOpen((dir / "store"));
    ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
    CommitRange(*store, 0, 10);
    ASSERT_TRUE(store->Flush().ok());
    std::string hnsw = *store->HnswPath("c");
    std::string sidecar = *store->SidecarPath("c");
    ASSERT_TRUE(fs::exists(hnsw));
    ASSERT_TRUE(store->DropCollection("c").ok());
    EXPECT_FALSE(fs::exists(hnsw));
    EXPECT_FALSE(fs::exists(sidecar));
}

TEST(EmbeddedStore, HealthFollowsTheStoreDirectoryAwayAndBack) {
    TempDir dir;
    auto writer = MustOpen((dir / "store"));
    ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
    CommitRange(*writer, 0, 10);
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    ExpectFindable(*reader, 0, 10);  // the reader now holds pooled connections
    for (VectorStore* store : {static_cast<VectorStore*>(writer.get()), static_cast<VectorStore*>(reader.get())}) {
        Status s = store->CheckHealth();
        EXPECT_TRUE(s.ok()) << s.ToString();
    }
    const std::string away = dir.path() + "/moved-away";
    fs::rename((dir / "store"), away);
    for (VectorStore* store : {static_cast<VectorStore*>(writer.get()), static_cast<VectorStore*>(reader.get())}) {
        Status s = store->CheckHealth();
        EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.ToString();
        EXPECT_THAT(s.message(), testing::HasSubstr((dir / "store") + "/store.db"));
        EXPECT_THAT(s.message(), testing::HasSubstr("gone"));
    }
    fs::rename(away, (dir / "store"));
    for (VectorStore* store : {static_cast<VectorStore*>(writer.get()), static_cast<VectorStore*>(reader.get())}) {
        Status s = store->CheckHealth();
        EXPECT_TRUE(s.ok()) << s.ToString();
    }
    ExpectFindable(*reader, 0, 10);
}

TEST(EmbeddedStore, HealthReportsAReplacedDatabaseFile) {
    TempDir dir;
    {
        auto writer = MustOpen((dir / "store"));
        ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
        CommitRange(*writer, 0, 3);
    }
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    ASSERT_TRUE(reader->CheckHealth().ok());
    const std::string db = (dir / "store") + "/store.db";
    fs::copy_file(db, db + ".copy");
    fs::rename(db + ".copy", db);  // same content, another inode
    Status s = reader->CheckHealth();
    EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.ToString();
    EXPECT_THAT(s.message(), testing::HasSubstr("replaced"));
}

TEST(EmbeddedStore, HealthReportsASchemaVersionChangedUnderAnOpenStore) {
    TempDir dir;
    {
        auto writer = MustOpen((dir / "store"));
        ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
    }
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    ASSERT_TRUE(reader->CheckHealth().ok());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(((dir / "store") + "/store.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    Status s = reader->CheckHealth();
    EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
    EXPECT_THAT(s.message(), testing::HasSubstr("schema version 99"));
}

TEST(EmbeddedStore, HealthReportsCorruptionAsDataLoss) {
    TempDir dir;
    {
        auto writer = MustOpen((dir / "store"));
        ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
        CommitRange(*writer, 0, 3);
    }  // closing the last connection checkpoints the WAL into store.db
    const std::string path = (dir / "store") + "/store.db";
    std::int64_t root_page = 0, page_size = 0;
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        sqlite3_stmt* stmt = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT rootpage, (SELECT page_size FROM pragma_page_size()) FROM "
                                         "sqlite_master WHERE name = 'collections'",
                                     -1, &stmt, nullptr),
                  SQLITE_OK);
        ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
        root_page = sqlite3_column_int64(stmt, 0);
        page_size = sqlite3_column_int64(stmt, 1);
        sqlite3_finalize(stmt);
        sqlite3_close(db);
    }
    ASSERT_GT(root_page, 1);
    {
        std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp((root_page - 1) * page_size);
        const std::string garbage(static_cast<size_t>(page_size), '\xff');
        file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    Status s = reader->CheckHealth();
    EXPECT_EQ(s.code(), ErrorCode::kDataLoss) << s.ToString();
    EXPECT_THAT(s.message(), testing::HasSubstr("corrupt"));
}

TEST(EmbeddedStore, ReadOnlyOpensSeeTheWritersDataVersion) {
    TempDir dir;
    auto writer = MustOpen((dir / "store"));
    ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    const std::int64_t before = *reader->DataVersion();
    EXPECT_EQ(before, *writer->DataVersion());
    CommitRange(*writer, 0, 5);
    const std::int64_t after = *reader->DataVersion();
    EXPECT_GT(after, before);
    EXPECT_EQ(after, *writer->DataVersion());
    ASSERT_TRUE(writer->Flush().ok());  // derived state only
    EXPECT_EQ(*reader->DataVersion(), after);
    // A read-only open in another process sees the same version.
    EXPECT_TRUE(RunInChild([&] {
        auto other = EmbeddedStore::Open((dir / "store"), OpenOptions{.read_only = true});
        if (!other.ok()) return false;
        auto version = (*other)->DataVersion();
        return version.ok() && *version == after;
    }));
}

TEST(EmbeddedStore, DatabaseWithoutDataVersionReadsZeroUntilAWriterAddsIt) {
    TempDir dir;
    {
        auto writer = MustOpen((dir / "store"));
        ASSERT_TRUE(writer->EnsureCollection(Spec()).ok());
        CommitRange(*writer, 0, 3);
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(((dir / "store") + "/store.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE meta", nullptr, nullptr, nullptr), SQLITE_OK);  // as written before it
    sqlite3_close(db);
    auto reader = MustOpen((dir / "store"), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(*reader->DataVersion(), 0);
    EXPECT_TRUE(reader->CheckHealth().ok());
    ExpectFindable(*reader, 0, 3);
    auto writer = MustOpen((dir / "store"));
    ASSERT_NE(writer, nullptr);
    EXPECT_EQ(*reader->DataVersion(), 0);  // the table exists now, the counter not yet
    CommitRange(*writer, 3, 4);
    EXPECT_EQ(*reader->DataVersion(), 1);
}

TEST(StoreRegistry, OpensByUrlAndRejectsUnknownSchemes) {
    TempDir dir;
    auto mem = OpenStore("memory://", OpenOptions{});
    ASSERT_TRUE(mem.ok());
    auto path = OpenStore(dir.path() + "/plain", OpenOptions{});
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    EXPECT_TRUE(fs::exists(dir.path() + "/plain/store.db"));
    auto url = OpenStore("sqlite://" + dir.path() + "/url", OpenOptions{});
    ASSERT_TRUE(url.ok());
    auto bad = OpenStore("ftp://x", OpenOptions{});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(bad.status().message(), testing::HasSubstr("memory://"));
    EXPECT_THAT(bad.status().message(), testing::HasSubstr("sqlite://"));

    auto a = OpenStore("memory://shared-test", OpenOptions{});
    auto b = OpenStore("memory://shared-test", OpenOptions{});
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*a)->EnsureCollection(Spec()).ok());
    EXPECT_TRUE((*b)->GetCollection("c").ok());
    auto fresh = OpenStore("memory://", OpenOptions{});
    EXPECT_EQ((*fresh)->GetCollection("c").status().code(), ErrorCode::kNotFound);

    RegisterStoreBackend("custom", [](const std::string&, const OpenOptions&) -> Result<std::unique_ptr<VectorStore>> {
        return Unavailable("custom backend reached");
    });
    EXPECT_EQ(OpenStore("custom://x", OpenOptions{}).status().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace signalhub::store

namespace signalhub::store {
namespace {

// The unfiltered exact scan reads the graph's own vectors: records deleted or replaced
// since are never returned, and the order (score, then id) matches a brute force over
// what is stored now.
TEST(EmbeddedStore, ExactScanSkipsDeletedAndReplacedVectors) {
    TempDir dir;
    auto store = MustOpen(dir.path());
    ASSERT_TRUE(store->EnsureCollection(Spec()).ok());
    CommitRange(*store, 0, 300);
    ChangeSet change;
    for (int i = 0; i < 300; i += 3) change.delete_ids.push_back("rec-" + std::to_string(i));
    Record moved = MakeRecord(1);
    moved.embedding = VectorFor(100001);  // rec-1 now points elsewhere
    change.upserts.push_back(moved);
    ASSERT_TRUE(store->Commit("c", change).ok());
    std::map<std::string, std::vector<float>> live;
    for (int i = 0; i < 300; ++i)
        if (i % 3 != 0) live["rec-" + std::to_string(i)] = VectorFor(i);
    live["rec-1"] = VectorFor(100001);
    for (int q : {0, 1, 3, 100001, 7}) {
        const std::vector<float> query = VectorFor(q);
        std::vector<std::pair<double, std::string>> truth;
        for (const auto& [id, v] : live) truth.emplace_back(-Similarity(DistanceMetric::kCosine,
                                                                         PrepareVector(DistanceMetric::kCosine, query),
                                                                         PrepareVector(DistanceMetric::kCosine, v)),
                                                            id);
        std::sort(truth.begin(), truth.end());
        auto hits = store->VectorSearch("c", query, SearchOptions{.k = 10, .exact = true});
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        ASSERT_EQ(hits->size(), 10u);
        for (size_t j = 0; j < 10; ++j) {
            EXPECT_EQ((*hits)[j].record.id, truth[j].second) << "query " << q << " rank " << j;
            EXPECT_NEAR((*hits)[j].score, -truth[j].first, 1e-5);
        }
        if (q == 100001) {
            EXPECT_EQ((*hits)[0].record.id, "rec-1");
        }
    }
}

}  // namespace
}  // namespace signalhub::store

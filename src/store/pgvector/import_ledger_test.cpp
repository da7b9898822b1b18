// ImportLedger (what `migrate import` records for `migrate verify --database` without a file):
// against the test server (label `postgres`), each test in a schema of its own.

#include "store/pgvector/import_ledger.hpp"

#include <gtest/gtest.h>

#include "store/pgvector/pg_test_util.hpp"
#include "store/pgvector/pgvector_store.hpp"

namespace signalhub::store {
namespace {

using pgtest::ExecSql;
using pgtest::WithParam;

class PgImportLedgerTest : public testing::Test {
   protected:
    void SetUp() override {
        server_ = pgtest::ServerUrl();
        ASSERT_FALSE(server_.empty());
        schema_ = pgtest::UniqueSchema();
        url_ = WithParam(server_, "schema=" + schema_);
    }
    void TearDown() override {
        if (!server_.empty()) {
            EXPECT_EQ(ExecSql(server_, "DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE"), "");
        }
    }
    std::unique_ptr<PgVectorStore> Store() {
        auto s = PgVectorStore::Open(url_, OpenOptions{});
        EXPECT_TRUE(s.ok()) << s.status().ToString();
        return s.ok() ? std::move(s).value() : nullptr;
    }
    std::unique_ptr<ImportLedger> Ledger() {
        auto l = ImportLedger::Open(url_);
        EXPECT_TRUE(l.ok()) << l.status().ToString();
        return l.ok() ? std::move(l).value() : nullptr;
    }
    static CollectionSpec Spec(const std::string& name) { return {name, "m", 2, DistanceMetric::kCosine}; }
    static std::string D(char c) { return std::string(16, c); }
    std::string server_, schema_, url_;
};

TEST_F(PgImportLedgerTest, NothingRecordedWithoutTables) {
    auto store = Store();
    ASSERT_NE(store, nullptr);
    auto ledger = Ledger();
    ASSERT_NE(ledger, nullptr);
    auto entries = ledger->Entries();
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    EXPECT_TRUE(entries->empty());
}

TEST_F(PgImportLedgerTest, EnsureNeedsTheStoreSchema) {
    ASSERT_EQ(ExecSql(server_, "CREATE SCHEMA \"" + schema_ + "\""), "");
    auto ledger = Ledger();
    ASSERT_NE(ledger, nullptr);
    Status s = ledger->Ensure();
    EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("init-db"), std::string::npos) << s.message();
}

TEST_F(PgImportLedgerTest, RecordsAnImportAndUpsertsDigests) {
    auto store = Store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection(Spec("c")).ok());
    auto ledger = Ledger();
    ASSERT_NE(ledger, nullptr);
    ASSERT_TRUE(ledger->Ensure().ok());
    ASSERT_TRUE(ledger->Ensure().ok());  // idempotent
    ASSERT_TRUE(ledger->Begin("c", "/x/a.json", "abc", 3).ok());
    const std::vector<ImportDigest> first{{"a", D('1')}, {"b", D('2')}};
    ASSERT_TRUE(ledger->AddDigests("c", first).ok());
    auto entries = ledger->Entries();
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ((*entries)[0].collection, "c");
    EXPECT_FALSE((*entries)[0].complete);  // begun, not finished
    EXPECT_EQ((*entries)[0].finished_at, "");
    // A re-run (resume) writes the same digests again, and more: no duplicates.
    const std::vector<ImportDigest> again{{"b", D('3')}, {"c\xff", D('4')}};
    ASSERT_TRUE(ledger->AddDigests("c", again).ok());
    ASSERT_TRUE(ledger->Finish("c").ok());
    entries = ledger->Entries();
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 1u);
    const ImportLedgerEntry& e = (*entries)[0];
    EXPECT_TRUE(e.complete);
    EXPECT_EQ(e.input, "/x/a.json");
    EXPECT_EQ(e.input_checksum, "abc");
    EXPECT_EQ(e.input_records, 3);
    EXPECT_EQ(e.digests, 3);
    EXPECT_EQ(e.finished_at.size(), 20u) << e.finished_at;
    // Paged, in bytewise id order, the replaced digest last written.
    auto page = ledger->Digests("c", "", 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].id, "a");
    EXPECT_EQ((*page)[1].id, "b");
    EXPECT_EQ((*page)[1].digest, D('3'));
    page = ledger->Digests("c", "b", 2);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ((*page)[0].id, "c\xff");
}

TEST_F(PgImportLedgerTest, RefusesBadInputAndUnknownCollections) {
    auto store = Store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection(Spec("c")).ok());
    auto ledger = Ledger();
    ASSERT_NE(ledger, nullptr);
    ASSERT_TRUE(ledger->Ensure().ok());
    EXPECT_EQ(ledger->Begin("nope", "f", "x", 1).code(), ErrorCode::kNotFound);
    const std::vector<ImportDigest> short_digest{{"a", "123"}};
    EXPECT_EQ(ledger->AddDigests("c", short_digest).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(ledger->Finish("c").code(), ErrorCode::kNotFound);  // never begun
}

TEST_F(PgImportLedgerTest, DroppingTheCollectionDropsItsRecord) {
    auto store = Store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection(Spec("c")).ok());
    auto ledger = Ledger();
    ASSERT_NE(ledger, nullptr);
    ASSERT_TRUE(ledger->Ensure().ok());
    ASSERT_TRUE(ledger->Begin("c", "f", "x", 1).ok());
    const std::vector<ImportDigest> one{{"a", D('1')}};
    ASSERT_TRUE(ledger->AddDigests("c", one).ok());
    ASSERT_TRUE(ledger->Finish("c").ok());
    ASSERT_TRUE(store->DropCollection("c").ok());
    ASSERT_TRUE(store->EnsureCollection(Spec("c")).ok());  // a new instance: nothing recorded for it
    auto entries = ledger->Entries();
    ASSERT_TRUE(entries.ok());
    EXPECT_TRUE(entries->empty());
    auto page = ledger->Digests("c", "", 10);
    ASSERT_TRUE(page.ok());
    EXPECT_TRUE(page->empty());
}

}  // namespace
}  // namespace signalhub::store

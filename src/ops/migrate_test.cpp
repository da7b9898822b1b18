// ImportExport's two load paths (ADR-33): the records kept by the validation pass, or a second
// read of the file when they exceed the memory budget. Both must write the same records, and a bad
// file must be refused before anything is written on either path. Targets are memory:// stores
// (the PostgreSQL paths: tests/integration/migrate_postgres.sh, migrate_resume.sh).
#include "ops/migrate.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "core/test_temp_dir.hpp"
#include "ops/export_format.hpp"
#include "ops/line_io.hpp"
#include "store/vector_store.hpp"

using signalhub::testing_util::TempDir;

namespace signalhub::ops {
namespace {

Record MakeRecord(const std::string& collection, int i, int dim) {
    Record r;
    char id[32];
    std::snprintf(id, sizeof id, "id%06d", i);
    r.id = id;
    r.document = collection + " doc " + std::to_string(i);
    r.metadata = {{"i", std::int64_t{i}}, {"path", std::string("src/f") + std::to_string(i % 7) + ".py"}};
    for (int d = 0; d < dim; ++d) r.embedding.push_back(static_cast<float>((i * 31 + d * 17) % 101) / 13.0f - 3.0f);
    return r;
}

// One file, a block per collection name, `n` records each.
void WriteExportFile(const std::string& path, const std::vector<std::string>& collections, int n, int dim = 8) {
    auto w = LineWriter::Open(path);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (const std::string& name : collections) {
        ASSERT_TRUE((*w)->WriteLine(EncodeHeader({"embedded", {name, "m", dim, DistanceMetric::kCosine}, n})).ok());
        CollectionChecksum sum;
        for (int i = 0; i < n; ++i) {
            const Record r = MakeRecord(name, i, dim);
            sum.Add(RecordDigest(r));
            ASSERT_TRUE((*w)->WriteLine(*EncodeRecord(r)).ok());
        }
        ASSERT_TRUE((*w)->WriteLine(EncodeTrailer({name, n, sum.Hex()})).ok());
    }
    ASSERT_TRUE((*w)->Close().ok());
}

std::vector<Record> ScanAll(store::VectorStore& s, const std::string& collection) {
    std::vector<Record> all;
    std::string after;
    for (;;) {
        auto page = s.Scan(collection, after, 100);
        EXPECT_TRUE(page.ok()) << page.status().ToString();
        if (!page.ok()) return all;
        for (Record& r : page->records) all.push_back(std::move(r));
        if (!page->next_after) return all;
        after = *page->next_after;
    }
}

TEST(MigrateImport, KeptRecordsAndASecondReadWriteTheSameRecords) {
    TempDir dir;
    const std::string path = dir / "two.jsonl.zst";
    WriteExportFile(path, {"alpha", "beta"}, 300);
    struct Case {
        const char* url;
        size_t budget;
        bool single_read;
    };
    // Default budget: kept. 0: never kept. 20,000 bytes: kept at first, dropped within the first block.
    for (const Case& c : {Case{"memory://mig-kept", size_t{512} << 20, true}, Case{"memory://mig-zero", 0, false},
                          Case{"memory://mig-over", 20000, false}}) {
        SCOPED_TRACE(c.url);
        ImportOptions o;
        o.input = path;
        o.target_url = c.url;
        o.batch_size = 64;
        o.memory_budget_bytes = c.budget;
        auto summary = ImportExport(o);
        ASSERT_TRUE(summary.ok()) << summary.status().ToString();
        EXPECT_EQ(summary->single_read, c.single_read);
        ASSERT_EQ(summary->collections.size(), 2u);
        auto target = store::OpenStore(c.url, store::OpenOptions{});
        ASSERT_TRUE(target.ok()) << target.status().ToString();
        for (const std::string name : {"alpha", "beta"}) {
            EXPECT_EQ(summary->collections[name == "alpha" ? 0 : 1].imported, 300);
            const std::vector<Record> got = ScanAll(**target, name);
            ASSERT_EQ(got.size(), 300u);
            for (int i = 0; i < 300; ++i) {
                const Record want = MakeRecord(name, i, 8);
                EXPECT_EQ(RecordDigest(got[i]), RecordDigest(want)) << name << " " << want.id;
            }
        }
        // And the target passes `migrate verify` against the file.
        VerifyOptions v;
        v.target_url = c.url;
        v.against_file = path;
        v.sample = 20;
        auto report = VerifyMigration(v);
        ASSERT_TRUE(report.ok()) << report.status().ToString();
        EXPECT_TRUE(report->ok()) << VerifyReportText(*report);
    }
}

TEST(MigrateImport, ABadLaterBlockIsRefusedBeforeAnythingIsWrittenOnBothPaths) {
    TempDir dir;
    const std::string path = dir / "bad.jsonl";
    WriteExportFile(path, {"alpha", "beta"}, 50);
    // Alter one record of the second block: its trailer (line 104) no longer matches.
    std::string all;
    {
        std::ifstream in(path);
        all.assign(std::istreambuf_iterator<char>(in), {});
    }
    const size_t at = all.find("\"beta doc 10\"");
    ASSERT_NE(at, std::string::npos);
    all.replace(at, 13, "\"beta doc 11\"");
    {
        std::ofstream out(path, std::ios::trunc);
        out << all;
    }
    for (const size_t budget : {size_t{512} << 20, size_t{0}}) {
        SCOPED_TRACE(budget);
        const std::string url = "memory://mig-bad-" + std::to_string(budget);
        ImportOptions o;
        o.input = path;
        o.target_url = url;
        o.memory_budget_bytes = budget;
        auto summary = ImportExport(o);
        ASSERT_FALSE(summary.ok());
        EXPECT_EQ(summary.status().code(), ErrorCode::kDataLoss);
        EXPECT_NE(summary.status().message().find("bad.jsonl:104:"), std::string::npos) << summary.status().ToString();
        EXPECT_NE(summary.status().message().find("checksum mismatch"), std::string::npos);
        auto target = store::OpenStore(url, store::OpenOptions{});
        ASSERT_TRUE(target.ok()) << target.status().ToString();
        auto collections = (*target)->ListCollections();
        ASSERT_TRUE(collections.ok());
        EXPECT_TRUE(collections->empty()) << "a refused import created " << collections->size() << " collections";
    }
}

}  // namespace
}  // namespace signalhub::ops

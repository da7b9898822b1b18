#include "store/embedded/hnsw_index.hpp"

#include <gtest/gtest.h>
#include <hnswlib/hnswlib.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/test_temp_dir.hpp"
#include "store/embedded/embedded_store.hpp"
#include "store/store_util.hpp"

using signalhub::testing_util::TempDir;

namespace signalhub::store {
namespace {

constexpr int kDim = 64;

std::vector<float> VectorFor(int i) {
    std::mt19937 rng(static_cast<unsigned>(i) * 7919u + 3);
    std::normal_distribution<float> dist(0, 1);
    std::vector<float> v(kDim);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Labels 1000..1000+n-1 with VectorFor(label).
std::unique_ptr<HnswIndex> BuildIndex(int n) {
    std::vector<std::int64_t> labels;
    std::vector<float> vectors;
    for (int i = 0; i < n; ++i) {
        labels.push_back(1000 + i);
        auto v = VectorFor(1000 + i);
        vectors.insert(vectors.end(), v.begin(), v.end());
    }
    auto index = HnswIndex::Build(kDim, DistanceMetric::kCosine, labels, vectors);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? std::move(index).value() : nullptr;
}

// A reader that hands out VectorFor(label) for `labels`.
HnswIndex::VectorReader ReaderOf(std::vector<std::int64_t> labels, int* calls = nullptr) {
    return [labels = std::move(labels), calls](const HnswIndex::VectorSink& sink) {
        if (calls != nullptr) ++*calls;
        for (std::int64_t label : labels) sink(label, VectorFor(static_cast<int>(label)));
        return Status::Ok();
    };
}

std::vector<std::int64_t> Range(int begin, int end) {
    std::vector<std::int64_t> out;
    for (int i = begin; i < end; ++i) out.push_back(i);
    return out;
}

std::vector<std::int64_t> SearchLabels(const HnswIndex& index, int query, size_t k) {
    auto prepared = PrepareVector(DistanceMetric::kCosine, VectorFor(query));
    auto hits = index.Search(prepared, k, 64);
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    std::vector<std::int64_t> out;
    if (hits.ok())
        for (const auto& h : *hits) out.push_back(h.label);
    return out;
}

std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void Spit(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

TEST(HnswIndex, GraphFileHoldsNoLiveVectorsAndLoadsTheSameGraph) {
    TempDir dir;
    auto index = BuildIndex(400);
    ASSERT_NE(index, nullptr);
    for (int i = 0; i < 400; i += 10) index->Remove(1000 + i);  // 40 deleted keep their vectors in the file
    const std::string path = dir / "1.bin";
    auto info = index->Save(path);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(static_cast<std::int64_t>(std::filesystem::file_size(path)), info->bytes);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    EXPECT_EQ(Slurp(path).substr(0, 8), "SHHNSWG\n");
    // 360 live vectors would take 360 * 256 bytes alone; the file has links, labels and 40 vectors.
    EXPECT_LT(info->bytes, 400 * (12 + 33 * 4) + 400 * 16 * 4 + 40 * kDim * 4 + 256);
    EXPECT_LT(info->bytes, 400 * kDim * 4);

    int calls = 0;
    auto loaded = HnswIndex::Load(path, kDim, DistanceMetric::kCosine, *info, ReaderOf(Range(1000, 1400), &calls));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ((*loaded)->loaded_format(), 2);
    EXPECT_EQ((*loaded)->elements(), 400u);
    EXPECT_EQ((*loaded)->live(), 360u);
    EXPECT_EQ((*loaded)->deleted(), 40u);
    for (int q : {1001, 1010, 1234, 7, 99999}) {
        EXPECT_EQ(SearchLabels(**loaded, q, 10), SearchLabels(*index, q, 10)) << "query " << q;
    }
    // Saved again, the loaded graph writes the same bytes.
    auto again = (*loaded)->Save(dir / "2.bin");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->xxh3, info->xxh3);
    EXPECT_EQ(again->bytes, info->bytes);
}

TEST(HnswIndex, LiveElementWithoutAVectorIsMarkedDeletedAndUnknownLabelsAreIgnored) {
    TempDir dir;
    auto index = BuildIndex(100);
    ASSERT_NE(index, nullptr);
    const std::string path = dir / "1.bin";
    auto info = index->Save(path);
    ASSERT_TRUE(info.ok());
    // Records 1000..1004 were deleted since the save; 5000..5009 were added (not in the graph).
    std::vector<std::int64_t> labels = Range(1005, 1100);
    for (std::int64_t l : Range(5000, 5010)) labels.push_back(l);
    auto loaded = HnswIndex::Load(path, kDim, DistanceMetric::kCosine, *info, ReaderOf(labels));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ((*loaded)->live(), 95u);
    EXPECT_EQ((*loaded)->deleted(), 5u);
    double score = 0;
    EXPECT_FALSE((*loaded)->Score(PrepareVector(DistanceMetric::kCosine, VectorFor(1000)), 1000, score));
    EXPECT_TRUE((*loaded)->Score(PrepareVector(DistanceMetric::kCosine, VectorFor(1050)), 1050, score));
    EXPECT_NEAR(score, 1.0, 1e-5);
    EXPECT_EQ(SearchLabels(**loaded, 1050, 1), std::vector<std::int64_t>{1050});
}

// Every element re-linked, then moved: some are alone on an upper level (an empty link list,
// where hnswlib's updatePoint would memcpy from a null pointer; UBSan builds stop there).
TEST(HnswIndex, RelinkAndMoveEveryElementOfASmallGraph) {
    for (int n : {2, 3, 13, 60}) {
        auto index = BuildIndex(n);
        ASSERT_NE(index, nullptr);
        for (int i = 0; i < n; ++i) ASSERT_TRUE(index->Upsert(1000 + i, VectorFor(1000 + i), /*relink=*/true).ok());
        EXPECT_EQ(index->live(), static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) EXPECT_EQ(SearchLabels(*index, 1000 + i, 1), std::vector<std::int64_t>{1000 + i});
        index->Remove(1000);
        for (int i = 0; i < n; ++i) ASSERT_TRUE(index->Upsert(1000 + i, VectorFor(5000 + i)).ok());
        EXPECT_EQ(index->live(), static_cast<size_t>(n));
        EXPECT_EQ(index->deleted(), 0u);
        for (int i = 0; i < n; ++i) EXPECT_EQ(SearchLabels(*index, 5000 + i, 1), std::vector<std::int64_t>{1000 + i});
    }
}

TEST(HnswIndex, DamagedGraphFilesAreDataLoss) {
    TempDir dir;
    auto index = BuildIndex(200);
    ASSERT_NE(index, nullptr);
    const std::string path = dir / "1.bin";
    auto info = index->Save(path);
    ASSERT_TRUE(info.ok());
    const std::string good = Slurp(path);
    auto load = [&](const HnswIndex::FileInfo& expected) {
        return HnswIndex::Load(path, kDim, DistanceMetric::kCosine, expected, ReaderOf(Range(1000, 1200)));
    };

    // Not what the sidecar says.
    std::string bad = good;
    bad[good.size() / 2] ^= 0x40;
    Spit(path, bad);
    auto r = load(*info);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kDataLoss);
    EXPECT_NE(r.status().message().find("does not match its sidecar"), std::string::npos) << r.status().message();

    // A sidecar that matches the damaged file: the file's own checksum catches it.
    auto matching = HnswIndex::Checksum(path);
    ASSERT_TRUE(matching.ok());
    r = load(*matching);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kDataLoss);
    EXPECT_NE(r.status().message().find("checksum"), std::string::npos) << r.status().message();

    // Truncated, with a matching sidecar.
    Spit(path, good.substr(0, 100));
    matching = HnswIndex::Checksum(path);
    ASSERT_TRUE(matching.ok());
    r = load(*matching);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kDataLoss);

    // Another dimension than the collection's.
    Spit(path, good);
    r = HnswIndex::Load(path, kDim * 2, DistanceMetric::kCosine, *info, ReaderOf({}));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("dimension"), std::string::npos) << r.status().message();

    // The reader's error is the load's.
    r = HnswIndex::Load(path, kDim, DistanceMetric::kCosine, *info,
                        [](const HnswIndex::VectorSink&) { return DataLoss("embedding blob of row 7 is short"); });
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("row 7"), std::string::npos) << r.status().message();

    // Missing.
    std::filesystem::remove(path);
    r = load(*info);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kDataLoss);
}

// A graph written by hnswlib's saveIndex (every store before ADR-35) loads with its own vectors.
TEST(HnswIndex, HnswlibFileOfOlderStoresStillLoads) {
    TempDir dir;
    const std::string path = dir / "1.bin";
    {
        hnswlib::InnerProductSpace space(kDim);  // the distance of our cosine kernel: 1 - a.b
        hnswlib::HierarchicalNSW<float> graph(&space, 300, kHnswM, kHnswEfConstruction);
        for (int i = 0; i < 300; ++i) {
            auto v = PrepareVector(DistanceMetric::kCosine, VectorFor(1000 + i));
            graph.addPoint(v.data(), static_cast<hnswlib::labeltype>(1000 + i));
        }
        graph.markDelete(1007);
        graph.saveIndex(path);
    }
    auto info = HnswIndex::Checksum(path);
    ASSERT_TRUE(info.ok());
    int calls = 0;
    auto loaded = HnswIndex::Load(path, kDim, DistanceMetric::kCosine, *info, ReaderOf({}, &calls));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(calls, 0);
    EXPECT_EQ((*loaded)->loaded_format(), 1);
    EXPECT_EQ((*loaded)->live(), 299u);
    EXPECT_EQ((*loaded)->deleted(), 1u);
    for (int q : {1000, 1100, 1299}) EXPECT_EQ(SearchLabels(**loaded, q, 1), std::vector<std::int64_t>{q});
    EXPECT_TRUE(SearchLabels(**loaded, 1007, 300).size() == 299u);

    // Saved again it becomes a graph-only file that loads with the records' vectors.
    const std::string converted = dir / "2.bin";
    auto saved = (*loaded)->Save(converted);
    ASSERT_TRUE(saved.ok());
    EXPECT_LT(saved->bytes, info->bytes / 2);
    auto reloaded = HnswIndex::Load(converted, kDim, DistanceMetric::kCosine, *saved, ReaderOf(Range(1000, 1300)));
    ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
    EXPECT_EQ((*reloaded)->loaded_format(), 2);
    for (int q : {1000, 1100, 1299, 55}) EXPECT_EQ(SearchLabels(**reloaded, q, 10), SearchLabels(**loaded, q, 10));
}

// A store written before ADR-35 (hnswlib's file with its vectors): it opens without a rebuild,
// and the writer's Flush rewrites the file graph-only, which the next (read-only) open loads.
TEST(EmbeddedStoreGraphFile, HnswlibFileOfAnOlderStoreLoadsAndIsRewrittenGraphOnly) {
    TempDir dir;
    const std::string store_dir = dir / "store";
    const CollectionSpec spec{"c", "model", kDim, DistanceMetric::kCosine};
    auto record = [](int i) {
        Record r;
        r.id = "rec-" + std::to_string(i);
        r.document = "document " + std::to_string(i);
        r.embedding = VectorFor(i);
        return r;
    };
    std::string graph_path, sidecar_path;
    {
        auto store = EmbeddedStore::Open(store_dir, OpenOptions{});
        ASSERT_TRUE(store.ok()) << store.status().ToString();
        ASSERT_TRUE((*store)->EnsureCollection(spec).ok());
        ChangeSet c;
        for (int i = 0; i < 120; ++i) c.upserts.push_back(record(i));
        ASSERT_TRUE((*store)->Commit("c", c).ok());
        ASSERT_TRUE((*store)->Flush().ok());
        graph_path = *(*store)->HnswPath("c");
        sidecar_path = *(*store)->SidecarPath("c");
    }
    const auto graph_only_bytes = std::filesystem::file_size(graph_path);
    // Replace the graph by the one an older build saved: hnswlib's format over the same row ids.
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open_v2((store_dir + "/store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
        sqlite3_stmt* stmt = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT row_id, embedding FROM records", -1, &stmt, nullptr), SQLITE_OK);
        hnswlib::InnerProductSpace space(kDim);
        hnswlib::HierarchicalNSW<float> graph(&space, 200, kHnswM, kHnswEfConstruction);
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            std::vector<float> v(kDim);
            ASSERT_EQ(sqlite3_column_bytes(stmt, 1), kDim * 4);
            std::memcpy(v.data(), sqlite3_column_blob(stmt, 1), kDim * 4);
            v = PrepareVector(DistanceMetric::kCosine, v);
            graph.addPoint(v.data(), static_cast<hnswlib::labeltype>(sqlite3_column_int64(stmt, 0)));
        }
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        graph.saveIndex(graph_path);
        auto info = HnswIndex::Checksum(graph_path);
        ASSERT_TRUE(info.ok());
        std::ifstream in(sidecar_path);
        nlohmann::json sidecar = nlohmann::json::parse(in);
        char hash[17];
        std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(info->xxh3));
        sidecar["bytes"] = info->bytes;
        sidecar["xxh3"] = hash;
        Spit(sidecar_path, sidecar.dump());
    }
    EXPECT_NE(Slurp(graph_path).substr(0, 8), "SHHNSWG\n");
    const auto hnswlib_bytes = std::filesystem::file_size(graph_path);
    EXPECT_GT(hnswlib_bytes, graph_only_bytes + 120 * kDim * 4);
    auto expect_findable = [&](VectorStore& store) {
        for (int i = 0; i < 120; i += 7) {
            auto hits = store.VectorSearch("c", VectorFor(i), SearchOptions{.k = 1});
            ASSERT_TRUE(hits.ok()) << hits.status().ToString();
            ASSERT_EQ(hits->size(), 1u);
            EXPECT_EQ((*hits)[0].record.id, "rec-" + std::to_string(i));
        }
    };
    {
        auto store = EmbeddedStore::Open(store_dir, OpenOptions{});
        ASSERT_TRUE(store.ok());
        expect_findable(**store);
        EXPECT_EQ((*store)->stats().hnsw_loads, 1);
        EXPECT_EQ((*store)->stats().hnsw_rebuilds, 0);
    }  // closing flushes: the graph is saved in the new format
    EXPECT_EQ(Slurp(graph_path).substr(0, 8), "SHHNSWG\n");
    EXPECT_LT(std::filesystem::file_size(graph_path), hnswlib_bytes / 2);
    {
        auto store = EmbeddedStore::Open(store_dir, OpenOptions{.read_only = true});
        ASSERT_TRUE(store.ok());
        expect_findable(**store);
        EXPECT_EQ((*store)->stats().hnsw_loads, 1);
        EXPECT_EQ((*store)->stats().hnsw_rebuilds, 0);
    }
}

}  // namespace
}  // namespace signalhub::store

// One conformance suite for every VectorStore backend. Add a backend by adding
// a StoreBackend to kBackends (INSTANTIATE_TEST_SUITE_P below); nothing in the
// tests may depend on a particular backend.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "store/chroma/chroma_test_util.hpp"
#include "store/embedded/embedded_store.hpp"
#include "store/memory_store.hpp"
#include "store/pgvector/pg_test_util.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store {
namespace {

struct StoreBackend {
    std::string name;
    // Opens a fresh, empty store; `dir` is a new empty temp directory the backend may use.
    std::function<std::unique_ptr<VectorStore>(const std::string& dir)> open;
};

// Test names show the backend's name, not the parameter's bytes.
void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

std::string MakeTempDir() {
    std::string tmpl = (std::filesystem::path(testing::TempDir()) / "store_conf_XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    return tmpl;
}

class StoreConformance : public testing::TestWithParam<StoreBackend> {
   protected:
    void SetUp() override {
        dir_ = MakeTempDir();
        store_ = GetParam().open(dir_);
        ASSERT_NE(store_, nullptr);
    }
    void TearDown() override {
        store_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    CollectionSpec Spec(const std::string& name, int dim, DistanceMetric metric = DistanceMetric::kCosine) {
        return CollectionSpec{name, "test-model", dim, metric};
    }
    void Ensure(const CollectionSpec& spec) { ASSERT_TRUE(store_->EnsureCollection(spec).ok()); }
    void MustCommit(const std::string& collection, const ChangeSet& changes) {
        Status s = store_->Commit(collection, changes);
        ASSERT_TRUE(s.ok()) << s.ToString();
    }

    std::string dir_;
    std::unique_ptr<VectorStore> store_;
};

std::vector<float> RandomVector(std::mt19937& rng, int dim) {
    std::normal_distribution<float> dist(0, 1);
    std::vector<float> v(static_cast<size_t>(dim));
    for (auto& x : v) x = dist(rng);
    return v;
}

Record MakeRecord(const std::string& id, std::vector<float> embedding, const std::string& path = "",
                  const std::string& language = "", std::optional<std::string> document = std::nullopt) {
    Record r;
    r.id = id;
    r.embedding = std::move(embedding);
    r.document = std::move(document);
    if (!path.empty()) r.metadata["file_path"] = path;
    if (!language.empty()) r.metadata["language"] = language;
    return r;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        dot += static_cast<double>(a[i]) * b[i];
        na += static_cast<double>(a[i]) * a[i];
        nb += static_cast<double>(b[i]) * b[i];
    }
    return dot / std::sqrt(na * nb);
}

std::vector<std::string> BruteForce(const std::vector<Record>& records, const std::vector<float>& q, size_t k,
                                    const Filter& filter = {}) {
    std::vector<std::pair<double, std::string>> scored;
    for (const auto& r : records) {
        if (filter.Matches(r.metadata)) scored.emplace_back(Cosine(q, r.embedding), r.id);
    }
    std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::string> out;
    for (size_t i = 0; i < std::min(k, scored.size()); ++i) out.push_back(scored[i].second);
    return out;
}

std::vector<std::string> Ids(const std::vector<Hit>& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(h.record.id);
    return out;
}

TEST_P(StoreConformance, EnsureCollectionIsIdempotentAndRefusesMismatch) {
    auto first = store_->EnsureCollection(Spec("c", 8));
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->spec.name, "c");
    EXPECT_EQ(first->spec.dimension, 8);
    EXPECT_EQ(first->records, 0);
    auto again = store_->EnsureCollection(Spec("c", 8));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->spec.model, "test-model");

    auto wrong_dim = store_->EnsureCollection(Spec("c", 16));
    ASSERT_FALSE(wrong_dim.ok());
    EXPECT_EQ(wrong_dim.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(wrong_dim.status().message(), testing::HasSubstr("dimension"));
    auto wrong_metric = store_->EnsureCollection(Spec("c", 8, DistanceMetric::kL2));
    ASSERT_FALSE(wrong_metric.ok());
    EXPECT_THAT(wrong_metric.status().message(), testing::HasSubstr("metric"));
    CollectionSpec other_model = Spec("c", 8);
    other_model.model = "other";
    EXPECT_EQ(store_->EnsureCollection(other_model).status().code(), ErrorCode::kFailedPrecondition);

    EXPECT_EQ(store_->EnsureCollection(Spec("", 8)).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(store_->EnsureCollection(Spec("d", 0)).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, UnknownCollectionIsNotFound) {
    std::vector<float> q(4, 1.0f);
    std::vector<std::string> ids{"a"};
    EXPECT_EQ(store_->GetCollection("nope").status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->GetCollectionSpec("nope").status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->Commit("nope", ChangeSet{.touch_last_indexed = true}).code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->Get("nope", ids).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->Scan("nope", "", 10).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->ListFiles("nope").status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->VectorSearch("nope", q, {}).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->LexicalSearch("nope", "x", {}).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(store_->DropCollection("nope").code(), ErrorCode::kNotFound);
}

// The spec lookups (what a search uses) agree with GetCollection / ListCollections, whose counts
// stay exact, through commits and drops.
TEST_P(StoreConformance, SpecLookupsAgreeWithInfo) {
    auto key = [](const CollectionSpec& c) {
        return std::make_tuple(c.name, c.model, c.dimension, DistanceMetricName(c.metric));
    };
    auto expect_agree = [&] {
        auto infos = store_->ListCollections();
        auto specs = store_->ListCollectionSpecs();
        ASSERT_TRUE(infos.ok()) << infos.status().ToString();
        ASSERT_TRUE(specs.ok()) << specs.status().ToString();
        ASSERT_EQ(specs->size(), infos->size());
        for (size_t i = 0; i < specs->size(); ++i) {
            EXPECT_EQ(key((*specs)[i]), key((*infos)[i].spec));
            auto one = store_->GetCollectionSpec((*infos)[i].spec.name);
            ASSERT_TRUE(one.ok()) << one.status().ToString();
            EXPECT_EQ(key(*one), key((*infos)[i].spec));
        }
    };
    expect_agree();
    Ensure(Spec("b", 3));
    Ensure(Spec("a", 2));
    expect_agree();
    ChangeSet add;
    add.upserts = {MakeRecord("x", {1, 0, 0}), MakeRecord("y", {0, 1, 0})};
    add.put_files = {FileState{.path = "x.py", .content_hash = "h", .size = 1, .mtime_ns = 1, .record_ids = {"x"}}};
    MustCommit("b", add);
    EXPECT_EQ(store_->GetCollection("b")->records, 2);
    EXPECT_EQ(store_->GetCollection("b")->files, 1);
    EXPECT_EQ(store_->GetCollection("a")->records, 0);
    expect_agree();
    ChangeSet remove;
    remove.delete_ids = {"x"};
    remove.delete_files = {"x.py"};
    MustCommit("b", remove);
    EXPECT_EQ(store_->GetCollection("b")->records, 1);
    EXPECT_EQ(store_->GetCollection("b")->files, 0);
    ASSERT_TRUE(store_->DropCollection("a").ok());
    EXPECT_EQ(store_->GetCollectionSpec("a").status().code(), ErrorCode::kNotFound);
    expect_agree();
    EXPECT_EQ(store_->ListCollectionSpecs()->size(), 1u);
}

TEST_P(StoreConformance, CommitUpsertsReplacesAndDeletes) {
    Ensure(Spec("c", 3));
    ChangeSet add;
    add.upserts = {MakeRecord("a", {1, 0, 0}, "a.py", "python", "alpha"), MakeRecord("b", {0, 1, 0}),
                   MakeRecord("c", {0, 0, 1})};
    MustCommit("c", add);
    EXPECT_EQ(store_->GetCollection("c")->records, 3);

    ChangeSet replace;
    replace.upserts = {MakeRecord("a", {0, 1, 1}, "a2.py", "go", "alpha2")};
    replace.delete_ids = {"b", "missing"};
    MustCommit("c", replace);
    std::vector<std::string> ids{"a", "b", "c"};
    auto got = store_->Get("c", ids);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[0].id, "a");
    EXPECT_EQ((*got)[0].document, std::optional<std::string>("alpha2"));
    EXPECT_EQ((*got)[0].embedding, (std::vector<float>{0, 1, 1}));
    EXPECT_EQ(GetString((*got)[0].metadata, "language"), std::optional<std::string>("go"));
    EXPECT_EQ((*got)[1].id, "c");
    EXPECT_EQ(store_->GetCollection("c")->records, 2);

    // The replaced vector is what search sees.
    std::vector<float> q{0, 1, 1};
    auto hits = store_->VectorSearch("c", q, SearchOptions{.k = 1});
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].record.id, "a");
    EXPECT_NEAR((*hits)[0].score, 1.0, 1e-5);

    // Delete then upsert of the same id in one change set: the record exists.
    ChangeSet both;
    both.delete_ids = {"c"};
    both.upserts = {MakeRecord("c", {1, 1, 0})};
    MustCommit("c", both);
    std::vector<std::string> only_c{"c"};
    auto c = store_->Get("c", only_c);
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c->size(), 1u);
    EXPECT_EQ((*c)[0].embedding, (std::vector<float>{1, 1, 0}));
}

TEST_P(StoreConformance, CommitIsAllOrNothing) {
    Ensure(Spec("c", 2));
    MustCommit("c", ChangeSet{.upserts = {MakeRecord("keep", {1, 0})}});
    ChangeSet bad;
    bad.delete_ids = {"keep"};
    bad.upserts = {MakeRecord("ok", {1, 1}), MakeRecord("bad-one", {1, 2, 3})};
    bad.put_files = {FileState{"f.py", "h", 1, 2, {"ok"}}};
    Status s = store_->Commit("c", bad);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(s.message(), testing::HasSubstr("bad-one"));
    EXPECT_THAT(s.message(), testing::HasSubstr("3"));
    EXPECT_THAT(s.message(), testing::HasSubstr("2"));
    std::vector<std::string> ids{"keep", "ok"};
    auto got = store_->Get("c", ids);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].id, "keep");
    EXPECT_TRUE(store_->ListFiles("c")->empty());

    std::vector<float> nan_vec{std::numeric_limits<float>::quiet_NaN(), 0};
    EXPECT_EQ(store_->Commit("c", ChangeSet{.upserts = {MakeRecord("n", nan_vec)}}).code(),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(store_->Commit("c", ChangeSet{.upserts = {MakeRecord("", {1, 0})}}).code(),
              ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, MetadataKeepsTypesExactly) {
    Ensure(Spec("c", 2));
    Record r = MakeRecord("m", {1, 0});
    r.metadata = {{"int_one", std::int64_t{1}},
                  {"float_one", 1.0},
                  {"bool_true", true},
                  {"bool_false", false},
                  {"string_one", std::string("1")},
                  {"empty", std::string("")},
                  {"unicode", std::string("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80 \"q\" \\ \n\t")},
                  {"big", std::int64_t{std::numeric_limits<std::int64_t>::max()}},
                  {"small", std::int64_t{std::numeric_limits<std::int64_t>::min()}},
                  {"pi", 3.141592653589793},
                  {"tiny", 5e-324},
                  {"third", 1.0 / 3.0},
                  {"neg_zero", -0.0},
                  {"huge", 1.7976931348623157e308},
                  {"inf", std::numeric_limits<double>::infinity()},
                  {"neg_inf", -std::numeric_limits<double>::infinity()}};
    MustCommit("c", ChangeSet{.upserts = {r}});
    std::vector<std::string> ids{"m"};
    auto got = store_->Get("c", ids);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    const Metadata& m = (*got)[0].metadata;
    ASSERT_EQ(m.size(), r.metadata.size());
    for (const auto& [key, value] : r.metadata) {
        auto it = m.find(key);
        ASSERT_NE(it, m.end()) << key;
        ASSERT_EQ(it->second.index(), value.index()) << key;
        if (const auto* d = std::get_if<double>(&value)) {
            EXPECT_EQ(std::bit_cast<std::uint64_t>(*d), std::bit_cast<std::uint64_t>(std::get<double>(it->second)))
                << key;
        } else {
            EXPECT_EQ(it->second, value) << key;
        }
    }
}

TEST_P(StoreConformance, EmbeddingsRoundTripBitExactly) {
    Ensure(Spec("c", 8));
    std::vector<float> v{std::numeric_limits<float>::denorm_min(),
                         -0.0f,
                         std::numeric_limits<float>::max(),
                         std::numeric_limits<float>::lowest(),
                         1e-40f,
                         0.1f,
                         -1.0f / 3.0f,
                         std::numeric_limits<float>::min()};
    MustCommit("c", ChangeSet{.upserts = {MakeRecord("e", v)}});
    std::vector<std::string> ids{"e"};
    auto got = store_->Get("c", ids);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    ASSERT_EQ((*got)[0].embedding.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        EXPECT_EQ(std::bit_cast<std::uint32_t>((*got)[0].embedding[i]), std::bit_cast<std::uint32_t>(v[i])) << i;
    }
    auto page = store_->Scan("c", "", 10);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->records.size(), 1u);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(page->records[0].embedding[1]), std::bit_cast<std::uint32_t>(-0.0f));
    std::vector<float> q{0, 0, 0, 0, 0, 1, 0, 0};
    auto hits = store_->VectorSearch("c", q, SearchOptions{.k = 1, .include_embeddings = true});
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ(std::bit_cast<std::uint32_t>((*hits)[0].record.embedding[0]),
              std::bit_cast<std::uint32_t>(std::numeric_limits<float>::denorm_min()));
    auto without = store_->VectorSearch("c", q, SearchOptions{.k = 1});
    ASSERT_TRUE(without.ok());
    EXPECT_TRUE((*without)[0].record.embedding.empty());
}

TEST_P(StoreConformance, DocumentAbsentDiffersFromEmpty) {
    Ensure(Spec("c", 2));
    MustCommit("c", ChangeSet{.upserts = {MakeRecord("none", {1, 0}), MakeRecord("empty", {0, 1}, "", "", ""),
                                          MakeRecord("nul", {1, 1}, "", "", std::string("a\0b", 3))}});
    std::vector<std::string> ids{"none", "empty", "nul"};
    auto got = store_->Get("c", ids);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 3u);
    EXPECT_EQ((*got)[0].document, std::nullopt);
    EXPECT_EQ((*got)[1].document, std::optional<std::string>(""));
    EXPECT_EQ((*got)[2].document, std::optional<std::string>(std::string("a\0b", 3)));
}

TEST_P(StoreConformance, GetReturnsExistingRecordsInRequestOrder) {
    Ensure(Spec("c", 2));
    MustCommit("c", ChangeSet{.upserts = {MakeRecord("x", {1, 0}), MakeRecord("y", {0, 1})}});
    std::vector<std::string> ids{"y", "missing", "x"};
    auto got = store_->Get("c", ids);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ((std::vector<std::string>{(*got)[0].id, (*got)[1].id}), (std::vector<std::string>{"y", "x"}));
    std::vector<std::string> none;
    EXPECT_TRUE(store_->Get("c", none)->empty());
}

TEST_P(StoreConformance, ScanPaginatesInIdOrder) {
    Ensure(Spec("c", 2));
    ChangeSet changes;
    std::set<std::string> expected;
    for (int i = 0; i < 25; ++i) {
        std::string id = "id-" + std::to_string(i * 7 % 25);
        expected.insert(id);
        changes.upserts.push_back(MakeRecord(id, {static_cast<float>(i), 1}));
    }
    MustCommit("c", changes);
    std::vector<std::string> seen;
    std::string after;
    int pages = 0;
    while (true) {
        auto page = store_->Scan("c", after, 7);
        ASSERT_TRUE(page.ok()) << page.status().ToString();
        ++pages;
        EXPECT_LE(page->records.size(), 7u);
        for (const auto& r : page->records) {
            seen.push_back(r.id);
            EXPECT_EQ(r.embedding.size(), 2u);
        }
        if (!page->next_after) break;
        after = *page->next_after;
        ASSERT_LT(pages, 10);
    }
    EXPECT_EQ(pages, 4);
    EXPECT_EQ(seen, std::vector<std::string>(expected.begin(), expected.end()));
    EXPECT_EQ(store_->Scan("c", "", 0).status().code(), ErrorCode::kInvalidArgument);
    auto exact = store_->Scan("c", "", 25);
    ASSERT_TRUE(exact.ok());
    EXPECT_EQ(exact->records.size(), 25u);
    EXPECT_FALSE(exact->next_after.has_value());
}

TEST_P(StoreConformance, FileStatesPutReplaceDelete) {
    Ensure(Spec("c", 2));
    ChangeSet put;
    put.put_files = {FileState{"src/b.py", "hash-b", 10, 111, {"b#1", "b#2"}},
                     FileState{"src/a.py", "hash-a", 20, 222, {}}};
    MustCommit("c", put);
    auto files = store_->ListFiles("c");
    ASSERT_TRUE(files.ok());
    ASSERT_EQ(files->size(), 2u);
    EXPECT_EQ((*files)[0].path, "src/a.py");
    EXPECT_EQ((*files)[1].path, "src/b.py");
    EXPECT_EQ((*files)[1].content_hash, "hash-b");
    EXPECT_EQ((*files)[1].size, 10);
    EXPECT_EQ((*files)[1].mtime_ns, 111);
    EXPECT_EQ((*files)[1].record_ids, (std::vector<std::string>{"b#1", "b#2"}));
    EXPECT_TRUE((*files)[0].record_ids.empty());

    ChangeSet change;
    change.delete_files = {"src/a.py"};
    change.put_files = {FileState{"src/b.py", "hash-b2", 11, 333, {"b#3"}}};
    MustCommit("c", change);
    files = store_->ListFiles("c");
    ASSERT_TRUE(files.ok());
    ASSERT_EQ(files->size(), 1u);
    EXPECT_EQ((*files)[0].content_hash, "hash-b2");
    EXPECT_EQ((*files)[0].record_ids, (std::vector<std::string>{"b#3"}));
}

TEST_P(StoreConformance, TouchSetsLastIndexedAndListCollectionsCounts) {
    Ensure(Spec("b", 2));
    Ensure(Spec("a", 3));
    EXPECT_FALSE(store_->GetCollection("a")->last_indexed_unix.has_value());
    MustCommit("a", ChangeSet{.upserts = {MakeRecord("x", {1, 2, 3}), MakeRecord("y", {3, 2, 1})},
                              .touch_last_indexed = true});
    auto list = store_->ListCollections();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].spec.name, "a");
    EXPECT_EQ((*list)[0].records, 2);
    EXPECT_TRUE((*list)[0].last_indexed_unix.has_value());
    EXPECT_GT((*list)[0].bytes, 0);
    EXPECT_EQ((*list)[1].spec.name, "b");
    EXPECT_EQ((*list)[1].records, 0);
}

// Collection properties (the indexed tree's root, an unfinished run's marker) and
// the file count are kept by every backend, set and removed atomically with a
// commit, read back by GetCollection and ListCollections, and dropped with the
// collection (issue 20 items 6, 10, 13).
TEST_P(StoreConformance, CollectionPropertiesAndFileCount) {
    Ensure(Spec("c", 2));
    Ensure(Spec("d", 2));
    EXPECT_TRUE(store_->GetCollection("c")->properties.empty());
    EXPECT_EQ(store_->GetCollection("c")->files, 0);
    ChangeSet first;
    first.put_files = {FileState{"a.py", "h", 1, 1, {}}, FileState{"b.py", "h", 1, 1, {}}};
    first.set_properties = {{"root", "/srv/repo \u00e9"}, {"index_started", "1700000000"}};
    MustCommit("c", first);
    auto info = store_->GetCollection("c");
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->files, 2);
    EXPECT_EQ(info->properties, (std::map<std::string, std::string, std::less<>>{
                                    {"index_started", "1700000000"}, {"root", "/srv/repo \u00e9"}}));
    ChangeSet second;
    second.delete_files = {"a.py"};
    second.set_properties = {{"index_started", std::nullopt}, {"root", "/srv/other"}};
    MustCommit("c", second);
    auto list = store_->ListCollections();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].files, 1);
    EXPECT_EQ((*list)[0].properties, (std::map<std::string, std::string, std::less<>>{{"root", "/srv/other"}}));
    EXPECT_TRUE((*list)[1].properties.empty());
    ASSERT_TRUE(store_->DropCollection("c").ok());
    Ensure(Spec("c", 2));
    EXPECT_TRUE(store_->GetCollection("c")->properties.empty());
    EXPECT_EQ(store_->GetCollection("c")->files, 0);
}

class RecallFixture {
   public:
    static constexpr int kDim = 64;
    static std::vector<Record> Make(size_t n, unsigned seed) {
        std::mt19937 rng(seed);
        std::vector<Record> records;
        for (size_t i = 0; i < n; ++i) {
            std::string lang = i % 100 == 0 ? "rust" : (i % 2 == 0 ? "python" : "go");
            std::string path = (i % 3 == 0 ? "src/deep/" : "lib/") + std::to_string(i) + (lang == "go" ? ".go" : ".py");
            records.push_back(MakeRecord("r" + std::to_string(i), RandomVector(rng, kDim), path, lang));
        }
        return records;
    }
};

TEST_P(StoreConformance, VectorSearchRecallAgainstBruteForce) {
    Ensure(Spec("c", RecallFixture::kDim));
    auto records = RecallFixture::Make(2000, 7);
    for (size_t start = 0; start < records.size(); start += 500) {
        ChangeSet batch;
        batch.upserts.assign(records.begin() + static_cast<long>(start), records.begin() + static_cast<long>(start + 500));
        MustCommit("c", batch);
    }
    std::mt19937 rng(99);
    double found = 0;
    const int queries = 30;
    for (int i = 0; i < queries; ++i) {
        auto q = RandomVector(rng, RecallFixture::kDim);
        auto hits = store_->VectorSearch("c", q, SearchOptions{.k = 10});
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        ASSERT_EQ(hits->size(), 10u);
        for (size_t j = 1; j < hits->size(); ++j) EXPECT_GE((*hits)[j - 1].score, (*hits)[j].score);
        auto truth = BruteForce(records, q, 10);
        std::set<std::string> truth_set(truth.begin(), truth.end());
        for (const auto& h : *hits) found += truth_set.count(h.record.id);
        EXPECT_NEAR((*hits)[0].score, Cosine(q, records[std::stoul((*hits)[0].record.id.substr(1))].embedding), 1e-4);
    }
    EXPECT_GE(found / (queries * 10.0), 0.95);
}

TEST_P(StoreConformance, ExactSearchEqualsBruteForce) {
    Ensure(Spec("c", RecallFixture::kDim));
    auto records = RecallFixture::Make(1500, 5);
    ChangeSet batch;
    batch.upserts = records;
    MustCommit("c", batch);
    std::mt19937 rng(3);
    for (int i = 0; i < 10; ++i) {
        auto q = RandomVector(rng, RecallFixture::kDim);
        auto hits = store_->VectorSearch("c", q, SearchOptions{.k = 10, .exact = true});
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        std::vector<std::string> got;
        for (const auto& h : *hits) got.push_back(h.record.id);
        EXPECT_EQ(got, BruteForce(records, q, 10));
    }
}

TEST_P(StoreConformance, FilteredSearchReturnsExactlyKMatching) {
    Ensure(Spec("c", RecallFixture::kDim));
    auto records = RecallFixture::Make(2000, 11);
    MustCommit("c", ChangeSet{.upserts = records});
    std::mt19937 rng(5);
    std::vector<Filter> filters(5);
    filters[0].language = "rust";  // 1%: selective
    filters[1].language = "python";  // ~50%: non-selective
    filters[2].path_glob = "src/**/*.py";
    filters[3].path_glob = "*.go";
    filters[3].language = "go";
    filters[4].language = "cobol";  // matches nothing
    for (const auto& filter : filters) {
        size_t matching = std::count_if(records.begin(), records.end(),
                                        [&](const Record& r) { return filter.Matches(r.metadata); });
        for (int i = 0; i < 5; ++i) {
            auto q = RandomVector(rng, RecallFixture::kDim);
            auto hits = store_->VectorSearch("c", q, SearchOptions{.k = 10, .filter = filter});
            ASSERT_TRUE(hits.ok()) << hits.status().ToString();
            ASSERT_EQ(hits->size(), std::min<size_t>(10, matching));
            for (const auto& h : *hits) EXPECT_TRUE(filter.Matches(h.record.metadata)) << h.record.id;
            auto truth = BruteForce(records, q, 10, filter);
            std::set<std::string> truth_set(truth.begin(), truth.end());
            size_t found = 0;
            for (const auto& h : *hits) found += truth_set.count(h.record.id);
            EXPECT_GE(found + 1, truth.size());  // at most one miss per query
        }
    }
    Filter empty_lang;
    empty_lang.language = "";
    std::vector<float> q(RecallFixture::kDim, 1.0f);
    EXPECT_EQ(store_->VectorSearch("c", q, SearchOptions{.filter = empty_lang}).status().code(),
              ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, OtherMetricsOrderLikeBruteForce) {
    for (DistanceMetric metric : {DistanceMetric::kL2, DistanceMetric::kInnerProduct}) {
        std::string name(DistanceMetricName(metric));
        Ensure(Spec(name, 4, metric));
        MustCommit(name, ChangeSet{.upserts = {MakeRecord("near", {1, 1, 1, 1}), MakeRecord("far", {9, 9, 9, 9}),
                                               MakeRecord("neg", {-1, -1, -1, -1})}});
        std::vector<float> q{1, 1, 1, 1.5f};
        auto hits = store_->VectorSearch(name, q, SearchOptions{.k = 3});
        ASSERT_TRUE(hits.ok());
        ASSERT_EQ(hits->size(), 3u);
        if (metric == DistanceMetric::kL2) {
            EXPECT_EQ(Ids(*hits), (std::vector<std::string>{"near", "neg", "far"}));
            EXPECT_NEAR((*hits)[0].score, -0.5, 1e-5);
        } else {
            EXPECT_EQ(Ids(*hits), (std::vector<std::string>{"far", "near", "neg"}));
            EXPECT_NEAR((*hits)[1].score, 4.5, 1e-5);
        }
    }
}

TEST_P(StoreConformance, LexicalSearchFindsIdentifiersBySubWords) {
    Ensure(Spec("c", 2));
    Record a = MakeRecord("a", {1, 0}, "src/user_service.py", "python", "def getUserName(user_id):\n    return db.fetch(user_id)");
    a.metadata["symbol"] = std::string("getUserName");
    Record b = MakeRecord("b", {0, 1}, "src/http.go", "go", "func parseHTTPRequest(r io.Reader) (*Request, error)");
    Record c = MakeRecord("c", {1, 1}, "README.md", "markdown", "Installation guide for the project");
    MustCommit("c", ChangeSet{.upserts = {a, b, c}});

    auto hits = store_->LexicalSearch("c", "user name", {});
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    ASSERT_FALSE(hits->empty());
    EXPECT_EQ((*hits)[0].record.id, "a");
    EXPECT_GT((*hits)[0].score, 0);

    hits = store_->LexicalSearch("c", "get_user_name", {});
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE(hits->empty());
    EXPECT_EQ((*hits)[0].record.id, "a");

    hits = store_->LexicalSearch("c", "http request parsing", {});
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE(hits->empty());
    EXPECT_EQ((*hits)[0].record.id, "b");

    hits = store_->LexicalSearch("c", "user_service", {});  // file path tokens are indexed
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE(hits->empty());
    EXPECT_EQ((*hits)[0].record.id, "a");

    hits = store_->LexicalSearch("c", "zebra", {});
    ASSERT_TRUE(hits.ok());
    EXPECT_TRUE(hits->empty());

    Filter go;
    go.language = "go";
    hits = store_->LexicalSearch("c", "user request", SearchOptions{.filter = go});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(Ids(*hits), std::vector<std::string>{"b"});
    Filter md;
    md.path_glob = "*.md";
    hits = store_->LexicalSearch("c", "user request installation", SearchOptions{.filter = md});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(Ids(*hits), std::vector<std::string>{"c"});

    // Scores: best first.
    hits = store_->LexicalSearch("c", "user request installation", SearchOptions{.k = 10});
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 3u);
    for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
    EXPECT_EQ(store_->LexicalSearch("c", "user", SearchOptions{.k = 1})->size(), 1u);
}

// include_documents = false: same hits, scores and metadata; a document, when a backend still
// returns one, is the record's (search::Searcher reads the survivors' documents with Get).
TEST_P(StoreConformance, SearchWithoutDocumentsKeepsHitsAndMetadata) {
    Ensure(Spec("c", 2));
    Record a = MakeRecord("a", {1, 0}, "src/user_service.py", "python", "def getUserName(user_id): pass");
    a.metadata["start_line"] = std::int64_t{3};
    Record b = MakeRecord("b", {0.8f, 0.2f}, "src/user.go", "go", "func userName() string");
    Record c = MakeRecord("c", {0, 1}, "README.md", "markdown", std::nullopt);
    MustCommit("c", ChangeSet{.upserts = {a, b, c}});
    const std::map<std::string, Record> records{{"a", a}, {"b", b}, {"c", c}};
    std::vector<float> q{1, 0.1f};
    for (bool lexical : {false, true}) {
        SearchOptions with{.k = 3};
        SearchOptions without = with;
        without.include_documents = false;
        auto run = [&](const SearchOptions& o) {
            return lexical ? store_->LexicalSearch("c", "user name readme", o) : store_->VectorSearch("c", q, o);
        };
        auto full = run(with);
        auto lean = run(without);
        ASSERT_TRUE(full.ok() && lean.ok()) << lexical;
        ASSERT_FALSE(full->empty());
        ASSERT_EQ(Ids(*lean), Ids(*full)) << lexical;
        for (size_t i = 0; i < lean->size(); ++i) {
            const Hit& h = (*lean)[i];
            EXPECT_DOUBLE_EQ(h.score, (*full)[i].score);
            EXPECT_EQ(h.record.metadata, records.at(h.record.id).metadata) << h.record.id;
            EXPECT_EQ((*full)[i].record.document, records.at(h.record.id).document) << h.record.id;
            if (h.record.document) {
                EXPECT_EQ(h.record.document, records.at(h.record.id).document) << h.record.id;
            }
        }
    }
}

TEST_P(StoreConformance, SymbolFilterMatchesTheNameOrItsQualifiedForms) {
    Ensure(Spec("c", 2));
    auto with_symbol = [](const std::string& id, std::vector<float> v, const std::string& symbol,
                          const std::string& language, const std::string& doc) {
        Record r = MakeRecord(id, std::move(v), "src/" + id + ".py", language, doc);
        r.metadata["symbol"] = symbol;
        return r;
    };
    // A long definition and short callers: unfiltered, BM25 and the vector rank the callers first.
    std::string body = "def urlsplit(url):\n";
    for (int i = 0; i < 30; ++i) body += "    part_" + std::to_string(i) + " = scheme(url)\n";
    MustCommit("c", ChangeSet{.upserts = {
                                  with_symbol("def", {0.2f, 1}, "urlsplit", "python", body),
                                  with_symbol("method", {0.3f, 1}, "Parser.urlsplit", "python",
                                              "def urlsplit(self): pass"),
                                  with_symbol("deeper", {0.4f, 1}, "pkg.Parser.urlsplit", "go", "func urlsplit() {}"),
                                  with_symbol("longer", {1, 0.1f}, "urlsplit_all", "python", "urlsplit urlsplit"),
                                  with_symbol("glued", {1, 0.2f}, "myurlsplit", "python", "urlsplit urlsplit"),
                                  with_symbol("caller", {1, 0}, "", "python", "urlsplit(u) urlsplit(v)"),
                              }});
    auto sorted_ids = [](const std::vector<Hit>& hits) {
        std::vector<std::string> ids = Ids(hits);
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    const std::vector<float> q{1, 0};
    auto unfiltered = store_->LexicalSearch("c", "urlsplit", {.k = 10});
    ASSERT_TRUE(unfiltered.ok()) << unfiltered.status().ToString();
    ASSERT_EQ(unfiltered->size(), 6u);
    EXPECT_NE((*unfiltered)[0].record.id, "def");

    Filter name;
    name.symbol = "urlsplit";
    const std::vector<std::string> all_forms{"deeper", "def", "method"};
    auto lexical = store_->LexicalSearch("c", "urlsplit", {.k = 10, .filter = name});
    ASSERT_TRUE(lexical.ok()) << lexical.status().ToString();
    EXPECT_EQ(sorted_ids(*lexical), all_forms);
    auto vector = store_->VectorSearch("c", q, {.k = 10, .filter = name});
    ASSERT_TRUE(vector.ok()) << vector.status().ToString();
    EXPECT_EQ(sorted_ids(*vector), all_forms);
    auto exact = store_->VectorSearch("c", q, {.k = 10, .filter = name, .exact = true});
    ASSERT_TRUE(exact.ok());
    EXPECT_EQ(sorted_ids(*exact), all_forms);
    for (const auto& h : *lexical) EXPECT_TRUE(name.Matches(h.record.metadata)) << h.record.id;

    Filter qualified;
    qualified.symbol = "Parser.urlsplit";
    auto q_hits = store_->LexicalSearch("c", "urlsplit", {.k = 10, .filter = qualified});
    ASSERT_TRUE(q_hits.ok());
    EXPECT_EQ(sorted_ids(*q_hits), (std::vector<std::string>{"deeper", "method"}));
    Filter python_name = name;
    python_name.language = "python";
    auto py = store_->VectorSearch("c", q, {.k = 10, .filter = python_name});
    ASSERT_TRUE(py.ok());
    EXPECT_EQ(sorted_ids(*py), (std::vector<std::string>{"def", "method"}));
    Filter none;
    none.symbol = "rlsplit";  // a tail of a name, not a component
    auto nothing = store_->LexicalSearch("c", "urlsplit", {.k = 10, .filter = none});
    ASSERT_TRUE(nothing.ok());
    EXPECT_TRUE(nothing->empty());
    Filter empty;
    empty.symbol = "";
    EXPECT_EQ(store_->LexicalSearch("c", "urlsplit", {.filter = empty}).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, LexicalSearchLeavesStopWordsOutUnlessTheQueryIsOnlyStopWords) {
    Ensure(Spec("c", 2));
    MustCommit("c", ChangeSet{.upserts = {MakeRecord("cat", {1, 0}, "a.txt", "text", "the cat sat on the mat"),
                                          MakeRecord("dog", {0, 1}, "b.txt", "text", "the dog")}});
    // "the" is left out: only the record with "cat" matches.
    auto hits = store_->LexicalSearch("c", "the cat", {.k = 10});
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    EXPECT_EQ(Ids(*hits), std::vector<std::string>{"cat"});
    // Kept on request (benchmarks measure the query as it was): both match.
    hits = store_->LexicalSearch("c", "the cat", {.k = 10, .keep_stop_words = true});
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ((*hits)[0].record.id, "cat");
    // A query made only of stop words keeps them all and still finds what holds them.
    hits = store_->LexicalSearch("c", "The", {.k = 10});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(hits->size(), 2u);
    hits = store_->LexicalSearch("c", "on the", {.k = 10});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(hits->size(), 2u);
}

TEST_P(StoreConformance, LexicalQuerySyntaxCharactersAreSafe) {
    Ensure(Spec("c", 2));
    MustCommit("c", ChangeSet{.upserts = {MakeRecord("a", {1, 0}, "x.py", "python", "value NOT found OR near")}});
    for (std::string q : {"\"", "\"\"", "value\"", "a\"b OR", "NOT", "AND OR NOT", "(value", "value)", "value*",
                          "col:value", "^value", "-value", "NEAR(value found)", "{value}", "'", "", "   ", "+", "*",
                          "\\", "value AND", "\xff\xfe", "ünïcödé"}) {
        auto hits = store_->LexicalSearch("c", q, {});
        EXPECT_TRUE(hits.ok()) << "query [" << q << "]: " << hits.status().ToString();
    }
    auto hits = store_->LexicalSearch("c", "\"value\" AND (found)", {});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(Ids(*hits), std::vector<std::string>{"a"});
    hits = store_->LexicalSearch("c", "NOT", {});  // a word like any other
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(Ids(*hits), std::vector<std::string>{"a"});
}

TEST_P(StoreConformance, WrongDimensionIsInvalidArgument) {
    Ensure(Spec("c", 4));
    Status s = store_->Commit("c", ChangeSet{.upserts = {MakeRecord("short", {1, 2})}});
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(s.message(), testing::HasSubstr("short"));
    std::vector<float> q{1, 2, 3};
    EXPECT_EQ(store_->VectorSearch("c", q, {}).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformance, CollectionsOfDifferentDimensionsCoexist) {
    Ensure(Spec("small", 2));
    Ensure(Spec("large", 5, DistanceMetric::kL2));
    MustCommit("small", ChangeSet{.upserts = {MakeRecord("s1", {1, 0}), MakeRecord("shared", {0, 1})}});
    MustCommit("large", ChangeSet{.upserts = {MakeRecord("l1", {1, 0, 0, 0, 0}), MakeRecord("shared", {0, 0, 0, 0, 1})}});
    std::vector<float> q2{0, 1};
    std::vector<float> q5{0, 0, 0, 0, 1};
    auto a = store_->VectorSearch("small", q2, SearchOptions{.k = 1});
    auto b = store_->VectorSearch("large", q5, SearchOptions{.k = 5});
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(Ids(*a), std::vector<std::string>{"shared"});
    EXPECT_EQ(Ids(*b), (std::vector<std::string>{"shared", "l1"}));
    std::vector<std::string> ids{"shared"};
    EXPECT_EQ((*store_->Get("large", ids))[0].embedding.size(), 5u);
    EXPECT_EQ((*store_->Get("small", ids))[0].embedding.size(), 2u);
    MustCommit("small", ChangeSet{.delete_ids = {"shared"}});
    EXPECT_EQ(store_->Get("large", ids)->size(), 1u);
}

TEST_P(StoreConformance, DropRemovesEverything) {
    Ensure(Spec("c", 2));
    Ensure(Spec("other", 2));
    Record r = MakeRecord("a", {1, 0}, "a.py", "python", "dropme");
    MustCommit("c", ChangeSet{.upserts = {r}, .put_files = {FileState{"a.py", "h", 1, 1, {"a"}}}});
    MustCommit("other", ChangeSet{.upserts = {r}});
    ASSERT_TRUE(store_->DropCollection("c").ok());
    EXPECT_EQ(store_->GetCollection("c").status().code(), ErrorCode::kNotFound);
    ASSERT_EQ(store_->ListCollections()->size(), 1u);
    Ensure(Spec("c", 3));  // a new collection of the same name starts empty
    EXPECT_EQ(store_->GetCollection("c")->records, 0);
    EXPECT_TRUE(store_->ListFiles("c")->empty());
    EXPECT_TRUE(store_->LexicalSearch("c", "dropme", {})->empty());
    std::vector<float> q{1, 0, 0};
    EXPECT_TRUE(store_->VectorSearch("c", q, {})->empty());
    EXPECT_EQ(store_->LexicalSearch("other", "dropme", {})->size(), 1u);
}

TEST_P(StoreConformance, ConcurrentSearchesDuringCommits) {
    Ensure(Spec("c", 8));
    std::mt19937 rng(3);
    ChangeSet initial;
    for (int i = 0; i < 200; ++i) initial.upserts.push_back(MakeRecord("i" + std::to_string(i), RandomVector(rng, 8)));
    MustCommit("c", initial);
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&, t] {
            std::mt19937 local(static_cast<unsigned>(t));
            while (!stop) {
                auto q = RandomVector(local, 8);
                auto hits = store_->VectorSearch("c", q, SearchOptions{.k = 5});
                if (!hits.ok() || hits->size() != 5) failures++;
                auto lex = store_->LexicalSearch("c", "doc", {});
                if (!lex.ok()) failures++;
            }
        });
    }
    for (int i = 0; i < 20; ++i) {
        ChangeSet c;
        c.upserts.push_back(MakeRecord("n" + std::to_string(i), RandomVector(rng, 8), "", "", "doc"));
        c.delete_ids.push_back("i" + std::to_string(i));
        MustCommit("c", c);
    }
    stop = true;
    for (auto& t : readers) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(store_->GetCollection("c")->records, 200);
}

TEST_P(StoreConformance, HealthyWhileOpenAndAfterWrites) {
    Status fresh = store_->CheckHealth();
    EXPECT_TRUE(fresh.ok()) << fresh.ToString();
    Ensure(Spec("c", 2));
    MustCommit("c", ChangeSet{.upserts = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha")}});
    ASSERT_TRUE(store_->Flush().ok());
    Status after = store_->CheckHealth();
    EXPECT_TRUE(after.ok()) << after.ToString();
    ASSERT_TRUE(store_->DropCollection("c").ok());
    EXPECT_TRUE(store_->CheckHealth().ok());
}

TEST_P(StoreConformance, DataVersionIncreasesWithEveryCommittedChangeOnly) {
    auto version = [&]() -> std::int64_t {
        auto v = store_->DataVersion();
        EXPECT_TRUE(v.ok()) << v.status().ToString();
        return v.ok() ? *v : -1;
    };
    const std::int64_t empty = version();
    EXPECT_GE(empty, 0);
    Ensure(Spec("c", 2));
    const std::int64_t created = version();
    EXPECT_GT(created, empty) << "creating a collection";
    Ensure(Spec("c", 2));
    EXPECT_FALSE(store_->EnsureCollection(Spec("c", 3)).ok());
    EXPECT_EQ(version(), created) << "EnsureCollection of an existing collection";

    MustCommit("c", ChangeSet{.upserts = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha")}});
    const std::int64_t upserted = version();
    EXPECT_GT(upserted, created);
    MustCommit("c", ChangeSet{});
    EXPECT_EQ(version(), upserted) << "an empty commit";
    EXPECT_EQ(store_->Commit("c", ChangeSet{.upserts = {MakeRecord("b", {1, 0, 0})}}).code(),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(store_->Commit("nope", ChangeSet{.touch_last_indexed = true}).code(), ErrorCode::kNotFound);
    EXPECT_EQ(version(), upserted) << "refused commits";

    std::vector<std::string> ids{"a"};
    std::vector<float> q{1, 0};
    EXPECT_TRUE(store_->Get("c", ids).ok());
    EXPECT_TRUE(store_->Scan("c", "", 10).ok());
    EXPECT_TRUE(store_->VectorSearch("c", q, {}).ok());
    EXPECT_TRUE(store_->LexicalSearch("c", "alpha", {}).ok());
    EXPECT_TRUE(store_->ListFiles("c").ok());
    EXPECT_TRUE(store_->ListCollections().ok());
    EXPECT_TRUE(store_->Flush().ok());
    EXPECT_TRUE(store_->CheckHealth().ok());
    EXPECT_EQ(version(), upserted) << "reads, Flush and CheckHealth";

    std::int64_t last = upserted;
    for (const ChangeSet& change : {ChangeSet{.delete_ids = {"a"}},
                                    ChangeSet{.put_files = {FileState{"a.py", "h", 1, 1, {}}}},
                                    ChangeSet{.delete_files = {"a.py"}}, ChangeSet{.touch_last_indexed = true}}) {
        MustCommit("c", change);
        const std::int64_t now = version();
        EXPECT_GT(now, last);
        last = now;
    }
    ASSERT_TRUE(store_->DropCollection("c").ok());
    const std::int64_t dropped = version();
    EXPECT_GT(dropped, last) << "DropCollection";
    EXPECT_EQ(store_->DropCollection("c").code(), ErrorCode::kNotFound);
    EXPECT_EQ(version(), dropped) << "dropping a missing collection";
}

// A reader that reads DataVersion first and the data afterwards always sees
// at least the data of that version (what a cache keyed by it relies on).
TEST_P(StoreConformance, DataVersionNeverRunsAheadOfTheData) {
    Ensure(Spec("c", 4));
    std::mt19937 rng(5);
    constexpr int kCommits = 30;
    std::vector<std::int64_t> version_after(kCommits + 1);
    version_after[0] = *store_->DataVersion();
    std::atomic<bool> stop{false};
    std::vector<std::pair<std::int64_t, std::int64_t>> seen;  // (version, records), reader thread only
    std::thread reader([&] {
        while (!stop) {
            auto v = store_->DataVersion();
            auto info = store_->GetCollection("c");
            if (v.ok() && info.ok()) seen.emplace_back(*v, info->records);
        }
    });
    for (int i = 1; i <= kCommits; ++i) {
        MustCommit("c", ChangeSet{.upserts = {MakeRecord("r" + std::to_string(i), RandomVector(rng, 4))}});
        version_after[static_cast<size_t>(i)] = *store_->DataVersion();
    }
    stop = true;
    reader.join();
    ASSERT_TRUE(std::is_sorted(version_after.begin(), version_after.end()));
    std::int64_t previous = -1;
    for (const auto& [version, records] : seen) {
        EXPECT_GE(version, previous) << "DataVersion went backwards";
        previous = version;
        // The last commit whose version this reader had reached.
        auto it = std::upper_bound(version_after.begin(), version_after.end(), version);
        const auto commits = static_cast<std::int64_t>(it - version_after.begin()) - 1;
        EXPECT_GE(records, commits) << "version " << version << " was read before the data of commit " << commits;
    }
}

const StoreBackend kMemoryBackend{"memory", [](const std::string&) -> std::unique_ptr<VectorStore> {
                                      return std::make_unique<MemoryStore>();
                                  }};
const StoreBackend kEmbeddedBackend{"embedded", [](const std::string& dir) -> std::unique_ptr<VectorStore> {
                                        auto store = OpenStore("sqlite://" + dir + "/store", OpenOptions{});
                                        EXPECT_TRUE(store.ok()) << store.status().ToString();
                                        return store.ok() ? std::move(store).value() : nullptr;
                                    }};

// PostgreSQL + pgvector: a new schema per test on the server of the `postgres` CTest fixture
// (these tests carry the label `postgres` and fail without a server).
const StoreBackend kPostgresBackend{"postgresql", [](const std::string&) -> std::unique_ptr<VectorStore> {
                                        return pgtest::OpenFreshStore();
                                    }};

// ChromaDB: a new Chroma database per test on the server of the `chroma` CTest fixture
// (these tests carry the label `chroma` and fail without a server).
const StoreBackend kChromaBackend{"chroma", [](const std::string&) -> std::unique_ptr<VectorStore> {
                                      return chromatest::OpenFreshStore();
                                  }};

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance,
                         testing::Values(kMemoryBackend, kEmbeddedBackend, kPostgresBackend, kChromaBackend),
                         [](const testing::TestParamInfo<StoreBackend>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace signalhub::store

#include "core/test_temp_dir.hpp"
#include "ops/backup.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "ops/backup_archive.hpp"
#include "ops/backup_drill.hpp"
#include "ops/backup_manifest.hpp"
#include "store/embedded/embedded_store.hpp"

using signalhub::testing_util::TempDir;

namespace signalhub::ops {
namespace {

namespace fs = std::filesystem;


std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}
void WriteAll(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

// ---- tar headers ----

TEST(TarHeaderTest, RoundTripsNameAndSize) {
    auto block = TarHeader("store/hnsw/1.bin", 12345, 1700000000);
    ASSERT_TRUE(block.ok()) << block.status().ToString();
    ASSERT_EQ(block->size(), 512u);
    auto e = ParseTarHeader(*block);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    ASSERT_TRUE(e->has_value());
    EXPECT_EQ((*e)->name, "store/hnsw/1.bin");
    EXPECT_EQ((*e)->size, 12345);
}

TEST(TarHeaderTest, SizesFromEightGibUseBase256) {
    const std::int64_t big = (std::int64_t{1} << 33) + 7;
    auto block = TarHeader("store/store.db", big, 0);
    ASSERT_TRUE(block.ok());
    EXPECT_EQ(static_cast<unsigned char>((*block)[124]), 0x80);
    auto e = ParseTarHeader(*block);
    ASSERT_TRUE(e.ok() && e->has_value());
    EXPECT_EQ((*e)->size, big);
}

TEST(TarHeaderTest, RefusesBadNamesAndDamagedHeaders) {
    EXPECT_FALSE(TarHeader("", 1, 0).ok());
    EXPECT_FALSE(TarHeader("/etc/passwd", 1, 0).ok());
    EXPECT_FALSE(TarHeader("a/../b", 1, 0).ok());
    EXPECT_FALSE(TarHeader(std::string(100, 'x'), 1, 0).ok());
    auto block = TarHeader("manifest.json", 10, 0);
    ASSERT_TRUE(block.ok());
    std::string damaged = *block;
    damaged[3] ^= 1;
    auto e = ParseTarHeader(damaged);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), ErrorCode::kDataLoss);
    EXPECT_NE(e.status().message().find("checksum"), std::string::npos);
    auto zero = ParseTarHeader(std::string(512, '\0'));
    ASSERT_TRUE(zero.ok());
    EXPECT_FALSE(zero->has_value());
}

// ---- manifest ----

BackupManifest SampleManifest() {
    BackupManifest m;
    m.created_unix = 1796662200;
    m.source_location = "/srv/.signal-hub";
    m.host = "hub-1";
    m.schema_version = 1;
    m.data_version = 42;
    m.collections = {{"a", 10, "included"}, {"b", 5, "rebuild"}};
    m.files = {{"store/store.db", "store", 4096, Sha256Hex("x"), "", false},
               {"keys/api-keys.json", "api-keys", 3, Sha256Hex("k"), "/srv/.signal-hub/api-keys.json", true}};
    return m;
}

TEST(BackupManifestTest, RoundTrips) {
    const BackupManifest m = SampleManifest();
    const std::string json = ManifestToJson(m);
    EXPECT_NE(json.find("\"created\": \"2026-12-07T"), std::string::npos) << json;
    auto back = ParseManifest(json);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->TotalRecords(), 15);
    EXPECT_EQ(back->data_version, 42);
    ASSERT_EQ(back->collections.size(), 2u);
    EXPECT_EQ(back->collections[1].hnsw, "rebuild");
    ASSERT_NE(back->FindFile("keys/api-keys.json"), nullptr);
    EXPECT_TRUE(back->FindFile("keys/api-keys.json")->in_store);
    EXPECT_EQ(back->FindFile("store/store.db")->sha256, Sha256Hex("x"));
}

TEST(BackupManifestTest, RefusesWhatIsNotOurs) {
    EXPECT_EQ(ParseManifest("[]").status().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(ParseManifest(R"({"format":"other"})").status().code(), ErrorCode::kDataLoss);
    BackupManifest newer = SampleManifest();
    newer.format_version = kBackupFormatVersion + 1;
    EXPECT_EQ(ParseManifest(ManifestToJson(newer)).status().code(), ErrorCode::kFailedPrecondition);
    BackupManifest bad_hash = SampleManifest();
    bad_hash.files[0].sha256 = "abc";
    auto r = ParseManifest(ManifestToJson(bad_hash));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("store/store.db"), std::string::npos) << r.status().message();
    std::string wrong_total = ManifestToJson(SampleManifest());
    const auto at = wrong_total.find("\"records\": 15");
    ASSERT_NE(at, std::string::npos);
    wrong_total.replace(at, 14, "\"records\": 16");
    EXPECT_EQ(ParseManifest(wrong_total).status().code(), ErrorCode::kDataLoss);
}

TEST(Sha256Test, KnownVector) {
    EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---- archive container ----

TEST(ArchiveTest, WritesAndReadsMembers) {
    TempDir dir;
    const std::string big(300000, 'q');
    WriteAll(dir / "big", big);
    {
        std::FILE* f = std::fopen((dir / "a.tar.zst").c_str(), "wb");
        auto w = ArchiveWriter::Create(f, "a.tar.zst");
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE((*w)->AddBytes("one.txt", "hello", 0).ok());
        ASSERT_TRUE((*w)->AddFile("dir/big", dir / "big", 0).ok());
        ASSERT_TRUE((*w)->AddBytes("empty", "", 0).ok());
        ASSERT_TRUE((*w)->Finish().ok());
        std::fclose(f);
    }
    auto r = ArchiveReader::Open(dir / "a.tar.zst");
    ASSERT_TRUE(r.ok());
    std::vector<std::pair<std::string, std::string>> got;
    while (true) {
        auto e = (*r)->Next();
        ASSERT_TRUE(e.ok()) << e.status().ToString();
        if (!e->has_value()) break;
        std::string data;
        ASSERT_TRUE((*r)->ReadData([&](std::string_view d) {
                            data.append(d);
                            return Status::Ok();
                        }).ok());
        got.emplace_back((*e)->name, data);
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], std::make_pair(std::string("one.txt"), std::string("hello")));
    EXPECT_EQ(got[1].first, "dir/big");
    EXPECT_EQ(got[1].second, big);
    EXPECT_EQ(got[2].second, "");
}

TEST(ArchiveTest, TruncatedArchiveIsDataLoss) {
    TempDir dir;
    {
        std::FILE* f = std::fopen((dir / "a.tar.zst").c_str(), "wb");
        auto w = ArchiveWriter::Create(f, "a");
        ASSERT_TRUE((*w)->AddBytes("one.txt", std::string(5000, 'z'), 0).ok());
        ASSERT_TRUE((*w)->Finish().ok());
        std::fclose(f);
    }
    std::string bytes = ReadAll(dir / "a.tar.zst");
    WriteAll(dir / "a.tar.zst", bytes.substr(0, bytes.size() - 10));
    auto r = ArchiveReader::Open(dir / "a.tar.zst");
    ASSERT_TRUE(r.ok());
    Status s;
    while (s.ok()) {
        auto e = (*r)->Next();
        if (!e.ok()) {
            s = e.status();
            break;
        }
        if (!e->has_value()) break;
    }
    EXPECT_EQ(s.code(), ErrorCode::kDataLoss) << s.ToString();
}

// ---- the embedded store, end to end ----

constexpr int kDim = 8;
Record MakeRecord(int i) {
    std::mt19937 rng(static_cast<unsigned>(i) + 1);
    std::normal_distribution<float> dist(0, 1);
    Record r;
    r.id = "rec-" + std::to_string(i);
    r.document = "document " + std::to_string(i);
    r.metadata["file_path"] = "f" + std::to_string(i % 7) + ".py";
    r.embedding.resize(kDim);
    for (auto& x : r.embedding) x = dist(rng);
    return r;
}

void Fill(const std::string& dir, const std::string& collection, int begin, int end, bool flush) {
    auto s = store::EmbeddedStore::Open(dir, {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->EnsureCollection({collection, "model", kDim, DistanceMetric::kCosine}).ok());
    store::ChangeSet c;
    for (int i = begin; i < end; ++i) c.upserts.push_back(MakeRecord(i));
    ASSERT_TRUE((*s)->Commit(collection, c).ok());
    if (flush) {
        ASSERT_TRUE((*s)->Flush().ok());
    }
}

class EmbeddedBackupTest : public testing::Test {
   protected:
    void SetUp() override {
        Fill(dir_ / "store", "alpha", 0, 300, true);
        Fill(dir_ / "store", "beta", 0, 40, true);
        WriteAll(dir_ / "store/api-keys.json", R"({"format":"signal-hub-api-keys"})");
        WriteAll(dir_ / "hub.yaml", "store:\n  path: .signal-hub\n");
    }
    BackupCreateSummary Create(const std::string& archive) {
        BackupCreateOptions o;
        o.store_dir = dir_ / "store";
        o.output = archive;
        o.config_file = dir_ / "hub.yaml";
        o.api_keys_file = dir_ / "store/api-keys.json";
        auto s = CreateEmbeddedBackup(o);
        EXPECT_TRUE(s.ok()) << s.status().ToString();
        return s.ok() ? *s : BackupCreateSummary{};
    }
    TempDir dir_;
};

TEST_F(EmbeddedBackupTest, CreateVerifyRestore) {
    const std::string archive = dir_ / "b.tar.zst";
    BackupCreateSummary created = Create(archive);
    EXPECT_EQ(created.manifest.TotalRecords(), 340);
    EXPECT_GE(created.manifest.data_version, 1);
    for (const auto& c : created.manifest.collections) EXPECT_EQ(c.hnsw, "included") << c.name;
    EXPECT_EQ(fs::status(archive).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write)
        << "the archive holds key hashes: owner only";
    EXPECT_FALSE(fs::exists(archive + ".partial"));
    EXPECT_FALSE(fs::exists(archive + ".partial.d"));
    ASSERT_NE(created.manifest.FindFile("keys/api-keys.json"), nullptr);
    EXPECT_TRUE(created.manifest.FindFile("keys/api-keys.json")->in_store);
    ASSERT_NE(created.manifest.FindFile("config/hub.yaml"), nullptr);

    auto verified = VerifyBackup(archive);
    ASSERT_TRUE(verified.ok()) << verified.status().ToString();
    EXPECT_EQ(verified->TotalRecords(), 340);

    BackupRestoreOptions r;
    r.archive = archive;
    r.store_dir = dir_ / "restored";
    r.files_dir = dir_ / "etc";
    auto restored = RestoreEmbeddedBackup(r);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    for (const auto& c : restored->counts) EXPECT_EQ(c.expected, c.restored) << c.collection;
    EXPECT_EQ(ReadAll(dir_ / "restored/api-keys.json"), R"({"format":"signal-hub-api-keys"})");
    EXPECT_EQ(ReadAll(dir_ / "etc/hub.yaml"), "store:\n  path: .signal-hub\n");
    EXPECT_EQ(fs::status(dir_ / "restored/api-keys.json").permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    auto s = store::EmbeddedStore::Open(dir_ / "restored", {.read_only = true});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto info = (*s)->GetCollection("alpha");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->records, 300);
    store::SearchOptions so;
    so.k = 1;
    auto hits = (*s)->VectorSearch("alpha", MakeRecord(17).embedding, so);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].record.id, "rec-17");

    // A second restore onto the now non-empty target is refused without force, accepted with it.
    r.files_dir.reset();
    auto again = RestoreEmbeddedBackup(r);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(again.status().message().find("--force"), std::string::npos);
    r.force = true;
    EXPECT_TRUE(RestoreEmbeddedBackup(r).ok());
}

TEST_F(EmbeddedBackupTest, CommitsAfterTheLastGraphSaveAreInTheSnapshot) {
    // A writer stays open with 50 records committed after its last graph save (in the change log,
    // not in hnsw/*.bin): the saved graph is still included and the restore replays the log.
    auto writer = store::EmbeddedStore::Open(dir_ / "store", {});
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    store::ChangeSet c;
    for (int i = 300; i < 350; ++i) c.upserts.push_back(MakeRecord(i));
    ASSERT_TRUE((*writer)->Commit("alpha", c).ok());
    BackupCreateSummary created = Create(dir_ / "b.tar.zst");
    ASSERT_EQ(created.manifest.collections.size(), 2u);
    EXPECT_EQ(created.manifest.collections[0].records, 350);
    EXPECT_EQ(created.manifest.collections[0].hnsw, "included");
    BackupRestoreOptions r;
    r.archive = dir_ / "b.tar.zst";
    r.store_dir = dir_ / "restored";
    auto restored = RestoreEmbeddedBackup(r);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_EQ(restored->counts[0].restored, 350);
    auto s = store::EmbeddedStore::Open(dir_ / "restored", {.read_only = true});
    ASSERT_TRUE(s.ok());
    store::SearchOptions so;
    so.k = 1;
    auto hits = (*s)->VectorSearch("alpha", MakeRecord(333).embedding, so);
    ASSERT_TRUE(hits.ok() && hits->size() == 1u);
    EXPECT_EQ((*hits)[0].record.id, "rec-333");
    EXPECT_EQ((*s)->stats().hnsw_rebuilds, 0) << "the restore saved the caught-up graph";
}

TEST_F(EmbeddedBackupTest, ExistingArchiveNeedsOverwrite) {
    const std::string archive = dir_ / "b.tar.zst";
    Create(archive);
    BackupCreateOptions o;
    o.store_dir = dir_ / "store";
    o.output = archive;
    EXPECT_EQ(CreateEmbeddedBackup(o).status().code(), ErrorCode::kAlreadyExists);
    o.overwrite = true;
    EXPECT_TRUE(CreateEmbeddedBackup(o).ok());
}

// Re-packs an archive with the same manifest and one member's bytes changed: every zstd frame is
// valid, only the manifest's checksum can tell.
void RepackWithChangedMember(const std::string& from, const std::string& to, const std::string& member,
                             const std::string& manifest_override = "") {
    auto r = ArchiveReader::Open(from);
    ASSERT_TRUE(r.ok());
    std::FILE* f = std::fopen(to.c_str(), "wb");
    auto w = ArchiveWriter::Create(f, to);
    while (true) {
        auto e = (*r)->Next();
        ASSERT_TRUE(e.ok());
        if (!e->has_value()) break;
        std::string data;
        ASSERT_TRUE((*r)->ReadData([&](std::string_view d) {
                            data.append(d);
                            return Status::Ok();
                        }).ok());
        if ((*e)->name == member) data[data.size() / 2] ^= 0x20;
        if ((*e)->name == kManifestName && !manifest_override.empty()) data = manifest_override;
        ASSERT_TRUE((*w)->AddBytes((*e)->name, data, 0).ok());
    }
    ASSERT_TRUE((*w)->Finish().ok());
    std::fclose(f);
}

TEST_F(EmbeddedBackupTest, TamperedMemberIsRefusedByName) {
    const std::string archive = dir_ / "b.tar.zst";
    Create(archive);
    RepackWithChangedMember(archive, dir_ / "t.tar.zst", "store/store.db");
    auto v = VerifyBackup(dir_ / "t.tar.zst");
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), ErrorCode::kDataLoss);
    EXPECT_NE(v.status().message().find("member store/store.db"), std::string::npos) << v.status().message();
    BackupRestoreOptions r;
    r.archive = dir_ / "t.tar.zst";
    r.store_dir = dir_ / "restored";
    auto restored = RestoreEmbeddedBackup(r);
    ASSERT_FALSE(restored.ok());
    EXPECT_EQ(restored.status().code(), ErrorCode::kDataLoss);
    EXPECT_FALSE(fs::exists(dir_ / "restored")) << "nothing is written for a tampered archive";
}

TEST_F(EmbeddedBackupTest, FlippedCompressedByteIsRefused) {
    const std::string archive = dir_ / "b.tar.zst";
    Create(archive);
    std::string bytes = ReadAll(archive);
    bytes[bytes.size() / 2] ^= 0x01;
    WriteAll(archive, bytes);
    auto v = VerifyBackup(archive);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), ErrorCode::kDataLoss) << v.status().ToString();
    EXPECT_NE(v.status().message().find(archive), std::string::npos) << v.status().message();
    EXPECT_NE(v.status().message().find("member"), std::string::npos) << v.status().message();
}

TEST_F(EmbeddedBackupTest, FewerRecordsThanTheManifestFailsAndLeavesTheTarget) {
    const std::string archive = dir_ / "b.tar.zst";
    BackupCreateSummary created = Create(archive);
    BackupManifest inflated = created.manifest;
    inflated.collections[0].records += 1;
    RepackWithChangedMember(archive, dir_ / "t.tar.zst", "", ManifestToJson(inflated));
    ASSERT_TRUE(VerifyBackup(dir_ / "t.tar.zst").ok()) << "checksums still match";
    Fill(dir_ / "target", "gamma", 0, 5, true);
    BackupRestoreOptions r;
    r.archive = dir_ / "t.tar.zst";
    r.store_dir = dir_ / "target";
    r.force = true;
    auto restored = RestoreEmbeddedBackup(r);
    ASSERT_FALSE(restored.ok());
    EXPECT_EQ(restored.status().code(), ErrorCode::kDataLoss);
    EXPECT_NE(restored.status().message().find("collection alpha: 300 records, manifest says 301"), std::string::npos)
        << restored.status().message();
    auto s = store::EmbeddedStore::Open(dir_ / "target", {.read_only = true});
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE((*s)->GetCollection("gamma").ok()) << "the old target is untouched";
}

TEST_F(EmbeddedBackupTest, ForceRestoreRefusesAStoreWithARunningWriter) {
    const std::string archive = dir_ / "b.tar.zst";
    Create(archive);
    Fill(dir_ / "target", "gamma", 0, 5, true);
    auto writer = store::EmbeddedStore::Open(dir_ / "target", {.holder = "test writer"});
    ASSERT_TRUE(writer.ok());
    BackupRestoreOptions r;
    r.archive = archive;
    r.store_dir = dir_ / "target";
    r.force = true;
    auto restored = RestoreEmbeddedBackup(r);
    ASSERT_FALSE(restored.ok());
    EXPECT_EQ(restored.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(restored.status().message().find("test writer"), std::string::npos) << restored.status().message();
    writer->reset();
    EXPECT_TRUE(RestoreEmbeddedBackup(r).ok());
}

TEST_F(EmbeddedBackupTest, ListIsNewestFirst) {
    fs::create_directories(dir_ / "backups");
    Create(dir_ / "backups/one.tar.zst");
    WriteAll(dir_ / "backups/junk.tar.zst", "not an archive");
    WriteAll(dir_ / "backups/ignored.txt", "x");
    auto list = ListBackups(dir_ / "backups");
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 2u);
    int with_manifest = 0;
    for (const auto& e : *list) {
        if (e.manifest) {
            ++with_manifest;
            EXPECT_EQ(e.manifest->TotalRecords(), 340);
        } else {
            EXPECT_FALSE(e.error.empty());
        }
    }
    EXPECT_EQ(with_manifest, 1);
}

// ---- restore drill ----

TEST_F(EmbeddedBackupTest, DrillRestoresTheNewestAndFindsItsSampledRecords) {
    fs::create_directories(dir_ / "backups");
    fs::create_directories(dir_ / "scratch");
    Create(dir_ / "backups/a.tar.zst");
    BackupDrillOptions o;
    o.dir = dir_ / "backups";
    o.scratch_parent = dir_ / "scratch";
    auto r = RunBackupDrill(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->ok()) << r->FailureText();
    EXPECT_EQ(r->archive, dir_ / "backups/a.tar.zst");
    EXPECT_EQ(r->records_restored, 340);
    EXPECT_TRUE(r->consistent) << r->consistency_text;
    // 3 records x (vector + text: these records have no symbol) x 2 collections.
    ASSERT_EQ(r->queries.size(), 12u);
    EXPECT_EQ(r->queries_passed, 12u);
    for (const auto& q : r->queries) {
        EXPECT_TRUE(q.kind == "vector" || q.kind == "text") << q.kind;
        EXPECT_GE(q.rank, 1) << q.collection << " " << q.kind << " " << q.record_id;
    }
    EXPECT_TRUE(fs::is_empty(dir_ / "scratch")) << "the scratch directory is removed";

    // The same content gives the same query set; another seed another one.
    auto again = RunBackupDrill(o);
    ASSERT_TRUE(again.ok());
    std::vector<std::string> ids, ids_again, ids_other;
    for (const auto& q : r->queries) ids.push_back(q.record_id);
    for (const auto& q : again->queries) ids_again.push_back(q.record_id);
    EXPECT_EQ(ids, ids_again);
    o.seed = 16;
    auto other = RunBackupDrill(o);
    ASSERT_TRUE(other.ok());
    for (const auto& q : other->queries) ids_other.push_back(q.record_id);
    EXPECT_NE(ids, ids_other);
}

TEST_F(EmbeddedBackupTest, DrillOfADamagedNewestArchiveFailsAndCleansUp) {
    fs::create_directories(dir_ / "backups");
    fs::create_directories(dir_ / "scratch");
    Create(dir_ / "backups/a.tar.zst");
    std::string bytes = ReadAll(dir_ / "backups/a.tar.zst");
    bytes[bytes.size() / 2] ^= 1;
    WriteAll(dir_ / "backups/a.tar.zst", bytes);
    BackupDrillOptions o;
    o.dir = dir_ / "backups";
    o.scratch_parent = dir_ / "scratch";
    auto r = RunBackupDrill(o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kDataLoss) << r.status().ToString();
    EXPECT_NE(r.status().message().find("a.tar.zst"), std::string::npos) << r.status().ToString();
    EXPECT_TRUE(fs::is_empty(dir_ / "scratch"));
}

TEST(BackupDrillTest, AnEmptyDirectoryIsNotFound) {
    TempDir dir;
    BackupDrillOptions o;
    o.dir = dir / "";
    auto r = RunBackupDrill(o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
    EXPECT_NE(r.status().message().find("no backup archives"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace signalhub::ops

#include "ops/backup_drill.hpp"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "ops/migrate.hpp"
#include "store/vector_store.hpp"

namespace signalhub::ops {

namespace fs = std::filesystem;

namespace {

// The scratch directory: made with mkdtemp, removed (with everything in it) on destruction.
class ScratchDir {
   public:
    static Result<ScratchDir> Make(const std::optional<std::string>& parent) {
        std::string base = parent ? *parent : std::string();
        if (base.empty()) {
            const char* tmp = std::getenv("TMPDIR");
            base = tmp && *tmp ? tmp : "/tmp";
        }
        std::error_code ec;
        if (!fs::is_directory(base, ec)) return NotFound("scratch parent " + base + " is not a directory");
        std::string pattern = (fs::path(base) / "signal-hub-drill-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            return Unavailable("cannot create a scratch directory in " + base + ": " + std::strerror(errno));
        }
        ScratchDir d;
        d.path_ = pattern;
        return d;
    }
    ScratchDir() = default;
    ScratchDir(ScratchDir&& o) noexcept : path_(std::exchange(o.path_, std::string())) {}
    ScratchDir& operator=(ScratchDir&&) = delete;
    ~ScratchDir() {
        std::error_code ec;
        if (!path_.empty()) fs::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

   private:
    std::string path_;
};

// A PostgreSQL (logical) archive is drilled without a database: the whole archive is checked against
// its manifest, its records member is loaded through the `migrate import` path into a scratch
// embedded store, and each collection's count is compared with the manifest. This proves the archive
// is complete and its records and embeddings answer searches; the PostgreSQL restore itself (schema,
// COPY, HNSW build in pgvector) is what `backup restore --database` does and is not run here.
Result<BackupRestoreSummary> RestorePostgresArchiveToScratch(const std::string& archive, const std::string& scratch,
                                                             const std::string& store_dir) {
    const auto t0 = std::chrono::steady_clock::now();
    constexpr const char* kRecordsMember = "data/records.jsonl";
    const std::string records = scratch + "/records.jsonl";
    bool have_records = false;
    BackupRestoreSummary summary;
    SH_ASSIGN_OR_RETURN(summary.manifest,
                        ExtractBackupArchive(archive, [&](const BackupManifest&, const BackupManifest::File& f) -> Result<std::string> {
                            if (f.path != kRecordsMember) return std::string();
                            have_records = true;
                            return records;
                        }));
    if (!have_records) return DataLoss("backup archive " + archive + ": a PostgreSQL backup without " + kRecordsMember);
    ImportOptions io;
    io.input = records;
    io.target_url = store_dir;
    SH_RETURN_IF_ERROR(ImportExport(io).status().WithContext("loading the archived records into a scratch store"));
    std::error_code ec;
    fs::remove(records, ec);
    {
        SH_ASSIGN_OR_RETURN(std::unique_ptr<store::VectorStore> s,
                            store::OpenStore(store_dir, store::OpenOptions{.read_only = true}));
        SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, s->ListCollections());
        const std::string wrong = CompareCountsWithManifest(summary.manifest, infos, summary.counts);
        if (!wrong.empty()) {
            return DataLoss("the records of " + archive + " do not match its manifest (" + wrong +
                            "); the archive is incomplete or its manifest was altered");
        }
    }
    summary.notes.push_back("PostgreSQL archive: its records were loaded into a scratch embedded store (the "
                            "PostgreSQL restore itself is not part of the drill)");
    summary.seconds = SecondsSince(t0);
    return summary;
}

// Glob metacharacters of store::GlobMatch: a path holding one cannot be an exact path filter.
bool HasGlobChars(std::string_view s) { return s.find_first_of("*?[]") != std::string_view::npos; }

// Up to `n` records of a collection picked by a generator seeded with `seed` and the collection's
// name: reservoir sampling over the records in id order, so the same content gives the same records.
// Records with a symbol are preferred (a symbol query is the sharper test); the rest fill up.
Result<std::vector<Record>> SampleRecords(store::VectorStore& s, const std::string& collection, size_t n,
                                          std::uint64_t seed) {
    std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                      static_cast<std::uint32_t>(std::hash<std::string>{}(collection))};
    std::mt19937_64 rng(seq);
    std::vector<Record> with_symbol, without;
    std::int64_t seen_with = 0, seen_without = 0;
    auto offer = [&](std::vector<Record>& pool, std::int64_t& seen, const Record& r) {
        ++seen;
        if (pool.size() < n) {
            pool.push_back(r);
            return;
        }
        std::uniform_int_distribution<std::int64_t> pick(0, seen - 1);
        const std::int64_t j = pick(rng);
        if (j < static_cast<std::int64_t>(n)) pool[static_cast<size_t>(j)] = r;
    };
    std::string after;
    for (;;) {
        SH_ASSIGN_OR_RETURN(store::ScanPage page, s.Scan(collection, after, 500));
        for (const Record& r : page.records) {
            const auto path = GetString(r.metadata, meta::kFilePath);
            if (!path || path->empty() || r.embedding.empty()) continue;  // nothing to build a query from
            const auto symbol = GetString(r.metadata, meta::kSymbol);
            if (symbol && !symbol->empty()) {
                offer(with_symbol, seen_with, r);
            } else {
                offer(without, seen_without, r);
            }
        }
        if (!page.next_after) break;
        after = *page.next_after;
    }
    std::vector<Record> out = std::move(with_symbol);
    for (size_t i = 0; out.size() < n && i < without.size(); ++i) out.push_back(std::move(without[i]));
    return out;
}

// The lexical query of a record without a symbol: its 8 longest distinct words (letters, digits, '_';
// 2 characters or more) in the order they first appear, the sharpest words it has; its file path when
// its document has none.
std::string TextQuery(const Record& r, const std::string& path) {
    std::vector<std::string> words;
    if (r.document) {
        std::string w;
        auto flush = [&] {
            if (w.size() >= 2 && std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
            w.clear();
        };
        for (char ch : *r.document) {
            if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') {
                w += ch;
            } else {
                flush();
            }
        }
        flush();
    }
    if (words.empty()) return path;
    std::vector<size_t> order(words.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return words[a].size() > words[b].size(); });
    order.resize(std::min<size_t>(order.size(), 8));
    std::sort(order.begin(), order.end());
    std::string out;
    for (size_t i : order) out += (out.empty() ? "" : " ") + words[i];
    return out;
}

int RankOf(const std::vector<store::Hit>& hits, const std::string& id) {
    for (size_t i = 0; i < hits.size(); ++i) {
        if (hits[i].record.id == id) return static_cast<int>(i) + 1;
    }
    return 0;
}

Status RunQueries(store::VectorStore& s, const std::string& collection, const BackupDrillOptions& o,
                  BackupDrillReport& report) {
    SH_ASSIGN_OR_RETURN(std::vector<Record> picked, SampleRecords(s, collection, o.samples, o.seed));
    if (picked.empty()) {
        report.notes.push_back("collection " + collection + " has no record with a file path: no queries for it");
        return Status::Ok();
    }
    for (const Record& r : picked) {
        const std::string path = *GetString(r.metadata, meta::kFilePath);
        {
            BackupDrillQuery q{collection, "vector", "", r.id};
            store::SearchOptions so;
            so.k = o.k;
            SH_ASSIGN_OR_RETURN(std::vector<store::Hit> hits, s.VectorSearch(collection, r.embedding, so));
            q.rank = RankOf(hits, r.id);
            q.passed = q.rank > 0;
            if (!q.passed && hits.size() >= o.k) {
                // Exact duplicates of the record (the same text indexed twice) can fill the top k with equal
                // scores: then the record is not missing, it ties. Its own score is the exact one.
                store::SearchOptions exact = so;
                exact.exact = true;
                exact.filter.path_glob = HasGlobChars(path) ? std::nullopt : std::optional<std::string>(path);
                SH_ASSIGN_OR_RETURN(std::vector<store::Hit> own, s.VectorSearch(collection, r.embedding, exact));
                for (const auto& h : own) {
                    if (h.record.id == r.id && hits.back().score >= h.score - 1e-6) {
                        q.passed = true;
                        report.notes.push_back("collection " + collection + ": record " + r.id +
                                               " ties with exact duplicates in the vector top " + std::to_string(o.k));
                    }
                }
            }
            report.queries.push_back(std::move(q));
        }
        {
            const auto symbol = GetString(r.metadata, meta::kSymbol);
            const bool by_symbol = symbol && !symbol->empty();
            BackupDrillQuery q{collection, by_symbol ? "symbol" : "text", by_symbol ? *symbol : TextQuery(r, path), r.id};
            store::SearchOptions so;
            so.k = o.k;
            if (!HasGlobChars(path)) so.filter.path_glob = path;
            if (by_symbol) so.filter.symbol = *symbol;
            SH_ASSIGN_OR_RETURN(std::vector<store::Hit> hits, s.LexicalSearch(collection, q.text, so));
            q.rank = RankOf(hits, r.id);
            q.passed = q.rank > 0;
            if (!q.passed && hits.size() >= o.k) {
                // As for vectors: records of the same file with the same words tie; the record is there
                // when it scores as well as the 10th hit.
                store::SearchOptions wide = so;
                wide.k = 1000;
                SH_ASSIGN_OR_RETURN(std::vector<store::Hit> all, s.LexicalSearch(collection, q.text, wide));
                const int at = RankOf(all, r.id);
                const double tenth = hits.back().score;
                if (at > 0 && all[static_cast<size_t>(at - 1)].score >= tenth - 1e-9 * std::max(1.0, std::abs(tenth))) {
                    q.passed = true;
                    report.notes.push_back("collection " + collection + ": record " + r.id + " ties with others for " +
                                           q.kind + " query '" + q.text + "' in the top " + std::to_string(o.k));
                }
            }
            report.queries.push_back(std::move(q));
        }
    }
    return Status::Ok();
}

}  // namespace

std::string BackupDrillReport::FailureText() const {
    std::string out;
    if (!consistent) out += "consistency check failed:\n" + consistency_text;
    if (queries.empty()) out += "no queries could be built (no collection holds a record with a file path)\n";
    for (const auto& q : queries) {
        if (q.passed) continue;
        out += "query failed: collection " + q.collection + ", " + q.kind + " search" +
               (q.text.empty() ? std::string() : " '" + q.text + "'") + " did not return record " + q.record_id +
               " in its top 10\n";
    }
    return out;
}

Result<BackupDrillReport> RunBackupDrill(const BackupDrillOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.samples == 0) return InvalidArgument("backup drill: samples must be positive");
    SH_ASSIGN_OR_RETURN(std::vector<BackupListEntry> entries, ListBackups(o.dir));
    if (entries.empty()) {
        return NotFound("backup drill: no backup archives (*.tar.zst) in " + o.dir +
                        "; run `signal-hub backup create " + o.dir + "` first");
    }
    BackupDrillReport report;
    report.archive = entries.front().path;
    SH_ASSIGN_OR_RETURN(ScratchDir scratch, ScratchDir::Make(o.scratch_parent));
    report.scratch = scratch.path();
    const std::string restored = scratch.path() + "/store";

    const bool postgres = entries.front().manifest && entries.front().manifest->source_kind == "postgresql";
    auto restore = postgres ? RestorePostgresArchiveToScratch(report.archive, scratch.path(), restored) : [&] {
        BackupRestoreOptions ro;
        ro.archive = report.archive;
        ro.store_dir = restored;
        return RestoreEmbeddedBackup(ro);
    }();
    if (!restore.ok()) return restore.status().WithContext("backup drill of " + report.archive);
    report.manifest = restore->manifest;
    report.counts = restore->counts;
    report.restore_seconds = restore->seconds;
    for (const auto& c : report.counts) report.records_restored += c.restored;
    for (auto& n : restore->notes) report.notes.push_back(std::move(n));

    // Consistency: every record read back, the graphs' recall against an exact search.
    const auto tv = std::chrono::steady_clock::now();
    VerifyOptions vo;
    vo.target_url = restored;
    vo.source_url = restored;
    vo.k = o.k;
    auto verified = VerifyMigration(vo);
    report.verify_seconds = SecondsSince(tv);
    if (!verified.ok()) {
        report.consistent = false;
        report.consistency_text = verified.status().ToString() + "\n";
    } else {
        report.consistent = verified->ok();
        report.consistency_text = VerifyReportText(*verified);
        for (const auto& c : verified->collections) report.min_recall = std::min(report.min_recall, c.recall);
    }

    const auto tq = std::chrono::steady_clock::now();
    {
        SH_ASSIGN_OR_RETURN(std::unique_ptr<store::VectorStore> s,
                            store::OpenStore(restored, store::OpenOptions{.read_only = true}));
        for (const auto& c : report.manifest.collections) {
            if (c.records == 0) continue;
            auto ran = RunQueries(*s, c.name, o, report);
            if (!ran.ok()) return ran.WithContext("backup drill of " + report.archive + ": collection " + c.name);
        }
    }
    report.query_seconds = SecondsSince(tq);
    report.queries_passed = static_cast<size_t>(
        std::count_if(report.queries.begin(), report.queries.end(), [](const auto& q) { return q.passed; }));
    report.seconds = SecondsSince(t0);
    return report;
}

}  // namespace signalhub::ops

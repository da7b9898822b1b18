#include "ops/migrate.hpp"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <span>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ops/export_format.hpp"
#include "ops/export_reader.hpp"
#include "ops/line_io.hpp"
#include "store/chroma/chroma_store.hpp"
#include "store/pgvector/import_ledger.hpp"
#include "store/pgvector/pgvector_store.hpp"
#include "store/vector_store.hpp"

namespace signalhub::ops {

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool IsPostgresUrl(std::string_view url) {
    return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

// A store URL as reports show it: a directory as is, a URL without what may hold credentials
// (user, password, token parameters): "postgresql://...", "chroma+http://...".
std::string ShownUrl(const std::string& url) {
    const size_t scheme = url.find("://");
    return scheme == std::string::npos ? url : url.substr(0, scheme) + "://...";
}

void Report(const ProgressFn& fn, std::string phase, const std::string& collection, std::int64_t done,
            std::int64_t total) {
    if (fn) fn(Progress{std::move(phase), collection, done, total});
}

}  // namespace

Result<SourceKind> ParseSourceKind(std::string_view s) {
    if (s == "embedded") return SourceKind::kEmbedded;
    if (s == "postgresql") return SourceKind::kPostgresql;
    if (s == "chromadb") return SourceKind::kChromadb;
    return InvalidArgument("unknown source '" + std::string(s) + "' (expected embedded, postgresql or chromadb)");
}

std::string_view SourceKindName(SourceKind kind) {
    switch (kind) {
        case SourceKind::kPostgresql: return "postgresql";
        case SourceKind::kChromadb: return "chromadb";
        case SourceKind::kEmbedded: break;
    }
    return "embedded";
}

Result<std::string> StoreUrlFor(SourceKind kind, const Connections& c) {
    switch (kind) {
        case SourceKind::kEmbedded:
            if (!c.store_path || c.store_path->empty()) {
                return InvalidArgument("the embedded store needs --store PATH (the store directory)");
            }
            return *c.store_path;
        case SourceKind::kPostgresql:
            if (!c.database_url || c.database_url->empty()) {
                return InvalidArgument("PostgreSQL needs --database URL (or DATABASE_URL): postgresql://USER@HOST:PORT/DB");
            }
            if (!IsPostgresUrl(*c.database_url)) {
                return InvalidArgument("--database must be a postgresql:// URL, got '" +
                                       c.database_url->substr(0, c.database_url->find('@')) + "...'");
            }
            return *c.database_url;
        case SourceKind::kChromadb: {
            if (!c.chroma_url || c.chroma_url->empty()) {
                return InvalidArgument("ChromaDB needs --chroma-url URL (http://HOST:PORT of the Chroma server)");
            }
            const std::string& u = *c.chroma_url;
            if (u.starts_with("chroma+")) return u;
            if (u.starts_with("http://") || u.starts_with("https://")) return "chroma+" + u;
            return InvalidArgument("--chroma-url must be an http:// or https:// URL, got '" + u + "'");
        }
    }
    return Internal("unreachable");
}

// ---- export -------------------------------------------------------------------

Result<ExportSummary> ExportCollections(const ExportOptions& options) {
    if (options.page_size == 0) return InvalidArgument("page size must be positive");
    if (options.output != "-" && !options.overwrite) {
        std::error_code ec;
        if (std::filesystem::exists(options.output, ec)) {
            return AlreadyExists(options.output + " exists (an earlier export?); nothing was written. Choose another "
                                 "--output, or pass --force to replace it (the old file stays until the new one is "
                                 "complete)");
        }
    }
    const auto start = Clock::now();
    SH_ASSIGN_OR_RETURN(auto source, store::OpenStore(options.source_url, store::OpenOptions{.read_only = true}));
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> all, source->ListCollections());
    std::vector<CollectionInfo> chosen;
    if (options.collections.empty()) {
        chosen = all;
    } else {
        for (const auto& name : options.collections) {
            auto it = std::find_if(all.begin(), all.end(), [&](const CollectionInfo& c) { return c.spec.name == name; });
            if (it == all.end()) {
                std::string names;
                for (const auto& c : all) names += (names.empty() ? "" : ", ") + c.spec.name;
                return NotFound("the source has no collection '" + name + "' (it has: " +
                                (names.empty() ? std::string("none") : names) + ")");
            }
            chosen.push_back(*it);
        }
    }
    if (chosen.empty()) return NotFound("the source has no collections to export");
    std::sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
    SH_ASSIGN_OR_RETURN(auto writer, LineWriter::Open(options.output, options.overwrite));
    ExportSummary summary;
    for (const auto& info : chosen) {
        const std::string& name = info.spec.name;
        ExportHeader header{std::string(SourceKindName(options.source)), info.spec, info.records};
        // A collection that came from Chroma carries its own Chroma metadata and configuration (ADR-25).
        for (auto [key, field] : {std::pair{collection_property::kChromaMetadata, &header.chroma_metadata},
                                  std::pair{collection_property::kChromaConfiguration, &header.chroma_configuration}}) {
            auto it = info.properties.find(key);
            if (it == info.properties.end() || it->second.empty()) continue;
            if (!nlohmann::json::parse(it->second, nullptr, false).is_object()) {
                return DataLoss("collection '" + name + "': its property " + std::string(key) + " is not a JSON object");
            }
            *field = it->second;
        }
        SH_RETURN_IF_ERROR(writer->WriteLine(EncodeHeader(header)));
        CollectionChecksum checksum;
        std::int64_t count = 0;
        std::string after;
        bool first = true;
        for (;;) {
            SH_ASSIGN_OR_RETURN(store::ScanPage page, source->Scan(name, after, options.page_size));
            for (const Record& r : page.records) {
                if (!first && !(after < r.id)) {
                    return Internal("the source returned collection '" + name + "' out of id order at '" + r.id + "'");
                }
                first = false;
                if (static_cast<int>(r.embedding.size()) != info.spec.dimension) {
                    return DataLoss("record '" + r.id + "' of collection '" + name + "' has " +
                                    std::to_string(r.embedding.size()) + " embedding values, the collection's dimension is " +
                                    std::to_string(info.spec.dimension));
                }
                SH_ASSIGN_OR_RETURN(std::string line, EncodeRecord(r));
                SH_RETURN_IF_ERROR(writer->WriteLine(line));
                checksum.Add(RecordDigest(r));
                after = r.id;
                ++count;
            }
            Report(options.progress, "export", name, count, info.records);
            if (!page.next_after) break;
            after = *page.next_after;
        }
        if (count != info.records) {
            summary.warnings.push_back("collection '" + name + "': the source reported " + std::to_string(info.records) +
                                       " records and " + std::to_string(count) +
                                       " were exported (written during the export, or the source's count is off); "
                                       "run `migrate verify` against the source to check");
        }
        SH_RETURN_IF_ERROR(writer->WriteLine(EncodeTrailer({name, count, checksum.Hex()})));
        summary.collections.push_back({name, count});
        summary.records += count;
    }
    SH_RETURN_IF_ERROR(writer->Close());
    summary.bytes = writer->bytes_written();
    summary.seconds = Since(start);
    return summary;
}

// ---- init-db ------------------------------------------------------------------

Result<InitDbResult> InitDatabase(const std::string& database_url) {
    if (!IsPostgresUrl(database_url)) return InvalidArgument("init-db needs a postgresql:// URL (--database or DATABASE_URL)");
    InitDbResult result;
    result.version = store::PgVectorStore::kSchemaVersion;
    {
        // A read-only open creates nothing: OK when the schema is there and current, NotFound when there
        // is none, FailedPrecondition when it is older (or newer: the read-write open below says so).
        auto existing = store::PgVectorStore::Open(database_url, store::OpenOptions{.read_only = true});
        if (existing.ok()) {
            result.action = InitDbResult::Action::kCurrent;
        } else if (existing.status().code() == ErrorCode::kNotFound) {
            result.action = InitDbResult::Action::kCreated;
        } else if (existing.status().code() == ErrorCode::kFailedPrecondition) {
            result.action = InitDbResult::Action::kUpgraded;
        } else {
            return existing.status();
        }
    }
    // A read-write open applies the store's schema migrations (idempotent, serialised database-wide).
    SH_ASSIGN_OR_RETURN(auto pg, store::PgVectorStore::Open(database_url, store::OpenOptions{}));
    SH_RETURN_IF_ERROR(pg->EnsureImportCheckpoints());
    return result;
}

// ---- import -------------------------------------------------------------------

namespace {

// Pass 1: validates the file and remembers each block's checksum (the checkpoint key). While the
// decoded records fit in `budget` bytes (an estimate of their heap size), it also keeps them with
// their digests, and the load replays them instead of reading the file again (ADR-33).
class Validator : public ExportVisitor {
   public:
    struct KeptBlock {
        ExportHeader header;
        std::vector<Record> records;
        std::vector<Digest> digests;
    };

    explicit Validator(size_t budget) : budget_(budget), keeping_(budget > 0) {}

    Status OnHeader(const ExportHeader& header) override {
        if (keeping_) kept.push_back(KeptBlock{header, {}, {}});
        return Status::Ok();
    }
    Status OnRecord(const ExportHeader& /*header*/, Record&& record, const Digest& digest) override {
        if (!keeping_) return Status::Ok();
        bytes_ += EstimateBytes(record);
        if (bytes_ > budget_) {
            // Too large to keep: free what was kept, validate on, and read the file again to load.
            keeping_ = false;
            std::vector<KeptBlock>().swap(kept);
            return Status::Ok();
        }
        kept.back().records.push_back(std::move(record));
        kept.back().digests.push_back(digest);
        return Status::Ok();
    }
    Status OnTrailer(const ExportHeader& header, const ExportTrailer& trailer) override {
        blocks.push_back({header, trailer});
        return Status::Ok();
    }
    bool kept_all() const { return keeping_; }

    std::vector<std::pair<ExportHeader, ExportTrailer>> blocks;
    std::vector<KeptBlock> kept;  // when kept_all(): every block's records, in file order

   private:
    static size_t EstimateBytes(const Record& r) {
        size_t n = sizeof(Record) + sizeof(Digest) + r.id.capacity() + r.embedding.capacity() * sizeof(float);
        if (r.document) n += r.document->capacity();
        for (const auto& [key, value] : r.metadata) {
            n += 96 + key.capacity();  // map node + variant
            if (const auto* text = std::get_if<std::string>(&value)) n += text->capacity();
        }
        return n;
    }

    size_t budget_;
    bool keeping_;
    size_t bytes_ = 0;
};

class Importer : public ExportVisitor {
   public:
    Importer(const ImportOptions& options, store::VectorStore& target, store::PgVectorStore* pg,
             store::ImportLedger* ledger, const std::vector<std::pair<ExportHeader, ExportTrailer>>& blocks)
        : options_(options), target_(target), pg_(pg), ledger_(ledger), blocks_(blocks) {}

    Status OnHeader(const ExportHeader& header) override {
        const ExportTrailer& trailer = blocks_.at(block_).second;
        current_ = ImportedCollection{header.spec.name, header.records, 0, 0, 0, 0};
        started_ = Clock::now();
        auto* chroma = dynamic_cast<store::ChromaStore*>(&target_);
        auto ensured = chroma != nullptr
                           ? chroma->EnsureCollection(header.spec, {header.chroma_metadata, header.chroma_configuration})
                           : target_.EnsureCollection(header.spec);
        if (!ensured.ok()) {
            return ensured.status().WithContext("cannot import collection '" + header.spec.name + "' from " +
                                                options_.input);
        }
        checkpoint_.reset();
        rebuild_index_ = false;
        direct_ = false;
        key_ = "signal-hub-export:" + trailer.checksum;
        if (pg_ != nullptr) {
            if (options_.resume) {
                SH_ASSIGN_OR_RETURN(checkpoint_, pg_->GetImportCheckpoint(key_, header.spec.name));
            }
            // An empty collection: its secondary indexes are dropped and built once at the end
            // (ADR-30), and batches go straight into the table (BulkLoad's direct path; it falls
            // back to its upsert if an id is there after all). Indexes missing at the start: an
            // earlier run dropped them and was interrupted; its batches up to the checkpoint
            // are in, none after it.
            direct_ = ensured->records == 0;
            if (options_.index_after) {
                if (ensured->records == 0) {
                    SH_RETURN_IF_ERROR(pg_->DeferIndexes(header.spec.name));
                    rebuild_index_ = true;
                } else {
                    SH_ASSIGN_OR_RETURN(bool has, pg_->HasIndexes(header.spec.name));
                    rebuild_index_ = !has;
                    direct_ = !has;
                }
            }
        }
        if (ledger_ != nullptr) {
            // What `migrate verify --database` compares with when it is given no file: this file's
            // per-record checksums, written for every record (also those a checkpoint skips).
            std::error_code ec;
            const auto absolute = std::filesystem::absolute(options_.input, ec);
            SH_RETURN_IF_ERROR(ledger_->Begin(header.spec.name, ec ? options_.input : absolute.string(),
                                              trailer.checksum, header.records));
        }
        return Status::Ok();
    }

    Status OnRecord(const ExportHeader& header, Record&& record, const Digest& digest) override {
        if (ledger_ != nullptr) {
            digests_.push_back({record.id, std::string(digest.begin(), digest.end())});
            if (digests_.size() >= options_.batch_size) SH_RETURN_IF_ERROR(FlushDigests(header));
        }
        if (checkpoint_ && record.id <= checkpoint_->last_id) {
            ++current_.skipped;
            return Status::Ok();
        }
        batch_.push_back(std::move(record));
        if (batch_.size() >= options_.batch_size) return FlushBatch(header);
        return Status::Ok();
    }

    Status OnTrailer(const ExportHeader& header, const ExportTrailer& /*trailer*/) override {
        SH_RETURN_IF_ERROR(FlushBatch(header));
        current_.load_seconds = Since(started_);
        if (pg_ != nullptr && rebuild_index_) {
            Report(options_.progress, "index", header.spec.name, current_.skipped + current_.imported, current_.records);
            const auto t = Clock::now();
            SH_RETURN_IF_ERROR(pg_->BuildIndexes(header.spec.name));
            current_.index_seconds = Since(t);
        }
        // `status` shows "imported <time>" for a collection no index run has written yet.
        store::ChangeSet imported;
        imported.set_properties.emplace(std::string(collection_property::kImportedAt),
                                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                           std::chrono::system_clock::now().time_since_epoch())
                                                           .count()));
        if (dynamic_cast<store::ChromaStore*>(&target_) == nullptr) {
            // Kept for the way back into Chroma (a Chroma target got them when the collection was created).
            if (!header.chroma_metadata.empty()) {
                imported.set_properties.emplace(std::string(collection_property::kChromaMetadata), header.chroma_metadata);
            }
            if (!header.chroma_configuration.empty()) {
                imported.set_properties.emplace(std::string(collection_property::kChromaConfiguration),
                                                header.chroma_configuration);
            }
        }
        SH_RETURN_IF_ERROR(target_.Commit(header.spec.name, imported));
        if (pg_ == nullptr) SH_RETURN_IF_ERROR(target_.Flush());
        if (ledger_ != nullptr) {
            SH_RETURN_IF_ERROR(FlushDigests(header));
            SH_RETURN_IF_ERROR(ledger_->Finish(header.spec.name));
        }
        summary.collections.push_back(current_);
        ++block_;
        return Status::Ok();
    }

    ImportSummary summary;

   private:
    Status FlushDigests(const ExportHeader& header) {
        if (digests_.empty()) return Status::Ok();
        SH_RETURN_IF_ERROR(ledger_->AddDigests(header.spec.name, digests_)
                               .WithContext("recording the import of collection '" + header.spec.name + "'"));
        digests_.clear();
        return Status::Ok();
    }

    Status FlushBatch(const ExportHeader& header) {
        if (batch_.empty()) return Status::Ok();
        const std::int64_t n = static_cast<std::int64_t>(batch_.size());
        if (pg_ != nullptr) {
            store::PgVectorStore::ImportCheckpoint cp{key_, batch_.back().id, current_.skipped + current_.imported + n};
            SH_RETURN_IF_ERROR(pg_->BulkLoad(header.spec.name, batch_, cp, direct_));
        } else {
            store::ChangeSet changes;
            changes.upserts = std::move(batch_);
            SH_RETURN_IF_ERROR(target_.Commit(header.spec.name, changes));
        }
        batch_.clear();
        current_.imported += n;
        Report(options_.progress, "import", header.spec.name, current_.skipped + current_.imported, current_.records);
        return Status::Ok();
    }

    const ImportOptions& options_;
    store::VectorStore& target_;
    store::PgVectorStore* pg_;
    store::ImportLedger* ledger_;
    std::vector<store::ImportDigest> digests_;
    const std::vector<std::pair<ExportHeader, ExportTrailer>>& blocks_;
    size_t block_ = 0;
    ImportedCollection current_;
    Clock::time_point started_;
    std::optional<store::PgVectorStore::ImportCheckpoint> checkpoint_;
    bool rebuild_index_ = false;
    bool direct_ = false;
    std::string key_;
    std::vector<Record> batch_;
};

}  // namespace

Result<ImportSummary> ImportExport(const ImportOptions& options) {
    if (options.batch_size == 0) return InvalidArgument("--batch-size must be positive");
    if (options.input == "-") return InvalidArgument("import reads its input twice (validate, then load): give a file, not -");
    const auto start = Clock::now();
    Validator validator(options.memory_budget_bytes);
    SH_RETURN_IF_ERROR(ReadExport(options.input, validator, [&](const ReadProgress& p) {
        Report(options.progress, "validate", "", p.records, 0);
    }));
    const double validate_seconds = Since(start);
    std::unique_ptr<store::VectorStore> target;
    store::PgVectorStore* pg = nullptr;
    std::unique_ptr<store::ImportLedger> ledger;
    if (IsPostgresUrl(options.target_url)) {
        SH_ASSIGN_OR_RETURN(auto opened, store::PgVectorStore::Open(options.target_url, store::OpenOptions{}));
        SH_RETURN_IF_ERROR(opened->EnsureImportCheckpoints());
        SH_ASSIGN_OR_RETURN(ledger, store::ImportLedger::Open(options.target_url));
        SH_RETURN_IF_ERROR(ledger->Ensure());
        pg = opened.get();
        target = std::move(opened);
    } else {
        std::string url = options.target_url;
        if (url.starts_with("chroma+") && url.find("bookkeeping=") == std::string::npos) {
            // Collections that came from the user's own Chroma go back without anything of Signal
            // Hub's in them (a rollback, ADR-25); those Signal Hub created keep their bookkeeping.
            const bool foreign = std::all_of(validator.blocks.begin(), validator.blocks.end(), [](const auto& b) {
                return !b.first.chroma_metadata.empty() || !b.first.chroma_configuration.empty();
            });
            if (!options.chroma_bookkeeping.value_or(!foreign)) {
                url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("bookkeeping=off");
            }
        }
        SH_ASSIGN_OR_RETURN(target, store::OpenStore(url, store::OpenOptions{}));
    }
    Importer importer(options, *target, pg, ledger.get(), validator.blocks);
    if (validator.kept_all()) {
        // The records the validation pass decoded and checked, in file order: the same calls
        // ReadExport would make on a second read (each block's memory freed once it is loaded).
        // Errors name FILE:LINE as on a read: a block is its header line, its records, its trailer line.
        std::int64_t line = 1;
        auto where = [&](std::int64_t n) { return options.input + ":" + std::to_string(n); };
        for (size_t b = 0; b < validator.kept.size(); ++b) {
            Validator::KeptBlock& block = validator.kept[b];
            SH_RETURN_IF_ERROR(importer.OnHeader(block.header).WithContext(where(line)));
            for (size_t i = 0; i < block.records.size(); ++i) {
                ++line;
                SH_RETURN_IF_ERROR(importer.OnRecord(block.header, std::move(block.records[i]), block.digests[i])
                                       .WithContext(where(line)));
            }
            std::vector<Record>().swap(block.records);
            std::vector<Digest>().swap(block.digests);
            ++line;
            SH_RETURN_IF_ERROR(importer.OnTrailer(block.header, validator.blocks.at(b).second).WithContext(where(line)));
            ++line;
        }
    } else {
        SH_RETURN_IF_ERROR(ReadExport(options.input, importer));
    }
    importer.summary.seconds = Since(start);
    importer.summary.validate_seconds = validate_seconds;
    importer.summary.single_read = validator.kept_all();
    return importer.summary;
}

// ---- verify -------------------------------------------------------------------

namespace {

double Score(DistanceMetric metric, std::span<const float> a, std::span<const float> b) {
    double dot = 0, na = 0, nb = 0, l2 = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        const double x = a[i], y = b[i];
        dot += x * y;
        na += x * x;
        nb += y * y;
        l2 += (x - y) * (x - y);
    }
    switch (metric) {
        case DistanceMetric::kL2: return -std::sqrt(l2);
        case DistanceMetric::kInnerProduct: return dot;
        case DistanceMetric::kCosine: break;
    }
    return na > 0 && nb > 0 ? dot / (std::sqrt(na) * std::sqrt(nb)) : 0.0;
}

struct Query {
    std::uint64_t rank = 0;  // XXH3 of the id: the sample is the `sample` smallest ranks (deterministic)
    std::string id;
    std::vector<float> embedding;
    std::vector<std::pair<double, std::string>> truth;  // best first, at most k
};

struct SourceCollection {
    CollectionSpec spec;
    std::int64_t records = 0;
    std::unordered_map<std::string, Digest> digests;
    std::vector<Query> queries;  // a max-heap by rank while sampling
    // Chroma cosine targets (ADR-25): per record, the digest without the embedding and the
    // embedding, to tell Chroma's re-rounding of a cosine vector from a real difference.
    bool keep_loose = false;
    std::unordered_map<std::string, std::pair<Digest, std::vector<float>>> loose;
};

Digest DigestWithoutEmbedding(const Record& r) {
    Record copy{r.id, r.document, r.metadata, {}};
    return RecordDigest(copy);
}

void KeepLoose(SourceCollection& c, const Record& r) {
    if (!c.keep_loose || c.spec.metric != DistanceMetric::kCosine) return;
    c.loose.emplace(r.id, std::pair{DigestWithoutEmbedding(r), r.embedding});
}

// Chroma keeps a cosine collection's vectors normalised and scales them back when read, which
// moves each value by a few float32 ulps of the vector's norm: equal when everything else is
// equal and no value moved by more than 1e-6 of the source vector's L2 norm.
bool OnlyRerounded(const SourceCollection& c, const Record& r) {
    auto it = c.loose.find(r.id);
    if (it == c.loose.end()) return false;
    const auto& [digest, want] = it->second;
    if (DigestWithoutEmbedding(r) != digest || want.size() != r.embedding.size()) return false;
    double norm = 0;
    for (float x : want) norm += static_cast<double>(x) * x;
    const double tolerance = 1e-6 * std::sqrt(norm);
    for (size_t i = 0; i < want.size(); ++i) {
        if (std::abs(static_cast<double>(want[i]) - r.embedding[i]) > tolerance) return false;
    }
    return true;
}

void Sample(SourceCollection& c, const Record& r, size_t n) {
    if (n == 0) return;
    const std::uint64_t rank = XXH3_64bits(r.id.data(), r.id.size());
    auto cmp = [](const Query& a, const Query& b) { return a.rank < b.rank; };
    if (c.queries.size() < n) {
        c.queries.push_back({rank, r.id, r.embedding, {}});
        std::push_heap(c.queries.begin(), c.queries.end(), cmp);
    } else if (rank < c.queries.front().rank) {
        std::pop_heap(c.queries.begin(), c.queries.end(), cmp);
        c.queries.back() = {rank, r.id, r.embedding, {}};
        std::push_heap(c.queries.begin(), c.queries.end(), cmp);
    }
}

void Offer(Query& q, DistanceMetric metric, const Record& r, size_t k) {
    const double s = Score(metric, q.embedding, r.embedding);
    auto better = [](const std::pair<double, std::string>& a, const std::pair<double, std::string>& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    std::pair<double, std::string> cand{s, r.id};
    if (q.truth.size() == k && !better(cand, q.truth.back())) return;
    q.truth.insert(std::upper_bound(q.truth.begin(), q.truth.end(), cand, better), std::move(cand));
    if (q.truth.size() > k) q.truth.pop_back();
}

class SourceFileReader : public ExportVisitor {
   public:
    SourceFileReader(const VerifyOptions& o, std::map<std::string, SourceCollection>& out) : o_(o), out_(out) {}
    Status OnHeader(const ExportHeader& h) override {
        current_ = nullptr;
        if (o_.collection && *o_.collection != h.spec.name) return Status::Ok();
        if (out_.count(h.spec.name) != 0) {
            return InvalidArgument("collection '" + h.spec.name + "' appears twice in " + *o_.against_file);
        }
        current_ = &out_[h.spec.name];
        current_->spec = h.spec;
        current_->keep_loose = o_.target_url.starts_with("chroma+");
        return Status::Ok();
    }
    Status OnRecord(const ExportHeader& /*h*/, Record&& r, const Digest& d) override {
        if (current_ == nullptr) return Status::Ok();
        current_->records++;
        Sample(*current_, r, o_.sample);
        current_->digests.emplace(r.id, d);
        KeepLoose(*current_, r);
        return Status::Ok();
    }

   private:
    const VerifyOptions& o_;
    std::map<std::string, SourceCollection>& out_;
    SourceCollection* current_ = nullptr;
};

// Second pass over the file: exact top-k for the sampled queries.
class TruthFileReader : public ExportVisitor {
   public:
    TruthFileReader(size_t k, std::map<std::string, SourceCollection>& c) : k_(k), c_(c) {}
    Status OnHeader(const ExportHeader& h) override {
        auto it = c_.find(h.spec.name);
        current_ = it == c_.end() ? nullptr : &it->second;
        return Status::Ok();
    }
    Status OnRecord(const ExportHeader& /*h*/, Record&& r, const Digest& /*d*/) override {
        if (current_ == nullptr) return Status::Ok();
        for (Query& q : current_->queries) Offer(q, current_->spec.metric, r, k_);
        return Status::Ok();
    }

   private:
    size_t k_;
    std::map<std::string, SourceCollection>& c_;
    SourceCollection* current_ = nullptr;
};

constexpr size_t kScanPage = 1000;

void AddListed(std::vector<std::string>& list, const std::string& id, size_t max) {
    if (list.size() < max) list.push_back(id);
}

std::string DescribeImport(const store::ImportLedgerEntry& e) {
    return std::to_string(e.digests) + " records recorded by `migrate import`; the last import read " +
           std::to_string(e.input_records) + " records from " + e.input + " (collection checksum " + e.input_checksum +
           ", finished " + e.finished_at + ")";
}

// Recorded-import mode: the expectation is what the target's imports recorded (ledger digests);
// the sampled queries are the target's records among them (the truth pass scans the target).
Status LoadRecordedImports(const VerifyOptions& o, store::VectorStore& target,
                           std::map<std::string, SourceCollection>& source, std::map<std::string, std::string>& from) {
    const std::string no_file = "pass --input FILE (the export file that was imported) or --source KIND to compare with";
    SH_ASSIGN_OR_RETURN(auto ledger, store::ImportLedger::Open(o.target_url));
    SH_ASSIGN_OR_RETURN(std::vector<store::ImportLedgerEntry> entries, ledger->Entries());
    std::erase_if(entries, [&](const auto& e) { return o.collection && *o.collection != e.collection; });
    if (entries.empty()) {
        return FailedPrecondition(
            "no import is recorded in the database" +
            (o.collection ? " for collection '" + *o.collection + "'" : std::string()) +
            " (its collections were written by `index`, by an import of an older signal-hub, or re-created since): " +
            no_file);
    }
    for (const auto& e : entries) {
        if (!e.complete) {
            return FailedPrecondition("the last import of collection '" + e.collection + "' (from " + e.input +
                                      ") did not finish: run the same `signal-hub migrate import` again (it resumes "
                                      "from its checkpoint), or " + no_file);
        }
    }
    for (const auto& e : entries) {
        SH_ASSIGN_OR_RETURN(CollectionInfo info, target.GetCollection(e.collection));
        SourceCollection& c = source[e.collection];
        c.spec = info.spec;
        from[e.collection] = DescribeImport(e);
        std::string after;
        for (;;) {
            SH_ASSIGN_OR_RETURN(std::vector<store::ImportDigest> page, ledger->Digests(e.collection, after, kScanPage));
            for (const auto& d : page) {
                Digest digest{};
                if (d.digest.size() != digest.size()) {
                    return DataLoss("the recorded checksum of record '" + d.id + "' of collection '" + e.collection +
                                    "' is not 16 bytes");
                }
                std::copy(d.digest.begin(), d.digest.end(), digest.begin());
                c.digests.emplace(d.id, digest);
                c.records++;
            }
            if (page.size() < kScanPage) break;
            after = page.back().id;
        }
        after.clear();
        for (;;) {
            SH_ASSIGN_OR_RETURN(store::ScanPage page, target.Scan(e.collection, after, kScanPage));
            for (const Record& r : page.records) {
                if (c.digests.count(r.id) != 0) Sample(c, r, o.sample);
            }
            Report(o.progress, "verify", e.collection, 0, 0);
            if (!page.next_after) break;
            after = *page.next_after;
        }
    }
    return Status::Ok();
}

}  // namespace

bool CollectionVerification::ok() const {
    return target_exists && spec_matches && missing == 0 && extra == 0 && different == 0 &&
           source_records == target_records && recall + 1e-12 >= min_recall;
}

bool VerifyReport::ok() const {
    return !collections.empty() &&
           std::all_of(collections.begin(), collections.end(), [](const auto& c) { return c.ok(); });
}

Result<VerifyReport> VerifyMigration(const VerifyOptions& o) {
    if (o.against_file && o.source_url) {
        return InvalidArgument("verify compares with one of --against FILE or --source KIND, not both");
    }
    if (o.k == 0) return InvalidArgument("k must be positive");
    VerifyReport report;
    report.k = o.k;
    report.min_recall = o.min_recall;
    report.target = ShownUrl(o.target_url);
    std::map<std::string, SourceCollection> source;
    std::unique_ptr<store::VectorStore> source_store;
    std::unique_ptr<store::VectorStore> target;
    std::map<std::string, std::string> expected_from;
    if (!o.against_file && !o.source_url) {
        report.recorded = true;
        report.source = "the imports recorded in it (per-record checksums of the imported files)";
        if (!IsPostgresUrl(o.target_url)) {
            return InvalidArgument("verify without a file or a source compares a PostgreSQL database (--database) "
                                   "with what `migrate import` recorded in it; " + ShownUrl(o.target_url) +
                                   " is not one: pass --input FILE (the export file) or --source KIND to compare with");
        }
        SH_ASSIGN_OR_RETURN(target, store::OpenStore(o.target_url, store::OpenOptions{.read_only = true}));
        SH_RETURN_IF_ERROR(LoadRecordedImports(o, *target, source, expected_from));
    } else if (o.against_file) {
        report.source = *o.against_file;
        SourceFileReader reader(o, source);
        SH_RETURN_IF_ERROR(ReadExport(*o.against_file, reader));
    } else {
        report.source = ShownUrl(*o.source_url);
        SH_ASSIGN_OR_RETURN(source_store, store::OpenStore(*o.source_url, store::OpenOptions{.read_only = true}));
        SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, source_store->ListCollections());
        for (const auto& info : infos) {
            if (o.collection && *o.collection != info.spec.name) continue;
            SourceCollection& c = source[info.spec.name];
            c.spec = info.spec;
            c.keep_loose = o.target_url.starts_with("chroma+");
            std::string after;
            for (;;) {
                SH_ASSIGN_OR_RETURN(store::ScanPage page, source_store->Scan(info.spec.name, after, kScanPage));
                for (const Record& r : page.records) {
                    c.records++;
                    Sample(c, r, o.sample);
                    c.digests.emplace(r.id, RecordDigest(r));
                    KeepLoose(c, r);
                }
                Report(o.progress, "verify", info.spec.name, c.records, info.records);
                if (!page.next_after) break;
                after = *page.next_after;
            }
        }
    }
    if (o.collection && source.count(*o.collection) == 0) {
        return NotFound("the source has no collection '" + *o.collection + "'");
    }
    if (source.empty()) return NotFound("the source has no collections");
    // Exact nearest neighbours on the source (on the target's own records when there is none).
    if (o.against_file) {
        TruthFileReader truth(o.k, source);
        SH_RETURN_IF_ERROR(ReadExport(*o.against_file, truth));
    } else {
        // A second scan of the source, as the file's second pass: one read of the collection for
        // all sampled queries (an exact search per query would read it once per query on stores
        // without a native exact scan, such as ChromaDB).
        store::VectorStore& exact = source_store ? *source_store : *target;
        for (auto& [name, c] : source) {
            if (c.queries.empty()) continue;
            std::string after;
            for (;;) {
                SH_ASSIGN_OR_RETURN(store::ScanPage page, exact.Scan(name, after, kScanPage));
                for (const Record& r : page.records) {
                    for (Query& q : c.queries) Offer(q, c.spec.metric, r, o.k);
                }
                if (!page.next_after) break;
                after = *page.next_after;
            }
        }
    }
    if (!target) {
        SH_ASSIGN_OR_RETURN(target, store::OpenStore(o.target_url, store::OpenOptions{.read_only = true}));
    }
    std::unique_ptr<store::PgVectorStore> pg_target;  // for the HNSW index check
    if (IsPostgresUrl(o.target_url)) {
        auto opened = store::PgVectorStore::Open(o.target_url, store::OpenOptions{.read_only = true});
        if (opened.ok()) pg_target = std::move(opened).value();
    }
    for (auto& [name, c] : source) {
        CollectionVerification v;
        v.collection = name;
        if (auto it = expected_from.find(name); it != expected_from.end()) v.expected_from = it->second;
        v.min_recall = o.min_recall;
        v.source_records = c.records;
        auto info = target->GetCollection(name);
        if (!info.ok()) {
            if (info.status().code() != ErrorCode::kNotFound) return info.status();
            v.target_exists = false;
            v.missing = c.records;
            for (const auto& [id, d] : c.digests) AddListed(v.missing_ids, id, o.max_listed);
            std::sort(v.missing_ids.begin(), v.missing_ids.end());
            v.recall = 0;
            report.collections.push_back(std::move(v));
            continue;
        }
        v.target_counter = info->records;
        if (pg_target) {
            auto has = pg_target->HasVectorIndex(name);
            if (has.ok()) v.vector_index = *has;
        }
        Status compatible = CheckCompatible(info->spec, c.spec);
        if (!compatible.ok()) {
            v.spec_matches = false;
            v.spec_problem = compatible.message();
        }
        std::string after;
        std::unordered_map<std::string, Digest> remaining = c.digests;
        for (;;) {
            SH_ASSIGN_OR_RETURN(store::ScanPage page, target->Scan(name, after, kScanPage));
            for (const Record& r : page.records) {
                v.target_records++;
                auto it = remaining.find(r.id);
                if (it == remaining.end()) {
                    v.extra++;
                    AddListed(v.extra_ids, r.id, o.max_listed);
                    continue;
                }
                if (RecordDigest(r) != it->second && OnlyRerounded(c, r)) {
                    v.rerounded++;
                } else if (RecordDigest(r) != it->second) {
                    v.different++;
                    AddListed(v.different_ids, r.id, o.max_listed);
                }
                remaining.erase(it);
            }
            Report(o.progress, "verify", name, v.target_records, info->records);
            if (!page.next_after) break;
            after = *page.next_after;
        }
        v.missing = static_cast<std::int64_t>(remaining.size());
        std::vector<std::string> missing;
        for (const auto& [id, d] : remaining) missing.push_back(id);
        std::sort(missing.begin(), missing.end());
        for (const auto& id : missing) AddListed(v.missing_ids, id, o.max_listed);
        // Nearest-neighbour agreement: a target hit counts when it scores at least as well as the
        // source's k-th exact neighbour (ties between equal vectors are not misses).
        double total = 0;
        if (v.spec_matches) {
            for (const Query& q : c.queries) {
                if (q.truth.empty()) continue;
                store::SearchOptions so;
                so.k = o.k;
                so.include_embeddings = true;
                SH_ASSIGN_OR_RETURN(std::vector<store::Hit> hits, target->VectorSearch(name, q.embedding, so));
                const double kth = q.truth.back().first;
                const double eps = 1e-6 * std::max(1.0, std::abs(kth));
                size_t good = 0;
                for (const auto& h : hits) {
                    if (Score(c.spec.metric, q.embedding, h.record.embedding) >= kth - eps) ++good;
                }
                total += static_cast<double>(std::min(good, q.truth.size())) / static_cast<double>(q.truth.size());
                v.queries++;
            }
            v.recall = v.queries > 0 ? total / static_cast<double>(v.queries) : 1.0;
        } else {
            v.recall = 0;
        }
        report.collections.push_back(std::move(v));
    }
    return report;
}

std::string VerifyReportText(const VerifyReport& r) {
    std::string out = "verify " + r.target + " against " + r.source + "\n";
    if (r.recorded) {
        out += "(no --input or --source given: expected records and checksums are those `migrate import` recorded; "
               "recall compares the index search with an exact search over the database's own records)\n";
    }
    auto list = [](const std::vector<std::string>& ids, std::int64_t n) {
        std::string s;
        for (const auto& id : ids) s += "\n      " + id;
        if (n > static_cast<std::int64_t>(ids.size())) s += "\n      ... and " + std::to_string(n - static_cast<std::int64_t>(ids.size())) + " more";
        return s;
    };
    for (const auto& c : r.collections) {
        char recall[64];
        std::snprintf(recall, sizeof recall, "%.4f", c.recall);
        out += "\ncollection " + c.collection + ": " + (c.ok() ? "OK" : "FAILED") + "\n";
        if (!c.target_exists) out += "  the target has no collection '" + c.collection + "'\n";
        if (!c.spec_matches) out += "  spec mismatch: " + c.spec_problem + "\n";
        if (!c.expected_from.empty()) out += "  expected:  " + c.expected_from + "\n";
        out += "  records:   " + std::string(r.recorded ? "recorded " : "source ") + std::to_string(c.source_records) +
               ", target " + std::to_string(c.target_records) + "\n";
        if (c.target_exists) {
            out += "  counter:   the target's record count says " + std::to_string(c.target_counter) +
                   (c.target_counter == c.target_records
                        ? " (consistent)"
                        : " (warning: differs from the records scanned; `status` shows the counter)") +
                   "\n";
        }
        if (c.vector_index) {
            out += std::string("  index:     ") +
                   (*c.vector_index ? "HNSW index present"
                                    : "no HNSW index (searches are exact scans: recall says nothing about an index)") +
                   "\n";
        }
        out += "  missing:   " + std::to_string(c.missing) + list(c.missing_ids, c.missing) + "\n";
        out += "  extra:     " + std::to_string(c.extra) + list(c.extra_ids, c.extra) + "\n";
        out += "  different: " + std::to_string(c.different) + list(c.different_ids, c.different) + "\n";
        if (c.rerounded > 0) {
            out += "  equal but for Chroma's re-rounding of cosine vectors (each value within 1e-6 of the vector's "
                   "norm): " + std::to_string(c.rerounded) + "\n";
        }
        out += "  recall@" + std::to_string(r.k) + ": " + recall + " over " + std::to_string(c.queries) +
               " sampled queries (minimum " + std::to_string(r.min_recall).substr(0, 4) + ")\n";
    }
    out += std::string("\nresult: ") + (r.ok() ? "OK" : "FAILED") + "\n";
    return out;
}

std::string VerifyReportJson(const VerifyReport& r) {
    nlohmann::json j;
    j["ok"] = r.ok();
    j["source"] = r.source;
    j["target"] = r.target;
    j["recorded"] = r.recorded;
    j["k"] = r.k;
    j["min_recall"] = r.min_recall;
    j["collections"] = nlohmann::json::array();
    for (const auto& c : r.collections) {
        j["collections"].push_back({{"collection", c.collection},
                                    {"ok", c.ok()},
                                    {"target_exists", c.target_exists},
                                    {"spec_matches", c.spec_matches},
                                    {"spec_problem", c.spec_problem},
                                    {"source_records", c.source_records},
                                    {"target_records", c.target_records},
                                    {"missing", c.missing},
                                    {"extra", c.extra},
                                    {"different", c.different},
                                    {"rerounded", c.rerounded},
                                    {"missing_ids", c.missing_ids},
                                    {"extra_ids", c.extra_ids},
                                    {"different_ids", c.different_ids},
                                    {"expected_from", c.expected_from},
                                    {"target_counter", c.target_counter},
                                    {"vector_index", c.vector_index ? nlohmann::json(*c.vector_index) : nlohmann::json()},
                                    {"queries", c.queries},
                                    {"recall", c.recall}});
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---- drop ---------------------------------------------------------------------

namespace {

// The collection's record count, or NotFound naming the collections the store has.
Result<std::int64_t> RecordsOf(store::VectorStore& target, const std::string& target_url,
                               const std::string& collection) {
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> all, target.ListCollections());
    std::string names;
    for (const auto& c : all) {
        if (c.spec.name == collection) return c.records;
        names += (names.empty() ? "" : ", ") + c.spec.name;
    }
    return NotFound("the target " + ShownUrl(target_url) + " has no collection '" + collection + "' (it has: " +
                    (names.empty() ? std::string("none") : names) + ")");
}

}  // namespace

Result<std::int64_t> DropMigratedCollection(const std::string& target_url, const std::string& collection,
                                            bool confirmed) {
    if (collection.empty()) return InvalidArgument("drop needs --collection NAME");
    if (!confirmed) {
        SH_ASSIGN_OR_RETURN(auto target, store::OpenStore(target_url, store::OpenOptions{.read_only = true}));
        SH_ASSIGN_OR_RETURN(std::int64_t records, RecordsOf(*target, target_url, collection));
        return InvalidArgument("refusing to drop collection '" + collection + "' (" + std::to_string(records) +
                               " records) without --yes: this deletes all of its records, files and its index from "
                               "the target store and cannot be undone (export it first if in doubt)");
    }
    SH_ASSIGN_OR_RETURN(auto target, store::OpenStore(target_url, store::OpenOptions{}));
    SH_ASSIGN_OR_RETURN(std::int64_t records, RecordsOf(*target, target_url, collection));
    SH_RETURN_IF_ERROR(target->DropCollection(collection));
    return records;
}

}  // namespace signalhub::ops

#pragma once
// signal-hub migrate: move collections between stores through the export format
// (export_format.hpp) and check the result. Each function is one CLI subcommand
// (src/cli/cmd_migrate.cpp only parses arguments and maps results to exit codes).
//
// Stores are named by URL (store::OpenStore): a directory or sqlite://PATH (embedded),
// postgresql://... (PostgreSQL + pgvector), chroma+http(s)://... (ChromaDB, when that backend
// is registered). Errors are values: InvalidArgument (bad arguments or a malformed export
// line, naming FILE:LINE), DataLoss (truncated/corrupt file), FailedPrecondition (dimension,
// metric or model mismatch with an existing collection), NotFound, Unavailable, ...

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/record.hpp"
#include "core/status.hpp"

namespace signalhub::ops {

enum class SourceKind { kEmbedded, kPostgresql, kChromadb };
Result<SourceKind> ParseSourceKind(std::string_view s);  // "embedded", "postgresql", "chromadb"
std::string_view SourceKindName(SourceKind kind);

// The connections every migrate subcommand accepts.
struct Connections {
    std::optional<std::string> database_url;  // --database (PostgreSQL)
    std::optional<std::string> store_path;    // --store (embedded store directory)
    std::optional<std::string> chroma_url;    // --chroma-url (http(s)://host:port of a ChromaDB server)
};
// The store URL for `kind` from `connections` (InvalidArgument naming the missing option).
// ChromaDB URLs become chroma+http(s)://...
Result<std::string> StoreUrlFor(SourceKind kind, const Connections& connections);

// Progress of long operations (called from the working thread, at most a few times a second).
struct Progress {
    std::string phase;       // "export", "validate", "import", "index", "verify"
    std::string collection;  // may be empty
    std::int64_t done = 0;   // records
    std::int64_t total = 0;  // records, 0 when unknown
};
using ProgressFn = std::function<void(const Progress&)>;

// ---- export -------------------------------------------------------------------

struct ExportOptions {
    SourceKind source = SourceKind::kEmbedded;
    std::string source_url;
    std::vector<std::string> collections;  // empty: every collection
    std::string output;                    // path, ".zst" compresses, "-" is stdout
    bool overwrite = false;                // replace an existing output file (else AlreadyExists, before any work)
    size_t page_size = 1000;               // records per Scan page (bounds memory)
    ProgressFn progress;
};
struct CollectionCount {
    std::string collection;
    std::int64_t records = 0;
};
struct ExportSummary {
    std::vector<CollectionCount> collections;
    std::int64_t records = 0;
    std::int64_t bytes = 0;
    double seconds = 0;
    std::vector<std::string> warnings;  // e.g. a collection's reported count differed from the records read
};
// All collections go into one file, one header/records/trailer block each, in name order.
// The header carries the count the source reported before the scan; the trailer the records
// actually written (when they differ — writes during the export, or a drifted counter — a warning
// says so; `migrate verify` against the source tells whether the file is complete).
Result<ExportSummary> ExportCollections(const ExportOptions& options);

// ---- init-db ------------------------------------------------------------------

// Creates (or upgrades) the PostgreSQL store schema and the import checkpoint table;
// idempotent. FailedPrecondition naming the SQL a superuser must run when the vector
// extension cannot be created.
struct InitDbResult {
    enum class Action { kCreated, kUpgraded, kCurrent };
    Action action = Action::kCurrent;
    int version = 0;  // the schema version now in the database
};
Result<InitDbResult> InitDatabase(const std::string& database_url);

// ---- import -------------------------------------------------------------------

struct ImportOptions {
    std::string input;
    std::string target_url;  // postgresql://... or an embedded store directory
    size_t batch_size = 1000;
    bool resume = true;         // PostgreSQL: continue from the checkpoint of this input
    bool index_after = true;    // PostgreSQL: drop the secondary indexes (HNSW, GIN, language) of an empty collection, build them at the end
    // ChromaDB targets (ADR-25): false opens the target with bookkeeping=off, so the collections
    // are written as the user's own, without Signal Hub's file states, data version or
    // signal_hub:* metadata keys; true writes them (a Chroma store Signal Hub indexes into).
    // Unset: off when every collection of the file came from a Chroma collection Signal Hub did
    // not create (its header carries a "chroma" object), else on. A URL naming bookkeeping= wins.
    std::optional<bool> chroma_bookkeeping;
    // The validation pass keeps the decoded records while their estimated size stays within this
    // many bytes, and the load takes them from memory instead of reading and decoding the file a
    // second time (ADR-33). Beyond it (or 0) the kept records are freed and the load reads the file
    // again (as before: memory stays bounded by the batch size).
    size_t memory_budget_bytes = size_t{512} << 20;
    ProgressFn progress;
};
struct ImportedCollection {
    std::string collection;
    std::int64_t records = 0;   // records in the file
    std::int64_t imported = 0;  // records written by this run
    std::int64_t skipped = 0;   // records already committed by an earlier run (checkpoint)
    double load_seconds = 0;
    double index_seconds = 0;   // building the HNSW index after the load (0 when not rebuilt)
};
struct ImportSummary {
    std::vector<ImportedCollection> collections;
    double seconds = 0;
    double validate_seconds = 0;  // the validation pass (reading and decoding the file once)
    bool single_read = false;     // the load took the records kept by the validation pass (ADR-33)
};
// Validates the whole file first (nothing is written for a bad file), then loads it: from the
// records the validation kept when they fit in memory_budget_bytes, else by reading the file again.
Result<ImportSummary> ImportExport(const ImportOptions& options);

// ---- verify -------------------------------------------------------------------

// What the target is compared with: an export file, a source store, or (neither given) what the
// target's own imports recorded (PostgreSQL only: the per-record checksums of the imported files,
// store/pgvector/import_ledger.hpp). In that last case the nearest-neighbour truth is an exact
// search over the target's own records.
struct VerifyOptions {
    std::string target_url;
    std::optional<std::string> against_file;  // either this ...
    std::optional<std::string> source_url;    // ... or this (or neither: the recorded imports)
    std::optional<std::string> collection;    // default: every collection of the source
    size_t sample = 100;                      // nearest-neighbour queries per collection
    size_t k = 10;
    size_t max_listed = 10;                   // ids listed per kind of difference
    double min_recall = 0.95;                 // recall@k below this is a failure
    ProgressFn progress;
};
struct CollectionVerification {
    std::string collection;
    bool spec_matches = true;
    std::string spec_problem;  // when !spec_matches
    bool target_exists = true;
    std::int64_t source_records = 0, target_records = 0;
    std::int64_t missing = 0, extra = 0, different = 0;
    // Chroma cosine targets: records equal but for Chroma's re-rounding of the vector (ADR-25).
    std::int64_t rerounded = 0;
    std::vector<std::string> missing_ids, extra_ids, different_ids;  // the first max_listed of each
    std::string expected_from;  // recorded-import mode: the import the expectation comes from
    std::int64_t target_counter = 0;  // the target's own record count (its counter; reported, a differing one warns)
    std::optional<bool> vector_index;  // PostgreSQL targets: whether the collection's HNSW index exists
    size_t queries = 0;
    double recall = 1.0;  // mean recall@k of the target's index search vs exact search on the source
    double min_recall = 0.95;
    bool ok() const;
};
struct VerifyReport {
    std::string source, target;
    bool recorded = false;  // compared with the target's recorded imports (no file, no source store)
    size_t k = 10;
    double min_recall = 0.95;
    std::vector<CollectionVerification> collections;
    bool ok() const;
};
// A report (also when differences were found: check report.ok()); errors only when a store or
// the file cannot be read.
Result<VerifyReport> VerifyMigration(const VerifyOptions& options);
std::string VerifyReportText(const VerifyReport& report);
std::string VerifyReportJson(const VerifyReport& report);

// ---- drop ---------------------------------------------------------------------

// Drops a collection of a target store and returns how many records it held. NotFound when
// there is no such collection; InvalidArgument unless `confirmed` (its message says how many
// records would be deleted).
Result<std::int64_t> DropMigratedCollection(const std::string& target_url, const std::string& collection,
                                            bool confirmed);

}  // namespace signalhub::ops

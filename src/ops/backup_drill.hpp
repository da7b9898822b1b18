#pragma once
// signal-hub backup drill: prove that the newest backup of a directory restores and answers
// (docs/production/operations/backup-restore.md, "Restore drill").
//
// The newest archive of DIR (as `backup list` orders them) is restored with RestoreEmbeddedBackup
// into a scratch directory (a fresh temporary directory, removed afterwards whatever happens): the
// whole archive is checked against its manifest first, the restored store is opened (its HNSW graphs
// caught up or rebuilt) and its record counts compared with the manifest's. A PostgreSQL archive's
// records are instead loaded through the `migrate import` path into a scratch embedded store (no
// database is needed; the PostgreSQL restore itself is not exercised) and counted the same way. Then:
//  - consistency: VerifyMigration of the restored store against itself (every record read back;
//    recall@10 of the HNSW graph against an exact search over the same records, >= 0.95);
//  - a fixed query set per collection: `samples` records picked by a seeded generator from the
//    collection's own content (the same records for the same content), and for each (a) a vector
//    search with its embedding, (b) a lexical search restricted to its file for its symbol (or,
//    without one, its 8 longest words); each must return that record in its top 10.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "ops/backup.hpp"

namespace signalhub::ops {

struct BackupDrillOptions {
    std::string dir;                          // directory of archives; the newest is drilled
    std::optional<std::string> scratch_parent;  // where the scratch directory is made (default: $TMPDIR or /tmp)
    size_t samples = 3;                       // records per collection the queries are built from
    std::uint64_t seed = 15;                  // the query set's seed
    size_t k = 10;
};

struct BackupDrillQuery {
    std::string collection;
    std::string kind;       // "vector", "symbol" or "text"
    std::string text;       // the lexical query (empty for vector)
    std::string record_id;  // the record it must find
    int rank = 0;           // 1-based rank of the record, 0: not in the top k
    bool passed = false;
};

struct BackupDrillReport {
    std::string archive;
    std::string scratch;            // the scratch directory used (removed when the drill returns)
    BackupManifest manifest;
    std::vector<BackupRestoreSummary::Count> counts;
    std::int64_t records_restored = 0;
    double restore_seconds = 0, verify_seconds = 0, query_seconds = 0, seconds = 0;
    // Consistency (VerifyMigration of the restored store against itself).
    bool consistent = false;
    std::string consistency_text;   // VerifyReportText
    double min_recall = 1.0;        // lowest per-collection recall@k
    std::vector<BackupDrillQuery> queries;
    size_t queries_passed = 0;
    std::vector<std::string> notes;
    bool ok() const { return consistent && !queries.empty() && queries_passed == queries.size(); }
    // One line per failure (empty when ok()).
    std::string FailureText() const;
};

// NotFound: DIR missing or without archives. Any restore error of the newest archive (DataLoss for a
// damaged one or wrong record counts, ...) is returned as is, with the archive named. A restore that
// succeeds yields a report: check report.ok() for the consistency check and the queries.
Result<BackupDrillReport> RunBackupDrill(const BackupDrillOptions& options);

}  // namespace signalhub::ops

#pragma once
// What `signal-hub migrate import` recorded in a PostgreSQL database, so that `migrate verify
// --database URL` can check the database without the export file: per collection, the last
// import (input file, its collection checksum and record count, finished or not) and the
// per-record checksums (XXH3-128 digests of the export format) of every record imports wrote.
//
// Tables (in the store's schema, created by Ensure, idempotent, additive: older builds ignore them):
//   signal_hub_import_ledger  (collection_id PK -> signal_hub_collections ON DELETE CASCADE, input,
//                              input_checksum, input_records, complete, started_at, finished_at)
//   signal_hub_import_digests (collection_id -> ... ON DELETE CASCADE, id bytea, digest bytea,
//                              PRIMARY KEY (collection_id, id))
// The digests follow the import's upsert semantics: a record imported again replaces its digest,
// so the digests of a collection are what its imports say it holds. Dropping the collection
// (migrate drop, or an index run that re-creates it) drops its ledger with it.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace signalhub::store {

struct ImportLedgerEntry {
    std::string collection;
    std::string input;           // the export file as the import named it (absolute path)
    std::string input_checksum;  // the collection block's checksum in that file (32 hex)
    std::int64_t input_records = 0;
    bool complete = false;       // false: the import started and did not finish
    std::string finished_at;     // ISO 8601 UTC, empty when !complete
    std::int64_t digests = 0;    // records recorded by this and earlier imports of the collection
};

struct ImportDigest {
    std::string id;
    std::string digest;  // 16 bytes
};

class ImportLedger {
   public:
    // Opens its own connection to the database of `url` (postgresql://..., its ?schema=).
    static Result<std::unique_ptr<ImportLedger>> Open(const std::string& url);
    ~ImportLedger();
    ImportLedger(const ImportLedger&) = delete;
    ImportLedger& operator=(const ImportLedger&) = delete;

    // Creates the ledger tables when missing (needs the store schema: init-db first).
    Status Ensure();
    // Marks an import of `collection` (which must exist) from `input` as started.
    Status Begin(std::string_view collection, std::string_view input, std::string_view input_checksum,
                 std::int64_t input_records);
    // Upserts per-record digests (one transaction).
    Status AddDigests(std::string_view collection, std::span<const ImportDigest> digests);
    // Marks the import begun last as complete.
    Status Finish(std::string_view collection);

    // The entries of the collections that exist, by name; empty when nothing was recorded
    // (also when the ledger tables do not exist).
    Result<std::vector<ImportLedgerEntry>> Entries();
    // Digests of `collection` in id order after `after` (exclusive), at most `limit`.
    Result<std::vector<ImportDigest>> Digests(std::string_view collection, std::string_view after, size_t limit);

   private:
    struct Impl;
    explicit ImportLedger(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::store

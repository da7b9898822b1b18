#pragma once
// PgVectorStore: the production VectorStore on PostgreSQL (15+) with the
// pgvector extension (0.8+): HNSW for vector search, tsvector + GIN for the
// lexical candidates, BM25 computed in SQL. The schema and the search rules
// are described at the top of pgvector_store.cpp.
//
// URL: postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?PARAMS] (or postgres://).
// PARAMS are libpq's (sslmode, connect_timeout, ...) plus the store's own:
//   schema=NAME        the schema holding the store's tables (default public; created when missing)
//   pool_size=N        connections kept open (default 5)
//   max_overflow=N     extra connections under load, closed when released (default 10)
//   pool_timeout=SECS  how long an operation waits for a free connection (default 30)
//   hnsw_m=N, hnsw_ef_construction=N   HNSW parameters of collections created
//                      through this handle (default 16 and 200; an existing
//                      collection keeps the values it was created with)
//   read_url=URL       a read replica (repeatable, %-encoded); with max_replica_lag=SECS and
//                      replica_check_interval=SECS (db/postgres/pg_client.hpp). A read-only open
//                      with OpenOptions::read_replicas sends searches, Get, GetCollection, ListCollections and DataVersion to an
//                      up replica, falling back to the primary; everything else, and every
//                      operation of a read-write open, goes to the primary.
// (The config keys database.pool_size, max_overflow, pool_timeout, hnsw_m,
// hnsw_ef_construction, read_urls, max_replica_lag and replica_check_interval map onto these.)
//
// Thread safety: all methods may be called concurrently; each call takes a
// connection from the pool. Writes are serialised by PostgreSQL row locks (the
// store-wide data-version row), also across processes and replicas.
//
// Session state: none. Settings are SET LOCAL inside a transaction, locks are
// transaction-scoped, statements are unnamed: works behind PgBouncer in
// transaction mode. A broken connection is discarded and replaced; an operation
// that lost its connection before COMMIT was sent is retried once on a new one.
//
// Errors: InvalidArgument (bad URL), Unavailable (server unreachable: names
// host:port, never the password), PermissionDenied (login refused),
// FailedPrecondition (pgvector missing and not creatable — the message says
// what a superuser must run —, pgvector too old, schema newer than this build,
// spec mismatch, database not UTF8, store opened read-only), NotFound (no
// store schema on a read-only open, unknown collection), ResourceExhausted
// (pool exhausted for pool_timeout), plus the VectorStore contract's codes.

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "store/vector_store.hpp"

namespace signalhub::store {

struct PgVectorStoreOptions {
    int hnsw_m = 16;                 // HNSW build parameters for new collections (as the embedded store)
    int hnsw_ef_construction = 200;
    int default_ef_search = 128;     // hnsw.ef_search when SearchOptions::ef_search is 0 (raised to k)
};

// The oldest pgvector extension the store works with (0.8: iterative index scans), and whether an
// extversion ("0.7.4", "0.8.0") is at least that (`signal-hub doctor` reports it too).
inline constexpr int kMinPgvectorMajor = 0, kMinPgvectorMinor = 8;
bool PgvectorVersionSupported(std::string_view extversion);

class PgVectorStore final : public VectorStore {
   public:
    // The schema version this build writes (rows of signal_hub_schema_migrations).
    static constexpr int kSchemaVersion = 1;

    static Result<std::unique_ptr<PgVectorStore>> Open(const std::string& url, const OpenOptions& options,
                                                       const PgVectorStoreOptions& tuning = {});
    ~PgVectorStore() override;
    PgVectorStore(const PgVectorStore&) = delete;
    PgVectorStore& operator=(const PgVectorStore&) = delete;

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override;
    Result<CollectionInfo> GetCollection(std::string_view name) override;
    Result<std::vector<CollectionInfo>> ListCollections() override;
    // Without the file count and size (ListCollections' per-collection count over the files table):
    // one indexed row per collection, as the search path needs.
    Result<CollectionSpec> GetCollectionSpec(std::string_view name) override;
    Result<std::vector<CollectionSpec>> ListCollectionSpecs() override;
    Status DropCollection(std::string_view name) override;
    Status Commit(std::string_view collection, const ChangeSet& changes) override;
    Result<std::vector<FileState>> ListFiles(std::string_view collection) override;
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override;
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override;
    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) override;
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) override;
    // Reachable (a pooled connection answers) and the schema version is kSchemaVersion.
    Status CheckHealth() override;
    // The store-wide counter in signal_hub_meta, bumped in every writing transaction.
    Result<std::int64_t> DataVersion() override;
    // The connection pool's numbers (pool_size, max_overflow and pool_timeout from the URL).
    std::optional<PoolStats> pool_stats() const override;
    // Read replicas (read_url parameters of a read-only open): their state and where reads went.
    std::optional<ReadRoutingStats> read_routing() const override;

    // ---- bulk load (signal-hub migrate import) ----------------------------------
    //
    // Import checkpoints live in signal_hub_import_checkpoints (same schema; created by
    // EnsureImportCheckpoints, idempotent). A checkpoint belongs to one input (`key`, e.g. the
    // checksum of an exported collection) and one collection *instance*: a checkpoint written
    // before the collection was dropped and re-created is ignored.
    struct ImportCheckpoint {
        std::string key;
        std::string last_id;        // the last record id committed (inputs are sorted by id)
        std::int64_t records = 0;   // records committed for this input so far
    };
    Status EnsureImportCheckpoints();
    // nullopt when there is none for (key, collection) or it is stale.
    Result<std::optional<ImportCheckpoint>> GetImportCheckpoint(std::string_view key, std::string_view collection);
    // One transaction (asynchronous commit: a server crash loses a batch only together with its
    // checkpoint): the records, the collection's counters, the data version and, when given, the
    // checkpoint row. All or nothing. Errors as Commit. The records go in by COPY ... FROM STDIN
    // (FORMAT binary): with `direct`, straight into the records table (the fast path, for an
    // import that knows none of these ids is there yet); without it, or when that COPY fails (an
    // id is there after all), into a temporary staging table and then an upsert (existing ids are
    // replaced, so a re-run duplicates nothing).
    Status BulkLoad(std::string_view collection, std::span<const Record> records,
                    const std::optional<ImportCheckpoint>& checkpoint, bool direct = false);
    // All secondary indexes of the collection's records table (GIN on the lexemes, language, HNSW):
    // whether they all exist; drop them (before a bulk load into an empty collection: building
    // them once afterwards is several times cheaper than maintaining them row by row); build the
    // missing ones (CREATE INDEX IF NOT EXISTS, maintenance_work_mem >= 512MB) and VACUUM (ANALYZE)
    // the table. Without them searches stay correct (sequential scans), only slower.
    Result<bool> HasIndexes(std::string_view collection);
    Status DeferIndexes(std::string_view collection);
    Status BuildIndexes(std::string_view collection);
    // The collection's HNSW index: whether it exists, drop it (before a bulk load into an
    // empty collection), (re)build it (CREATE INDEX IF NOT EXISTS; no-op above 2000 dims).
    Result<bool> HasVectorIndex(std::string_view collection);
    Status DropVectorIndex(std::string_view collection);
    Status BuildVectorIndex(std::string_view collection);

    // Introspection for tests.
    struct Stats {
        std::int64_t exact_searches = 0;  // vector searches answered by an exact scan
        std::int64_t index_searches = 0;  // vector searches answered through HNSW
        std::int64_t retries = 0;         // operations retried on a new connection
        std::int64_t direct_loads = 0;    // BulkLoad batches that went straight into the table
        std::int64_t lexical_rounds = 0;  // candidate queries of lexical searches (terms taken, MaxScore)
    };
    Stats stats() const;
    size_t open_connections() const;

    class Impl;

   private:
    explicit PgVectorStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::store

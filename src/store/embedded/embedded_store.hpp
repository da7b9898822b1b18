#pragma once
// EmbeddedStore: the default VectorStore — one directory holding a SQLite
// database (the source of truth: records, file states, a change log), and per
// collection an HNSW file and a Xapian lexical index (derived, rebuildable). The
// on-disk layout and recovery rules are described at the top of
// embedded_store.cpp.
//
// Thread safety: all methods may be called concurrently. Writes (Commit,
// EnsureCollection, DropCollection, Flush) are serialised by one mutex;
// searches and reads run concurrently on a pool of SQLite connections and
// share each collection's HNSW index under a reader lock.
//
// Processes: one writer per directory (an flock on DIR/LOCK, released by the
// OS when the writer dies, even by kill -9); any number of read-only opens,
// which take no lock, write nothing, and see the writer's commits (each search
// catches up with the change log).

#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store {

struct EmbeddedStoreOptions {
    // A filtered vector search scans exactly when at most
    // max(exact_scan_min, exact_scan_fraction * records) records match.
    size_t exact_scan_min = 2000;
    double exact_scan_fraction = 0.05;
    int default_ef_search = 128;  // used when SearchOptions::ef_search is 0
    Clock* clock = nullptr;       // nullptr: Clock::Real()
};

class EmbeddedStore final : public VectorStore {
   public:
    // The schema version this build writes; newer databases are refused.
    static constexpr int kSchemaVersion = 2;  // 2: no FTS5 tables (ADR-28)
    // SQLite page size of the databases this build creates (bench: records packed 3-6 to a page
    // instead of 1; docs/performance.md, store size).
    static constexpr int kPageSize = 16384;

    // Opens (a writer creates) the store in directory `dir`.
    // Errors: NotFound (read-only and no database), FailedPrecondition (locked
    // by another writer, newer schema, not a signal-hub database), DataLoss
    // (the database is corrupt), Internal (I/O).
    static Result<std::unique_ptr<EmbeddedStore>> Open(const std::string& dir, const OpenOptions& options,
                                                       const EmbeddedStoreOptions& tuning = {});
    // A writer flushes (see Flush) and releases the lock.
    ~EmbeddedStore() override;
    EmbeddedStore(const EmbeddedStore&) = delete;
    EmbeddedStore& operator=(const EmbeddedStore&) = delete;

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override;
    Result<CollectionInfo> GetCollection(std::string_view name) override;
    Result<std::vector<CollectionInfo>> ListCollections() override;
    // One indexed row read per collection: no counts (GetCollection's count(*) is O(records)).
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
    // Writer: fsyncs every collection's lexical index (caught up first), saves
    // its HNSW index when behind the change log (atomically: temp file, fsync,
    // rename, fsync directory), then its sidecar, then prunes the change log up
    // to the older of the two. Read-only stores: no-op.
    Status Flush() override;
    // OK when DIR/store.db is still the file this open started with (same
    // device and inode: a directory renamed away is Unavailable, renamed back
    // is OK again), answers a query and has schema version kSchemaVersion.
    Status CheckHealth() override;
    // The 'data_version' counter of the meta table, bumped in each writing
    // transaction; 0 for a database written before the counter existed.
    Result<std::int64_t> DataVersion() override;

    // Introspection for tests and `status` output.
    struct Stats {
        std::int64_t hnsw_loads = 0;     // indexes loaded from their file
        std::int64_t hnsw_rebuilds = 0;  // indexes rebuilt from SQLite
        std::int64_t replayed_changes = 0;  // change-log rows replayed on load/catch-up
        std::int64_t exact_searches = 0;    // vector searches answered by an exact scan
        std::int64_t hnsw_searches = 0;     // vector searches answered by HNSW
        std::int64_t lexical_loads = 0;     // lexical indexes opened from DIR/lexical (ADR-28)
        std::int64_t lexical_rebuilds = 0;  // lexical indexes rebuilt from SQLite
        std::int64_t lexical_replayed = 0;  // change-log records applied to a lexical index
    };
    Stats stats() const;
    const std::string& dir() const;
    std::string DatabasePath() const;
    // DIR/hnsw/<collection id>.bin and its sidecar .json; NotFound for an unknown collection.
    Result<std::string> HnswPath(std::string_view collection);
    Result<std::string> SidecarPath(std::string_view collection);

    class Impl;

   private:
    explicit EmbeddedStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::store

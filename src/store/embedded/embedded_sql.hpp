#pragma once
// Internals of the embedded store shared by its source files (embedded_store.cpp): the SQLite
// schema, the embedding encoding, collection rows, the read-only connection pool and the per-
// collection graph state. Not an interface for other modules: they use EmbeddedStore.
// The layout and recovery rules these implement are described at the top of embedded_store.cpp.

#include <sqlite3.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.hpp"
#include "core/status.hpp"
#include "store/embedded/hnsw_index.hpp"
#include "store/embedded/sqlite.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::embedded_detail {

using sqlite::Db;
using sqlite::Stmt;
inline constexpr int kSidecarFormat = 1;
inline constexpr int kBusyTimeoutMs = 5000;
inline constexpr size_t kMaxIdleConnections = 8;
inline constexpr size_t kCompactMinDeleted = 1024;

// SQL true when Filter::symbol (parameter ?N, NULL for none) matches the "symbol" of the metadata
// JSON in `column`: equal, or ending with "." + it.
std::string SymbolCondition(const std::string& column, int n);

inline constexpr const char* kSchemaSql = R"sql(
CREATE TABLE collections(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  model TEXT NOT NULL,
  dimension INTEGER NOT NULL CHECK (dimension > 0),
  metric TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_indexed INTEGER,
  hnsw_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE records(
  row_id INTEGER PRIMARY KEY AUTOINCREMENT,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  document TEXT,
  metadata TEXT NOT NULL,
  embedding BLOB NOT NULL,
  file_path TEXT,
  language TEXT,
  UNIQUE(collection_id, id)
);
CREATE INDEX records_language ON records(collection_id, language);
CREATE TABLE files(
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  record_ids TEXT NOT NULL,
  PRIMARY KEY(collection_id, path)
) WITHOUT ROWID;
CREATE TABLE change_log(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  collection_id INTEGER NOT NULL,
  record_rowid INTEGER NOT NULL,
  op TEXT NOT NULL CHECK (op IN ('upsert', 'delete'))
);
CREATE INDEX change_log_collection ON change_log(collection_id, seq);
)sql";

// Not part of kSchemaSql: also created in databases written before it existed.
inline constexpr const char* kMetaSql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID";
// Collection properties (CollectionInfo::properties); additive like meta: a writer creates the
// table when missing, readers of a database without it see no properties.
inline constexpr const char* kPropertiesSql =
    "CREATE TABLE IF NOT EXISTS collection_properties(collection_id INTEGER NOT NULL REFERENCES "
    "collections(id) ON DELETE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(collection_id, key)) "
    "WITHOUT ROWID";
inline constexpr const char* kBumpDataVersionSql =
    "INSERT INTO meta(key, value) VALUES('data_version', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1";

std::string NoIndexMessage(const std::string& dir);

// Version 1 kept the lexical index in SQLite FTS5 tables (fts_<cid>); version 2 in DIR/lexical
// (derived, built on first use, ADR-28). Drops them and sets user_version = `to` in one
// transaction: a kill -9 leaves version 1, upgraded again by the next writer open.
Status UpgradeFromVersion1(Db& db, int to);

// ---- encoding -------------------------------------------------------------

std::vector<unsigned char> EncodeEmbedding(std::span<const float> v);

Status DecodeEmbedding(std::span<const unsigned char> bytes, int dimension, float* out);

// The files.record_ids column (a JSON array of strings) into `out`. Arrays as Commit writes them
// (compact, strings of printable ASCII without escapes) are read by a direct scan; anything else
// goes through the JSON parser, so the result is the same. False when it is not an array of strings.
// A no-change `index` reads every file's ids: the parser was half its CPU (ADR-32a).
bool ParseRecordIdsJson(std::string_view text, std::vector<std::string>& out);

// ---- SQL helpers ------------------------------------------------------------

// A read-only or read-write connection with the store's settings (busy timeout, foreign keys) and
// the sh_glob(pattern, path) SQL function (GlobMatch).
Result<Db> OpenConnection(const std::string& path, bool read_only, bool create);

struct CollectionRow {
    std::int64_t id = 0;
    CollectionSpec spec;
    std::optional<std::int64_t> last_indexed;
    std::int64_t hnsw_seq = 0;
};

inline constexpr const char* kCollectionColumns = "id, name, model, dimension, metric, last_indexed, hnsw_seq";

Result<CollectionRow> ReadCollectionRow(const Stmt& stmt);

Result<std::optional<CollectionRow>> FindCollection(sqlite3* db, std::string_view name);

Result<CollectionRow> RequireCollection(sqlite3* db, std::string_view name);

Result<std::int64_t> QueryIntBound(sqlite3* db, std::string_view sql, std::int64_t a, std::int64_t fallback = 0);

// Log head of a collection: everything up to it is committed.
Result<std::int64_t> LogHead(sqlite3* db, const CollectionRow& row, std::int64_t hnsw_seq);

// Reads id, document, metadata[, embedding] starting at column `first`.
Result<Record> ReadRecord(const Stmt& stmt, int first, bool with_embedding, int dimension);

// ---- connection pool ----------------------------------------------------------------

class ConnectionPool {
   public:
    explicit ConnectionPool(std::string path) : path_(std::move(path)) {}

    class Lease {
       public:
        Lease(ConnectionPool* pool, Db db) : pool_(pool), db_(std::move(db)) {}
        Lease(Lease&& other) noexcept : pool_(other.pool_), db_(std::move(other.db_)) { other.pool_ = nullptr; }
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() {
            if (pool_ != nullptr && db_.get() != nullptr) pool_->Return(std::move(db_));
        }
        sqlite3* get() const { return db_.get(); }

       private:
        ConnectionPool* pool_;
        Db db_;
    };

    Result<Lease> Acquire() {
        {
            std::lock_guard lock(mu_);
            if (!idle_.empty()) {
                Db db = std::move(idle_.back());
                idle_.pop_back();
                return Lease(this, std::move(db));
            }
        }
        SH_ASSIGN_OR_RETURN(Db db, OpenConnection(path_, /*read_only=*/true, /*create=*/false));
        return Lease(this, std::move(db));
    }

    void Clear() {
        std::lock_guard lock(mu_);
        idle_.clear();
    }

   private:
    void Return(Db db) {
        std::lock_guard lock(mu_);
        if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(db));
    }

    std::string path_;
    std::mutex mu_;
    std::vector<Db> idle_;
};

// One collection's graph and how far along the change log it is.
struct IndexState {
    std::shared_mutex mu;
    std::unique_ptr<HnswIndex> index;  // null: not loaded
    std::int64_t applied_seq = 0;      // change_log rows up to here are reflected
    std::int64_t saved_seq = -1;       // seq of the file on disk matching `index`; -1: none
};

struct RecordOp {
    std::int64_t rowid = 0;
    const Record* record = nullptr;  // nullptr: delete
};

template <typename F>
auto Guarded(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return ResourceExhausted("out of memory in the embedded store");
    } catch (const std::exception& e) {
        return Internal(std::string("embedded store: ") + e.what());
    }
}

}  // namespace signalhub::store::embedded_detail

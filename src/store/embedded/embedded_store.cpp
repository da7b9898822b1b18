// EmbeddedStore — on-disk layout and recovery (design note)
// ==========================================================
//
// DIR/
//   LOCK            writer lock (writer_lock.hpp): flock(LOCK_EX) held for the writer's
//                   lifetime; holds the writer's pid, command and start time for the error
//                   message. Released by the OS when the process dies (even by kill -9), so
//                   a stale lock never blocks.
//   store.db        SQLite (+ store.db-wal, store.db-shm): the source of truth.
//   hnsw/<cid>.bin  HNSW graph of collection id <cid>: links only, the vectors are read from
//                   store.db at load (hnsw_index.hpp, ADR-35); derived data.
//   hnsw/<cid>.json sidecar: {format, collection_id, dimension, metric, seq, bytes, xxh3}.
//   lexical/<cid>/  Xapian glass database: the lexical (BM25) index of collection <cid>; derived
//                   data, kept and recovered like the graph (lexical_index.hpp, ADR-28).
//   .gitignore      "*", written when a writer creates the directory (or finds it empty), so
//                   git ignores the store; store_layout.hpp recognises a store without it.
//
// SQLite settings: WAL journal, synchronous=NORMAL, foreign_keys=ON, busy_timeout=5s, pages of
// 16 KiB in stores created since issue 16 (kPageSize; older stores keep 4 KiB and work as before): a
// record row carries its vector (2 KiB at 512 dimensions) and its document, so with 4 KiB pages most
// pages held one row and a third of the file was unused space.
// Durability: in WAL mode with synchronous=NORMAL a transaction is in the WAL (the OS
// page cache) when COMMIT returns, so it survives a crash of the process (kill -9, OOM
// kill, segfault). A power loss or kernel crash may roll back the last transactions
// (never corrupt the database): whole change sets disappear together with their file
// states, so the next `signal-hub index` re-indexes exactly those files.
//
// Schema (PRAGMA user_version = 2; a newer version is refused at open; version 1 (the same plus
// FTS5 tables fts_<cid>) is read as is, and upgraded by the first writer open: its FTS5 tables are
// dropped in one transaction with the version bump, so a kill -9 leaves version 1):
//   collections(id INTEGER PK AUTOINCREMENT, name UNIQUE, model, dimension, metric,
//               created_at, last_indexed, hnsw_seq)  hnsw_seq: the change log is pruned up to it
//   records(row_id INTEGER PK AUTOINCREMENT, collection_id, id, document NULL,
//           metadata JSON, embedding BLOB (float32 little-endian), file_path, language,
//           UNIQUE(collection_id, id))
//       metadata JSON: strings, integers, booleans as JSON; finite doubles as JSON numbers
//       that always carry a '.' or exponent (nlohmann writes the shortest round-trip form,
//       so 1.0 stays a float and every double round-trips exactly); non-finite doubles as
//       {"$float": "nan"|"inf"|"-inf"}. file_path/language copy the string metadata for
//       filtering.
//   files(collection_id, path, content_hash, size, mtime_ns, record_ids JSON) PK(collection_id, path)
//   change_log(seq INTEGER PK AUTOINCREMENT, collection_id, record_rowid, op 'upsert'|'delete')
//       written in the same transaction as the records.
//   collection_properties(collection_id FK ON DELETE CASCADE, key, value TEXT) PK(collection_id, key):
//       CollectionInfo::properties; additive like meta (created by a writer when missing).
//   meta(key PK, value INTEGER)  key 'data_version': bumped inside every transaction that changes
//       committed data (Commit, creating EnsureCollection, DropCollection), never by Flush. Added
//       without a schema-version bump: a writer creates the table if missing (an additive change
//       older builds ignore); a database without the table or row reads as version 0.
//
// Health (CheckHealth): DIR/store.db must still be the file that was opened (same device and
// inode; renaming DIR away makes the path vanish, renaming it back restores it), answer a
// trivial query, and carry user_version == kSchemaVersion.
//
// HNSW consistency: a collection's graph reflects the change log up to a sequence number.
// Commit writes SQLite first (one BEGIN IMMEDIATE transaction), then applies the same
// changes to the in-memory graph. Flush (explicit, and when a writer closes) saves the
// graph atomically (temp file, fsync, rename, fsync dir), then the sidecar (same way),
// then sets collections.hnsw_seq and prunes change_log up to the older of that seq and the
// lexical index's (which Flush commits and fsyncs first), so both can catch up. Loading a
// collection: check the sidecar (ids, dimension, metric, hnsw_seq <= seq <= log head) and
// the file's size and XXH3 checksum, load, then replay change_log rows after seq — replay
// is idempotent: for each changed row id, the row's current state wins (present: insert or
// replace the vector; absent: mark deleted). Finally the number of live graph elements must
// equal the number of records; on any failure the graph is rebuilt from SQLite. A kill -9
// at any moment therefore leaves SQLite consistent and the graph derivable. Read-only
// opens do all of this in memory and re-check the log head on each search, reloading when
// the writer pruned past them.
//
// Vector search: unfiltered → HNSW (ef = SearchOptions.ef_search or 128). Filtered → the
// matching row ids come from SQL (language column, sh_glob(path_glob, file_path) function
// implemented by GlobMatch, json_extract(metadata, '$.symbol') for a symbol); when at most
// max(2000, 5% of the collection) match, an exact scan over their vectors; otherwise HNSW with
// a growing candidate count (4k, doubling) keeping matching hits, and an exact scan if that
// still yields fewer than k. An exact search without a filter reads the graph's vectors front to
// back (HnswIndex::ExactSearch) instead of looking each row id up.
//
// Lexical search: the collection's LexicalIndex (Xapian, lexical_index.hpp) ranks the OR of the
// query terms (LexicalQueryTerms) with FTS5's bm25() formula and returns 2k+16 row ids; the rows
// are read from SQLite and equal scores ordered by record id. The writer updates and commits the
// index after each SQLite commit; searches use a pool of read-only Xapian databases.

#include "store/embedded/embedded_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <unordered_set>

#include "store/embedded/embedded_sql.hpp"
#include "store/embedded/file_util.hpp"
#include "store/embedded/hnsw_index.hpp"
#include "store/embedded/lexical_index.hpp"
#include "store/embedded/sqlite.hpp"
#include "store/embedded/store_layout.hpp"
#include "store/embedded/writer_lock.hpp"
#include "store/metadata_json.hpp"
#include "store/store_util.hpp"

namespace signalhub::store {

namespace fs = std::filesystem;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Txn;
using Json = nlohmann::json;

using namespace embedded_detail;  // NOLINT(google-build-using-namespace): this module's own internals

// ====================================================================================

class EmbeddedStore::Impl {
   public:
    Impl(std::string dir, bool read_only, EmbeddedStoreOptions tuning)
        : dir_(std::move(dir)),
          read_only_(read_only),
          tuning_(tuning),
          clock_(tuning.clock != nullptr ? *tuning.clock : Clock::Real()),
          pool_(DatabasePath()),
          lexical_(dir_, !read_only) {}

    std::string DatabasePath() const { return (fs::path(dir_) / "store.db").string(); }
    std::string HnswDir() const { return (fs::path(dir_) / "hnsw").string(); }
    std::string HnswPath(std::int64_t id) const { return HnswDir() + "/" + std::to_string(id) + ".bin"; }
    std::string SidecarPath(std::int64_t id) const { return HnswDir() + "/" + std::to_string(id) + ".json"; }

    Status OpenWriter() {
        std::error_code ec;
        // A store directory this open creates (or finds empty) gets a .gitignore holding "*", so
        // git ignores the store by itself. Never written into a directory holding anything else.
        const bool fresh = !fs::exists(dir_, ec) || fs::is_empty(dir_, ec);
        fs::create_directories(fs::path(dir_) / "hnsw", ec);
        if (ec) return Internal("cannot create " + HnswDir() + ": " + ec.message());
        if (fresh) {
            SH_RETURN_IF_ERROR(WriteFileAtomic((fs::path(dir_) / kStoreGitignoreName).string(), kStoreGitignoreContent));
        }
        SH_ASSIGN_OR_RETURN(lock_, WriterLock::Acquire(dir_, holder_));
        const bool new_database = !fs::exists(DatabasePath(), ec) || fs::file_size(DatabasePath(), ec) == 0;
        SH_ASSIGN_OR_RETURN(write_db_, OpenConnection(DatabasePath(), /*read_only=*/false, /*create=*/true));
        sqlite3* db = write_db_.get();
        // The page size is fixed when the file is first written (before WAL mode is set); a store made
        // with another page size keeps it. See kPageSize.
        if (new_database) SH_RETURN_IF_ERROR(write_db_.Exec("PRAGMA page_size=" + std::to_string(kPageSize)));
        {
            SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, "PRAGMA journal_mode=WAL"));
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row || stmt.Text(0) != "wal") return Internal("cannot enable WAL mode on " + DatabasePath());
        }
        SH_RETURN_IF_ERROR(write_db_.Exec("PRAGMA synchronous=NORMAL"));
        // The writer's page cache: 16 MiB instead of SQLite's 2 MiB. Records' ids are hashes, so each
        // commit inserts into pages all over the (collection_id, id) index; with 2 MiB those were read
        // back from the WAL again and again (a cold index of the PostgreSQL tree read 1.4 GB; ADR-36a).
        SH_RETURN_IF_ERROR(write_db_.Exec("PRAGMA cache_size=-16384"));
        SH_ASSIGN_OR_RETURN(std::int64_t version, sqlite::QueryInt(db, "PRAGMA user_version"));
        SH_RETURN_IF_ERROR(CheckVersion(version));
        if (version == 1) SH_RETURN_IF_ERROR(UpgradeFromVersion1(write_db_, kSchemaVersion));
        if (version == 0) {
            SH_ASSIGN_OR_RETURN(std::int64_t tables, sqlite::QueryInt(db, "SELECT count(*) FROM sqlite_master"));
            if (tables > 0) {
                return FailedPrecondition(DatabasePath() + " is not a signal-hub store (no schema version)");
            }
            SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, true));
            SH_RETURN_IF_ERROR(write_db_.Exec(kSchemaSql));
            SH_RETURN_IF_ERROR(write_db_.Exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)));
            SH_RETURN_IF_ERROR(txn.Commit());
        }
        SH_RETURN_IF_ERROR(write_db_.Exec(kMetaSql));
        SH_RETURN_IF_ERROR(write_db_.Exec(kPropertiesSql));
        SH_RETURN_IF_ERROR(RememberDatabaseFile());
        return SweepOrphanFiles();
    }

    Status OpenReader() {
        std::error_code ec;
        if (!fs::exists(DatabasePath(), ec)) return NotFound(NoIndexMessage(dir_));
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(std::int64_t version, sqlite::QueryInt(lease.get(), "PRAGMA user_version"));
        if (version == 0) return NotFound(NoIndexMessage(dir_));
        SH_RETURN_IF_ERROR(CheckVersion(version));
        return RememberDatabaseFile();
    }

    // The identity of the database file this open serves, for CheckHealth.
    Status RememberDatabaseFile() {
        struct stat st {};
        if (::stat(DatabasePath().c_str(), &st) != 0) {
            return Unavailable("cannot stat " + DatabasePath() + ": " + std::strerror(errno));
        }
        db_dev_ = st.st_dev;
        db_ino_ = st.st_ino;
        return Status::Ok();
    }

    Status CheckHealth() {
        const std::string path = DatabasePath();
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            const int err = errno;
            if (err == ENOENT || err == ENOTDIR) {
                return Unavailable("store database " + path +
                                   " is gone (moved or deleted since signal-hub opened it); put it back or restart "
                                   "signal-hub with the new location");
            }
            return Unavailable("cannot stat store database " + path + ": " + std::strerror(err));
        }
        if (st.st_dev != db_dev_ || st.st_ino != db_ino_) {
            return Unavailable("store database " + path +
                               " was replaced by a different file since signal-hub opened it; restart signal-hub to "
                               "serve the new one");
        }
        auto probe = [&]() -> Status {
            SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
            SH_ASSIGN_OR_RETURN(std::int64_t version, sqlite::QueryInt(lease.get(), "PRAGMA user_version"));
            if (version < 1 || version > kSchemaVersion) {
                return FailedPrecondition("store " + dir_ + " has schema version " + std::to_string(version) +
                                          " but this signal-hub serves version " + std::to_string(kSchemaVersion) +
                                          (version > kSchemaVersion ? "; upgrade signal-hub"
                                                                    : "; re-create it with `signal-hub index`"));
            }
            // Reads the collections table itself (count(*) alone may answer from an index).
            return sqlite::QueryInt(lease.get(), "SELECT count(dimension) FROM collections").status();
        };
        Status s = probe();
        if (s.ok() || s.code() == ErrorCode::kFailedPrecondition) return s;
        if (s.code() == ErrorCode::kDataLoss) return s.WithContext("store " + dir_ + " is corrupt");
        return Unavailable("store " + dir_ + " cannot serve: " + s.message());
    }

    Result<std::int64_t> DataVersion() {
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        if (!meta_seen_.load()) {
            SH_ASSIGN_OR_RETURN(std::int64_t tables,
                                sqlite::QueryInt(lease.get(), "SELECT count(*) FROM sqlite_master WHERE type = "
                                                              "'table' AND name = 'meta'"));
            if (tables == 0) return std::int64_t{0};  // written before the counter existed; a writer adds it
            meta_seen_.store(true);
        }
        return sqlite::QueryInt(lease.get(), "SELECT value FROM meta WHERE key = 'data_version'", 0);
    }

    Status CheckVersion(std::int64_t version) const {
        if (version > kSchemaVersion) {
            return FailedPrecondition("store " + dir_ + " has schema version " + std::to_string(version) +
                                      " but this signal-hub supports up to version " +
                                      std::to_string(kSchemaVersion) + "; upgrade signal-hub");
        }
        return Status::Ok();
    }

    // Removes temp files and graphs of collections that no longer exist.
    Status SweepOrphanFiles() {
        std::unordered_set<std::string> keep;
        {
            SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(write_db_.get(), "SELECT id FROM collections"));
            while (true) {
                SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
                if (!has_row) break;
                keep.insert(std::to_string(stmt.Int(0)));
            }
        }
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(HnswDir(), ec)) {
            const std::string name = entry.path().filename().string();
            const std::string stem = name.substr(0, name.find('.'));
            if (name.ends_with(".tmp") || !keep.contains(stem)) fs::remove(entry.path(), ec);
        }
        lexical_.Sweep(keep);
        return Status::Ok();
    }

    Status RequireWriter(std::string_view what) const {
        if (read_only_) return FailedPrecondition("store " + dir_ + " is opened read-only; cannot " + std::string(what));
        return Status::Ok();
    }

    // ---- collections ----

    Result<CollectionInfo> Info(sqlite3* db, const CollectionRow& row) {
        CollectionInfo info;
        info.spec = row.spec;
        info.last_indexed_unix = row.last_indexed;
        SH_ASSIGN_OR_RETURN(info.records,
                            QueryIntBound(db, "SELECT count(*) FROM records WHERE collection_id = ?1", row.id));
        SH_ASSIGN_OR_RETURN(std::int64_t collections, sqlite::QueryInt(db, "SELECT count(*) FROM collections"));
        // With one collection every record is this one's (a second count of the records costs as
        // much as the first: a pass over the index; ADR-32a).
        std::int64_t total = info.records;
        if (collections > 1) {
            SH_ASSIGN_OR_RETURN(total, sqlite::QueryInt(db, "SELECT count(*) FROM records"));
        }
        std::error_code ec;
        auto size_of = [&ec](const std::string& p) -> std::int64_t {
            auto n = fs::file_size(p, ec);
            return ec ? 0 : static_cast<std::int64_t>(n);
        };
        double db_bytes = static_cast<double>(size_of(DatabasePath()) + size_of(DatabasePath() + "-wal"));
        double share = total > 0 ? static_cast<double>(info.records) / static_cast<double>(total)
                                 : 1.0 / static_cast<double>(std::max<std::int64_t>(collections, 1));
        std::int64_t lexical_bytes = 0;
        for (const auto& entry : fs::directory_iterator(lexical_.PathOf(row.id), ec)) lexical_bytes += size_of(entry.path());
        info.bytes = static_cast<std::int64_t>(db_bytes * share) + size_of(HnswPath(row.id)) + lexical_bytes;
        SH_ASSIGN_OR_RETURN(info.files,
                            QueryIntBound(db, "SELECT count(*) FROM files WHERE collection_id = ?1", row.id));
        SH_ASSIGN_OR_RETURN(std::int64_t has_properties,
                            sqlite::QueryInt(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                                                 "'collection_properties'"));
        if (has_properties > 0) {
            SH_ASSIGN_OR_RETURN(Stmt props,
                                Stmt::Prepare(db, "SELECT key, value FROM collection_properties WHERE collection_id = ?1"));
            props.Bind(1, row.id);
            while (true) {
                SH_ASSIGN_OR_RETURN(bool has_row, props.Step());
                if (!has_row) break;
                info.properties.insert_or_assign(props.Text(0), props.Text(1));
            }
        }
        return info;
    }

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) {
        SH_RETURN_IF_ERROR(ValidateSpec(spec));
        if (read_only_) {
            SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
            SH_ASSIGN_OR_RETURN(std::optional<CollectionRow> row, FindCollection(lease.get(), spec.name));
            if (!row) SH_RETURN_IF_ERROR(RequireWriter("create collection '" + spec.name + "'"));
            SH_RETURN_IF_ERROR(CheckCompatible(row->spec, spec));
            return Info(lease.get(), *row);
        }
        std::lock_guard lock(write_mu_);
        sqlite3* db = write_db_.get();
        SH_ASSIGN_OR_RETURN(std::optional<CollectionRow> existing, FindCollection(db, spec.name));
        if (existing) {
            SH_RETURN_IF_ERROR(CheckCompatible(existing->spec, spec));
            return Info(db, *existing);
        }
        {
            SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, true));
            SH_ASSIGN_OR_RETURN(Stmt insert,
                                Stmt::Prepare(db, "INSERT INTO collections(name, model, dimension, metric, created_at) "
                                                  "VALUES(?1, ?2, ?3, ?4, ?5)"));
            insert.Bind(1, spec.name)
                .Bind(2, spec.model)
                .Bind(3, std::int64_t{spec.dimension})
                .Bind(4, DistanceMetricName(spec.metric))
                .Bind(5, clock_.UnixSeconds());
            SH_RETURN_IF_ERROR(insert.Run());
            SH_RETURN_IF_ERROR(write_db_.Exec(kBumpDataVersionSql));
            SH_RETURN_IF_ERROR(txn.Commit());
        }
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(db, spec.name));
        return Info(db, row);
    }

    Result<CollectionInfo> GetCollection(std::string_view name) {
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(lease.get(), name));
        return Info(lease.get(), row);
    }

    Result<CollectionSpec> GetCollectionSpec(std::string_view name) {
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(lease.get(), name));
        return std::move(row.spec);
    }

    // Every collection's row, ordered by name.
    Result<std::vector<CollectionRow>> CollectionRows(sqlite3* db) {
        std::vector<CollectionRow> rows;
        SH_ASSIGN_OR_RETURN(Stmt stmt,
                            Stmt::Prepare(db, std::string("SELECT ") + kCollectionColumns + " FROM collections ORDER BY name"));
        while (true) {
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) break;
            SH_ASSIGN_OR_RETURN(CollectionRow row, ReadCollectionRow(stmt));
            rows.push_back(std::move(row));
        }
        return rows;
    }

    Result<std::vector<CollectionSpec>> ListCollectionSpecs() {
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(std::vector<CollectionRow> rows, CollectionRows(lease.get()));
        std::vector<CollectionSpec> out;
        out.reserve(rows.size());
        for (auto& row : rows) out.push_back(std::move(row.spec));
        return out;
    }

    Result<std::vector<CollectionInfo>> ListCollections() {
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(std::vector<CollectionRow> rows, CollectionRows(lease.get()));
        std::vector<CollectionInfo> out;
        for (const auto& row : rows) {
            SH_ASSIGN_OR_RETURN(CollectionInfo info, Info(lease.get(), row));
            out.push_back(std::move(info));
        }
        return out;
    }

    Status DropCollection(std::string_view name) {
        SH_RETURN_IF_ERROR(RequireWriter("drop collection '" + std::string(name) + "'"));
        std::lock_guard lock(write_mu_);
        sqlite3* db = write_db_.get();
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(db, name));
        {
            SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, true));
            for (const char* sql : {"DELETE FROM records WHERE collection_id = ?1",
                                    "DELETE FROM files WHERE collection_id = ?1",
                                    "DELETE FROM change_log WHERE collection_id = ?1",
                                    "DELETE FROM collection_properties WHERE collection_id = ?1",
                                    "DELETE FROM collections WHERE id = ?1"}) {
                SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, sql));
                stmt.Bind(1, row.id);
                SH_RETURN_IF_ERROR(stmt.Run());
            }
            SH_RETURN_IF_ERROR(write_db_.Exec(kBumpDataVersionSql));
            SH_RETURN_IF_ERROR(txn.Commit());
        }
        {
            std::lock_guard states_lock(states_mu_);
            states_.erase(row.id);
        }
        lexical_.Drop(row.id);
        // Committed: the graph files are now orphans (also swept at the next open).
        std::error_code ec;
        fs::remove(HnswPath(row.id), ec);
        fs::remove(SidecarPath(row.id), ec);
        return Status::Ok();
    }

    // ---- writes ----

    Status Commit(std::string_view collection, const ChangeSet& changes) {
        SH_RETURN_IF_ERROR(RequireWriter("commit to collection '" + std::string(collection) + "'"));
        std::lock_guard lock(write_mu_);
        sqlite3* db = write_db_.get();
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(db, collection));
        SH_RETURN_IF_ERROR(ValidateChangeSet(collection, row.spec.dimension, changes));
        if (changes.empty()) return Status::Ok();
        // Encode everything that can fail before the transaction starts.
        std::vector<std::string> metadata;
        metadata.reserve(changes.upserts.size());
        for (const auto& r : changes.upserts) {
            SH_ASSIGN_OR_RETURN(std::string m, EncodeMetadataJson(r.id, r.metadata));
            metadata.push_back(std::move(m));
        }
        std::vector<std::string> record_ids_json;
        for (const auto& f : changes.put_files) {
            try {
                record_ids_json.push_back(Json(f.record_ids).dump());
            } catch (const std::exception&) {
                return InvalidArgument("file state '" + f.path + "' has record ids that are not valid UTF-8");
            }
        }

        std::vector<RecordOp> ops;
        std::int64_t prev_head = 0;
        std::int64_t last_seq = 0;
        {
            SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, true));
            SH_ASSIGN_OR_RETURN(prev_head, LogHead(db, row, row.hnsw_seq));
            last_seq = prev_head;
            // No RETURNING: SQLite runs a statement with RETURNING like one with a trigger, under a
            // statement journal that copies every page it changes and spills to a temporary file past
            // 64 KiB; with 16 KiB pages and 2 KiB vectors that was 5.5x the bytes written of the same
            // rows inserted plainly (ADR-36). The row id is looked up first (the index pages the
            // insert needs anyway), then the row is updated in place or inserted.
            SH_ASSIGN_OR_RETURN(Stmt find, Stmt::Prepare(db, "SELECT row_id FROM records WHERE collection_id = ?1 AND "
                                                             "id = ?2"));
            SH_ASSIGN_OR_RETURN(Stmt del, Stmt::Prepare(db, "DELETE FROM records WHERE row_id = ?1"));
            SH_ASSIGN_OR_RETURN(Stmt log, Stmt::Prepare(db, "INSERT INTO change_log(collection_id, record_rowid, op) "
                                                            "VALUES(?1, ?2, ?3)"));
            SH_ASSIGN_OR_RETURN(Stmt insert,
                                Stmt::Prepare(db, "INSERT INTO records(collection_id, id, document, metadata, "
                                                  "embedding, file_path, language) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
            SH_ASSIGN_OR_RETURN(Stmt update,
                                Stmt::Prepare(db, "UPDATE records SET document = ?3, metadata = ?4, embedding = ?5, "
                                                  "file_path = ?6, language = ?7 WHERE row_id = ?8 AND "
                                                  "collection_id = ?1 AND id = ?2"));
            // The row id of record `id`, or 0 when it is not stored (row ids start at 1).
            auto find_rowid = [&](const std::string& id) -> Result<std::int64_t> {
                find.Reset();
                find.Bind(1, row.id).Bind(2, id);
                SH_ASSIGN_OR_RETURN(bool has_row, find.Step());
                const std::int64_t rowid = has_row ? find.Int(0) : 0;
                find.Reset();  // ends the read before the row is written
                return rowid;
            };
            auto append_log = [&](std::int64_t rowid, std::string_view op) -> Status {
                log.Reset();
                log.Bind(1, row.id).Bind(2, rowid).Bind(3, op);
                SH_RETURN_IF_ERROR(log.Run());
                last_seq = sqlite3_last_insert_rowid(db);
                return Status::Ok();
            };
            for (const auto& id : changes.delete_ids) {
                SH_ASSIGN_OR_RETURN(std::int64_t rowid, find_rowid(id));
                if (rowid == 0) continue;
                del.Reset();
                del.Bind(1, rowid);
                SH_RETURN_IF_ERROR(del.Run());
                SH_RETURN_IF_ERROR(append_log(rowid, "delete"));
                ops.push_back({rowid, nullptr});
            }
            for (size_t i = 0; i < changes.upserts.size(); ++i) {
                const Record& r = changes.upserts[i];
                std::vector<unsigned char> blob = EncodeEmbedding(r.embedding);
                SH_ASSIGN_OR_RETURN(std::int64_t rowid, find_rowid(r.id));
                Stmt& write = rowid == 0 ? insert : update;
                write.Reset();
                write.Bind(1, row.id)
                    .Bind(2, r.id)
                    .Bind(3, r.document)
                    .Bind(4, metadata[i])
                    .BindBlob(5, blob)
                    .Bind(6, GetString(r.metadata, meta::kFilePath))
                    .Bind(7, GetString(r.metadata, meta::kLanguage));
                if (rowid != 0) write.Bind(8, rowid);
                SH_RETURN_IF_ERROR(write.Run());
                if (rowid == 0) {
                    rowid = sqlite3_last_insert_rowid(db);
                } else if (sqlite3_changes(db) != 1) {
                    return Internal("update of record '" + r.id + "' changed " + std::to_string(sqlite3_changes(db)) +
                                    " rows");
                }
                SH_RETURN_IF_ERROR(append_log(rowid, "upsert"));
                ops.push_back({rowid, &r});
            }
            if (!changes.delete_files.empty()) {
                SH_ASSIGN_OR_RETURN(Stmt fdel,
                                    Stmt::Prepare(db, "DELETE FROM files WHERE collection_id = ?1 AND path = ?2"));
                for (const auto& path : changes.delete_files) {
                    fdel.Reset();
                    fdel.Bind(1, row.id).Bind(2, path);
                    SH_RETURN_IF_ERROR(fdel.Run());
                }
            }
            if (!changes.put_files.empty()) {
                SH_ASSIGN_OR_RETURN(Stmt fput, Stmt::Prepare(db, "INSERT OR REPLACE INTO files(collection_id, path, "
                                                                 "content_hash, size, mtime_ns, record_ids) "
                                                                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
                for (size_t i = 0; i < changes.put_files.size(); ++i) {
                    const FileState& f = changes.put_files[i];
                    fput.Reset();
                    fput.Bind(1, row.id)
                        .Bind(2, f.path)
                        .Bind(3, f.content_hash)
                        .Bind(4, f.size)
                        .Bind(5, f.mtime_ns)
                        .Bind(6, record_ids_json[i]);
                    SH_RETURN_IF_ERROR(fput.Run());
                }
            }
            if (changes.touch_last_indexed) {
                SH_ASSIGN_OR_RETURN(Stmt touch, Stmt::Prepare(db, "UPDATE collections SET last_indexed = ?1 WHERE id = ?2"));
                touch.Bind(1, clock_.UnixSeconds()).Bind(2, row.id);
                SH_RETURN_IF_ERROR(touch.Run());
            }
            for (const auto& [key, value] : changes.set_properties) {
                SH_ASSIGN_OR_RETURN(Stmt prop, Stmt::Prepare(db, value ? "INSERT OR REPLACE INTO collection_properties"
                                                                         "(collection_id, key, value) VALUES(?1, ?2, ?3)"
                                                                       : "DELETE FROM collection_properties WHERE "
                                                                         "collection_id = ?1 AND key = ?2"));
                prop.Bind(1, row.id).Bind(2, key);
                if (value) prop.Bind(3, *value);
                SH_RETURN_IF_ERROR(prop.Run());
            }
            SH_RETURN_IF_ERROR(write_db_.Exec(kBumpDataVersionSql));
            SH_RETURN_IF_ERROR(txn.Commit());
        }
        ApplyToLoadedIndex(row, prev_head, last_seq, ops);
        lexical_.AfterCommit(db, row.id, row.hnsw_seq, prev_head, last_seq, ops);
        return Status::Ok();
    }

    // Keeps an already loaded graph current without re-reading SQLite. A graph
    // that is not loaded, or not exactly at prev_head, catches up on next use.
    void ApplyToLoadedIndex(const CollectionRow& row, std::int64_t prev_head, std::int64_t last_seq,
                            const std::vector<RecordOp>& ops) {
        if (ops.empty()) return;
        std::shared_ptr<IndexState> state;
        {
            std::lock_guard lock(states_mu_);
            auto it = states_.find(row.id);
            if (it == states_.end()) return;
            state = it->second;
        }
        std::unique_lock lock(state->mu);
        if (!state->index || state->applied_seq != prev_head) return;
        for (const auto& op : ops) {
            if (op.record == nullptr) {
                state->index->Remove(op.rowid);
            } else if (!state->index->Upsert(op.rowid, op.record->embedding).ok()) {
                state->index.reset();  // reload (and catch up) on next use
                return;
            }
        }
        state->applied_seq = last_seq;
    }

    // ---- the HNSW graph of a collection ----

    std::shared_ptr<IndexState> StateFor(std::int64_t id) {
        std::lock_guard lock(states_mu_);
        auto& slot = states_[id];
        if (!slot) slot = std::make_shared<IndexState>();
        return slot;
    }

    // Returns the collection's graph, loaded and caught up with the log as of
    // one read snapshot of `db`.
    Result<std::shared_ptr<IndexState>> FreshIndex(sqlite3* db, const CollectionRow& row) {
        std::shared_ptr<IndexState> state = StateFor(row.id);
        SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, false));
        SH_ASSIGN_OR_RETURN(std::int64_t hnsw_seq,
                            QueryIntBound(db, "SELECT hnsw_seq FROM collections WHERE id = ?1", row.id, -1));
        if (hnsw_seq < 0) return NotFound("collection '" + row.spec.name + "' does not exist");
        SH_ASSIGN_OR_RETURN(std::int64_t head, LogHead(db, row, hnsw_seq));
        {
            std::shared_lock lock(state->mu);
            if (state->index && state->applied_seq >= head) return state;
        }
        std::unique_lock lock(state->mu);
        if (state->index && state->applied_seq >= head) return state;
        if (!state->index || state->applied_seq < hnsw_seq) {
            Status loaded = LoadLocked(db, row, *state, hnsw_seq, head);
            if (!loaded.ok()) SH_RETURN_IF_ERROR(RebuildLocked(db, row, *state, head));
        } else {
            SH_RETURN_IF_ERROR(CatchUpLocked(db, row, *state, head));
        }
        SH_ASSIGN_OR_RETURN(std::int64_t count,
                            QueryIntBound(db, "SELECT count(*) FROM records WHERE collection_id = ?1", row.id));
        if (static_cast<std::int64_t>(state->index->live()) != count) {
            SH_RETURN_IF_ERROR(RebuildLocked(db, row, *state, head));
        }
        return state;
    }

    Status LoadLocked(sqlite3* db, const CollectionRow& row, IndexState& state, std::int64_t hnsw_seq,
                      std::int64_t head) {
        state.index.reset();
        SH_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(SidecarPath(row.id)));
        Json j = Json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return DataLoss("corrupt sidecar " + SidecarPath(row.id));
        auto get_int = [&j](const char* key) -> std::int64_t {
            return j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>() : -1;
        };
        std::int64_t seq = get_int("seq");
        bool consistent = get_int("format") == kSidecarFormat && get_int("collection_id") == row.id &&
                          get_int("dimension") == row.spec.dimension && j.contains("metric") &&
                          j["metric"] == std::string(DistanceMetricName(row.spec.metric)) && seq >= hnsw_seq &&
                          seq <= head && j.contains("xxh3") && j["xxh3"].is_string();
        if (!consistent) return DataLoss("sidecar " + SidecarPath(row.id) + " does not match the database");
        HnswIndex::FileInfo expected;
        expected.bytes = get_int("bytes");
        expected.xxh3 = std::stoull(j["xxh3"].get<std::string>(), nullptr, 16);
        // A graph-only file (ADR-35) takes its live vectors from the records, as of this read
        // snapshot; rows changed since the file's seq are re-linked by the catch-up below.
        auto read_vectors = [&](const HnswIndex::VectorSink& sink) { return ForEachVector(db, row, sink); };
        SH_ASSIGN_OR_RETURN(state.index, HnswIndex::Load(HnswPath(row.id), row.spec.dimension, row.spec.metric,
                                                         expected, read_vectors));
        hnsw_loads_++;
        state.applied_seq = seq;
        // hnswlib's own format (before ADR-35) is rewritten as a graph-only file by the next Flush.
        state.saved_seq = state.index->loaded_format() == 1 ? -1 : seq;
        return CatchUpLocked(db, row, state, head, /*relink=*/state.index->loaded_format() != 1);
    }

    Status CatchUpLocked(sqlite3* db, const CollectionRow& row, IndexState& state, std::int64_t head,
                         bool relink = false) {
        SH_ASSIGN_OR_RETURN(
            Stmt stmt, Stmt::Prepare(db, "SELECT c.record_rowid, r.embedding FROM (SELECT DISTINCT record_rowid FROM "
                                         "change_log WHERE collection_id = ?1 AND seq > ?2) c LEFT JOIN records r ON "
                                         "r.row_id = c.record_rowid AND r.collection_id = ?1"));
        stmt.Bind(1, row.id).Bind(2, state.applied_seq);
        std::vector<float> v(static_cast<size_t>(row.spec.dimension));
        while (true) {
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) break;
            std::int64_t rowid = stmt.Int(0);
            if (stmt.IsNull(1)) {
                state.index->Remove(rowid);
            } else {
                SH_RETURN_IF_ERROR(DecodeEmbedding(stmt.Blob(1), row.spec.dimension, v.data()));
                Status s = state.index->Upsert(rowid, v, relink);
                if (!s.ok()) {
                    state.index.reset();
                    return s;
                }
            }
            replayed_changes_++;
        }
        state.applied_seq = head;
        return Status::Ok();
    }

    // Every record of the collection: its row id and decoded embedding (the vectors a graph is built
    // from, or a graph-only file is filled with).
    Status ForEachVector(sqlite3* db, const CollectionRow& row, const HnswIndex::VectorSink& sink) {
        SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, "SELECT row_id, embedding FROM records WHERE collection_id = ?1"));
        stmt.Bind(1, row.id);
        std::vector<float> v(static_cast<size_t>(row.spec.dimension));
        while (true) {
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) return Status::Ok();
            SH_RETURN_IF_ERROR(DecodeEmbedding(stmt.Blob(1), row.spec.dimension, v.data()));
            sink(stmt.Int(0), v);
        }
    }

    Status RebuildLocked(sqlite3* db, const CollectionRow& row, IndexState& state, std::int64_t head) {
        state.index.reset();
        std::vector<std::int64_t> labels;
        std::vector<float> vectors;
        SH_RETURN_IF_ERROR(ForEachVector(db, row, [&](std::int64_t label, std::span<const float> v) {
            labels.push_back(label);
            vectors.insert(vectors.end(), v.begin(), v.end());
        }));
        SH_ASSIGN_OR_RETURN(state.index, HnswIndex::Build(row.spec.dimension, row.spec.metric, labels, vectors));
        hnsw_rebuilds_++;
        state.applied_seq = head;
        state.saved_seq = -1;
        return Status::Ok();
    }

    Status Flush() {
        if (read_only_) return Status::Ok();
        std::lock_guard lock(write_mu_);
        sqlite3* db = write_db_.get();
        std::vector<std::pair<CollectionRow, std::int64_t>> rows;  // row, log max seq
        {
            SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, std::string("SELECT ") + kCollectionColumns +
                                                                 ", (SELECT max(seq) FROM change_log WHERE "
                                                                 "collection_id = collections.id) FROM collections"));
            while (true) {
                SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
                if (!has_row) break;
                SH_ASSIGN_OR_RETURN(CollectionRow row, ReadCollectionRow(stmt));
                rows.emplace_back(std::move(row), stmt.IsNull(7) ? 0 : stmt.Int(7));
            }
        }
        for (const auto& [row, log_max] : rows) {
            std::shared_ptr<IndexState> existing;
            {
                std::lock_guard states_lock(states_mu_);
                auto it = states_.find(row.id);
                if (it != states_.end()) existing = it->second;
            }
            bool dirty = false;
            if (existing) {
                std::shared_lock state_lock(existing->mu);
                dirty = existing->index && existing->saved_seq != existing->applied_seq;
            }
            // Nothing to save or prune: the lexical index is still caught up (and checked when it
            // is opened), but not fsynced, since no log entry is pruned past it (ADR-32a).
            const bool save = log_max > row.hnsw_seq || dirty || !GraphFileIntact(row);
            std::int64_t lexical_seq = 0;
            {
                SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, false));
                SH_ASSIGN_OR_RETURN(std::int64_t head, LogHead(db, row, row.hnsw_seq));
                SH_ASSIGN_OR_RETURN(lexical_seq, lexical_.Flush(db, row.id, row.hnsw_seq, head, /*sync=*/save));
            }
            if (!save) continue;
            SH_RETURN_IF_ERROR(SaveCollection(db, row, lexical_seq));
        }
        return Status::Ok();
    }

    // The graph file is there and has the size its sidecar records (a cheap check, no checksum): a
    // writer's Flush re-saves a graph that was deleted or truncated (`signal-hub doctor` reports
    // them), so that the next open loads it instead of rebuilding it.
    bool GraphFileIntact(const CollectionRow& row) const {
        std::error_code ec;
        const auto size = fs::file_size(HnswPath(row.id), ec);
        if (ec) return false;
        Result<std::string> text = ReadWholeFile(SidecarPath(row.id));
        if (!text.ok()) return false;
        const Json j = Json::parse(*text, nullptr, false);
        return j.is_object() && j.contains("bytes") && j["bytes"].is_number_integer() &&
               j["bytes"].get<std::int64_t>() == static_cast<std::int64_t>(size);
    }

    // Prunes the change log up to the older of the graph's and the lexical index's seq: both must
    // be able to catch up from it.
    Status SaveCollection(sqlite3* db, const CollectionRow& row, std::int64_t lexical_seq) {
        SH_ASSIGN_OR_RETURN(std::shared_ptr<IndexState> state, FreshIndex(db, row));
        std::unique_lock lock(state->mu);  // writes are serialised by write_mu_; this excludes catch-ups
        if (state->index->deleted() > kCompactMinDeleted && state->index->deleted() > state->index->live()) {
            SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, false));
            SH_RETURN_IF_ERROR(RebuildLocked(db, row, *state, state->applied_seq));
            SH_RETURN_IF_ERROR(txn.Commit());
        }
        const std::int64_t seq = state->applied_seq;
        if (state->saved_seq != seq) {
            SH_ASSIGN_OR_RETURN(HnswIndex::FileInfo info, state->index->Save(HnswPath(row.id)));
            char hash[17];
            std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(info.xxh3));
            Json sidecar = {{"format", kSidecarFormat},
                            {"collection_id", row.id},
                            {"dimension", row.spec.dimension},
                            {"metric", std::string(DistanceMetricName(row.spec.metric))},
                            {"seq", seq},
                            {"bytes", info.bytes},
                            {"xxh3", std::string(hash)}};
            SH_RETURN_IF_ERROR(WriteFileAtomic(SidecarPath(row.id), sidecar.dump(2) + "\n"));
            state->saved_seq = seq;
        }
        lock.unlock();
        SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, true));
        SH_ASSIGN_OR_RETURN(Stmt update, Stmt::Prepare(db, "UPDATE collections SET hnsw_seq = max(hnsw_seq, ?1) "
                                                           "WHERE id = ?2"));
        const std::int64_t prune_seq = std::min(seq, lexical_seq);
        update.Bind(1, prune_seq).Bind(2, row.id);
        SH_RETURN_IF_ERROR(update.Run());
        SH_ASSIGN_OR_RETURN(Stmt prune, Stmt::Prepare(db, "DELETE FROM change_log WHERE collection_id = ?1 AND seq <= ?2"));
        prune.Bind(1, row.id).Bind(2, prune_seq);
        SH_RETURN_IF_ERROR(prune.Run());
        return txn.Commit();
    }

    // ---- reads ----

    Result<std::vector<FileState>> ListFiles(std::string_view collection) {
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(lease.get(), collection));
        SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(lease.get(), "SELECT path, content_hash, size, mtime_ns, "
                                                                  "record_ids FROM files WHERE collection_id = ?1 "
                                                                  "ORDER BY path"));
        stmt.Bind(1, row.id);
        std::vector<FileState> out;
        while (true) {
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) break;
            FileState f;
            f.path = stmt.Text(0);
            f.content_hash = stmt.Text(1);
            f.size = stmt.Int(2);
            f.mtime_ns = stmt.Int(3);
            if (!ParseRecordIdsJson(stmt.Text(4), f.record_ids))
                return DataLoss("corrupt record ids of file '" + f.path + "'");
            out.push_back(std::move(f));
        }
        return out;
    }

    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) {
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(lease.get(), collection));
        SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(lease.get(), false));
        SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(lease.get(), "SELECT id, document, metadata, embedding FROM "
                                                                  "records WHERE collection_id = ?1 AND id = ?2"));
        std::vector<Record> out;
        for (const auto& id : ids) {
            stmt.Reset();
            stmt.Bind(1, row.id).Bind(2, id);
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) continue;
            SH_ASSIGN_OR_RETURN(Record r, ReadRecord(stmt, 0, true, row.spec.dimension));
            out.push_back(std::move(r));
        }
        return out;
    }

    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) {
        if (limit == 0) return InvalidArgument("scan limit must be positive");
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(lease.get(), collection));
        SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(lease.get(), "SELECT id, document, metadata, embedding FROM "
                                                                  "records WHERE collection_id = ?1 AND id > ?2 "
                                                                  "ORDER BY id LIMIT ?3"));
        stmt.Bind(1, row.id).Bind(2, after_id).Bind(3, static_cast<std::int64_t>(std::min<size_t>(limit, INT32_MAX)) + 1);
        ScanPage page;
        bool more = false;
        while (true) {
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) break;
            if (page.records.size() == limit) {
                more = true;
                break;
            }
            SH_ASSIGN_OR_RETURN(Record r, ReadRecord(stmt, 0, true, row.spec.dimension));
            page.records.push_back(std::move(r));
        }
        if (more) page.next_after = page.records.back().id;
        return page;
    }

    // Row ids of the collection's records that match a non-empty filter.
    Result<std::vector<std::int64_t>> MatchingRowids(sqlite3* db, const CollectionRow& row, const Filter& filter) {
        SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, std::string("SELECT row_id FROM records WHERE collection_id = "
                                                                     "?1 AND (?2 IS NULL OR language = ?2) AND "
                                                                     "(?3 IS NULL OR sh_glob(?3, file_path)) AND ") +
                                                             SymbolCondition("metadata", 4)));
        stmt.Bind(1, row.id).Bind(2, filter.language).Bind(3, filter.path_glob).Bind(4, filter.symbol);
        std::vector<std::int64_t> out;
        while (true) {
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) break;
            out.push_back(stmt.Int(0));
        }
        return out;
    }

    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) {
        SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        sqlite3* db = lease.get();
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(db, collection));
        SH_RETURN_IF_ERROR(ValidateQuery(collection, row.spec.dimension, query));
        if (options.k == 0) return std::vector<Hit>();
        // A commit between reading the graph and fetching the rows can delete a
        // hit; search again (the graph then catches up) rather than return fewer.
        constexpr int kAttempts = 3;
        for (int attempt = 1;; ++attempt) {
            SH_ASSIGN_OR_RETURN(std::vector<HnswIndex::Scored> best, BestRowids(db, row, query, options));
            SH_ASSIGN_OR_RETURN(std::vector<Hit> hits, FetchHits(db, row, best, options));
            if (hits.size() == best.size() || attempt == kAttempts) return hits;
        }
    }

    Result<std::vector<HnswIndex::Scored>> BestRowids(sqlite3* db, const CollectionRow& row,
                                                      std::span<const float> query, const SearchOptions& options) {
        SH_ASSIGN_OR_RETURN(std::shared_ptr<IndexState> state, FreshIndex(db, row));
        const std::vector<float> q = PrepareVector(row.spec.metric, query);
        const size_t k = options.k;
        const size_t ef = static_cast<size_t>(options.ef_search > 0 ? options.ef_search : tuning_.default_ef_search);
        std::vector<HnswIndex::Scored> best;
        if (options.filter.empty() && !options.exact) {
            std::shared_lock lock(state->mu);
            SH_ASSIGN_OR_RETURN(best, state->index->Search(q, k, ef));
            hnsw_searches_++;
        } else if (options.filter.empty()) {
            // Exact and unfiltered: one pass over the graph's vectors in memory order (ADR-29a).
            std::shared_lock lock(state->mu);
            best = state->index->ExactSearch(q, k);
            exact_searches_++;
        } else {
            SH_ASSIGN_OR_RETURN(std::vector<std::int64_t> matching, MatchingRowids(db, row, options.filter));
            std::shared_lock lock(state->mu);
            const HnswIndex& index = *state->index;
            const double threshold =
                std::max(static_cast<double>(tuning_.exact_scan_min), tuning_.exact_scan_fraction * index.live());
            bool exact = options.exact || static_cast<double>(matching.size()) <= threshold;
            if (!exact) {
                std::unordered_set<std::int64_t> allowed(matching.begin(), matching.end());
                const size_t want = std::min(k, matching.size());
                for (size_t n = k * 4;; n *= 2) {
                    SH_ASSIGN_OR_RETURN(std::vector<HnswIndex::Scored> candidates, index.Search(q, n, ef));
                    best.clear();
                    for (const auto& c : candidates) {
                        if (allowed.contains(c.label)) best.push_back(c);
                        if (best.size() == k) break;
                    }
                    if (best.size() >= want || n >= index.live()) break;
                }
                exact = best.size() < want;
                if (!exact) hnsw_searches_++;
            }
            if (exact) {
                best.clear();
                for (std::int64_t rowid : matching) {
                    double score = 0;
                    if (index.Score(q, rowid, score)) best.push_back({score, rowid});
                }
                auto by_score = [](const HnswIndex::Scored& a, const HnswIndex::Scored& b) {
                    return a.score != b.score ? a.score > b.score : a.label < b.label;
                };
                size_t keep = std::min(k, best.size());
                std::partial_sort(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(keep), best.end(), by_score);
                best.resize(keep);
                exact_searches_++;
            }
        }
        return best;
    }

    // The rows of `best` (graph or lexical order), skipping rows deleted since; without
    // options.include_documents the document column is not read (SearchOptions).
    Result<std::vector<Hit>> FetchHits(sqlite3* db, const CollectionRow& row,
                                       const std::vector<HnswIndex::Scored>& best, const SearchOptions& options) {
        const bool with_embeddings = options.include_embeddings;
        SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, false));
        std::string sql = options.include_documents ? "SELECT id, document, metadata" : "SELECT id, NULL, metadata";
        sql += with_embeddings ? ", embedding FROM records " : " FROM records ";
        sql += "WHERE row_id = ?1 AND collection_id = ?2";
        SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, sql));
        std::vector<Hit> hits;
        hits.reserve(best.size());
        for (const auto& b : best) {
            stmt.Reset();
            stmt.Bind(1, b.label).Bind(2, row.id);
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) continue;  // deleted by a commit after the graph was read
            Hit hit;
            hit.score = b.score;
            SH_ASSIGN_OR_RETURN(hit.record, ReadRecord(stmt, 0, with_embeddings, row.spec.dimension));
            hits.push_back(std::move(hit));
        }
        return hits;
    }

    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) {
        SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
        SH_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        sqlite3* db = lease.get();
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(db, collection));
        std::vector<Hit> hits;
        std::vector<std::string> terms = LexicalQueryTerms(query, options.keep_stop_words);
        if (terms.empty() || options.k == 0) return hits;
        // Ranked by the lexical index (ADR-28). Equal scores are ordered by record id (equal stores
        // answer equally): when the (k+1)th score ties the kth, ask again with slack past k; only the
        // rows scoring at least the kth are read.
        const size_t k = std::min<size_t>(options.k, INT32_MAX);
        std::vector<HnswIndex::Scored> best;
        {
            SH_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, false));
            SH_ASSIGN_OR_RETURN(std::int64_t prune_seq,
                                QueryIntBound(db, "SELECT hnsw_seq FROM collections WHERE id = ?1", row.id, -1));
            if (prune_seq < 0) return NotFound("collection '" + row.spec.name + "' does not exist");
            SH_ASSIGN_OR_RETURN(std::int64_t head, LogHead(db, row, prune_seq));
            std::vector<LexicalIndex::Scored> scored;
            for (size_t want = k + 1;; want = k * 2 + 16) {
                SH_ASSIGN_OR_RETURN(scored, lexical_.Search(db, row.id, prune_seq, head, terms, want, options.filter));
                if (scored.size() < want || scored[k].score != scored[k - 1].score || want > k + 1) break;
            }
            for (const auto& s : scored) {
                if (best.size() >= k && s.score < best.back().score) break;
                best.push_back({s.score, s.rowid});
            }
        }
        SH_ASSIGN_OR_RETURN(hits, FetchHits(db, row, best, options));
        std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
            return a.score != b.score ? a.score > b.score : a.record.id < b.record.id;
        });
        if (hits.size() > k) hits.resize(k);
        return hits;
    }

    void Close() {
        if (!read_only_ && write_db_.get() != nullptr) {
            (void)Guarded([&]() -> Status { return Flush(); });
        }
    }

    const std::string dir_;
    std::string holder_;  // OpenOptions::holder, written into DIR/LOCK
    const bool read_only_;
    const EmbeddedStoreOptions tuning_;
    Clock& clock_;

    // Declaration order = reverse destruction order: the lock is released last.
    WriterLock lock_;
    std::mutex write_mu_;
    Db write_db_;
    ConnectionPool pool_;
    std::mutex states_mu_;
    std::map<std::int64_t, std::shared_ptr<IndexState>> states_;
    LexicalIndexes lexical_;
    dev_t db_dev_ = 0;  // identity of DIR/store.db when opened
    ino_t db_ino_ = 0;
    std::atomic<bool> meta_seen_{false};  // the meta table exists (tables are never dropped)

    std::atomic<std::int64_t> hnsw_loads_{0};
    std::atomic<std::int64_t> hnsw_rebuilds_{0};
    std::atomic<std::int64_t> replayed_changes_{0};
    std::atomic<std::int64_t> exact_searches_{0};
    std::atomic<std::int64_t> hnsw_searches_{0};
};

// ====================================================================================

EmbeddedStore::EmbeddedStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EmbeddedStore::~EmbeddedStore() {
    if (impl_) impl_->Close();
}

Result<std::unique_ptr<EmbeddedStore>> EmbeddedStore::Open(const std::string& dir, const OpenOptions& options,
                                                           const EmbeddedStoreOptions& tuning) {
    return Guarded([&]() -> Result<std::unique_ptr<EmbeddedStore>> {
        auto impl = std::make_unique<Impl>(dir, options.read_only, tuning);
        impl->holder_ = options.holder;
        Status s = options.read_only ? impl->OpenReader() : impl->OpenWriter();
        if (!s.ok()) return s;
        return std::unique_ptr<EmbeddedStore>(new EmbeddedStore(std::move(impl)));
    });
}

Result<CollectionInfo> EmbeddedStore::EnsureCollection(const CollectionSpec& spec) {
    return Guarded([&] { return impl_->EnsureCollection(spec); });
}
Result<CollectionInfo> EmbeddedStore::GetCollection(std::string_view name) {
    return Guarded([&] { return impl_->GetCollection(name); });
}
Result<CollectionSpec> EmbeddedStore::GetCollectionSpec(std::string_view name) {
    return Guarded([&] { return impl_->GetCollectionSpec(name); });
}
Result<std::vector<CollectionSpec>> EmbeddedStore::ListCollectionSpecs() {
    return Guarded([&] { return impl_->ListCollectionSpecs(); });
}
Result<std::vector<CollectionInfo>> EmbeddedStore::ListCollections() {
    return Guarded([&] { return impl_->ListCollections(); });
}
Status EmbeddedStore::DropCollection(std::string_view name) {
    return Guarded([&] { return impl_->DropCollection(name); });
}
Status EmbeddedStore::Commit(std::string_view collection, const ChangeSet& changes) {
    return Guarded([&] { return impl_->Commit(collection, changes); });
}
Result<std::vector<FileState>> EmbeddedStore::ListFiles(std::string_view collection) {
    return Guarded([&] { return impl_->ListFiles(collection); });
}
Result<std::vector<Record>> EmbeddedStore::Get(std::string_view collection, std::span<const std::string> ids) {
    return Guarded([&] { return impl_->Get(collection, ids); });
}
Result<ScanPage> EmbeddedStore::Scan(std::string_view collection, std::string_view after_id, size_t limit) {
    return Guarded([&] { return impl_->Scan(collection, after_id, limit); });
}
Result<std::vector<Hit>> EmbeddedStore::VectorSearch(std::string_view collection, std::span<const float> query,
                                                     const SearchOptions& options) {
    return Guarded([&] { return impl_->VectorSearch(collection, query, options); });
}
Result<std::vector<Hit>> EmbeddedStore::LexicalSearch(std::string_view collection, std::string_view query,
                                                      const SearchOptions& options) {
    return Guarded([&] { return impl_->LexicalSearch(collection, query, options); });
}
Status EmbeddedStore::Flush() {
    return Guarded([&] { return impl_->Flush(); });
}
Status EmbeddedStore::CheckHealth() {
    return Guarded([&] { return impl_->CheckHealth(); });
}
Result<std::int64_t> EmbeddedStore::DataVersion() {
    return Guarded([&] { return impl_->DataVersion(); });
}

EmbeddedStore::Stats EmbeddedStore::stats() const {
    Stats s;
    s.hnsw_loads = impl_->hnsw_loads_;
    s.hnsw_rebuilds = impl_->hnsw_rebuilds_;
    s.replayed_changes = impl_->replayed_changes_;
    s.exact_searches = impl_->exact_searches_;
    s.hnsw_searches = impl_->hnsw_searches_;
    const LexicalCounters lex = impl_->lexical_.counters();
    s.lexical_loads = lex.loads;
    s.lexical_rebuilds = lex.rebuilds;
    s.lexical_replayed = lex.replayed;
    return s;
}

const std::string& EmbeddedStore::dir() const { return impl_->dir_; }
std::string EmbeddedStore::DatabasePath() const { return impl_->DatabasePath(); }

Result<std::string> EmbeddedStore::HnswPath(std::string_view collection) {
    return Guarded([&]() -> Result<std::string> {
        SH_ASSIGN_OR_RETURN(auto lease, impl_->pool_.Acquire());
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(lease.get(), collection));
        return impl_->HnswPath(row.id);
    });
}

Result<std::string> EmbeddedStore::SidecarPath(std::string_view collection) {
    return Guarded([&]() -> Result<std::string> {
        SH_ASSIGN_OR_RETURN(auto lease, impl_->pool_.Acquire());
        SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(lease.get(), collection));
        return impl_->SidecarPath(row.id);
    });
}

}  // namespace signalhub::store

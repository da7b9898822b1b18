#include "store/embedded/store_snapshot.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "store/embedded/embedded_store.hpp"
#include "store/embedded/file_util.hpp"
#include "store/embedded/hnsw_index.hpp"
#include "store/embedded/sqlite.hpp"

namespace signalhub::store {

namespace fs = std::filesystem;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Txn;

namespace {

struct SnapshotCollection {
    std::int64_t id = 0;
    std::string name;
    std::int64_t hnsw_seq = 0;
    std::int64_t head = 0;
    std::int64_t records = 0;
};

// Copies hnsw/<id>.json and .bin of the live store into `staging` and checks them against the
// snapshot, as EmbeddedStore's loader would. Returns false (and removes the copies) when the pair
// does not match: the restored store rebuilds that graph from the records.
Result<bool> CopyConsistentGraph(const std::string& store_dir, const std::string& staging,
                                 const SnapshotCollection& c, std::string* why) {
    const std::string base = std::to_string(c.id);
    const std::string src_json = store_dir + "/hnsw/" + base + ".json", src_bin = store_dir + "/hnsw/" + base + ".bin";
    const std::string dst_json = staging + "/hnsw/" + base + ".json", dst_bin = staging + "/hnsw/" + base + ".bin";
    for (int attempt = 0; attempt < 3; ++attempt) {
        std::error_code ec;
        fs::remove(dst_json, ec);
        fs::remove(dst_bin, ec);
        if (!fs::exists(src_json) || !fs::exists(src_bin)) {
            *why = "no saved graph";
            return false;
        }
        // Sidecar first, then the graph: each is replaced by rename, so each copy is one whole version;
        // when a save happened between the two, the checksum below tells.
        if (!fs::copy_file(src_json, dst_json, fs::copy_options::overwrite_existing, ec) ||
            !fs::copy_file(src_bin, dst_bin, fs::copy_options::overwrite_existing, ec)) {
            *why = "copy failed: " + ec.message();
            continue;
        }
        auto text = ReadWholeFile(dst_json);
        if (!text.ok()) return text.status();
        nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
        auto get_int = [&j](const char* key) -> std::int64_t {
            return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>() : -1;
        };
        const std::int64_t seq = get_int("seq");
        if (get_int("collection_id") != c.id || seq < c.hnsw_seq || seq > c.head || !j.contains("xxh3") ||
            !j["xxh3"].is_string()) {
            *why = "graph saved at change " + std::to_string(seq) + ", snapshot has changes " +
                   std::to_string(c.hnsw_seq) + ".." + std::to_string(c.head);
            continue;
        }
        SH_ASSIGN_OR_RETURN(HnswIndex::FileInfo info, HnswIndex::Checksum(dst_bin));
        if (info.bytes == get_int("bytes") && info.xxh3 == std::stoull(j["xxh3"].get<std::string>(), nullptr, 16)) {
            return true;
        }
        *why = "graph file replaced while it was copied";
    }
    std::error_code ec;
    fs::remove(dst_json, ec);
    fs::remove(dst_bin, ec);
    return false;
}

}  // namespace

Result<EmbeddedSnapshot> SnapshotEmbeddedStore(const std::string& store_dir, const std::string& staging) {
    EmbeddedSnapshot m;
    const std::string db_path = store_dir + "/store.db";
    if (!fs::is_regular_file(db_path)) {
        return NotFound("no embedded store at " + store_dir + " (no store.db); give --store PATH, the store directory");
    }
    SH_ASSIGN_OR_RETURN(Db src, Db::Open(db_path, SQLITE_OPEN_READONLY));
    sqlite3_busy_timeout(src.get(), 5000);
    SH_ASSIGN_OR_RETURN(Txn snapshot, Txn::Begin(src.get(), false));
    // The first read starts the snapshot; everything below reads that same state.
    SH_ASSIGN_OR_RETURN(std::int64_t schema, sqlite::QueryInt(src.get(), "PRAGMA user_version"));
    m.schema_version = static_cast<int>(schema);
    if (m.schema_version != EmbeddedStore::kSchemaVersion) {
        return FailedPrecondition(db_path + " has schema version " + std::to_string(schema) + ", this build writes " +
                                  std::to_string(EmbeddedStore::kSchemaVersion));
    }
    SH_ASSIGN_OR_RETURN(std::int64_t has_meta,
                        sqlite::QueryInt(src.get(), "SELECT count(*) FROM sqlite_master WHERE name = 'meta'"));
    m.data_version = 0;
    if (has_meta > 0) {
        SH_ASSIGN_OR_RETURN(m.data_version,
                            sqlite::QueryInt(src.get(), "SELECT value FROM meta WHERE key = 'data_version'"));
    }
    std::vector<SnapshotCollection> cols;
    {
        SH_ASSIGN_OR_RETURN(
            Stmt stmt,
            Stmt::Prepare(src.get(),
                          "SELECT c.id, c.name, c.hnsw_seq, (SELECT count(*) FROM records r WHERE r.collection_id = "
                          "c.id), (SELECT max(seq) FROM change_log l WHERE l.collection_id = c.id) FROM collections c "
                          "ORDER BY c.name"));
        while (true) {
            SH_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            SnapshotCollection c;
            c.id = stmt.Int(0);
            c.name = stmt.Text(1);
            c.hnsw_seq = stmt.Int(2);
            c.records = stmt.Int(3);
            c.head = std::max(c.hnsw_seq, stmt.IsNull(4) ? 0 : stmt.Int(4));
            cols.push_back(std::move(c));
        }
    }
    fs::create_directories(staging + "/hnsw");
    for (const auto& c : cols) {
        EmbeddedSnapshot::Collection mc{c.name, c.records, false, ""};
        SH_ASSIGN_OR_RETURN(mc.graph_included, CopyConsistentGraph(store_dir, staging, c, &mc.graph_note));
        m.collections.push_back(std::move(mc));
    }
    // The database pages of the same snapshot: the online backup API reads through `src`, whose read
    // transaction is open, in one step.
    const std::string dst_path = staging + "/store.db";
    {
        SH_ASSIGN_OR_RETURN(Db dst, Db::Open(dst_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
        sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
        if (b == nullptr) return sqlite::Error(dst.get(), sqlite3_errcode(dst.get()), "backup of " + db_path);
        const int rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) return sqlite::Error(dst.get(), rc, "backup of " + db_path);
        SH_RETURN_IF_ERROR(dst.Exec("PRAGMA journal_mode=DELETE"));
        SH_ASSIGN_OR_RETURN(Stmt check, Stmt::Prepare(dst.get(), "PRAGMA quick_check"));
        SH_ASSIGN_OR_RETURN(bool row, check.Step());
        if (!row || check.Text(0) != "ok") {
            return DataLoss("the snapshot of " + db_path + " fails PRAGMA quick_check: " + (row ? check.Text(0) : ""));
        }
    }
    return m;  // `snapshot` rolls back: nothing was written to the source
}


}  // namespace signalhub::store

#include "ops/backup_postgres.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "db/postgres/pg_client.hpp"
#include "ops/backup.hpp"
#include "ops/backup_archive.hpp"
#include "ops/export_format.hpp"
#include "ops/migrate.hpp"
#include "store/metadata_json.hpp"
#include "store/vector_store.hpp"

namespace signalhub::ops {

namespace fs = std::filesystem;
namespace pg = db::pg;
using Json = nlohmann::json;

namespace {

constexpr const char* kRecordsMember = "data/records.jsonl";
constexpr const char* kKeysMember = "keys/api-keys.jsonl";
constexpr size_t kPage = 1000;

struct TempDir {
    std::string dir;
    ~TempDir() {
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
    }
};

struct Tables {
    std::string schema, migrations, meta, collections, key_table, key_meta, key_migrations;
    explicit Tables(const pg::PgUrl& url) {
        schema = pg::QuoteIdent(url.schema);
        migrations = schema + ".signal_hub_schema_migrations";
        meta = schema + ".signal_hub_meta";
        collections = schema + ".signal_hub_collections";
        key_table = schema + ".signal_hub_api_keys";
        key_meta = schema + ".signal_hub_api_key_meta";
        key_migrations = schema + ".signal_hub_api_key_migrations";
    }
    std::string Records(std::int64_t id) const { return schema + "." + pg::QuoteIdent("signal_hub_records_" + std::to_string(id)); }
};

Result<bool> TableExists(pg::PgConn& c, const std::string& qualified) {
    SH_ASSIGN_OR_RETURN(pg::PgResult r, c.Query("SELECT (to_regclass($1) IS NOT NULL)::int::int8", pg::PgParams().Text(qualified)));
    return r.Int8(0, 0) != 0;
}

Result<std::int64_t> QueryInt8(pg::PgConn& c, const std::string& sql) {
    SH_ASSIGN_OR_RETURN(pg::PgResult r, c.Query(sql));
    if (r.rows() == 0 || r.IsNull(0, 0)) return std::int64_t{0};
    return r.Int8(0, 0);
}

// What the restore target held before the restore wrote anything; a failed restore drops only what
// is not in here (RollBackRestore).
struct TargetBefore {
    bool schema = false;     // the schema of the URL existed
    bool extension = false;  // the vector extension was installed in the database
    std::set<std::string> tables;  // tables of that schema
};

Result<TargetBefore> SnapshotTarget(pg::PgConn& c, const std::string& schema) {
    TargetBefore b;
    SH_ASSIGN_OR_RETURN(pg::PgResult ns, c.Query("SELECT 1 FROM pg_namespace WHERE nspname = $1", pg::PgParams().Text(schema)));
    b.schema = ns.rows() > 0;
    SH_ASSIGN_OR_RETURN(pg::PgResult ext, c.Query("SELECT 1 FROM pg_extension WHERE extname = 'vector'"));
    b.extension = ext.rows() > 0;
    SH_ASSIGN_OR_RETURN(pg::PgResult r, c.Query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                                "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
                                                pg::PgParams().Text(schema)));
    for (int i = 0; i < r.rows(); ++i) b.tables.insert(r.String(i, 0));
    return b;
}

// Undoes a restore that failed after it began writing: drops the collections it created (those not
// in `kept`, the target's collections that the restore left alone), then every table of the schema
// that did not exist before, then the schema and the vector extension when the restore created them
// (both without CASCADE: something else in them stays, and so do they). Returns what it dropped.
Result<std::vector<std::string>> RollBackRestore(const std::string& database_url, const pg::PgUrl& url, const Tables& t,
                                                 const TargetBefore& before, const std::set<std::string>& kept) {
    std::vector<std::string> dropped;
    if (before.tables.count("signal_hub_collections")) {
        SH_ASSIGN_OR_RETURN(auto target, store::OpenStore(database_url, store::OpenOptions{}));
        SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, target->ListCollections());
        for (const auto& c : infos) {
            if (kept.count(c.spec.name)) continue;
            SH_RETURN_IF_ERROR(target->DropCollection(c.spec.name));
            dropped.push_back("collection " + c.spec.name);
        }
    }
    SH_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(url));
    SH_ASSIGN_OR_RETURN(TargetBefore now, SnapshotTarget(*conn, url.schema));
    std::string tables;
    for (const auto& name : now.tables) {
        if (before.tables.count(name)) continue;
        tables += (tables.empty() ? "" : ", ") + t.schema + "." + pg::QuoteIdent(name);
        dropped.push_back("table " + name);
    }
    // CASCADE reaches only objects that depend on these new tables, which the restore made too.
    if (!tables.empty()) SH_RETURN_IF_ERROR(conn->Exec("DROP TABLE IF EXISTS " + tables + " CASCADE"));
    if (!before.schema && now.schema) {
        SH_RETURN_IF_ERROR(conn->Exec("DROP SCHEMA IF EXISTS " + t.schema + " RESTRICT"));
        dropped.push_back("schema " + url.schema);
    }
    if (!before.extension && now.extension) {
        SH_RETURN_IF_ERROR(conn->Exec("DROP EXTENSION IF EXISTS vector RESTRICT"));
        dropped.push_back("extension vector");
    }
    return dropped;
}

Status WriteLine(std::FILE* f, const std::string& line, const std::string& path) {
    if (std::fwrite(line.data(), 1, line.size(), f) != line.size() || std::fputc('\n', f) == EOF) {
        return Internal("cannot write " + path);
    }
    return Status::Ok();
}

// Every collection of the snapshot into `path` in the export format; fills m.collections.
Status DumpCollections(pg::PgConn& c, const Tables& t, const std::string& path, BackupManifest& m) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return Internal("cannot create " + path);
    Status s = [&]() -> Status {
        SH_ASSIGN_OR_RETURN(pg::PgResult cols, c.Query("SELECT id, name, model, dimension::int8, metric FROM " +
                                                       t.collections + " ORDER BY name"));
        for (int i = 0; i < cols.rows(); ++i) {
            const std::int64_t id = cols.Int8(i, 0);
            ExportHeader h;
            h.source = "postgresql";
            h.spec.name = cols.String(i, 1);
            h.spec.model = cols.String(i, 2);
            h.spec.dimension = static_cast<int>(cols.Int8(i, 3));
            SH_ASSIGN_OR_RETURN(h.spec.metric, ParseDistanceMetric(cols.String(i, 4)));
            const std::string table = t.Records(id);
            SH_ASSIGN_OR_RETURN(h.records, QueryInt8(c, "SELECT count(*)::int8 FROM " + table));
            SH_RETURN_IF_ERROR(WriteLine(f, EncodeHeader(h), path));
            CollectionChecksum sum;
            std::int64_t n = 0;
            std::string after;
            while (true) {
                SH_ASSIGN_OR_RETURN(pg::PgResult r,
                                    c.Query("SELECT id, document, metadata, embedding FROM " + table +
                                                " WHERE id > $1::bytea ORDER BY id LIMIT $2::int8",
                                            pg::PgParams().Bytea(after).Int8(static_cast<std::int64_t>(kPage))));
                for (int j = 0; j < r.rows(); ++j) {
                    Record rec;
                    rec.id = r.String(j, 0);
                    if (!r.IsNull(j, 1)) rec.document = r.String(j, 1);
                    SH_ASSIGN_OR_RETURN(rec.metadata, store::DecodeMetadataJson(r.String(j, 2)));
                    SH_ASSIGN_OR_RETURN(rec.embedding, pg::DecodeVector(r.Bytes(j, 3)));
                    SH_ASSIGN_OR_RETURN(std::string line, EncodeRecord(rec));
                    SH_RETURN_IF_ERROR(WriteLine(f, line, path));
                    sum.Add(RecordDigest(rec));
                    ++n;
                    after = rec.id;
                }
                if (static_cast<size_t>(r.rows()) < kPage) break;
            }
            if (n != h.records) {
                return Internal("collection " + h.spec.name + ": counted " + std::to_string(h.records) + " records but read " +
                                std::to_string(n) + " in the same snapshot");
            }
            SH_RETURN_IF_ERROR(WriteLine(f, EncodeTrailer({h.spec.name, n, sum.Hex()}), path));
            m.collections.push_back({h.spec.name, n, "rebuild"});
        }
        if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) return Internal("cannot write " + path);
        return Status::Ok();
    }();
    std::fclose(f);
    return s;
}

// The API-key tables as JSON lines: {"type":"meta",...}, {"type":"migration",...}, {"type":"key","row":{...}}.
Result<std::int64_t> DumpKeys(pg::PgConn& c, const Tables& t, const std::string& path) {
    std::ofstream out(path, std::ios::binary);
    if (!out) return Internal("cannot create " + path);
    std::int64_t keys = 0;
    const std::pair<std::string, std::string> queries[] = {
        {"meta", "SELECT json_build_object('type', 'meta', 'key', key, 'value', value)::text FROM " + t.key_meta + " ORDER BY key"},
        {"migration", "SELECT json_build_object('type', 'migration', 'version', version, 'description', description)::text FROM " +
                          t.key_migrations + " ORDER BY version"},
        {"key", "SELECT json_build_object('type', 'key', 'row', row_to_json(k))::text FROM " + t.key_table + " k ORDER BY id"}};
    for (const auto& [kind, sql] : queries) {
        SH_ASSIGN_OR_RETURN(pg::PgResult r, c.Query(sql));
        for (int i = 0; i < r.rows(); ++i) out << r.String(i, 0) << '\n';
        if (kind == "key") keys = r.rows();
    }
    out.flush();
    if (!out) return Internal("cannot write " + path);
    return keys;
}

}  // namespace

std::string RedactDatabaseUrl(const std::string& url) {
    const size_t scheme = url.find("://");
    const size_t at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
    const size_t colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon) + ":***" + url.substr(at);
}

Result<BackupCreateSummary> CreatePostgresBackup(const PgBackupCreateOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.output.empty()) return InvalidArgument("backup create needs an archive path");
    std::error_code ec;
    if (fs::exists(o.output, ec) && !o.overwrite) {
        return AlreadyExists("backup archive " + o.output + " exists; give --force to replace it, or another name");
    }
    SH_ASSIGN_OR_RETURN(pg::PgUrl url, pg::ParsePgUrl(o.database_url));
    const Tables t(url);
    TempDir staging{o.output + ".partial.d"};
    fs::remove_all(staging.dir, ec);
    fs::create_directories(staging.dir, ec);
    if (ec) return Internal("cannot create " + staging.dir + ": " + ec.message());

    BackupCreateSummary summary;
    BackupManifest& m = summary.manifest;
    m.created_unix = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    m.source_kind = "postgresql";
    m.source_location = RedactDatabaseUrl(o.database_url);
    m.host = BackupHostName();
    const std::string records_path = staging.dir + "/records.jsonl", keys_path = staging.dir + "/api-keys.jsonl";
    bool have_keys = false;
    {
        SH_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(url));
        pg::PgTxn snapshot(*conn);
        // One snapshot for everything below: schema version, data version, every collection, the keys.
        SH_RETURN_IF_ERROR(snapshot.Begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        SH_ASSIGN_OR_RETURN(bool has_store, TableExists(*conn, t.migrations));
        if (!has_store) {
            return NotFound("no signal-hub store in database " + url.database + " at " + url.endpoint + " (schema " +
                            url.schema + "): nothing to back up");
        }
        SH_ASSIGN_OR_RETURN(std::int64_t version, QueryInt8(*conn, "SELECT coalesce(max(version), 0)::int8 FROM " + t.migrations));
        m.schema_version = static_cast<int>(version);
        SH_ASSIGN_OR_RETURN(m.data_version, QueryInt8(*conn, "SELECT value FROM " + t.meta + " WHERE key = 'data_version'"));
        SH_RETURN_IF_ERROR(DumpCollections(*conn, t, records_path, m));
        SH_ASSIGN_OR_RETURN(have_keys, TableExists(*conn, t.key_table));
        if (have_keys) {
            SH_ASSIGN_OR_RETURN(std::int64_t keys, DumpKeys(*conn, t, keys_path));
            summary.notes.push_back(std::to_string(keys) + " API key(s) of signal_hub_api_keys included");
        } else {
            summary.notes.push_back("no API-key table (signal_hub_api_keys) in the database; none included");
        }
    }
    std::vector<std::pair<std::string, std::string>> sources;
    auto add = [&](const std::string& member, const std::string& role, const std::string& path) -> Status {
        SH_ASSIGN_OR_RETURN(FileDigest d, DigestFile(path));
        BackupManifest::File f;
        f.path = member;
        f.role = role;
        f.bytes = d.bytes;
        f.sha256 = d.sha256;
        m.files.push_back(std::move(f));
        sources.emplace_back(member, path);
        return Status::Ok();
    };
    SH_RETURN_IF_ERROR(add(kRecordsMember, "records", records_path));
    if (have_keys) SH_RETURN_IF_ERROR(add(kKeysMember, "api-keys-table", keys_path));
    SH_RETURN_IF_ERROR(WriteBackupArchive(o.output, m, sources, &summary.archive_bytes));
    summary.seconds = SecondsSince(t0);
    return summary;
}

namespace {
Status LoadIntoTarget(const PgBackupRestoreOptions& o, const pg::PgUrl& url, const Tables& t, const BackupManifest& checked,
                      bool has_keys, const std::set<std::string>& existing, pg::PgConn& conn_ref,
                      std::set<std::string>& kept, PgBackupRestoreSummary& summary);
}  // namespace

Result<PgBackupRestoreSummary> RestorePostgresBackup(const PgBackupRestoreOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    SH_ASSIGN_OR_RETURN(pg::PgUrl url, pg::ParsePgUrl(o.database_url));
    const Tables t(url);
    // 1. The whole archive is checked before anything is written.
    SH_ASSIGN_OR_RETURN(BackupManifest checked, VerifyBackup(o.archive));
    if (checked.source_kind != "postgresql") {
        return InvalidArgument("backup archive " + o.archive + " is a " + checked.source_kind +
                               " backup; restore it with --store DIR");
    }
    if (checked.FindFile(kRecordsMember) == nullptr) {
        return DataLoss("backup archive " + o.archive + ": a PostgreSQL backup without " + kRecordsMember);
    }
    const bool has_keys = checked.FindFile(kKeysMember) != nullptr;
    // 2. The target must be empty (no collection, no API key) unless forced.
    SH_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(url));
    std::set<std::string> existing;
    SH_ASSIGN_OR_RETURN(bool has_collections, TableExists(*conn, t.collections));
    if (has_collections) {
        SH_ASSIGN_OR_RETURN(pg::PgResult r, conn->Query("SELECT name FROM " + t.collections + " ORDER BY name"));
        for (int i = 0; i < r.rows(); ++i) existing.insert(r.String(i, 0));
    }
    std::int64_t existing_keys = 0;
    SH_ASSIGN_OR_RETURN(bool has_key_table, TableExists(*conn, t.key_table));
    if (has_key_table) {
        SH_ASSIGN_OR_RETURN(existing_keys, QueryInt8(*conn, "SELECT count(*)::int8 FROM " + t.key_table));
    }
    if ((!existing.empty() || existing_keys > 0) && !o.force) {
        std::string what;
        for (const auto& n : existing) what += (what.empty() ? "" : ", ") + n;
        return FailedPrecondition("restore target database " + url.database + " at " + url.endpoint + " is not empty (" +
                                  std::to_string(existing.size()) + " collection(s)" + (what.empty() ? "" : ": " + what) +
                                  "; " + std::to_string(existing_keys) +
                                  " API key(s)); restore into an empty database, or give --force to replace the "
                                  "archived collections and keys");
    }
    // From here on the restore writes; when it fails, RollBackRestore drops what it created.
    SH_ASSIGN_OR_RETURN(TargetBefore before, SnapshotTarget(*conn, url.schema));
    std::set<std::string> kept = existing;  // the target's collections that survive a failed restore
    PgBackupRestoreSummary summary;
    auto restored = LoadIntoTarget(o, url, t, checked, has_keys, existing, *conn, kept, summary);
    if (restored.ok()) {
        summary.seconds = SecondsSince(t0);
        return summary;
    }
    auto rolled = RollBackRestore(o.database_url, url, t, before, kept);
    if (!rolled.ok()) {
        return Status(restored.code(), restored.message() + "; rolling the restore back failed too (" +
                                           rolled.status().ToString() + "): drop what it created in schema " +
                                           url.schema + " of database " + url.database + " by hand");
    }
    std::string what;
    for (const auto& d : *rolled) what += (what.empty() ? "" : ", ") + d;
    return Status(restored.code(), restored.message() + "; the restore was rolled back (dropped " +
                                       (what.empty() ? std::string("nothing") : what) + "; " +
                                       (kept.size() < existing.size() ? "the collections --force replaced are gone; " : "") +
                                       "nothing else in database " + url.database + " was changed)");
}

namespace {

// Steps 3 to 7 of RestorePostgresBackup: everything that writes to the target. `kept` loses each
// collection --force drops.
Status LoadIntoTarget(const PgBackupRestoreOptions& o, const pg::PgUrl& url, const Tables& t, const BackupManifest& checked,
                      bool has_keys, const std::set<std::string>& existing, pg::PgConn& conn_ref,
                      std::set<std::string>& kept, PgBackupRestoreSummary& summary) {
    pg::PgConn* conn = &conn_ref;
    // 3. The schema: init-db's InitDatabase (idempotent).
    SH_RETURN_IF_ERROR(InitDatabase(o.database_url).status().WithContext("restore: creating the schema"));
    if (o.force && !existing.empty()) {
        SH_ASSIGN_OR_RETURN(auto target, store::OpenStore(o.database_url, store::OpenOptions{}));
        for (const auto& c : checked.collections) {
            if (!existing.count(c.name)) continue;
            kept.erase(c.name);
            SH_RETURN_IF_ERROR(target->DropCollection(c.name));
            summary.notes.push_back("--force: dropped the existing collection " + c.name);
        }
    }
    // 4. Extract beside nothing else: a private temporary directory.
    std::string tmpl = (fs::temp_directory_path() / "signal-hub-restore-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return Internal("cannot create a temporary directory in " + fs::temp_directory_path().string());
    TempDir tmp{tmpl};
    auto where = [&](const BackupManifest&, const BackupManifest::File& f) -> Result<std::string> {
        if (f.path == kRecordsMember) return tmp.dir + "/records.jsonl";
        if (f.path == kKeysMember) return tmp.dir + "/api-keys.jsonl";
        return std::string();
    };
    SH_ASSIGN_OR_RETURN(summary.manifest, ExtractBackupArchive(o.archive, where));
    const BackupManifest& m = summary.manifest;
    // 5. The records through `migrate import` (COPY; HNSW built after the load).
    ImportOptions io;
    io.input = tmp.dir + "/records.jsonl";
    io.target_url = o.database_url;
    io.resume = false;
    SH_RETURN_IF_ERROR(ImportExport(io).status().WithContext("restore: importing the records"));
    // 6. Count every collection against the manifest.
    {
        SH_ASSIGN_OR_RETURN(auto target, store::OpenStore(o.database_url, store::OpenOptions{.read_only = true}));
        SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, target->ListCollections());
        const std::string wrong = CompareCountsWithManifest(m, infos, summary.counts);
        if (!wrong.empty()) {
            return DataLoss("restore of " + o.archive + " FAILED: the restored database does not hold what the manifest "
                            "says (" + wrong + "); the archive is incomplete or its manifest was altered");
        }
    }
    // 7. The API keys, in one transaction.
    if (has_keys) {
        if (o.prepare_key_tables) SH_RETURN_IF_ERROR(o.prepare_key_tables().WithContext("restore: creating the API-key tables"));
        SH_ASSIGN_OR_RETURN(bool tables, TableExists(*conn, t.key_table));
        if (!tables) {
            return FailedPrecondition("restore: the archive holds API keys but " + url.database +
                                      " has no signal_hub_api_keys table (configure security.api_keys.storage: database)");
        }
        std::ifstream in(tmp.dir + "/api-keys.jsonl", std::ios::binary);
        std::string line, archived_fp;
        std::vector<std::string> rows;
        while (std::getline(in, line)) {
            Json j = Json::parse(line, nullptr, false);
            if (!j.is_object()) return DataLoss("backup archive " + o.archive + ": " + kKeysMember + " holds a line that is not JSON");
            const std::string type = j.value("type", "");
            if (type == "meta" && j.value("key", "") == "pepper_fingerprint") archived_fp = j.value("value", "");
            if (type == "key" && j.contains("row")) rows.push_back(j["row"].dump());
        }
        pg::PgTxn txn(*conn);
        SH_RETURN_IF_ERROR(txn.Begin());
        SH_ASSIGN_OR_RETURN(pg::PgResult fp, conn->Query("SELECT value FROM " + t.key_meta + " WHERE key = 'pepper_fingerprint'"));
        if (fp.rows() == 0 && !archived_fp.empty()) {
            SH_RETURN_IF_ERROR(conn->Query("INSERT INTO " + t.key_meta + "(key, value) VALUES ('pepper_fingerprint', $1)",
                                           pg::PgParams().Text(archived_fp)).status());
        } else if (fp.rows() > 0 && !archived_fp.empty() && fp.String(0, 0) != archived_fp) {
            return FailedPrecondition("restore: the archived API keys were hashed with the pepper of fingerprint " +
                                      archived_fp + ", the target's (this configuration's) is " + fp.String(0, 0) +
                                      "; set the original pepper (security.api_keys.pepper_env / pepper_file)");
        }
        for (const auto& row : rows) {
            if (o.force) {
                SH_RETURN_IF_ERROR(conn->Query("DELETE FROM " + t.key_table + " WHERE id = ($1::json)->>'id'",
                                               pg::PgParams().Text(row)).status());
            }
            SH_RETURN_IF_ERROR(conn->Query("INSERT INTO " + t.key_table + " SELECT * FROM json_populate_record(NULL::" +
                                               t.key_table + ", $1::json)",
                                           pg::PgParams().Text(row)).status().WithContext("restore: inserting an API key"));
        }
        SH_RETURN_IF_ERROR(txn.Commit());
        summary.api_keys = static_cast<std::int64_t>(rows.size());
    }
    return Status::Ok();
}

}  // namespace

}  // namespace signalhub::ops

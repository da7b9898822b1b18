// The store's schema: table names, the pgvector extension check and the
// versioned migrations (the design note is at the top of pgvector_store.cpp).

#include "store/pgvector/pgvector_schema.hpp"

#include <charconv>

#include "store/pgvector/pgvector_store.hpp"

namespace signalhub::store {

using db::pg::PgConn;
using db::pg::PgParams;
using db::pg::PgResult;
using db::pg::QuoteIdent;

bool VersionAtLeast(std::string_view version, int major, int minor) {
    int a = 0, b = 0;
    auto r1 = std::from_chars(version.data(), version.data() + version.size(), a);
    if (r1.ec != std::errc()) return false;
    if (r1.ptr < version.data() + version.size() && *r1.ptr == '.') {
        std::from_chars(r1.ptr + 1, version.data() + version.size(), b);
    }
    return a > major || (a == major && b >= minor);
}

PgStoreSchema::PgStoreSchema(const db::pg::PgUrl& url)
    : schema_name(url.schema), database(url.database), endpoint(url.endpoint) {
    schema = QuoteIdent(schema_name);
    meta = schema + ".signal_hub_meta";
    collections = schema + ".signal_hub_collections";
    files = schema + ".signal_hub_files";
    properties = schema + ".signal_hub_collection_properties";
    migrations = schema + ".signal_hub_schema_migrations";
}

std::string PgStoreSchema::Where() const { return "PostgreSQL at " + endpoint + " (database " + database + ")"; }

Status PgStoreSchema::FindExtension(PgConn& c, bool& found) {
    SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n "
                                            "ON n.oid = e.extnamespace WHERE e.extname = 'vector'"));
    found = r.rows() == 1;
    if (!found) return Status::Ok();
    std::string version = r.String(0, 0);
    if (!VersionAtLeast(version, kMinPgvectorMajor, kMinPgvectorMinor)) {
        return FailedPrecondition(Where() + " has pgvector " + version +
                                  "; signal-hub needs 0.8.0 or newer (iterative index scans). Install it on the "
                                  "server, then run: ALTER EXTENSION vector UPDATE;");
    }
    const std::string ext = QuoteIdent(r.String(0, 1));
    vector_type = ext + ".vector";
    ext_schema = ext;
    return Status::Ok();
}

Status PgStoreSchema::CheckExisting(PgConn& c) {
    bool found = false;
    SH_RETURN_IF_ERROR(FindExtension(c, found));
    SH_ASSIGN_OR_RETURN(PgResult t, c.Query("SELECT to_regclass($1) IS NOT NULL",
                                            PgParams().Text(migrations)));
    if (!found || t.Bytes(0, 0) != std::string_view("\x01", 1)) {
        return NotFound("no signal-hub store in schema " + schema_name + " of " + Where() +
                        "; open it read-write once (e.g. `signal-hub index`) to create it");
    }
    return CheckSchemaVersion(c);
}

Status PgStoreSchema::CheckSchemaVersion(PgConn& c) {
    auto r = c.Query("SELECT coalesce(max(version), 0)::int8 FROM " + migrations);
    if (!r.ok()) {
        if (r.status().code() == ErrorCode::kNotFound) {
            return FailedPrecondition("no signal-hub schema in schema " + schema_name + " of " + Where());
        }
        return r.status();
    }
    std::int64_t version = r->Int8(0, 0);
    if (version != PgVectorStore::kSchemaVersion) {
        return FailedPrecondition("the signal-hub schema in " + Where() + " is version " + std::to_string(version) +
                                  ", this build uses version " + std::to_string(PgVectorStore::kSchemaVersion) +
                                  (version > PgVectorStore::kSchemaVersion ? " (upgrade signal-hub)" : " (open it read-write to migrate)"));
    }
    return Status::Ok();
}

Status PgStoreSchema::Migrate(PgConn& c) {
    db::pg::PgTxn txn(c);
    // No NOTICEs ("relation ... already exists, skipping") on the client's stderr.
    SH_RETURN_IF_ERROR(txn.Begin("BEGIN; SET LOCAL client_min_messages = warning"));
    // One database-wide lock: CREATE EXTENSION / CREATE SCHEMA IF NOT EXISTS are not safe
    // against concurrent creators (unique violations), and migrations are rare and quick.
    SH_RETURN_IF_ERROR(c.Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                               PgParams().Text("signal-hub schema migrations"))
                           .status());
    SH_ASSIGN_OR_RETURN(PgResult ns, c.Query("SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                             PgParams().Text(schema_name)));
    if (ns.rows() == 0) SH_RETURN_IF_ERROR(c.Exec("CREATE SCHEMA " + schema));
    bool found = false;
    SH_RETURN_IF_ERROR(FindExtension(c, found));
    if (!found) {
        SH_RETURN_IF_ERROR(c.Exec("SAVEPOINT create_vector"));
        Status created = c.Exec("CREATE EXTENSION IF NOT EXISTS vector");
        if (!created.ok()) {
            if (c.broken()) return created;
            SH_RETURN_IF_ERROR(c.Exec("ROLLBACK TO SAVEPOINT create_vector"));
            // Managed PostgreSQL: the application's user usually may not create extensions, and needs
            // none once the extension exists (FindExtension above found none here); see
            // docs/production/database-migration/managed-postgresql.md. Exit 4, as documented.
            std::string user = "this user";
            if (auto who = c.Query("SELECT current_user::text"); who.ok() && who->rows() == 1) {
                user = "user " + QuoteIdent(who->String(0, 0));
            }
            const std::string why = created.code() == ErrorCode::kPermissionDenied
                                        ? user + " may not create it"
                                        : "it could not be created; install pgvector 0.8+ on the server if it "
                                          "is missing";
            return FailedPrecondition(
                "the pgvector extension is not enabled in " + Where() + " and " + why + " (" + created.message() +
                "). A superuser (or, on managed PostgreSQL, a user allowed to create extensions: rds_superuser "
                "on Amazon RDS/Aurora, cloudsqlsuperuser on Cloud SQL, the server admin on Azure, after VECTOR "
                "is allow-listed in the azure.extensions server parameter) must run once, in database " +
                database + ": CREATE EXTENSION IF NOT EXISTS vector; then run init-db again");
        }
        SH_RETURN_IF_ERROR(FindExtension(c, found));
        if (!found) return Internal("CREATE EXTENSION vector succeeded but the extension is not listed");
    }
    SH_RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS " + migrations +
                              "(version integer PRIMARY KEY, description text NOT NULL, "
                              "applied_at timestamptz NOT NULL DEFAULT now())"));
    SH_ASSIGN_OR_RETURN(PgResult v, c.Query("SELECT coalesce(max(version), 0)::int8 FROM " + migrations));
    const std::int64_t version = v.Int8(0, 0);
    if (version > PgVectorStore::kSchemaVersion) {
        return FailedPrecondition("the signal-hub schema in " + Where() + " is version " + std::to_string(version) +
                                  ", newer than this build's " + std::to_string(PgVectorStore::kSchemaVersion) +
                                  "; upgrade signal-hub");
    }
    if (version < 1) {
        SH_RETURN_IF_ERROR(c.Exec(
            "CREATE TABLE " + meta + "(key text PRIMARY KEY, value bigint NOT NULL);"
            "INSERT INTO " + meta + "(key, value) VALUES ('data_version', 0);"
            "CREATE TABLE " + collections + "("
            "  id bigserial PRIMARY KEY,"
            "  name bytea NOT NULL UNIQUE,"
            "  model bytea NOT NULL,"
            "  dimension integer NOT NULL CHECK (dimension > 0),"
            "  metric text NOT NULL CHECK (metric IN ('cosine', 'l2', 'ip')),"
            "  hnsw_m integer NOT NULL,"
            "  hnsw_ef_construction integer NOT NULL,"
            "  records bigint NOT NULL DEFAULT 0,"
            "  total_tokens bigint NOT NULL DEFAULT 0,"
            "  created_at timestamptz NOT NULL DEFAULT now(),"
            "  last_indexed bigint);"
            "CREATE TABLE " + files + "("
            "  collection_id bigint NOT NULL REFERENCES " + collections + "(id) ON DELETE CASCADE,"
            "  path bytea NOT NULL,"
            "  content_hash bytea NOT NULL,"
            "  size bigint NOT NULL,"
            "  mtime_ns bigint NOT NULL,"
            "  record_ids bytea[] NOT NULL,"
            "  PRIMARY KEY (collection_id, path));"
            "INSERT INTO " + migrations + "(version, description) VALUES "
            "(1, 'collections, per-collection record tables (pgvector HNSW, tsvector), files, data version')"));
    }
    // Additive, without a version bump (older builds ignore it; reads tolerate its absence).
    SH_RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS " + properties + "("
                              "  collection_id bigint NOT NULL REFERENCES " + collections + "(id) ON DELETE CASCADE,"
                              "  key bytea NOT NULL,"
                              "  value bytea NOT NULL,"
                              "  PRIMARY KEY (collection_id, key))"));
    return txn.Commit();
}

}  // namespace signalhub::store

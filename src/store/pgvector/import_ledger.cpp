#include "store/pgvector/import_ledger.hpp"

#include "db/postgres/pg_client.hpp"

namespace signalhub::store {

using db::pg::PgConn;
using db::pg::PgParams;
using db::pg::PgResult;
using db::pg::QuoteIdent;

struct ImportLedger::Impl {
    std::unique_ptr<PgConn> conn;
    std::string schema_name, schema, collections, ledger, digests, where;

    // ROLLBACK unless committed.
    class Txn {
       public:
        explicit Txn(PgConn& c) : c_(c) {}
        Txn(const Txn&) = delete;
        Txn& operator=(const Txn&) = delete;
        ~Txn() {
            if (active_ && !c_.broken()) (void)c_.Exec("ROLLBACK");
        }
        Status Begin() {
            Status s = c_.Exec("BEGIN");
            active_ = s.ok() || c_.InTransaction();
            return s;
        }
        Status Commit() {
            active_ = false;
            return c_.Exec("COMMIT");
        }

       private:
        PgConn& c_;
        bool active_ = false;
    };

    Result<std::int64_t> CollectionId(std::string_view collection) {
        SH_ASSIGN_OR_RETURN(PgResult r, conn->Query("SELECT id FROM " + collections + " WHERE name = $1::bytea",
                                                    PgParams().Bytea(collection)));
        if (r.rows() == 0) {
            return NotFound("collection '" + std::string(collection) + "' does not exist in " + where);
        }
        return r.Int8(0, 0);
    }

    Result<bool> TablesExist() {
        SH_ASSIGN_OR_RETURN(PgResult r, conn->Query("SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
                                                    PgParams().Text(ledger).Text(digests)));
        return r.Bytes(0, 0) == std::string_view("\x01", 1);
    }
};

ImportLedger::ImportLedger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImportLedger::~ImportLedger() = default;

Result<std::unique_ptr<ImportLedger>> ImportLedger::Open(const std::string& url) {
    SH_ASSIGN_OR_RETURN(db::pg::PgUrl parsed, db::pg::ParsePgUrl(url));
    auto impl = std::make_unique<Impl>();
    impl->schema_name = parsed.schema;
    impl->schema = QuoteIdent(parsed.schema);
    impl->collections = impl->schema + ".signal_hub_collections";
    impl->ledger = impl->schema + ".signal_hub_import_ledger";
    impl->digests = impl->schema + ".signal_hub_import_digests";
    impl->where = "PostgreSQL at " + parsed.endpoint + " (database " + parsed.database + ", schema " + parsed.schema + ")";
    SH_ASSIGN_OR_RETURN(impl->conn, PgConn::Connect(parsed));
    return std::unique_ptr<ImportLedger>(new ImportLedger(std::move(impl)));
}

Status ImportLedger::Ensure() {
    Impl& m = *impl_;
    SH_ASSIGN_OR_RETURN(PgResult r, m.conn->Query("SELECT to_regclass($1) IS NOT NULL", PgParams().Text(m.collections)));
    if (r.Bytes(0, 0) != std::string_view("\x01", 1)) {
        return FailedPrecondition("no signal-hub schema in " + m.where + ": run `signal-hub migrate init-db` first");
    }
    Impl::Txn txn(*m.conn);
    SH_RETURN_IF_ERROR(txn.Begin());
    SH_RETURN_IF_ERROR(m.conn->Exec("SET LOCAL client_min_messages = warning"));
    // Serialised with the store's own schema migrations.
    SH_RETURN_IF_ERROR(m.conn->Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                     PgParams().Text("signal-hub schema migrations"))
                           .status());
    SH_RETURN_IF_ERROR(m.conn->Exec(
        "CREATE TABLE IF NOT EXISTS " + m.ledger + "("
        "  collection_id bigint PRIMARY KEY REFERENCES " + m.collections + "(id) ON DELETE CASCADE,"
        "  input text NOT NULL,"
        "  input_checksum text NOT NULL,"
        "  input_records bigint NOT NULL,"
        "  complete boolean NOT NULL DEFAULT false,"
        "  started_at timestamptz NOT NULL DEFAULT now(),"
        "  finished_at timestamptz);"
        "CREATE TABLE IF NOT EXISTS " + m.digests + "("
        "  collection_id bigint NOT NULL REFERENCES " + m.collections + "(id) ON DELETE CASCADE,"
        "  id bytea NOT NULL,"
        "  digest bytea NOT NULL CHECK (length(digest) = 16),"
        "  PRIMARY KEY (collection_id, id))"));
    return txn.Commit();
}

Status ImportLedger::Begin(std::string_view collection, std::string_view input, std::string_view input_checksum,
                           std::int64_t input_records) {
    Impl& m = *impl_;
    SH_ASSIGN_OR_RETURN(std::int64_t id, m.CollectionId(collection));
    return m.conn
        ->Query("INSERT INTO " + m.ledger +
                    "(collection_id, input, input_checksum, input_records, complete, started_at, finished_at) "
                    "VALUES ($1::int8, $2::text, $3::text, $4::int8, false, now(), NULL) "
                    "ON CONFLICT (collection_id) DO UPDATE SET input = EXCLUDED.input, "
                    "input_checksum = EXCLUDED.input_checksum, input_records = EXCLUDED.input_records, "
                    "complete = false, started_at = now(), finished_at = NULL",
                PgParams().Int8(id).Text(input).Text(input_checksum).Int8(input_records))
        .status();
}

Status ImportLedger::AddDigests(std::string_view collection, std::span<const ImportDigest> digests) {
    if (digests.empty()) return Status::Ok();
    Impl& m = *impl_;
    std::vector<std::string> ids, values;
    ids.reserve(digests.size());
    values.reserve(digests.size());
    for (const ImportDigest& d : digests) {
        if (d.digest.size() != 16) {
            return InvalidArgument("import digest of record '" + d.id + "' has " + std::to_string(d.digest.size()) +
                                   " bytes, expected 16");
        }
        ids.push_back(d.id);
        values.push_back(d.digest);
    }
    SH_ASSIGN_OR_RETURN(std::int64_t id, m.CollectionId(collection));
    return m.conn
        ->Query("INSERT INTO " + m.digests +
                    "(collection_id, id, digest) SELECT $1::int8, i, d FROM unnest($2::bytea[], $3::bytea[]) AS t(i, d) "
                    "ON CONFLICT (collection_id, id) DO UPDATE SET digest = EXCLUDED.digest",
                PgParams().Int8(id).ByteaArray(ids).ByteaArray(values))
        .status();
}

Status ImportLedger::Finish(std::string_view collection) {
    Impl& m = *impl_;
    SH_ASSIGN_OR_RETURN(std::int64_t id, m.CollectionId(collection));
    SH_ASSIGN_OR_RETURN(PgResult r, m.conn->Query("UPDATE " + m.ledger +
                                                      " SET complete = true, finished_at = now() "
                                                      "WHERE collection_id = $1::int8 RETURNING collection_id",
                                                  PgParams().Int8(id)));
    if (r.rows() != 1) return NotFound("no import of collection '" + std::string(collection) + "' was begun");
    return Status::Ok();
}

Result<std::vector<ImportLedgerEntry>> ImportLedger::Entries() {
    Impl& m = *impl_;
    std::vector<ImportLedgerEntry> out;
    SH_ASSIGN_OR_RETURN(bool exist, m.TablesExist());
    if (!exist) return out;
    SH_ASSIGN_OR_RETURN(
        PgResult r,
        m.conn->Query("SELECT c.name, l.input, l.input_checksum, l.input_records, l.complete, "
                      "coalesce(to_char(l.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
                      "(SELECT count(*) FROM " + m.digests + " d WHERE d.collection_id = l.collection_id) "
                      "FROM " + m.ledger + " l JOIN " + m.collections + " c ON c.id = l.collection_id ORDER BY c.name"));
    for (int i = 0; i < r.rows(); ++i) {
        ImportLedgerEntry e;
        e.collection = r.String(i, 0);
        e.input = r.String(i, 1);
        e.input_checksum = r.String(i, 2);
        e.input_records = r.Int8(i, 3);
        e.complete = r.Bytes(i, 4) == std::string_view("\x01", 1);
        e.finished_at = r.String(i, 5);
        e.digests = r.Int8(i, 6);
        out.push_back(std::move(e));
    }
    return out;
}

Result<std::vector<ImportDigest>> ImportLedger::Digests(std::string_view collection, std::string_view after,
                                                        size_t limit) {
    Impl& m = *impl_;
    SH_ASSIGN_OR_RETURN(std::int64_t id, m.CollectionId(collection));
    SH_ASSIGN_OR_RETURN(PgResult r, m.conn->Query("SELECT id, digest FROM " + m.digests +
                                                      " WHERE collection_id = $1::int8 AND id > $2::bytea "
                                                      "ORDER BY id LIMIT $3::int8",
                                                  PgParams().Int8(id).Bytea(after).Int8(static_cast<std::int64_t>(limit))));
    std::vector<ImportDigest> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.String(i, 0), r.String(i, 1)});
    return out;
}

}  // namespace signalhub::store

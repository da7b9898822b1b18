// PgVectorStore — schema and search rules (design note)
// ======================================================
//
// All tables live in one schema (URL parameter schema=, default public). Versioned by
// signal_hub_schema_migrations(version PK, description, applied_at): an open (read-write)
// applies the missing migrations in one transaction under a database-wide, transaction-scoped
// advisory lock (concurrent first opens wait for each other, also while creating the
// extension; nothing outlives the transaction) and refuses a database whose version is newer
// than kSchemaVersion. A read-only open creates nothing. Version 1:
//
//   signal_hub_meta(key PK, value bigint)  'data_version': bumped in every writing transaction.
//   signal_hub_collections(id bigserial PK, name bytea UNIQUE, model bytea, dimension, metric,
//       hnsw_m, hnsw_ef_construction, records, total_tokens, created_at, last_indexed)
//       records/total_tokens are maintained by Commit in the same transaction (BM25 needs N and
//       the average document length; GetCollection needs the count without a scan).
//   signal_hub_collection_properties(collection_id FK ON DELETE CASCADE, key bytea, value bytea,
//       PK(collection_id, key)): CollectionInfo::properties. Created by every read-write open
//       when missing (additive, no version bump); reads without it see no properties.
//   signal_hub_files(collection_id FK ON DELETE CASCADE, path bytea, content_hash bytea, size,
//       mtime_ns, record_ids bytea[], PK(collection_id, path))
//   signal_hub_records_<collection id>, one table per collection, so that collections of
//   different dimensions coexist, each with its own HNSW index:
//       id bytea PK (bytewise order for Scan), document bytea NULL (any bytes, NUL included),
//       metadata json (the shared metadata JSON: types exact, doubles bit-exact),
//       embedding vector(DIM) (sent and read in pgvector's binary format: float32 bit-exact),
//       language bytea, glob_path text (see glob_regex.hpp), lexemes tsvector, lexeme_count int.
//       Indexes: HNSW (vector_cosine_ops / vector_l2_ops / vector_ip_ops by metric, m and
//       ef_construction from the collection row; none above pgvector's 2000 dimensions: such
//       collections are searched exactly), GIN on lexemes, btree on language.
//   Names are quoted identifiers; the pgvector type, operators and operator classes are
//   qualified with the schema the extension lives in. Values are always parameters
//   (binary for bytea, vectors, integers, arrays; text for json, tsvector, tsquery, regex).
//
// Vector search: one read-only transaction with SET LOCAL hnsw.ef_search = max(ef, k) and SET
// LOCAL hnsw.iterative_scan = relaxed_order (pgvector 0.8), the filter in the WHERE clause
// (language = $, glob_path ~ $, metadata->>'symbol' for a symbol), ORDER BY distance LIMIT k.
// The iterative scan keeps walking the graph until k rows pass the filter (up to
// hnsw.max_scan_tuples); if fewer than k come back, the query is repeated as an exact scan
// (SET LOCAL enable_indexscan = off), so a filter never loses matches. SearchOptions.exact
// goes straight to the exact scan. Hits are re-scored in double precision from their vectors
// (the same Similarity as the other backends) and ordered by score, then id.
//
// Lexical search: each record's CodeTokens (document, symbol, file_path) are stored as a
// tsvector whose lexeme positions 1..tf encode the term frequency (tf capped at 256, the
// tsvector limit per lexeme) plus lexeme_count = number of tokens. Tokens that are not valid
// UTF-8 are stored as "~" + hex. The query's terms form an OR tsquery (GIN candidates), and
// BM25 is computed in SQL with FTS5's bm25() formula (k1 1.2, b 0.75, idf floored at 1e-6,
// N and avgdl from the collection row): the scores of the embedded and memory stores.
//
// No session state: SET LOCAL only, unnamed statements, transaction-scoped locks.

#include "store/pgvector/pgvector_store.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "db/postgres/pg_client.hpp"
#include "db/postgres/pg_replicas.hpp"
#include "store/metadata_json.hpp"
#include "store/pgvector/glob_regex.hpp"
#include "store/pgvector/pgvector_schema.hpp"
#include "store/pgvector/record_rows.hpp"
#include "store/store_util.hpp"

namespace signalhub::store {

using db::pg::PgConn;
using db::pg::PgParams;
using db::pg::PgResult;
using db::pg::QuoteIdent;

namespace {

constexpr int kHnswMaxDimensions = 2000;
constexpr int kVectorMaxDimensions = 16000;
constexpr size_t kInsertBatch = 500;
constexpr size_t kExactSlack = 8;  // extra rows of an exact scan, re-ranked in double precision

struct CollectionRow {
    std::int64_t id = 0;
    CollectionSpec spec;
    std::int64_t records = 0;
    std::int64_t total_tokens = 0;
    std::optional<std::int64_t> last_indexed;
    std::int64_t files = 0;
    std::int64_t bytes = 0;
    std::map<std::string, std::string, std::less<>> properties;
};

CollectionInfo ToInfo(const CollectionRow& row) {
    CollectionInfo info;
    info.spec = row.spec;
    info.records = row.records;
    info.bytes = row.bytes;
    info.last_indexed_unix = row.last_indexed;
    info.files = row.files;
    info.properties = row.properties;
    return info;
}

// Rolls back unless committed.
using Txn = db::pg::PgTxn;

using pg::Lexeme;
using pg::PreparedRecord;
using pg::QuoteLexeme;

}  // namespace

class PgVectorStore::Impl {
   public:
    Impl(db::pg::PgUrl url, bool read_only, PgVectorStoreOptions tuning)
        : pool_(std::move(url)), read_only_(read_only), tuning_(tuning), names_(pool_.url()) {}

    std::string Where() const { return names_.Where(); }

    // Runs `fn` with a pooled connection; retries once on a new connection when a reused
    // one turned out to be broken before anything was committed (PgPool::Run).
    template <typename F>
    auto Run(F&& fn) -> decltype(fn(std::declval<PgConn&>())) {
        return pool_.Run(std::forward<F>(fn));
    }

    // A read-only operation of a read-only store: on an up read replica when there is one
    // (db/postgres/pg_replicas.hpp), else on the primary. A replica that fails the operation (any
    // error: unreachable, a query cancelled by recovery, a collection it has not replayed yet) is
    // not the answer: the primary runs it again, and an unreachable replica is skipped until its
    // next good check. Writers never read from replicas (they must see their own writes).
    template <typename F>
    auto RunRead(F&& fn) -> decltype(fn(std::declval<PgConn&>())) {
        if (replicas_) {
            if (db::pg::PgPool* replica = replicas_->Pick()) {
                auto result = replica->Run(fn);
                if (result.ok()) {
                    replica_reads_++;
                    return result;
                }
                if (result.status().code() == ErrorCode::kUnavailable) replicas_->MarkDown(replica);
            }
        }
        primary_reads_++;
        return pool_.Run(fn);
    }

    // Starts the replica checks of a read-only store with read_url parameters.
    Status StartReplicas() {
        if (!read_only_ || pool_.url().read_urls.empty()) return Status::Ok();
        SH_ASSIGN_OR_RETURN(replicas_, db::pg::PgReplicaSet::Create(pool_.url()));
        return Status::Ok();
    }

    std::optional<ReadRoutingStats> read_routing() const {
        if (!replicas_) return std::nullopt;
        return ReadRoutingStats{.replicas = replicas_->Stats(),
                                .primary_reads = primary_reads_.load(),
                                .replica_reads = replica_reads_.load()};
    }

    // ---- open / schema ----------------------------------------------------------

    Status Open() {
        return Run([&](PgConn& c) -> Status {
            SH_ASSIGN_OR_RETURN(PgResult enc, c.Query("SELECT current_setting('server_encoding')"));
            if (enc.String(0, 0) != "UTF8") {
                return FailedPrecondition(Where() + " uses server encoding " + enc.String(0, 0) +
                                          "; signal-hub needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')");
            }
            return read_only_ ? CheckExisting(c) : Migrate(c);
        });
    }

    Status FindExtension(PgConn& c, bool& found) { return names_.FindExtension(c, found); }
    Status CheckExisting(PgConn& c) { return names_.CheckExisting(c); }
    Status CheckSchemaVersion(PgConn& c) { return names_.CheckSchemaVersion(c); }
    Status Migrate(PgConn& c) { return names_.Migrate(c); }

    // ---- collections ------------------------------------------------------------

    std::string RecordsTable(std::int64_t id) const {
        return schema_ + "." + QuoteIdent("signal_hub_records_" + std::to_string(id));
    }

    // `with_stats`: also the file count and the size (`schema_param`: the number of the parameter
    // holding the schema name), which cost O(files) and a catalog lookup; the search path reads the
    // row without them (GetCollectionSpec, RequireCollection), so its cost does not grow.
    std::string CollectionSelect(bool with_stats, const std::string& where, int schema_param = 2) const {
        std::string sql =
            "SELECT c.id, c.name, c.model, c.dimension, c.metric, c.records, c.total_tokens, c.last_indexed";
        if (with_stats) {
            sql += ", (SELECT count(*) FROM " + files_ + " f WHERE f.collection_id = c.id)::int8";
            sql += ", coalesce(pg_total_relation_size(to_regclass(format('%I.%I', $" + std::to_string(schema_param) +
                   "::text, 'signal_hub_records_' || c.id))), 0)::int8";
        }
        return sql + " FROM " + collections_ + " c " + where;
    }

    Result<CollectionRow> ReadRow(const PgResult& r, int i, bool with_stats) {
        CollectionRow row;
        row.id = r.Int8(i, 0);
        row.spec.name = r.String(i, 1);
        row.spec.model = r.String(i, 2);
        row.spec.dimension = r.Int4(i, 3);
        auto metric = ParseDistanceMetric(r.String(i, 4));
        if (!metric.ok()) return DataLoss("collection '" + row.spec.name + "': " + metric.status().message());
        row.spec.metric = *metric;
        row.records = r.Int8(i, 5);
        row.total_tokens = r.Int8(i, 6);
        if (!r.IsNull(i, 7)) row.last_indexed = r.Int8(i, 7);
        if (with_stats) {
            row.files = r.Int8(i, 8);
            row.bytes = r.Int8(i, 9);
        }
        return row;
    }

    Result<std::optional<CollectionRow>> FindCollection(PgConn& c, std::string_view name, bool with_stats,
                                                        bool for_update = false) {
        PgParams p;
        p.Bytea(name);
        if (with_stats) p.Text(pool_.url().schema);
        SH_ASSIGN_OR_RETURN(PgResult r, c.Query(CollectionSelect(with_stats, "WHERE c.name = $1::bytea") +
                                                    (for_update ? " FOR UPDATE" : ""),
                                                p));
        if (r.rows() == 0) return std::optional<CollectionRow>();
        SH_ASSIGN_OR_RETURN(CollectionRow row, ReadRow(r, 0, with_stats));
        return std::optional<CollectionRow>(std::move(row));
    }

    Result<CollectionRow> RequireCollection(PgConn& c, std::string_view name, bool with_stats = false,
                                            bool for_update = false) {
        SH_ASSIGN_OR_RETURN(std::optional<CollectionRow> row, FindCollection(c, name, with_stats, for_update));
        if (!row) return NotFound("collection '" + std::string(name) + "' does not exist");
        return std::move(*row);
    }

    Status BumpDataVersion(PgConn& c) {
        return c.Query("UPDATE " + meta_ + " SET value = value + 1 WHERE key = 'data_version'").status();
    }

    Status RefuseReadOnly() const {
        return FailedPrecondition("the store at " + Where() + " was opened read-only");
    }

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) {
        SH_RETURN_IF_ERROR(ValidateSpec(spec));
        if (spec.dimension > kVectorMaxDimensions) {
            return InvalidArgument("collection '" + spec.name + "' has dimension " + std::to_string(spec.dimension) +
                                   "; pgvector's vector type holds at most " + std::to_string(kVectorMaxDimensions));
        }
        return Run([&](PgConn& c) -> Result<CollectionInfo> {
            SH_ASSIGN_OR_RETURN(std::optional<CollectionRow> existing, FindCollection(c, spec.name, true));
            if (existing) {
                SH_RETURN_IF_ERROR(CheckCompatible(existing->spec, spec));
                return ToInfo(*existing);
            }
            if (read_only_) return RefuseReadOnly();
            Txn txn(c);
            SH_RETURN_IF_ERROR(txn.Begin());
            SH_ASSIGN_OR_RETURN(
                PgResult ins,
                c.Query("INSERT INTO " + collections_ +
                            "(name, model, dimension, metric, hnsw_m, hnsw_ef_construction) VALUES "
                            "($1::bytea, $2::bytea, $3::int4, $4::text, $5::int4, $6::int4) "
                            "ON CONFLICT (name) DO NOTHING RETURNING id",
                        PgParams()
                            .Bytea(spec.name)
                            .Bytea(spec.model)
                            .Int4(spec.dimension)
                            .Text(DistanceMetricName(spec.metric))
                            .Int4(tuning_.hnsw_m)
                            .Int4(tuning_.hnsw_ef_construction)));
            if (ins.rows() == 0) {  // created concurrently by someone else
                SH_RETURN_IF_ERROR(txn.Commit());
                SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, spec.name, true));
                SH_RETURN_IF_ERROR(CheckCompatible(row.spec, spec));
                return ToInfo(row);
            }
            const std::int64_t id = ins.Int8(0, 0);
            const std::string table = RecordsTable(id);
            std::string ddl = "CREATE TABLE " + table +
                              "(id bytea PRIMARY KEY, document bytea, metadata json NOT NULL, embedding " +
                              vector_type_ + "(" + std::to_string(spec.dimension) +
                              ") NOT NULL, language bytea, glob_path text, lexemes tsvector NOT NULL, "
                              "lexeme_count integer NOT NULL);";
            for (const auto& [name, index] :
                 SecondaryIndexes(id, spec, tuning_.hnsw_m, tuning_.hnsw_ef_construction)) {
                ddl += index + ";";
            }
            SH_RETURN_IF_ERROR(c.Exec(ddl));
            SH_RETURN_IF_ERROR(BumpDataVersion(c));
            SH_RETURN_IF_ERROR(txn.Commit());
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, spec.name, true));
            return ToInfo(row);
        });
    }

    std::string OpClass(DistanceMetric m) const {
        switch (m) {
            case DistanceMetric::kL2: return ext_schema_ + ".vector_l2_ops";
            case DistanceMetric::kInnerProduct: return ext_schema_ + ".vector_ip_ops";
            case DistanceMetric::kCosine: break;
        }
        return ext_schema_ + ".vector_cosine_ops";
    }

    std::string DistanceOp(DistanceMetric m) const {
        switch (m) {
            case DistanceMetric::kL2: return "OPERATOR(" + ext_schema_ + ".<->)";
            case DistanceMetric::kInnerProduct: return "OPERATOR(" + ext_schema_ + ".<#>)";
            case DistanceMetric::kCosine: break;
        }
        return "OPERATOR(" + ext_schema_ + ".<=>)";
    }

    // Fills the rows' properties (one query); none when the table does not exist yet (a
    // database no read-write open of this build has touched).
    Status LoadProperties(PgConn& c, std::vector<CollectionRow>& rows) {
        if (rows.empty()) return Status::Ok();
        SH_ASSIGN_OR_RETURN(PgResult t, c.Query("SELECT to_regclass($1) IS NOT NULL", PgParams().Text(properties_)));
        if (t.Bytes(0, 0) != std::string_view("\x01", 1)) return Status::Ok();
        std::vector<std::string> ids;
        for (const auto& row : rows) ids.push_back(std::to_string(row.id));
        std::string list;
        for (const auto& id : ids) list += (list.empty() ? "" : ",") + id;
        SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT collection_id, key, value FROM " + properties_ +
                                                " WHERE collection_id IN (" + list + ")"));
        for (int i = 0; i < r.rows(); ++i) {
            const std::int64_t id = r.Int8(i, 0);
            for (auto& row : rows) {
                if (row.id == id) row.properties.insert_or_assign(r.String(i, 1), r.String(i, 2));
            }
        }
        return Status::Ok();
    }

    Result<CollectionInfo> GetCollection(std::string_view name) {
        return RunRead([&](PgConn& c) -> Result<CollectionInfo> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, name, true));
            std::vector<CollectionRow> rows{std::move(row)};
            SH_RETURN_IF_ERROR(LoadProperties(c, rows));
            return ToInfo(rows[0]);
        });
    }

    Result<CollectionSpec> GetCollectionSpec(std::string_view name) {
        return RunRead([&](PgConn& c) -> Result<CollectionSpec> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, name));
            return std::move(row.spec);
        });
    }

    Result<std::vector<CollectionSpec>> ListCollectionSpecs() {
        return RunRead([&](PgConn& c) -> Result<std::vector<CollectionSpec>> {
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query(CollectionSelect(false, "ORDER BY c.name")));
            std::vector<CollectionSpec> out;
            for (int i = 0; i < r.rows(); ++i) {
                SH_ASSIGN_OR_RETURN(CollectionRow row, ReadRow(r, i, false));
                out.push_back(std::move(row.spec));
            }
            return out;
        });
    }

    Result<std::vector<CollectionInfo>> ListCollections() {
        return RunRead([&](PgConn& c) -> Result<std::vector<CollectionInfo>> {
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query(CollectionSelect(true, "ORDER BY c.name", 1),
                                                    PgParams().Text(pool_.url().schema)));
            std::vector<CollectionRow> rows;
            for (int i = 0; i < r.rows(); ++i) {
                SH_ASSIGN_OR_RETURN(CollectionRow row, ReadRow(r, i, true));
                rows.push_back(std::move(row));
            }
            SH_RETURN_IF_ERROR(LoadProperties(c, rows));
            std::vector<CollectionInfo> out;
            for (const auto& row : rows) out.push_back(ToInfo(row));
            return out;
        });
    }

    Status DropCollection(std::string_view name) {
        if (read_only_) return RefuseReadOnly();
        return Run([&](PgConn& c) -> Status {
            Txn txn(c);
            SH_RETURN_IF_ERROR(txn.Begin());
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("DELETE FROM " + collections_ + " WHERE name = $1::bytea RETURNING id",
                                                    PgParams().Bytea(name)));
            if (r.rows() == 0) return NotFound("collection '" + std::string(name) + "' does not exist");
            SH_RETURN_IF_ERROR(c.Exec("DROP TABLE IF EXISTS " + RecordsTable(r.Int8(0, 0))));
            SH_RETURN_IF_ERROR(BumpDataVersion(c));
            return txn.Commit();
        });
    }

    // ---- writes -----------------------------------------------------------------

    static Result<PreparedRecord> Prepare(const Record& record) { return pg::PrepareRecord(record); }

    Status Commit(std::string_view collection, const ChangeSet& changes) {
        if (read_only_) return RefuseReadOnly();
        return Run([&](PgConn& c) -> Status {
            if (changes.empty()) return RequireCollection(c, collection).status();
            Txn txn(c);
            SH_RETURN_IF_ERROR(txn.Begin());
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection, false, true));
            SH_RETURN_IF_ERROR(ValidateChangeSet(collection, row.spec.dimension, changes));
            // Upserts of the same id: the last wins.
            std::unordered_map<std::string_view, size_t> last;
            for (size_t i = 0; i < changes.upserts.size(); ++i) last[changes.upserts[i].id] = i;
            std::vector<PreparedRecord> prepared;
            prepared.reserve(last.size());
            for (size_t i = 0; i < changes.upserts.size(); ++i) {
                if (last[changes.upserts[i].id] != i) continue;
                SH_ASSIGN_OR_RETURN(PreparedRecord p, Prepare(changes.upserts[i]));
                prepared.push_back(std::move(p));
            }
            const std::string table = RecordsTable(row.id);
            // Deletes, and the old versions of upserted records.
            std::vector<std::string> remove(changes.delete_ids.begin(), changes.delete_ids.end());
            for (const auto& p : prepared) remove.push_back(p.record->id);
            std::int64_t delta_records = 0, delta_tokens = 0;
            if (!remove.empty()) {
                SH_ASSIGN_OR_RETURN(PgResult d, c.Query("WITH d AS (DELETE FROM " + table +
                                                            " WHERE id = ANY($1::bytea[]) RETURNING lexeme_count) "
                                                            "SELECT count(*)::int8, coalesce(sum(lexeme_count), 0)::int8 FROM d",
                                                        PgParams().ByteaArray(remove)));
                delta_records -= d.Int8(0, 0);
                delta_tokens -= d.Int8(0, 1);
            }
            for (size_t start = 0; start < prepared.size(); start += kInsertBatch) {
                const size_t end = std::min(prepared.size(), start + kInsertBatch);
                std::string sql = "INSERT INTO " + table +
                                  "(id, document, metadata, embedding, language, glob_path, lexemes, lexeme_count) VALUES ";
                PgParams params;
                for (size_t i = start; i < end; ++i) {
                    const PreparedRecord& p = prepared[i];
                    const size_t n = params.size();
                    auto ph = [&](size_t k, const char* type) { return "$" + std::to_string(n + k) + "::" + type; };
                    sql += (i == start ? "(" : ", (") + ph(1, "bytea") + ", " + ph(2, "bytea") + ", " + ph(3, "json") +
                           ", " + ph(4, vector_type_.c_str()) + ", " + ph(5, "bytea") + ", " + ph(6, "text") + ", " +
                           ph(7, "tsvector") + ", " + ph(8, "int4") + ")";
                    params.Bytea(p.record->id)
                        .OptionalBytea(p.record->document)
                        .Text(p.metadata_json)
                        .Vector(p.record->embedding)
                        .OptionalBytea(p.language);
                    if (p.glob_path) {
                        params.Text(*p.glob_path);
                    } else {
                        params.Null();
                    }
                    params.Text(pg::TsvectorText(p)).Int4(p.lexeme_count);
                    delta_records += 1;
                    delta_tokens += p.lexeme_count;
                }
                SH_RETURN_IF_ERROR(c.Query(sql, params).status());
            }
            SH_RETURN_IF_ERROR(c.Query("UPDATE " + collections_ +
                                           " SET records = records + $2::int8, total_tokens = total_tokens + $3::int8" +
                                           (changes.touch_last_indexed
                                                ? ", last_indexed = floor(extract(epoch FROM now()))::int8"
                                                : "") +
                                           " WHERE id = $1::int8",
                                       PgParams().Int8(row.id).Int8(delta_records).Int8(delta_tokens))
                                   .status());
            SH_RETURN_IF_ERROR(WriteFiles(c, row.id, changes));
            for (const auto& [key, value] : changes.set_properties) {
                if (value) {
                    SH_RETURN_IF_ERROR(c.Query("INSERT INTO " + properties_ +
                                                   "(collection_id, key, value) VALUES ($1::int8, $2::bytea, $3::bytea) "
                                                   "ON CONFLICT (collection_id, key) DO UPDATE SET value = EXCLUDED.value",
                                               PgParams().Int8(row.id).Bytea(key).Bytea(*value))
                                           .status());
                } else {
                    SH_RETURN_IF_ERROR(c.Query("DELETE FROM " + properties_ +
                                                   " WHERE collection_id = $1::int8 AND key = $2::bytea",
                                               PgParams().Int8(row.id).Bytea(key))
                                           .status());
                }
            }
            SH_RETURN_IF_ERROR(BumpDataVersion(c));
            return txn.Commit();
        });
    }

    Status WriteFiles(PgConn& c, std::int64_t collection_id, const ChangeSet& changes) {
        if (!changes.delete_files.empty()) {
            SH_RETURN_IF_ERROR(c.Query("DELETE FROM " + files_ + " WHERE collection_id = $1::int8 AND path = ANY($2::bytea[])",
                                       PgParams().Int8(collection_id).ByteaArray(changes.delete_files))
                                   .status());
        }
        std::unordered_map<std::string_view, size_t> last;
        for (size_t i = 0; i < changes.put_files.size(); ++i) last[changes.put_files[i].path] = i;
        std::vector<const FileState*> puts;
        for (size_t i = 0; i < changes.put_files.size(); ++i) {
            if (last[changes.put_files[i].path] == i) puts.push_back(&changes.put_files[i]);
        }
        for (size_t start = 0; start < puts.size(); start += kInsertBatch) {
            const size_t end = std::min(puts.size(), start + kInsertBatch);
            std::string sql = "INSERT INTO " + files_ + "(collection_id, path, content_hash, size, mtime_ns, record_ids) VALUES ";
            PgParams params;
            params.Int8(collection_id);
            for (size_t i = start; i < end; ++i) {
                const size_t n = params.size();
                auto ph = [&](size_t k, const char* type) { return "$" + std::to_string(n + k) + "::" + type; };
                sql += (i == start ? "($1::int8, " : ", ($1::int8, ") + ph(1, "bytea") + ", " + ph(2, "bytea") + ", " +
                       ph(3, "int8") + ", " + ph(4, "int8") + ", " + ph(5, "bytea[]") + ")";
                const FileState& f = *puts[i];
                params.Bytea(f.path).Bytea(f.content_hash).Int8(f.size).Int8(f.mtime_ns).ByteaArray(f.record_ids);
            }
            sql += " ON CONFLICT (collection_id, path) DO UPDATE SET content_hash = excluded.content_hash, "
                   "size = excluded.size, mtime_ns = excluded.mtime_ns, record_ids = excluded.record_ids";
            SH_RETURN_IF_ERROR(c.Query(sql, params).status());
        }
        return Status::Ok();
    }

    // ---- reads ------------------------------------------------------------------

    // Without the document (SearchOptions::include_documents false) a NULL stands in its place.
    static std::string RecordColumns(bool with_embedding, bool with_document = true) {
        std::string cols = with_document ? "r.id, r.document, r.metadata" : "r.id, NULL::bytea, r.metadata";
        if (with_embedding) cols += ", r.embedding";
        return cols;
    }

    // Reads id, document, metadata[, embedding] starting at column `first`.
    static Result<Record> ReadRecord(const PgResult& r, int row, int first, bool with_embedding, int dimension) {
        Record rec;
        rec.id = r.String(row, first);
        if (!r.IsNull(row, first + 1)) rec.document = r.String(row, first + 1);
        SH_ASSIGN_OR_RETURN(rec.metadata, DecodeMetadataJson(r.String(row, first + 2)));
        if (with_embedding) {
            SH_ASSIGN_OR_RETURN(rec.embedding, db::pg::DecodeVector(r.Bytes(row, first + 3)));
            if (rec.embedding.size() != static_cast<size_t>(dimension)) {
                return DataLoss("record '" + rec.id + "' has a stored vector of dimension " +
                                std::to_string(rec.embedding.size()) + ", expected " + std::to_string(dimension));
            }
        }
        return rec;
    }

    Result<std::vector<FileState>> ListFiles(std::string_view collection) {
        return Run([&](PgConn& c) -> Result<std::vector<FileState>> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT path, content_hash, size, mtime_ns, record_ids FROM " + files_ +
                                                        " WHERE collection_id = $1::int8 ORDER BY path",
                                                    PgParams().Int8(row.id)));
            std::vector<FileState> out;
            out.reserve(static_cast<size_t>(r.rows()));
            for (int i = 0; i < r.rows(); ++i) {
                FileState f;
                f.path = r.String(i, 0);
                f.content_hash = r.String(i, 1);
                f.size = r.Int8(i, 2);
                f.mtime_ns = r.Int8(i, 3);
                SH_ASSIGN_OR_RETURN(f.record_ids, db::pg::DecodeByteaArray(r.Bytes(i, 4)));
                out.push_back(std::move(f));
            }
            return out;
        });
    }

    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) {
        return RunRead([&](PgConn& c) -> Result<std::vector<Record>> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            std::vector<Record> out;
            if (ids.empty()) return out;
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT " + RecordColumns(true) + " FROM " + RecordsTable(row.id) +
                                                        " r WHERE r.id = ANY($1::bytea[])",
                                                    PgParams().ByteaArray(ids)));
            std::unordered_map<std::string, Record> found;
            for (int i = 0; i < r.rows(); ++i) {
                SH_ASSIGN_OR_RETURN(Record rec, ReadRecord(r, i, 0, true, row.spec.dimension));
                std::string id = rec.id;
                found.emplace(std::move(id), std::move(rec));
            }
            for (const auto& id : ids) {
                auto it = found.find(id);
                if (it != found.end()) out.push_back(it->second);
            }
            return out;
        });
    }

    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) {
        if (limit == 0) return InvalidArgument("scan limit must be positive");
        return Run([&](PgConn& c) -> Result<ScanPage> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            const auto fetch = static_cast<std::int64_t>(std::min<size_t>(limit, INT32_MAX)) + 1;
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT " + RecordColumns(true) + " FROM " + RecordsTable(row.id) +
                                                        " r WHERE r.id > $1::bytea ORDER BY r.id LIMIT $2::int8",
                                                    PgParams().Bytea(after_id).Int8(fetch)));
            ScanPage page;
            for (int i = 0; i < r.rows() && page.records.size() < limit; ++i) {
                SH_ASSIGN_OR_RETURN(Record rec, ReadRecord(r, i, 0, true, row.spec.dimension));
                page.records.push_back(std::move(rec));
            }
            if (static_cast<size_t>(r.rows()) > limit) page.next_after = page.records.back().id;
            return page;
        });
    }

    // The WHERE conditions of a filter (appending its parameters), or nullopt when it matches nothing.
    static std::optional<std::string> FilterSql(const Filter& filter, PgParams& params) {
        std::string sql = "true";
        if (filter.language) {
            params.Bytea(*filter.language);
            sql += " AND r.language = $" + std::to_string(params.size()) + "::bytea";
        }
        if (filter.path_glob) {
            std::optional<std::string> regex = pg::GlobToPgRegex(*filter.path_glob);
            if (!regex) return std::nullopt;
            params.Text(*regex);
            sql += " AND r.glob_path ~ $" + std::to_string(params.size()) + "::text";
        }
        if (filter.symbol) {
            params.Text(*filter.symbol);
            const std::string p = "$" + std::to_string(params.size()) + "::text";
            sql += " AND ((r.metadata->>'symbol') = " + p + " OR right(r.metadata->>'symbol', length(" + p +
                   ") + 1) = '.' || " + p + ")";
        }
        return sql;
    }

    Result<std::vector<Hit>> SearchOnce(PgConn& c, const CollectionRow& row, std::span<const float> query,
                                        const SearchOptions& options, bool exact, size_t limit) {
        PgParams params;
        params.Vector(query);
        std::optional<std::string> where = FilterSql(options.filter, params);
        if (!where) return std::vector<Hit>();
        params.Int8(static_cast<std::int64_t>(std::min<size_t>(limit, INT32_MAX)));
        const std::string sql = "SELECT " + RecordColumns(true, options.include_documents) + " FROM " +
                                RecordsTable(row.id) + " r WHERE " +
                                *where + " ORDER BY r.embedding " + DistanceOp(row.spec.metric) + " $1::" +
                                vector_type_ + " LIMIT $" + std::to_string(params.size()) + "::int8";
        // Only integers of ours reach this SQL text (no values from the caller).
        std::string begin = "BEGIN READ ONLY; ";
        if (exact) {
            begin += "SET LOCAL enable_indexscan = off";
        } else {
            const int ef_base = options.ef_search > 0 ? options.ef_search : tuning_.default_ef_search;
            const size_t ef = std::clamp<size_t>(std::max<size_t>(static_cast<size_t>(std::max(ef_base, 1)), limit), 1, 1000);
            begin += "SET LOCAL hnsw.ef_search = " + std::to_string(ef) + "; SET LOCAL hnsw.iterative_scan = relaxed_order";
        }
        Txn txn(c);
        SH_RETURN_IF_ERROR(txn.Begin(begin));
        SH_ASSIGN_OR_RETURN(PgResult r, c.Query(sql, params));
        SH_RETURN_IF_ERROR(txn.Commit());
        const std::vector<float> q = PrepareVector(row.spec.metric, query);
        std::vector<Hit> hits;
        hits.reserve(static_cast<size_t>(r.rows()));
        for (int i = 0; i < r.rows(); ++i) {
            Hit hit;
            SH_ASSIGN_OR_RETURN(hit.record, ReadRecord(r, i, 0, true, row.spec.dimension));
            hit.score = Similarity(row.spec.metric, q, PrepareVector(row.spec.metric, hit.record.embedding));
            hits.push_back(std::move(hit));
        }
        std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
            if (a.score != b.score) return a.score > b.score;
            return a.record.id < b.record.id;
        });
        return hits;
    }

    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) {
        SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
        return RunRead([&](PgConn& c) -> Result<std::vector<Hit>> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            SH_RETURN_IF_ERROR(ValidateQuery(collection, row.spec.dimension, query));
            std::vector<Hit> hits;
            if (options.k == 0) return hits;
            const bool indexed = row.spec.dimension <= kHnswMaxDimensions;
            if (!options.exact && indexed) {
                SH_ASSIGN_OR_RETURN(hits, SearchOnce(c, row, query, options, false, options.k));
                if (hits.size() >= options.k) {
                    index_searches_++;
                    Finish(hits, options);
                    return hits;
                }
            }
            // Exact: asked for, no index, or the index found fewer than k matches.
            constexpr auto kMaxLimit = static_cast<size_t>(INT32_MAX);
            const size_t limit = options.k > kMaxLimit - kExactSlack ? kMaxLimit : options.k + kExactSlack;
            SH_ASSIGN_OR_RETURN(hits, SearchOnce(c, row, query, options, true, limit));
            exact_searches_++;
            Finish(hits, options);
            return hits;
        });
    }

    static void Finish(std::vector<Hit>& hits, const SearchOptions& options) {
        if (hits.size() > options.k) hits.resize(options.k);
        if (!options.include_embeddings) {
            for (auto& h : hits) {
                h.record.embedding.clear();
                h.record.embedding.shrink_to_fit();
            }
        }
    }

    // Lexical search, bounded (ADR-30a): BM25 over an OR of the terms needs every term's document
    // frequency (counted on the GIN index, no scoring), then only the rows containing the rarest
    // terms are scored (MaxScore): terms in order of falling idf, the rows containing any of the
    // first j scored with all terms, j growing until the k-th score reaches the most a row
    // without those j terms could score (the sum of idf·(k1+1) of the others: BM25's tf part is
    // below k1+1). The answer is the one of scoring every matching row, in one snapshot.
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) {
        SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
        return RunRead([&](PgConn& c) -> Result<std::vector<Hit>> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            std::vector<Hit> hits;
            std::vector<std::string> terms;
            for (const auto& t : LexicalQueryTerms(query, options.keep_stop_words)) terms.push_back(Lexeme(t));
            std::sort(terms.begin(), terms.end());
            terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
            if (terms.empty() || options.k == 0) return hits;
            PgParams probe;
            if (!FilterSql(options.filter, probe)) return hits;
            const std::string table = RecordsTable(row.id);
            Txn txn(c);
            // One snapshot for the frequencies, N, avgdl and the scoring; index scans for the
            // counts and candidates (a frequent term's estimate would pick a sequential scan,
            // which reads every row's lexemes).
            SH_RETURN_IF_ERROR(txn.Begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                                         "SET LOCAL enable_seqscan = off"));
            std::vector<std::string> single;
            for (const auto& t : terms) single.push_back(QuoteLexeme(t));
            SH_ASSIGN_OR_RETURN(
                PgResult df,
                c.Query("SELECT (SELECT count(*) FROM " + table + " r WHERE r.lexemes @@ q.q::tsquery)::int8, "
                        "st.records::float8, st.total_tokens::float8 / greatest(st.records, 1) "
                        "FROM unnest($1::text[]) WITH ORDINALITY AS q(q, i) CROSS JOIN (SELECT records, total_tokens "
                        "FROM " + collections_ + " WHERE id = $2::int8) st ORDER BY q.i",
                        PgParams().Text(TextArrayLiteral(single)).Int8(row.id)));
            if (df.rows() != static_cast<int>(terms.size())) return Internal("lexical search: term statistics missing");
            const double n = df.Float8(0, 1), avgdl = df.Float8(0, 2);
            struct Term {
                std::string lexeme;
                double idf = 0;
                std::int64_t df = 0;
            };
            std::vector<Term> order;
            for (size_t i = 0; i < terms.size(); ++i) {
                const double f = static_cast<double>(df.Int8(static_cast<int>(i), 0));
                if (f == 0) continue;
                const double ratio = (n - f + 0.5) / (f + 0.5);
                order.push_back({terms[i], ratio <= 1 ? 1e-6 : std::log(ratio), df.Int8(static_cast<int>(i), 0)});
            }
            if (order.empty()) return hits;
            std::stable_sort(order.begin(), order.end(), [](const Term& a, const Term& b) { return a.idf > b.idf; });
            std::vector<std::string> lexemes;
            std::vector<double> idfs;
            for (const Term& t : order) {
                lexemes.push_back(t.lexeme);
                idfs.push_back(t.idf);
            }
            const std::int64_t k = static_cast<std::int64_t>(std::min<size_t>(options.k, INT32_MAX));
            // Fewer than k rows contain the first j terms while their frequencies sum below k: start after.
            size_t first = 1;
            for (std::int64_t rows = order[0].df; first < order.size() && rows < k; ++first) rows += order[first].df;
            // rest[j]: the most a row containing none of the first j terms can score.
            std::vector<double> rest(order.size() + 1, 0.0);
            for (size_t i = order.size(); i-- > 0;) rest[i] = rest[i + 1] + order[i].idf * (kBm25K1 + 1);
            std::int64_t rounds = 0;
            for (size_t j = first; j <= order.size();) {
                ++rounds;
                std::string tsquery;
                for (size_t i = 0; i < j; ++i) tsquery += (i == 0 ? "" : " | ") + QuoteLexeme(order[i].lexeme);
                PgParams params;
                params.Text(tsquery);                                  // $1
                params.Text(TextArrayLiteral(lexemes));                // $2
                params.Text(Float8ArrayLiteral(idfs));                 // $3
                params.Float8(avgdl).Float8(kBm25K1).Float8(kBm25B);  // $4, $5, $6
                params.Int8(k);                                        // $7
                std::optional<std::string> where = FilterSql(options.filter, params);
                const std::string sql =
                    "WITH cand AS MATERIALIZED (SELECT r.id, r.lexeme_count, r.lexemes FROM " + table +
                    " r WHERE r.lexemes @@ $1::tsquery AND coalesce(" + *where + ", false)),"
                    " w AS (SELECT * FROM unnest($2::text[], $3::float8[]) AS w(lexeme, idf)),"
                    " scored AS (SELECT c.id, sum(w.idf * (tf.tf * ($5::float8 + 1)) / (tf.tf + $5::float8 * "
                    "   (1 - $6::float8 + $6::float8 * c.lexeme_count / greatest($4::float8, 1e-9)))) AS score"
                    // Only the query's lexemes of each row: setweight marks them, ts_filter keeps them (both
                    // in C, about half the time of unnesting every lexeme of the row and joining).
                    "   FROM cand c CROSS JOIN LATERAL unnest(ts_filter(setweight(c.lexemes, 'A', $2::text[]), '{a}'))"
                    "     AS x(lexeme, positions, weights)"
                    "   JOIN w ON w.lexeme = x.lexeme"
                    "   CROSS JOIN LATERAL (SELECT greatest(cardinality(x.positions), 1)::float8 AS tf) tf"
                    "   GROUP BY c.id)"
                    " SELECT s.score, " + RecordColumns(options.include_embeddings, options.include_documents) +
                    " FROM scored s JOIN " + table +
                    " r ON r.id = s.id ORDER BY s.score DESC, r.id LIMIT $7::int8";
                SH_ASSIGN_OR_RETURN(PgResult r, c.Query(sql, params));
                const bool full = r.rows() == k;
                const double kth = full ? r.Float8(r.rows() - 1, 0) : 0.0;
                if (j < order.size() && !(full && kth >= rest[j])) {
                    // Not proven yet. The next round's k-th score is at least this one's (its candidates
                    // are a superset, each scored with all terms), so any j' with rest[j'] <= kth ends
                    // the search: go straight to the smallest such j' (at least j + 1).
                    size_t next = j + 1;
                    if (full) {
                        while (next < order.size() && rest[next] > kth) ++next;
                    }
                    j = next;
                    continue;
                }
                lexical_rounds_ += rounds;
                for (int i = 0; i < r.rows(); ++i) {
                    Hit hit;
                    hit.score = r.Float8(i, 0);
                    SH_ASSIGN_OR_RETURN(hit.record, ReadRecord(r, i, 1, options.include_embeddings, row.spec.dimension));
                    hits.push_back(std::move(hit));
                }
                break;
            }
            SH_RETURN_IF_ERROR(txn.Commit());
            return hits;
        });
    }

    // A float8[] literal ({1.5,2}) of values printed exactly (shortest round-trip form).
    static std::string Float8ArrayLiteral(const std::vector<double>& values) {
        std::string out = "{";
        char buf[32];
        for (size_t i = 0; i < values.size(); ++i) {
            if (i > 0) out += ',';
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, values[i]);
            out.append(buf, end);
        }
        return out + "}";
    }

    // A text[] literal ({"a","b"}) with every element quoted and escaped.
    static std::string TextArrayLiteral(const std::vector<std::string>& values) {
        std::string out = "{";
        for (size_t i = 0; i < values.size(); ++i) {
            if (i > 0) out += ',';
            out += '"';
            for (char ch : values[i]) {
                if (ch == '"' || ch == '\\') out += '\\';
                out += ch;
            }
            out += '"';
        }
        return out + "}";
    }

    Status CheckHealth() {
        return Run([&](PgConn& c) -> Status {
            SH_RETURN_IF_ERROR(CheckSchemaVersion(c));
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT count(*)::int8 FROM pg_extension WHERE extname = 'vector'"));
            if (r.Int8(0, 0) != 1) {
                return FailedPrecondition("the pgvector extension was removed from " + Where() +
                                          "; a superuser must run: CREATE EXTENSION vector; (the records need it)");
            }
            return Status::Ok();
        });
    }

    Result<std::int64_t> DataVersion() {
        return RunRead([&](PgConn& c) -> Result<std::int64_t> {
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT value FROM " + meta_ + " WHERE key = 'data_version'"));
            if (r.rows() != 1) return DataLoss("the data_version row is missing from " + meta_ + " in " + Where());
            return r.Int8(0, 0);
        });
    }

    // ---- bulk load ----------------------------------------------------------------

    std::string CheckpointsTable() const { return schema_ + ".signal_hub_import_checkpoints"; }

    Status EnsureImportCheckpoints() {
        if (read_only_) return RefuseReadOnly();
        return Run([&](PgConn& c) -> Status {
            Txn txn(c);
            SH_RETURN_IF_ERROR(txn.Begin("BEGIN; SET LOCAL client_min_messages = warning"));
            SH_RETURN_IF_ERROR(c.Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                       PgParams().Text("signal-hub schema migrations"))
                                   .status());
            SH_RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS " + CheckpointsTable() +
                                      "(input_key text NOT NULL, collection bytea NOT NULL, collection_id bigint NOT NULL, "
                                      "last_id bytea NOT NULL, records bigint NOT NULL, "
                                      "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (input_key, collection))"));
            return txn.Commit();
        });
    }

    Result<std::optional<ImportCheckpoint>> GetImportCheckpoint(std::string_view key, std::string_view collection) {
        return Run([&](PgConn& c) -> Result<std::optional<ImportCheckpoint>> {
            SH_ASSIGN_OR_RETURN(std::optional<CollectionRow> row, FindCollection(c, collection, false));
            if (!row) return std::optional<ImportCheckpoint>();
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT last_id, records FROM " + CheckpointsTable() +
                                                        " WHERE input_key = $1::text AND collection = $2::bytea"
                                                        " AND collection_id = $3::int8",
                                                    PgParams().Text(key).Bytea(collection).Int8(row->id)));
            if (r.rows() == 0) return std::optional<ImportCheckpoint>();
            ImportCheckpoint cp;
            cp.key = std::string(key);
            cp.last_id = r.String(0, 0);
            cp.records = r.Int8(0, 1);
            return std::optional<ImportCheckpoint>(std::move(cp));
        });
    }

    Status BulkLoad(std::string_view collection, std::span<const Record> records,
                    const std::optional<ImportCheckpoint>& checkpoint, bool direct) {
        if (read_only_) return RefuseReadOnly();
        // The COPY stream (PGCOPY binary, record_rows.hpp): prepared once, outside the retry loop.
        pg::CopyRows rows;
        std::unordered_set<std::string_view> seen;
        std::int64_t tokens = 0;
        for (const Record& rec : records) {
            if (!seen.insert(rec.id).second) {
                return InvalidArgument("bulk load into '" + std::string(collection) + "': record id '" + rec.id +
                                       "' appears twice in one batch");
            }
            SH_ASSIGN_OR_RETURN(PreparedRecord p, Prepare(rec));
            rows.Add(p);
            tokens += p.lexeme_count;
        }
        const std::string data = rows.Finish();
        return Run([&](PgConn& c) -> Status {
            Txn txn(c);
            // Asynchronous commit: a server crash may lose the last batches, but always together
            // with their checkpoint row (one transaction), so a resumed import loads them again.
            SH_RETURN_IF_ERROR(txn.Begin("BEGIN; SET LOCAL synchronous_commit = off"));
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection, false, true));
            for (const Record& rec : records) {
                if (static_cast<int>(rec.embedding.size()) != row.spec.dimension) {
                    return InvalidArgument("record '" + rec.id + "' has an embedding of dimension " +
                                           std::to_string(rec.embedding.size()) + ", collection '" +
                                           std::string(collection) + "' has dimension " +
                                           std::to_string(row.spec.dimension));
                }
            }
            const std::string table = RecordsTable(row.id);
            const std::string columns = "(id, document, metadata, embedding, language, glob_path, lexemes, lexeme_count)";
            std::int64_t removed = 0, removed_tokens = 0;
            bool loaded = false;
            if (direct) {
                // Straight into the table: right when none of these ids is there (an import into a
                // collection that was empty, after its checkpoint). Any failure (an id already
                // there: a unique violation) falls back to the upsert below.
                SH_RETURN_IF_ERROR(c.Exec("SAVEPOINT direct_copy"));
                Status copied = c.CopyIn("COPY " + table + columns + " FROM STDIN (FORMAT binary)", data);
                if (copied.ok()) {
                    loaded = true;
                    direct_loads_++;
                } else {
                    if (c.broken()) return copied;
                    SH_RETURN_IF_ERROR(c.Exec("ROLLBACK TO SAVEPOINT direct_copy"));
                }
            }
            if (!loaded) {
                SH_RETURN_IF_ERROR(c.Exec("CREATE TEMPORARY TABLE signal_hub_import_staging (id bytea, document bytea, "
                                          "metadata json, embedding " + vector_type_ +
                                          ", language bytea, glob_path text, lexemes tsvector, lexeme_count integer) "
                                          "ON COMMIT DROP"));
                SH_RETURN_IF_ERROR(c.CopyIn("COPY signal_hub_import_staging FROM STDIN (FORMAT binary)", data));
                SH_ASSIGN_OR_RETURN(PgResult d, c.Query("WITH d AS (DELETE FROM " + table +
                                                            " t USING signal_hub_import_staging s WHERE t.id = s.id "
                                                            "RETURNING t.lexeme_count) "
                                                            "SELECT count(*)::int8, coalesce(sum(lexeme_count), 0)::int8 FROM d"));
                removed = d.Int8(0, 0);
                removed_tokens = d.Int8(0, 1);
                SH_RETURN_IF_ERROR(c.Exec("INSERT INTO " + table + columns + " SELECT * FROM signal_hub_import_staging"));
            }
            // The counters, the checkpoint and the data version in one statement (one round trip).
            PgParams params;
            params.Int8(row.id)
                .Int8(static_cast<std::int64_t>(records.size()) - removed)
                .Int8(tokens - removed_tokens);
            std::string sql = "WITH counters AS (UPDATE " + collections_ +
                              " SET records = records + $2::int8, total_tokens = total_tokens + $3::int8"
                              " WHERE id = $1::int8)";
            if (checkpoint) {
                params.Text(checkpoint->key).Bytea(collection).Bytea(checkpoint->last_id).Int8(checkpoint->records);
                sql += ", cp AS (INSERT INTO " + CheckpointsTable() +
                       "(input_key, collection, collection_id, last_id, records) VALUES "
                       "($4::text, $5::bytea, $1::int8, $6::bytea, $7::int8) ON CONFLICT (input_key, collection) "
                       "DO UPDATE SET collection_id = excluded.collection_id, last_id = excluded.last_id, "
                       "records = excluded.records, updated_at = now())";
            }
            sql += " UPDATE " + meta_ + " SET value = value + 1 WHERE key = 'data_version'";
            SH_RETURN_IF_ERROR(c.Query(sql, params).status());
            return txn.Commit();
        });
    }

    // The secondary indexes of a records table (all but the primary key): name and CREATE statement.
    std::vector<std::pair<std::string, std::string>> SecondaryIndexes(std::int64_t id, const CollectionSpec& spec,
                                                                      int m, int ef_construction) const {
        const std::string table = RecordsTable(id);
        const std::string base = "signal_hub_records_" + std::to_string(id);
        std::vector<std::pair<std::string, std::string>> out;
        out.emplace_back(base + "_lexemes", "CREATE INDEX IF NOT EXISTS " + QuoteIdent(base + "_lexemes") + " ON " +
                                                table + " USING gin (lexemes)");
        out.emplace_back(base + "_language", "CREATE INDEX IF NOT EXISTS " + QuoteIdent(base + "_language") + " ON " +
                                                 table + " (language)");
        if (spec.dimension <= kHnswMaxDimensions) {
            out.emplace_back(base + "_hnsw", "CREATE INDEX IF NOT EXISTS " + QuoteIdent(base + "_hnsw") + " ON " +
                                                 table + " USING hnsw (embedding " + OpClass(spec.metric) +
                                                 ") WITH (m = " + std::to_string(m) +
                                                 ", ef_construction = " + std::to_string(ef_construction) + ")");
        }
        return out;
    }

    Result<std::vector<std::pair<std::string, std::string>>> SecondaryIndexesOf(PgConn& c, const CollectionRow& row) {
        SH_ASSIGN_OR_RETURN(PgResult params, c.Query("SELECT hnsw_m, hnsw_ef_construction FROM " + collections_ +
                                                         " WHERE id = $1::int8",
                                                     PgParams().Int8(row.id)));
        return SecondaryIndexes(row.id, row.spec, params.Int4(0, 0), params.Int4(0, 1));
    }

    Result<bool> HasIndexes(std::string_view collection) {
        return Run([&](PgConn& c) -> Result<bool> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            SH_ASSIGN_OR_RETURN(auto indexes, SecondaryIndexesOf(c, row));
            for (const auto& [name, ddl] : indexes) {
                SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT to_regclass($1) IS NOT NULL",
                                                        PgParams().Text(schema_ + "." + QuoteIdent(name))));
                if (r.Bytes(0, 0) != std::string_view("\x01", 1)) return false;
            }
            return true;
        });
    }

    Status DeferIndexes(std::string_view collection) {
        if (read_only_) return RefuseReadOnly();
        return Run([&](PgConn& c) -> Status {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            SH_ASSIGN_OR_RETURN(auto indexes, SecondaryIndexesOf(c, row));
            std::string sql = "BEGIN; SET LOCAL client_min_messages = warning; ";
            for (const auto& [name, ddl] : indexes) sql += "DROP INDEX IF EXISTS " + schema_ + "." + QuoteIdent(name) + "; ";
            return c.Exec(sql + "COMMIT");
        });
    }

    Status BuildIndexes(std::string_view collection) {
        if (read_only_) return RefuseReadOnly();
        return Run([&](PgConn& c) -> Status {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            SH_ASSIGN_OR_RETURN(auto indexes, SecondaryIndexesOf(c, row));
            // As BuildVectorIndex: at least 512MB for the builds (a larger setting is kept).
            std::string sql = "BEGIN; SET LOCAL client_min_messages = warning; "
                              "SELECT set_config('maintenance_work_mem', '512MB', true) WHERE "
                              "pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('512MB'); ";
            for (const auto& [name, ddl] : indexes) sql += ddl + "; ";
            SH_RETURN_IF_ERROR(c.Exec(sql + "COMMIT"));
            // Planner statistics and the visibility map of the freshly loaded table.
            return c.Exec("VACUUM (ANALYZE) " + RecordsTable(row.id));
        });
    }

    std::string IndexName(std::int64_t id) const {
        return QuoteIdent("signal_hub_records_" + std::to_string(id) + "_hnsw");
    }

    Result<bool> HasVectorIndex(std::string_view collection) {
        return Run([&](PgConn& c) -> Result<bool> {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT to_regclass($1) IS NOT NULL",
                                                    PgParams().Text(schema_ + "." + IndexName(row.id))));
            return r.Bytes(0, 0) == std::string_view("\x01", 1);
        });
    }

    Status DropVectorIndex(std::string_view collection) {
        if (read_only_) return RefuseReadOnly();
        return Run([&](PgConn& c) -> Status {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            return c.Exec("DROP INDEX IF EXISTS " + schema_ + "." + IndexName(row.id));
        });
    }

    Status BuildVectorIndex(std::string_view collection) {
        if (read_only_) return RefuseReadOnly();
        return Run([&](PgConn& c) -> Status {
            SH_ASSIGN_OR_RETURN(CollectionRow row, RequireCollection(c, collection));
            if (row.spec.dimension > kHnswMaxDimensions) return Status::Ok();
            SH_ASSIGN_OR_RETURN(PgResult params, c.Query("SELECT hnsw_m, hnsw_ef_construction FROM " + collections_ +
                                                             " WHERE id = $1::int8",
                                                         PgParams().Int8(row.id)));
            // Index builds get at least 512MB (the server default is 64MB), so that the graph of a
            // few hundred thousand records fits; a larger maintenance_work_mem of the role, the
            // database or the server is kept (performance-tuning.md).
            return c.Exec("BEGIN; SET LOCAL client_min_messages = warning; "
                          "SELECT set_config('maintenance_work_mem', '512MB', true) WHERE "
                          "pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('512MB'); "
                          "CREATE INDEX IF NOT EXISTS " +
                          IndexName(row.id) + " ON " + RecordsTable(row.id) + " USING hnsw (embedding " +
                          OpClass(row.spec.metric) + ") WITH (m = " + std::to_string(params.Int4(0, 0)) +
                          ", ef_construction = " + std::to_string(params.Int4(0, 1)) + "); COMMIT");
        });
    }

    Stats stats() const {
        return {exact_searches_.load(), index_searches_.load(), pool_.retries(), direct_loads_.load(),
                lexical_rounds_.load()};
    }
    size_t open_connections() const { return pool_.open_connections(); }
    PoolStats pool_stats() const { return pool_.Stats(); }

   private:
    db::pg::PgPool pool_;
    const bool read_only_;
    const PgVectorStoreOptions tuning_;
    // Table names and the pgvector extension's schema (pgvector_schema.hpp; FindExtension fills the latter).
    PgStoreSchema names_;
    const std::string &schema_ = names_.schema, &meta_ = names_.meta, &collections_ = names_.collections,
                      &files_ = names_.files, &migrations_ = names_.migrations, &properties_ = names_.properties;
    const std::string &vector_type_ = names_.vector_type, &ext_schema_ = names_.ext_schema;
    std::atomic<std::int64_t> exact_searches_{0}, index_searches_{0}, direct_loads_{0}, lexical_rounds_{0};
    std::unique_ptr<db::pg::PgReplicaSet> replicas_;  // read-only opens with read_url parameters
    std::atomic<std::uint64_t> primary_reads_{0}, replica_reads_{0};
};

Result<std::unique_ptr<PgVectorStore>> PgVectorStore::Open(const std::string& url, const OpenOptions& options,
                                                           const PgVectorStoreOptions& tuning) {
    SH_ASSIGN_OR_RETURN(db::pg::PgUrl parsed, db::pg::ParsePgUrl(url));
    PgVectorStoreOptions effective = tuning;  // URL parameters win over the caller's defaults
    if (parsed.hnsw_m) effective.hnsw_m = *parsed.hnsw_m;
    if (parsed.hnsw_ef_construction) effective.hnsw_ef_construction = *parsed.hnsw_ef_construction;
    if (effective.hnsw_ef_construction < 2 * effective.hnsw_m) {
        return InvalidArgument("hnsw_ef_construction (" + std::to_string(effective.hnsw_ef_construction) +
                               ") must be at least twice hnsw_m (" + std::to_string(effective.hnsw_m) + ")");
    }
    auto impl = std::make_unique<Impl>(std::move(parsed), options.read_only, effective);
    SH_RETURN_IF_ERROR(impl->Open());
    if (options.read_replicas) SH_RETURN_IF_ERROR(impl->StartReplicas());
    return std::unique_ptr<PgVectorStore>(new PgVectorStore(std::move(impl)));
}

PgVectorStore::PgVectorStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgVectorStore::~PgVectorStore() = default;

Result<CollectionInfo> PgVectorStore::EnsureCollection(const CollectionSpec& spec) { return impl_->EnsureCollection(spec); }
Result<CollectionInfo> PgVectorStore::GetCollection(std::string_view name) { return impl_->GetCollection(name); }
Result<std::vector<CollectionInfo>> PgVectorStore::ListCollections() { return impl_->ListCollections(); }
Result<CollectionSpec> PgVectorStore::GetCollectionSpec(std::string_view name) { return impl_->GetCollectionSpec(name); }
Result<std::vector<CollectionSpec>> PgVectorStore::ListCollectionSpecs() { return impl_->ListCollectionSpecs(); }
Status PgVectorStore::DropCollection(std::string_view name) { return impl_->DropCollection(name); }
Status PgVectorStore::Commit(std::string_view collection, const ChangeSet& changes) {
    return impl_->Commit(collection, changes);
}
Result<std::vector<FileState>> PgVectorStore::ListFiles(std::string_view collection) {
    return impl_->ListFiles(collection);
}
Result<std::vector<Record>> PgVectorStore::Get(std::string_view collection, std::span<const std::string> ids) {
    return impl_->Get(collection, ids);
}
Result<ScanPage> PgVectorStore::Scan(std::string_view collection, std::string_view after_id, size_t limit) {
    return impl_->Scan(collection, after_id, limit);
}
Result<std::vector<Hit>> PgVectorStore::VectorSearch(std::string_view collection, std::span<const float> query,
                                                     const SearchOptions& options) {
    return impl_->VectorSearch(collection, query, options);
}
Result<std::vector<Hit>> PgVectorStore::LexicalSearch(std::string_view collection, std::string_view query,
                                                      const SearchOptions& options) {
    return impl_->LexicalSearch(collection, query, options);
}
Status PgVectorStore::EnsureImportCheckpoints() { return impl_->EnsureImportCheckpoints(); }
Result<std::optional<PgVectorStore::ImportCheckpoint>> PgVectorStore::GetImportCheckpoint(std::string_view key,
                                                                                          std::string_view collection) {
    return impl_->GetImportCheckpoint(key, collection);
}
Status PgVectorStore::BulkLoad(std::string_view collection, std::span<const Record> records,
                               const std::optional<ImportCheckpoint>& checkpoint, bool direct) {
    return impl_->BulkLoad(collection, records, checkpoint, direct);
}
Result<bool> PgVectorStore::HasIndexes(std::string_view collection) { return impl_->HasIndexes(collection); }
Status PgVectorStore::DeferIndexes(std::string_view collection) { return impl_->DeferIndexes(collection); }
Status PgVectorStore::BuildIndexes(std::string_view collection) { return impl_->BuildIndexes(collection); }
Result<bool> PgVectorStore::HasVectorIndex(std::string_view collection) { return impl_->HasVectorIndex(collection); }
Status PgVectorStore::DropVectorIndex(std::string_view collection) { return impl_->DropVectorIndex(collection); }
Status PgVectorStore::BuildVectorIndex(std::string_view collection) { return impl_->BuildVectorIndex(collection); }
Status PgVectorStore::CheckHealth() { return impl_->CheckHealth(); }
Result<std::int64_t> PgVectorStore::DataVersion() { return impl_->DataVersion(); }
PgVectorStore::Stats PgVectorStore::stats() const { return impl_->stats(); }
size_t PgVectorStore::open_connections() const { return impl_->open_connections(); }
std::optional<PoolStats> PgVectorStore::pool_stats() const { return impl_->pool_stats(); }
std::optional<ReadRoutingStats> PgVectorStore::read_routing() const { return impl_->read_routing(); }

bool PgvectorVersionSupported(std::string_view extversion) {
    return VersionAtLeast(extversion, kMinPgvectorMajor, kMinPgvectorMinor);
}

}  // namespace signalhub::store

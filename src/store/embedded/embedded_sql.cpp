#include "store/embedded/embedded_sql.hpp"

#include <bit>
#include <nlohmann/json.hpp>
#include <utility>

#include "store/metadata_json.hpp"

namespace signalhub::store::embedded_detail {

std::string SymbolCondition(const std::string& column, int n) {
    const std::string p = "?" + std::to_string(n);
    const std::string symbol = "json_extract(" + column + ", '$.symbol')";
    return "(" + p + " IS NULL OR " + symbol + " = " + p + " OR substr(" + symbol + ", -length(" + p +
           ") - 1) = '.' || " + p + ")";
}

bool ParseRecordIdsJson(std::string_view text, std::vector<std::string>& out) {
    out.clear();
    // Fast path: exactly `[]` or `["id","id",...]` with ids of printable ASCII other than '"' and '\\'.
    auto fast = [&]() -> bool {
        if (text.size() < 2 || text.front() != '[' || text.back() != ']') return false;
        size_t i = 1;
        const size_t end = text.size() - 1;
        if (i == end) return true;
        while (true) {
            if (text[i] != '"') return false;
            const size_t start = ++i;
            while (i < end) {
                const unsigned char c = static_cast<unsigned char>(text[i]);
                if (c == '"') break;
                if (c < 0x20 || c > 0x7e || c == '\\') return false;
                ++i;
            }
            if (i >= end) return false;
            out.emplace_back(text.substr(start, i - start));
            ++i;  // the closing quote
            if (i == end) return true;
            if (text[i] != ',') return false;
            ++i;
        }
    };
    if (fast()) return true;
    out.clear();
    const nlohmann::json ids = nlohmann::json::parse(text, nullptr, false);
    if (ids.is_discarded() || !ids.is_array()) return false;
    for (const auto& id : ids) {
        if (!id.is_string()) {
            out.clear();
            return false;
        }
        out.push_back(id.get<std::string>());
    }
    return true;
}

Status UpgradeFromVersion1(Db& db, int to) {
    SH_ASSIGN_OR_RETURN(sqlite::Txn txn, sqlite::Txn::Begin(db.get(), true));
    std::vector<std::string> tables;
    {
        SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db.get(), "SELECT name FROM sqlite_master WHERE type = 'table' "
                                                               "AND name GLOB 'fts_[0-9]*' AND sql LIKE '%fts5%'"));
        while (true) {
            SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) break;
            tables.push_back(stmt.Text(0));
        }
    }
    for (const auto& t : tables) SH_RETURN_IF_ERROR(db.Exec("DROP TABLE \"" + t + "\""));
    SH_RETURN_IF_ERROR(db.Exec("PRAGMA user_version=" + std::to_string(to)));
    return txn.Commit();
}

std::string NoIndexMessage(const std::string& dir) {
    return "no index at " + dir + "; run `signal-hub index` first";
}

std::vector<unsigned char> EncodeEmbedding(std::span<const float> v) {
    std::vector<unsigned char> out(v.size() * sizeof(float));
    for (size_t i = 0; i < v.size(); ++i) {
        auto bits = std::bit_cast<std::uint32_t>(v[i]);
        for (int b = 0; b < 4; ++b) out[i * 4 + static_cast<size_t>(b)] = static_cast<unsigned char>(bits >> (8 * b));
    }
    return out;
}

Status DecodeEmbedding(std::span<const unsigned char> bytes, int dimension, float* out) {
    if (bytes.size() != static_cast<size_t>(dimension) * sizeof(float)) {
        return DataLoss("stored embedding has " + std::to_string(bytes.size()) + " bytes, expected " +
                        std::to_string(static_cast<size_t>(dimension) * sizeof(float)));
    }
    for (size_t i = 0; i < static_cast<size_t>(dimension); ++i) {
        std::uint32_t bits = 0;
        for (int b = 0; b < 4; ++b) bits |= static_cast<std::uint32_t>(bytes[i * 4 + static_cast<size_t>(b)]) << (8 * b);
        out[i] = std::bit_cast<float>(bits);
    }
    return Status::Ok();
}

namespace {

void GlobSqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    if (argc != 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    const auto* pattern = sqlite3_value_text(argv[0]);
    int pattern_len = sqlite3_value_bytes(argv[0]);
    const auto* path = sqlite3_value_text(argv[1]);
    int path_len = sqlite3_value_bytes(argv[1]);
    std::string_view p(reinterpret_cast<const char*>(pattern), static_cast<size_t>(pattern_len));
    std::string_view t(reinterpret_cast<const char*>(path), static_cast<size_t>(path_len));
    sqlite3_result_int(ctx, GlobMatch(p, t) ? 1 : 0);
}

}  // namespace

Result<Db> OpenConnection(const std::string& path, bool read_only, bool create) {
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
    SH_ASSIGN_OR_RETURN(Db db, Db::Open(path, flags));
    sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
    SH_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=ON"));
    if (read_only) SH_RETURN_IF_ERROR(db.Exec("PRAGMA query_only=ON"));
    int rc = sqlite3_create_function(db.get(), "sh_glob", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                     GlobSqlFunction, nullptr, nullptr);
    if (rc != SQLITE_OK) return sqlite::Error(db.get(), rc, "register sh_glob");
    return db;
}

Result<CollectionRow> ReadCollectionRow(const Stmt& stmt) {
    CollectionRow row;
    row.id = stmt.Int(0);
    row.spec.name = stmt.Text(1);
    row.spec.model = stmt.Text(2);
    row.spec.dimension = static_cast<int>(stmt.Int(3));
    auto metric = ParseDistanceMetric(stmt.Text(4));
    if (!metric.ok()) return DataLoss("collection '" + row.spec.name + "': " + metric.status().message());
    row.spec.metric = *metric;
    if (!stmt.IsNull(5)) row.last_indexed = stmt.Int(5);
    row.hnsw_seq = stmt.Int(6);
    return row;
}

Result<std::optional<CollectionRow>> FindCollection(sqlite3* db, std::string_view name) {
    SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, std::string("SELECT ") + kCollectionColumns +
                                                         " FROM collections WHERE name = ?1"));
    stmt.Bind(1, name);
    SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) return std::optional<CollectionRow>();
    SH_ASSIGN_OR_RETURN(CollectionRow row, ReadCollectionRow(stmt));
    return std::optional<CollectionRow>(std::move(row));
}

Result<CollectionRow> RequireCollection(sqlite3* db, std::string_view name) {
    SH_ASSIGN_OR_RETURN(std::optional<CollectionRow> row, FindCollection(db, name));
    if (!row) return NotFound("collection '" + std::string(name) + "' does not exist");
    return std::move(*row);
}

Result<std::int64_t> QueryIntBound(sqlite3* db, std::string_view sql, std::int64_t a, std::int64_t fallback) {
    SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, sql));
    stmt.Bind(1, a);
    SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row || stmt.IsNull(0)) return fallback;
    return stmt.Int(0);
}

Result<std::int64_t> LogHead(sqlite3* db, const CollectionRow& row, std::int64_t hnsw_seq) {
    SH_ASSIGN_OR_RETURN(std::int64_t max_seq,
                        QueryIntBound(db, "SELECT max(seq) FROM change_log WHERE collection_id = ?1", row.id));
    return std::max(max_seq, hnsw_seq);
}

Result<Record> ReadRecord(const Stmt& stmt, int first, bool with_embedding, int dimension) {
    Record r;
    r.id = stmt.Text(first);
    if (!stmt.IsNull(first + 1)) r.document = stmt.Text(first + 1);
    SH_ASSIGN_OR_RETURN(r.metadata, DecodeMetadataJson(stmt.Text(first + 2)));
    if (with_embedding) {
        r.embedding.resize(static_cast<size_t>(dimension));
        Status s = DecodeEmbedding(stmt.Blob(first + 3), dimension, r.embedding.data());
        if (!s.ok()) return s.WithContext("record '" + r.id + "'");
    }
    return r;
}

}  // namespace signalhub::store::embedded_detail

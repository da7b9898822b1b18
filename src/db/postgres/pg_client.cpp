#include "db/postgres/pg_client.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

#include "telemetry/trace.hpp"

namespace signalhub::db::pg {
namespace {

constexpr unsigned kByteaOid = 17;
constexpr size_t kMaxIdentifierBytes = 63;

void PutBE(std::string& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t GetBE(std::string_view in, size_t pos, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[pos + static_cast<size_t>(i)]);
    return v;
}

std::string Trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t start = 0;
    while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
    return s.substr(start);
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> PercentDecode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = HexValue(s[i + 1]);
        int lo = HexValue(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

// Replaces every occurrence of `secret` in `text` (libpq may echo the URL).
std::string Redact(std::string text, const std::string& secret) {
    if (secret.empty()) return text;
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3)) {
        text.replace(pos, secret.size(), "***");
    }
    return text;
}

Result<size_t> ParseCount(const std::string& key, const std::string& value, size_t min) {
    size_t out = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || ptr != value.data() + value.size() || out < min || out > 10000) {
        return InvalidArgument("store URL parameter " + key + "='" + value + "' must be an integer in " +
                               std::to_string(min) + "..10000");
    }
    return out;
}

}  // namespace

std::string QuoteIdent(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

Result<PgUrl> ParsePgUrl(const std::string& url) {
    if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
        return InvalidArgument("not a PostgreSQL URL (expected postgresql://... or postgres://...)");
    }
    PgUrl out;
    // The raw password, to keep it out of every message.
    std::string secret;
    {
        size_t start = url.find("://") + 3;
        size_t end = url.find_first_of("/?", start);
        std::string_view authority = std::string_view(url).substr(start, end == std::string::npos ? url.npos : end - start);
        size_t at = authority.rfind('@');
        if (at != std::string_view::npos) {
            std::string_view userinfo = authority.substr(0, at);
            size_t colon = userinfo.find(':');
            if (colon != std::string_view::npos) secret = std::string(userinfo.substr(colon + 1));
        }
    }
    std::string base = url;
    std::string kept_query;
    size_t q = url.find('?');
    if (q != std::string::npos) {
        base = url.substr(0, q);
        std::string_view query = std::string_view(url).substr(q + 1);
        while (!query.empty()) {
            size_t amp = query.find('&');
            std::string_view item = query.substr(0, amp);
            query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
            if (item.empty()) continue;
            size_t eq = item.find('=');
            auto key = PercentDecode(item.substr(0, eq));
            auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
            if (!key || !value) return InvalidArgument("store URL has a malformed %-escape in its query string");
            if (*key == "schema") {
                if (value->empty() || value->size() > kMaxIdentifierBytes || value->find('\0') != std::string::npos) {
                    return InvalidArgument("store URL parameter schema must be 1.." +
                                           std::to_string(kMaxIdentifierBytes) + " bytes");
                }
                out.schema = *value;
            } else if (*key == "pool_size") {
                SH_ASSIGN_OR_RETURN(out.pool_size, ParseCount(*key, *value, 1));
            } else if (*key == "max_overflow") {
                SH_ASSIGN_OR_RETURN(out.max_overflow, ParseCount(*key, *value, 0));
            } else if (*key == "hnsw_m" || *key == "hnsw_ef_construction") {
                SH_ASSIGN_OR_RETURN(size_t n, ParseCount(*key, *value, *key == "hnsw_m" ? 2 : 4));
                const size_t max = *key == "hnsw_m" ? 100 : 1000;
                if (n > max) {
                    return InvalidArgument("store URL parameter " + *key + "='" + *value + "' must be at most " +
                                           std::to_string(max) + " (pgvector's limit)");
                }
                (*key == "hnsw_m" ? out.hnsw_m : out.hnsw_ef_construction) = static_cast<int>(n);
            } else if (*key == "read_url") {
                if (!value->starts_with("postgresql://") && !value->starts_with("postgres://")) {
                    return InvalidArgument("store URL parameter read_url must be a postgresql:// URL");
                }
                out.read_urls.push_back(*value);
            } else if (*key == "max_replica_lag" || *key == "replica_check_interval") {
                double seconds = 0;
                auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
                if (ec != std::errc() || ptr != value->data() + value->size() || !(seconds > 0) || seconds > 86400) {
                    return InvalidArgument("store URL parameter " + *key + "='" + *value +
                                           "' must be a number of seconds in (0, 86400]");
                }
                (*key == "max_replica_lag" ? out.max_replica_lag : out.replica_check_interval) = seconds;
            } else if (*key == "pool_timeout") {
                double seconds = 0;
                auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
                if (ec != std::errc() || ptr != value->data() + value->size() || !(seconds > 0) || seconds > 86400) {
                    return InvalidArgument("store URL parameter pool_timeout='" + *value +
                                           "' must be a number of seconds in (0, 86400]");
                }
                out.pool_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000)));
            } else {
                kept_query += (kept_query.empty() ? "?" : "&") + std::string(item);
            }
        }
    }
    if (out.hnsw_m && out.hnsw_ef_construction && *out.hnsw_ef_construction < 2 * *out.hnsw_m) {
        return InvalidArgument("store URL parameter hnsw_ef_construction must be at least twice hnsw_m (pgvector)");
    }
    std::string libpq_url = base + kept_query;
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(libpq_url.c_str(), &err);
    if (options == nullptr) {
        std::string message = err != nullptr ? Trim(err) : "out of memory";
        if (err != nullptr) PQfreemem(err);
        return InvalidArgument("invalid PostgreSQL URL: " + Redact(message, secret));
    }
    std::string host, hostaddr, port;
    bool has_app_name = false, has_timeout = false;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (o->val == nullptr) continue;
        std::string key = o->keyword;
        std::string val = o->val;
        if (key == "client_encoding") continue;  // always UTF8 (below)
        if (key == "host") host = val;
        if (key == "hostaddr") hostaddr = val;
        if (key == "port") port = val;
        if (key == "dbname") out.database = val;
        if (key == "application_name") has_app_name = true;
        if (key == "connect_timeout") has_timeout = true;
        out.libpq_params.emplace_back(std::move(key), std::move(val));
    }
    PQconninfoFree(options);
    // libpq checks port numbers only when connecting; a typo is a bad URL, not an unreachable server.
    for (size_t start = 0; !port.empty() && start <= port.size();) {
        size_t comma = port.find(',', start);
        std::string one = port.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        int value = 0;
        // In a list, an empty item is the default port (postgresql://u@h1,h2:5433/db).
        if (one.empty() && port.find(',') != std::string::npos) {
            if (comma == std::string::npos) break;
            start = comma + 1;
            continue;
        }
        auto [ptr, ec] = std::from_chars(one.data(), one.data() + one.size(), value);
        if (one.empty() || ec != std::errc() || ptr != one.data() + one.size() || value < 1 || value > 65535) {
            return InvalidArgument("invalid PostgreSQL URL: port '" + one + "' is not a number in 1..65535");
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    out.libpq_params.emplace_back("client_encoding", "UTF8");
    if (!has_app_name) out.libpq_params.emplace_back("application_name", "signal-hub");
    if (!has_timeout) out.libpq_params.emplace_back("connect_timeout", "10");
    if (host.empty() && hostaddr.empty()) host = "localhost";
    // "host:port", or for a multi-host URL "h1:p1,h2:p2" (libpq pairs the lists; one port serves all hosts).
    {
        auto split = [](const std::string& list) {
            std::vector<std::string> items;
            for (size_t start = 0;;) {
                const size_t comma = list.find(',', start);
                items.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
                if (comma == std::string::npos) return items;
                start = comma + 1;
            }
        };
        const std::vector<std::string> hosts = split(hostaddr.empty() ? host : hostaddr);
        const std::vector<std::string> ports = split(port.empty() ? "5432" : port);
        out.endpoint.clear();
        for (size_t i = 0; i < hosts.size(); ++i) {
            const std::string& p = ports.size() == hosts.size() ? ports[i] : ports[0];
            out.endpoint += (i > 0 ? "," : "") + hosts[i] + ":" + (p.empty() ? "5432" : p);
        }
    }
    if (out.database.empty()) out.database = "(default database)";
    return out;
}

// ---- PgResult ---------------------------------------------------------------

PgResult& PgResult::operator=(PgResult&& o) noexcept {
    if (this != &o) {
        if (r_ != nullptr) PQclear(r_);
        r_ = std::exchange(o.r_, nullptr);
    }
    return *this;
}

PgResult::~PgResult() {
    if (r_ != nullptr) PQclear(r_);
}

int PgResult::rows() const { return r_ == nullptr ? 0 : PQntuples(r_); }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view PgResult::Bytes(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col))};
}
std::int64_t PgResult::Int8(int row, int col) const {
    std::string_view b = Bytes(row, col);
    if (b.size() == 4) return static_cast<std::int32_t>(GetBE(b, 0, 4));
    if (b.size() != 8) return 0;
    return static_cast<std::int64_t>(GetBE(b, 0, 8));
}
std::int32_t PgResult::Int4(int row, int col) const {
    std::string_view b = Bytes(row, col);
    return b.size() == 4 ? static_cast<std::int32_t>(GetBE(b, 0, 4)) : 0;
}
double PgResult::Float8(int row, int col) const {
    std::string_view b = Bytes(row, col);
    return b.size() == 8 ? std::bit_cast<double>(GetBE(b, 0, 8)) : 0.0;
}
std::int64_t PgResult::TextInt(int row, int col) const {
    std::string_view b = Bytes(row, col);
    std::int64_t v = 0;
    std::from_chars(b.data(), b.data() + b.size(), v);
    return v;
}

// ---- PgParams ---------------------------------------------------------------

PgParams& PgParams::Text(std::string_view v) {
    values_.emplace_back(v);
    null_.push_back(false);
    formats_.push_back(0);
    return *this;
}
PgParams& PgParams::Binary(std::string_view v) {
    values_.emplace_back(v);
    null_.push_back(false);
    formats_.push_back(1);
    return *this;
}
PgParams& PgParams::Null() {
    values_.emplace_back();
    null_.push_back(true);
    formats_.push_back(0);
    return *this;
}
PgParams& PgParams::Int8(std::int64_t v) {
    std::string b;
    PutBE(b, static_cast<std::uint64_t>(v), 8);
    return Binary(b);
}
PgParams& PgParams::Int4(std::int32_t v) {
    std::string b;
    PutBE(b, static_cast<std::uint32_t>(v), 4);
    return Binary(b);
}
PgParams& PgParams::Float8(double v) {
    std::string b;
    PutBE(b, std::bit_cast<std::uint64_t>(v), 8);
    return Binary(b);
}
PgParams& PgParams::Vector(std::span<const float> v) {
    std::string b;
    b.reserve(4 + v.size() * 4);
    PutBE(b, v.size(), 2);
    PutBE(b, 0, 2);
    for (float x : v) PutBE(b, std::bit_cast<std::uint32_t>(x), 4);
    return Binary(b);
}
PgParams& PgParams::ByteaArray(std::span<const std::string> values) {
    std::string b;
    PutBE(b, values.empty() ? 0 : 1, 4);  // ndim
    PutBE(b, 0, 4);                       // no nulls
    PutBE(b, kByteaOid, 4);
    if (!values.empty()) {
        PutBE(b, values.size(), 4);
        PutBE(b, 1, 4);  // lower bound
        for (const auto& v : values) {
            PutBE(b, v.size(), 4);
            b += v;
        }
    }
    return Binary(b);
}

Result<std::vector<float>> DecodeVector(std::string_view bytes) {
    if (bytes.size() < 4) return DataLoss("stored vector is truncated");
    size_t dim = GetBE(bytes, 0, 2);
    if (bytes.size() != 4 + dim * 4) return DataLoss("stored vector has an inconsistent length");
    std::vector<float> out(dim);
    for (size_t i = 0; i < dim; ++i) out[i] = std::bit_cast<float>(static_cast<std::uint32_t>(GetBE(bytes, 4 + i * 4, 4)));
    return out;
}

Result<std::vector<std::string>> DecodeByteaArray(std::string_view bytes) {
    if (bytes.size() < 12) return DataLoss("stored bytea[] is truncated");
    auto ndim = static_cast<std::int32_t>(GetBE(bytes, 0, 4));
    std::vector<std::string> out;
    if (ndim == 0) return out;
    if (ndim != 1 || bytes.size() < 20) return DataLoss("stored bytea[] is not one-dimensional");
    size_t n = GetBE(bytes, 12, 4);
    size_t pos = 20;
    for (size_t i = 0; i < n; ++i) {
        if (pos + 4 > bytes.size()) return DataLoss("stored bytea[] is truncated");
        auto len = static_cast<std::int32_t>(GetBE(bytes, pos, 4));
        pos += 4;
        if (len < 0 || pos + static_cast<size_t>(len) > bytes.size()) return DataLoss("stored bytea[] has a bad element");
        out.emplace_back(bytes.substr(pos, static_cast<size_t>(len)));
        pos += static_cast<size_t>(len);
    }
    return out;
}

// ---- PgConn -----------------------------------------------------------------

PgConn::~PgConn() {
    if (conn_ != nullptr) PQfinish(conn_);
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const PgUrl& url) {
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : url.libpq_params) {
        keys.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    pg_conn* conn = PQconnectdbParams(keys.data(), values.data(), 0);
    if (conn == nullptr) return ResourceExhausted("libpq could not allocate a connection");
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string message = Trim(PQerrorMessage(conn));
        PQfinish(conn);
        if (message.find("authentication failed") != std::string::npos ||
            message.find("no pg_hba.conf entry") != std::string::npos) {
            return PermissionDenied("PostgreSQL at " + url.endpoint + " refused the login: " + message);
        }
        if (message.find("does not exist") != std::string::npos) {
            return NotFound("PostgreSQL at " + url.endpoint + ": " + message);
        }
        return Unavailable("cannot connect to PostgreSQL at " + url.endpoint + ": " + message);
    }
    return std::make_unique<PgConn>(conn, url.endpoint);
}

bool PgConn::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

bool PgConn::InTransaction() const {
    PGTransactionStatusType st = PQtransactionStatus(conn_);
    return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

bool PgConn::Healthy() {
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
    if (PQconsumeInput(conn_) == 0) return false;
    if (PQisBusy(conn_) != 0) return false;  // unsolicited data (e.g. a FATAL termination notice) is pending
    return PQstatus(conn_) == CONNECTION_OK;
}

Status PgConn::ErrorFrom(pg_result* r, std::string_view what) {
    const char* state_field = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string state = state_field != nullptr ? state_field : "";
    std::string message = primary != nullptr ? primary : Trim(PQerrorMessage(conn_));
    if (r != nullptr) PQclear(r);
    std::string text = "PostgreSQL at " + endpoint_ + ": " + std::string(what) + ": " + message;
    if (!state.empty()) text += " (SQLSTATE " + state + ")";
    if (PQstatus(conn_) != CONNECTION_OK || state.starts_with("08") || state.starts_with("57P")) {
        return Unavailable(text);
    }
    if (state.starts_with("53")) return ResourceExhausted(text);
    if (state.starts_with("40") || state == "55P03") return Aborted(text);
    if (state == "57014") return DeadlineExceeded(text);
    if (state == "42501") return PermissionDenied(text);
    if (state == "42P01") return NotFound(text);
    if (state.starts_with("22")) return InvalidArgument(text);
    return Internal(text);
}

Status PgConn::ExecImpl(const std::string& sql) {
    if (sql.starts_with("COMMIT")) commit_sent_ = true;
    pg_result* r = PQexec(conn_, sql.c_str());
    ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return Status::Ok();
    }
    std::string_view what = std::string_view(sql).substr(0, std::min<size_t>(sql.size(), 40));
    return ErrorFrom(r, what);
}

Result<PgResult> PgConn::QueryImpl(const std::string& sql, const PgParams& params) {
    const size_t n = params.values_.size();
    std::vector<const char*> values(n);
    std::vector<int> lengths(n);
    for (size_t i = 0; i < n; ++i) {
        values[i] = params.null_[i] ? nullptr : params.values_[i].data();
        lengths[i] = static_cast<int>(params.values_[i].size());
    }
    pg_result* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(n), nullptr, values.data(), lengths.data(),
                                params.formats_.data(), 1);
    ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return PgResult(r);
    // Name the statement by its first words only (no values are in it anyway).
    size_t cut = std::min<size_t>(sql.size(), 60);
    return ErrorFrom(r, std::string_view(sql).substr(0, cut));
}

Status PgConn::CopyInImpl(const std::string& sql, std::string_view data) {
    const std::string_view what = std::string_view(sql).substr(0, std::min<size_t>(sql.size(), 60));
    pg_result* r = PQexec(conn_, sql.c_str());
    if (r == nullptr || PQresultStatus(r) != PGRES_COPY_IN) return ErrorFrom(r, what);
    PQclear(r);
    constexpr size_t kChunk = 1 << 20;
    bool sent = true;
    for (size_t off = 0; off < data.size() && sent; off += kChunk) {
        const size_t n = std::min(kChunk, data.size() - off);
        sent = PQputCopyData(conn_, data.data() + off, static_cast<int>(n)) == 1;
    }
    if (!sent || PQputCopyEnd(conn_, nullptr) != 1) {
        return Unavailable("PostgreSQL at " + endpoint_ + ": " + std::string(what) + ": " + Trim(PQerrorMessage(conn_)));
    }
    Status status = Status::Ok();
    while (pg_result* res = PQgetResult(conn_)) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (status.ok()) {
                status = ErrorFrom(res, what);
            } else {
                PQclear(res);
            }
        } else {
            PQclear(res);
        }
    }
    return status;
}

// ---- traced round trips (monitoring.tracing) ---------------------------------

namespace {

// "SELECT", "INSERT", "BEGIN", "COPY", ...: the statement's first word.
std::string OperationName(std::string_view sql) {
    std::size_t start = sql.find_first_not_of(" \t\r\n(");
    if (start == std::string_view::npos) return "postgresql";
    std::string op;
    for (std::size_t i = start; i < sql.size() && op.size() < 16 && std::isalpha(static_cast<unsigned char>(sql[i]));
         ++i)
        op += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i])));
    return op.empty() ? "postgresql" : op;
}

// A client span per round trip, a child of the current context (a store call of a traced request).
class DbSpan {
   public:
    DbSpan(std::string_view sql, const std::string& endpoint) : DbSpan(sql, endpoint, OperationName(sql)) {}
    void Finish(const Status& status) { span_->SetStatus(status); }
    telemetry::Span& span() { return span_.span(); }

   private:
    DbSpan(std::string_view sql, const std::string& endpoint, const std::string& operation)
        : span_(operation, telemetry::SpanKind::kClient) {
        if (!span_->recording()) return;
        span_->SetAttribute("db.system.name", "postgresql");
        span_->SetAttribute("db.operation.name", operation);
        // Statements carry no values (those are parameters), so the text is safe to export.
        span_->SetAttribute("db.query.text", sql.substr(0, 2048));
        const std::size_t colon = endpoint.rfind(':');
        span_->SetAttribute("server.address", endpoint.substr(0, colon));
        if (colon != std::string::npos)
            span_->SetAttribute("server.port", static_cast<std::int64_t>(std::atoi(endpoint.c_str() + colon + 1)));
    }

    telemetry::ScopedSpan span_;
};

}  // namespace

Status PgConn::Exec(const std::string& sql) {
    DbSpan span(sql, endpoint_);
    Status status = ExecImpl(sql);
    span.Finish(status);
    return status;
}

Result<PgResult> PgConn::Query(const std::string& sql, const PgParams& params) {
    DbSpan span(sql, endpoint_);
    Result<PgResult> result = QueryImpl(sql, params);
    span.Finish(result.status());
    if (result.ok()) span.span().SetAttribute("db.response.returned_rows", static_cast<std::int64_t>(result->rows()));
    return result;
}

Status PgConn::CopyIn(const std::string& sql, std::string_view data) {
    DbSpan span(sql, endpoint_);
    span.span().SetAttribute("signal_hub.db.copy_bytes", static_cast<std::int64_t>(data.size()));
    Status status = CopyInImpl(sql, data);
    span.Finish(status);
    return status;
}

// ---- PgPool -----------------------------------------------------------------

PgPool::PgPool(PgUrl url) : url_(std::move(url)) {}

PgPool::~PgPool() {
    std::lock_guard lock(mu_);
    idle_.clear();
}

PgPool::Lease& PgPool::Lease::operator=(Lease&& o) noexcept {
    if (this != &o) {
        Release();
        pool_ = std::exchange(o.pool_, nullptr);
        conn_ = std::move(o.conn_);
        fresh_ = o.fresh_;
    }
    return *this;
}

void PgPool::Lease::Release() {
    if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_));
    pool_ = nullptr;
    conn_.reset();
}

size_t PgPool::open_connections() const {
    std::lock_guard lock(mu_);
    return open_;
}

PoolStats PgPool::Stats() const {
    std::lock_guard lock(mu_);
    return PoolStats{.max_connections = url_.pool_size + url_.max_overflow,
                     .idle = idle_.size(),
                     .in_use = open_ - idle_.size(),
                     .waiting = waiting_,
                     .acquire_timeouts = acquire_timeouts_};
}

Result<PgPool::Lease> PgPool::Acquire() {
    const auto deadline = std::chrono::steady_clock::now() + url_.pool_timeout;
    std::unique_lock lock(mu_);
    while (true) {
        while (!idle_.empty()) {
            std::unique_ptr<PgConn> conn = std::move(idle_.back());
            idle_.pop_back();
            lock.unlock();
            if (conn->Healthy()) {
                conn->ResetOperation();
                return Lease(this, std::move(conn), false);
            }
            conn.reset();  // dead (e.g. the server restarted): discard, open another
            lock.lock();
            --open_;
        }
        if (open_ < url_.pool_size + url_.max_overflow) {
            ++open_;
            lock.unlock();
            auto conn = PgConn::Connect(url_);
            if (!conn.ok()) {
                lock.lock();
                --open_;
                cv_.notify_one();
                return conn.status();
            }
            return Lease(this, std::move(*conn), true);
        }
        ++waiting_;
        const std::cv_status waited = cv_.wait_until(lock, deadline);
        --waiting_;
        if (waited == std::cv_status::timeout && idle_.empty() && open_ >= url_.pool_size + url_.max_overflow) {
            ++acquire_timeouts_;
            return ResourceExhausted("no PostgreSQL connection became free within " +
                                     std::to_string(url_.pool_timeout.count()) + " ms (pool_size " +
                                     std::to_string(url_.pool_size) + " + max_overflow " +
                                     std::to_string(url_.max_overflow) + " all in use)");
        }
    }
}

void PgPool::Return(std::unique_ptr<PgConn> conn) {
    bool keep = !conn->broken() && conn->Healthy();
    std::unique_lock lock(mu_);
    if (keep && idle_.size() < url_.pool_size) {
        idle_.push_back(std::move(conn));
    } else {
        --open_;
        lock.unlock();
        conn.reset();
        lock.lock();
    }
    cv_.notify_one();
}

}  // namespace signalhub::db::pg

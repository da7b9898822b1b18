#pragma once
// The PostgreSQL client (a small libpq layer), used by the postgresql store and
// the database API key store: URL parsing, RAII connections and results,
// parameter lists (text or binary format, never values spliced into SQL),
// SQLSTATE -> ErrorCode mapping, a connection pool with the one retry rule its
// users share (PgPool::Run) and a rollback-unless-committed transaction (PgTxn).
//
// Nothing here keeps session state on the server: statements go through
// PQexecParams (the unnamed statement, replaced by the next one), settings are
// SET LOCAL inside a transaction, locks are transaction-scoped. A connection
// can therefore be any server backend behind PgBouncer in transaction mode.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/pool_stats.hpp"
#include "core/status.hpp"

struct pg_conn;
struct pg_result;

namespace signalhub::db::pg {

// A parsed store URL. Our own query parameters are removed before the rest
// goes to libpq (which rejects parameters it does not know):
//   schema=NAME         schema holding the store's tables (default "public"; created when missing)
//   pool_size=N         connections kept open (default 5)
//   max_overflow=N      extra connections opened under load and closed when released (default 10)
//   pool_timeout=SECS   how long Acquire waits for a free connection (default 30; decimals allowed)
//   hnsw_m=N            HNSW graph degree of new collections' indexes (2..100, pgvector's range)
//   hnsw_ef_construction=N  HNSW build breadth of new collections (4..1000, at least 2 * hnsw_m)
//   read_url=URL        a read replica (repeatable; the URL %-encoded): see pg_replicas.hpp
//   max_replica_lag=SECS    replay lag beyond which a replica is skipped (default 30; decimals allowed)
//   replica_check_interval=SECS  how often replicas are checked (default 5; decimals allowed)
// Everything else (sslmode, connect_timeout, application_name, ...) is libpq's.
struct PgUrl {
    std::vector<std::pair<std::string, std::string>> libpq_params;  // keyword/value pairs for PQconnectdbParams
    std::string schema = "public";
    size_t pool_size = 5;
    size_t max_overflow = 10;
    std::chrono::milliseconds pool_timeout{30000};
    std::optional<int> hnsw_m, hnsw_ef_construction;  // unset: PgVectorStoreOptions' values
    std::vector<std::string> read_urls;  // read replicas, as given (decoded)
    double max_replica_lag = 30;
    double replica_check_interval = 5;
    std::string endpoint;  // "host:port" (or the socket directory) for messages; never the password
    std::string database;  // for messages
};

// InvalidArgument for anything libpq or we cannot parse (the message never
// repeats the password).
Result<PgUrl> ParsePgUrl(const std::string& url);

// Double-quoted SQL identifier ("a""b").
std::string QuoteIdent(std::string_view name);

// Owns a PGresult.
class PgResult {
   public:
    PgResult() = default;
    explicit PgResult(pg_result* r) : r_(r) {}
    PgResult(PgResult&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    PgResult& operator=(PgResult&& o) noexcept;
    PgResult(const PgResult&) = delete;
    PgResult& operator=(const PgResult&) = delete;
    ~PgResult();

    int rows() const;
    bool IsNull(int row, int col) const;
    // Raw bytes of a value (binary results: the type's send format).
    std::string_view Bytes(int row, int col) const;
    std::string String(int row, int col) const { return std::string(Bytes(row, col)); }
    // Binary-format readers (network byte order).
    std::int64_t Int8(int row, int col) const;
    std::int32_t Int4(int row, int col) const;
    double Float8(int row, int col) const;
    // A text-format integer column (e.g. from a simple-query PQexec).
    std::int64_t TextInt(int row, int col) const;

   private:
    pg_result* r_ = nullptr;
};

// Parameters of one statement. Binary values must match the type the SQL
// casts the parameter to ($1::bytea, $2::vector, ...).
class PgParams {
   public:
    PgParams& Text(std::string_view v);
    PgParams& Binary(std::string_view v);
    PgParams& Bytea(std::string_view v) { return Binary(v); }
    PgParams& Null();
    PgParams& OptionalBytea(const std::optional<std::string>& v) { return v ? Bytea(*v) : Null(); }
    PgParams& Int8(std::int64_t v);  // binary int8
    PgParams& Int4(std::int32_t v);  // binary int4
    PgParams& Float8(double v);      // binary float8
    // pgvector's binary `vector` format (vector_recv): int16 dim, int16 0, float4 values; bit-exact.
    PgParams& Vector(std::span<const float> v);
    // One-dimensional bytea[] in binary array format.
    PgParams& ByteaArray(std::span<const std::string> values);
    size_t size() const { return values_.size(); }

   private:
    friend class PgConn;
    std::vector<std::string> values_;
    std::vector<bool> null_;
    std::vector<int> formats_;
};

// Decoders for binary result values.
Result<std::vector<float>> DecodeVector(std::string_view bytes);
Result<std::vector<std::string>> DecodeByteaArray(std::string_view bytes);

// One connection. Errors carry the server's message with the endpoint.
class PgConn {
   public:
    PgConn(pg_conn* conn, std::string endpoint) : conn_(conn), endpoint_(std::move(endpoint)) {}
    PgConn(const PgConn&) = delete;
    PgConn& operator=(const PgConn&) = delete;
    ~PgConn();

    // Opens a connection; Unavailable when the server cannot be reached
    // (message names host:port, never the password).
    static Result<std::unique_ptr<PgConn>> Connect(const PgUrl& url);

    // Each of Exec, Query and CopyIn is one traced round trip: under a current
    // span context (telemetry/trace.hpp) a client span named by the statement's
    // first word, with the statement's text (never parameter values).
    // Simple-query protocol (no parameters): BEGIN, SET LOCAL with constants, COMMIT.
    Status Exec(const std::string& sql);
    // Extended protocol, unnamed statement, binary results.
    Result<PgResult> Query(const std::string& sql, const PgParams& params = {});
    // COPY ... FROM STDIN: runs `sql` and sends `data` (already in the COPY format the
    // statement names, e.g. PGCOPY binary) as the copy stream.
    Status CopyIn(const std::string& sql, std::string_view data);

    // Good means usable: the socket is open and no transaction is left open.
    // Reads whatever the server sent while idle (e.g. a termination notice).
    bool Healthy();
    bool broken() const;
    // A transaction is open (or failed and not yet rolled back).
    bool InTransaction() const;
    // True once a COMMIT was sent in the current operation (whether it
    // arrived is unknown if the connection broke): such an operation must not
    // be retried.
    bool commit_sent() const { return commit_sent_; }
    void ResetOperation() { commit_sent_ = false; }
    const std::string& endpoint() const { return endpoint_; }

   private:
    // Exec, Query and CopyIn without their span (monitoring.tracing).
    Status ExecImpl(const std::string& sql);
    Result<PgResult> QueryImpl(const std::string& sql, const PgParams& params);
    Status CopyInImpl(const std::string& sql, std::string_view data);
    Status ErrorFrom(pg_result* r, std::string_view what);
    pg_conn* conn_;
    std::string endpoint_;
    bool commit_sent_ = false;
};

// A connection pool (SQLAlchemy's QueuePool semantics): at most pool_size idle
// connections are kept; under load up to max_overflow more are opened and
// closed again when released. Acquire waits up to pool_timeout for a
// connection (ResourceExhausted after that). A connection that is broken when
// released, or found dead when handed out, is discarded and replaced by a new
// one, so the pool recovers from a server restart. Thread-safe.
//
// Stats() (for metrics; cheap, never touches the server): max_connections is
// pool_size + max_overflow; idle counts the open connections waiting in the
// pool; in_use the leased ones plus those being opened or checked for a caller (so
// idle + in_use = open_connections()); waiting the callers blocked in Acquire
// because every connection is in use; acquire_timeouts the Acquire calls that
// returned ResourceExhausted since the pool was created (connection failures
// are not counted: they are Unavailable and reach the caller as such).
class PgPool {
   public:
    explicit PgPool(PgUrl url);
    ~PgPool();
    PgPool(const PgPool&) = delete;
    PgPool& operator=(const PgPool&) = delete;

    class Lease {
       public:
        Lease() = default;
        Lease(PgPool* pool, std::unique_ptr<PgConn> conn, bool fresh)
            : pool_(pool), conn_(std::move(conn)), fresh_(fresh) {}
        Lease(Lease&& o) noexcept = default;
        Lease& operator=(Lease&& o) noexcept;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { Release(); }
        PgConn& operator*() const { return *conn_; }
        PgConn* operator->() const { return conn_.get(); }
        // True when the connection was opened for this lease (not reused).
        bool fresh() const { return fresh_; }
        void Release();

       private:
        PgPool* pool_ = nullptr;
        std::unique_ptr<PgConn> conn_;
        bool fresh_ = false;
    };

    Result<Lease> Acquire();

    // Runs `fn(PgConn&)` (returning a Status or a Result) with a pooled connection; retries once
    // on a new connection when a reused one turned out to be broken before anything was
    // committed. The one rule for every user of the pool (the store, the API key store).
    template <typename F>
    auto Run(F&& fn) -> decltype(fn(std::declval<PgConn&>())) {
        for (int attempt = 0;; ++attempt) {
            auto lease = Acquire();
            if (!lease.ok()) return lease.status();
            auto result = fn(**lease);
            if (result.ok() || attempt > 0) return result;
            if (!(*lease)->broken() || lease->fresh() || (*lease)->commit_sent()) return result;
            retries_++;
        }
    }
    // Operations Run retried on a new connection since the pool was created.
    std::int64_t retries() const { return retries_.load(); }

    const PgUrl& url() const { return url_; }
    // Connections currently open (idle + leased), for tests.
    size_t open_connections() const;
    PoolStats Stats() const;

   private:
    void Return(std::unique_ptr<PgConn> conn);

    const PgUrl url_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<PgConn>> idle_;
    size_t open_ = 0;  // idle + leased + being opened
    size_t waiting_ = 0;  // callers blocked in Acquire
    std::uint64_t acquire_timeouts_ = 0;
    std::atomic<std::int64_t> retries_{0};
};

// A transaction on one connection that rolls back unless committed (nothing outlives it:
// PgBouncer-safe).
class PgTxn {
   public:
    explicit PgTxn(PgConn& conn) : conn_(conn) {}
    PgTxn(const PgTxn&) = delete;
    PgTxn& operator=(const PgTxn&) = delete;
    ~PgTxn() {
        if (active_ && !conn_.broken()) (void)conn_.Exec("ROLLBACK");
    }
    // `sql` may continue with SET LOCAL statements ("BEGIN; SET LOCAL ...": one round trip).
    Status Begin(const std::string& sql = "BEGIN") {
        Status s = conn_.Exec(sql);
        active_ = s.ok() || conn_.InTransaction();
        return s;
    }
    Status Commit() {
        active_ = false;
        return conn_.Exec("COMMIT");
    }

   private:
    PgConn& conn_;
    bool active_ = false;
};

}  // namespace signalhub::db::pg

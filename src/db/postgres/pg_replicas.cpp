#include "db/postgres/pg_replicas.hpp"

#include <algorithm>
#include <cmath>

namespace signalhub::db::pg {

namespace {

// See the header: caught up, the age of the last replayed commit (NULL when none was replayed since
// the server started) and the server's start time.
constexpr const char* kLagQuery =
    "SELECT COALESCE(NOT pg_is_in_recovery() OR (pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
    "AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver)), false)::int4, "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
    "extract(epoch FROM pg_postmaster_start_time())::float8";

}  // namespace

std::optional<double> EstimateLag(const LagReading& reading, LagMemory& memory,
                                  std::chrono::steady_clock::time_point now) {
    if (memory.started != reading.started) memory = LagMemory{.started = reading.started, .caught_up_at = {}};
    if (reading.caught_up) {
        memory.caught_up_at = now;
        return 0.0;
    }
    std::optional<double> lag;
    if (reading.replay_age) lag = std::max(0.0, *reading.replay_age);
    if (memory.caught_up_at) {
        const double since = std::chrono::duration<double>(now - *memory.caught_up_at).count();
        lag = lag ? std::min(*lag, since) : since;
    }
    return lag;
}

Result<std::unique_ptr<PgReplicaSet>> PgReplicaSet::Create(const PgUrl& primary, bool background) {
    std::vector<std::unique_ptr<Replica>> replicas;
    for (size_t i = 0; i < primary.read_urls.size(); ++i) {
        auto parsed = ParsePgUrl(primary.read_urls[i]);
        if (!parsed.ok()) {
            return InvalidArgument("read replica URL " + std::to_string(i + 1) + ": " + parsed.status().message());
        }
        if (!parsed->read_urls.empty()) {
            return InvalidArgument("read replica URL " + std::to_string(i + 1) + " has read_url parameters of its own");
        }
        parsed->schema = primary.schema;
        parsed->pool_size = primary.pool_size;
        parsed->max_overflow = primary.max_overflow;
        parsed->pool_timeout = primary.pool_timeout;
        auto r = std::make_unique<Replica>();
        r->name = parsed->endpoint;
        r->pool = std::make_unique<PgPool>(std::move(*parsed));
        replicas.push_back(std::move(r));
    }
    const auto interval =
        std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(primary.replica_check_interval * 1000)));
    return std::unique_ptr<PgReplicaSet>(new PgReplicaSet(std::move(replicas), primary.max_replica_lag, interval, background));
}

PgReplicaSet::PgReplicaSet(std::vector<std::unique_ptr<Replica>> replicas, double max_lag,
                           std::chrono::milliseconds interval, bool background)
    : replicas_(std::move(replicas)), max_lag_(max_lag), interval_(interval) {
    if (background && !replicas_.empty()) thread_ = std::thread([this] { Loop(); });
}

PgReplicaSet::~PgReplicaSet() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void PgReplicaSet::Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
        lock.unlock();
        CheckAll();
        lock.lock();
        cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
}

void PgReplicaSet::CheckAll() {
    for (auto& r : replicas_) Check(*r);
}

void PgReplicaSet::Check(Replica& r) {
    auto reading = r.pool->Run([](PgConn& c) -> Result<LagReading> {
        SH_ASSIGN_OR_RETURN(PgResult res, c.Query(kLagQuery));
        if (res.rows() != 1 || res.IsNull(0, 2)) return Internal("replica lag query returned no row");
        LagReading out;
        out.caught_up = res.Int4(0, 0) != 0;
        if (!res.IsNull(0, 1)) out.replay_age = res.Float8(0, 1);
        out.started = res.Float8(0, 2);
        return out;
    });
    std::optional<double> lag;
    {
        std::lock_guard<std::mutex> lock(r.mu);
        if (reading.ok()) {
            lag = EstimateLag(*reading, r.memory, std::chrono::steady_clock::now());
        } else {
            r.memory = LagMemory{};
        }
        r.lag = lag;
    }
    r.up.store(lag.has_value() && *lag <= max_lag_);
}

PgPool* PgReplicaSet::Pick() {
    const size_t n = replicas_.size();
    if (n == 0) return nullptr;
    const size_t start = next_.fetch_add(1);
    for (size_t i = 0; i < n; ++i) {
        Replica& r = *replicas_[(start + i) % n];
        if (r.up.load()) return r.pool.get();
    }
    return nullptr;
}

void PgReplicaSet::MarkDown(PgPool* pool) {
    for (auto& r : replicas_) {
        if (r->pool.get() == pool) r->up.store(false);
    }
}

std::vector<ReplicaStats> PgReplicaSet::Stats() const {
    std::vector<ReplicaStats> out;
    for (const auto& r : replicas_) {
        ReplicaStats s;
        s.replica = r->name;
        s.up = r->up.load();
        std::lock_guard<std::mutex> lock(r->mu);
        s.lag_seconds = r->lag;
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace signalhub::db::pg

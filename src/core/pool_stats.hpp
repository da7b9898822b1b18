#pragma once
// PoolStats: a snapshot of a database connection pool, for monitoring
// (signal_hub_db_pool_* in docs/production/monitoring/metrics.md). Plain data;
// the pool that fills it states how its numbers are counted (db/postgres/pg_client.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace signalhub {

struct PoolStats {
    std::size_t max_connections = 0;     // the most connections the pool opens (pool_size + max_overflow)
    std::size_t idle = 0;                // open and free in the pool
    std::size_t in_use = 0;              // leased, or being opened for a caller
    std::size_t waiting = 0;             // callers blocked waiting for a free connection
    std::uint64_t acquire_timeouts = 0;  // waits that ended without a connection (since the pool was created)
};

// Read routing to PostgreSQL read replicas (database.read_urls; signal_hub_db_replica_* and
// signal_hub_db_reads_total in metrics.md). The replica set that fills it (db/postgres/pg_replicas.hpp)
// states how up and lag are decided.
struct ReplicaStats {
    std::string replica;                // "host:port", never a password
    bool up = false;                    // reachable at the last check and within database.max_replica_lag
    std::optional<double> lag_seconds;  // replay lag at the last check; nullopt when unknown (unreachable)
};
struct ReadRoutingStats {
    std::vector<ReplicaStats> replicas;
    std::uint64_t primary_reads = 0;  // read operations answered by the primary (since the store was opened)
    std::uint64_t replica_reads = 0;  // read operations answered by a replica
};

}  // namespace signalhub

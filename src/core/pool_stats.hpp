#pragma once
// PoolStats: a snapshot of a database connection pool, for monitoring
// (signal_hub_db_pool_* in docs/production/monitoring/metrics.md). Plain data;
// the pool that fills it states how its numbers are counted (db/postgres/pg_client.hpp).

#include <cstddef>
#include <cstdint>

namespace signalhub {

struct PoolStats {
    std::size_t max_connections = 0;     // the most connections the pool opens (pool_size + max_overflow)
    std::size_t idle = 0;                // open and free in the pool
    std::size_t in_use = 0;              // leased, or being opened for a caller
    std::size_t waiting = 0;             // callers blocked waiting for a free connection
    std::uint64_t acquire_timeouts = 0;  // waits that ended without a connection (since the pool was created)
};

}  // namespace signalhub

#pragma once
// PgReplicaSet: read replicas (hot standbys) of a PostgreSQL primary, for read-only store
// operations (database.read_urls, docs/production/operations/scaling.md "Read replicas").
//
// A background thread checks every replica each check_interval (never on the request path) with
// one query on a pooled connection, and bounds how far behind the primary the replica can be
// (EstimateLag):
//   0                                          when the server is not in recovery (a promoted
//                                              standby, or a primary listed as a replica), or a WAL
//                                              receiver is running and everything received is
//                                              replayed (pg_last_wal_receive_lsn() =
//                                              pg_last_wal_replay_lsn()): "caught up", as current
//                                              as the stream it receives, however idle the primary;
//   otherwise the smaller of two upper bounds (WAL received but not replayed yet, or no WAL
//   receiver: the standby may be missing writes):
//     now() - pg_last_xact_replay_timestamp()  every commit before the last replayed one is there;
//     time since this checker last saw it caught up (same server start: a restart forgets it),
//                                              everything the primary had then is there.
//   Unknown when neither bound exists (no commit replayed since the server started and not seen
//   caught up since): not up.
// Both bounds over-estimate rather than under-estimate. The second keeps a replica of a primary
// that was idle for an hour from dropping out for a whole check interval when the next write
// arrives (the first bound alone would then say an hour). A replica is up when the check succeeded
// and lag <= max_lag. Pick() hands out the up replicas' pools in turn; MarkDown() takes one out
// until its next successful check (a read that found it unreachable). Thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/pool_stats.hpp"
#include "core/status.hpp"
#include "db/postgres/pg_client.hpp"

namespace signalhub::db::pg {

// One check's reading of a replica.
struct LagReading {
    bool caught_up = false;              // not in recovery, or replayed all it received with a receiver running
    std::optional<double> replay_age;    // now() - pg_last_xact_replay_timestamp(), seconds; none before a replay
    double started = 0;                  // pg_postmaster_start_time(), epoch seconds
};
// What the checker remembers of a replica between checks.
struct LagMemory {
    std::optional<double> started;
    std::optional<std::chrono::steady_clock::time_point> caught_up_at;
};
// The lag bound of the header comment for `reading` taken at `now`; updates `memory`. A failed
// check resets `memory` (the server may have restarted unseen).
std::optional<double> EstimateLag(const LagReading& reading, LagMemory& memory,
                                  std::chrono::steady_clock::time_point now);

class PgReplicaSet {
   public:
    // Parses each replica URL; the schema, pool_size, max_overflow and pool_timeout come from
    // `primary` (a replica serves the same store). InvalidArgument names the bad URL's position.
    // `background` false: no checking thread (tests call CheckAll themselves).
    static Result<std::unique_ptr<PgReplicaSet>> Create(const PgUrl& primary, bool background = true);
    ~PgReplicaSet();
    PgReplicaSet(const PgReplicaSet&) = delete;
    PgReplicaSet& operator=(const PgReplicaSet&) = delete;

    // An up replica's pool (round robin), or nullptr when none is up.
    PgPool* Pick();
    // A read on `pool` found the server unreachable: skip it until its next successful check.
    void MarkDown(PgPool* pool);
    // Checks every replica now (the thread does this each interval); for tests.
    void CheckAll();

    std::vector<ReplicaStats> Stats() const;

   private:
    struct Replica {
        std::string name;  // host:port
        std::unique_ptr<PgPool> pool;
        std::atomic<bool> up{false};
        mutable std::mutex mu;  // guards lag and memory
        std::optional<double> lag;
        LagMemory memory;
    };
    PgReplicaSet(std::vector<std::unique_ptr<Replica>> replicas, double max_lag, std::chrono::milliseconds interval,
                 bool background);
    void Check(Replica& r);
    void Loop();

    std::vector<std::unique_ptr<Replica>> replicas_;
    const double max_lag_;
    const std::chrono::milliseconds interval_;
    std::atomic<size_t> next_{0};
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace signalhub::db::pg

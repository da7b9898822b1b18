#pragma once
// The Redis backend of the query-result cache (QueryCache, search/cache.hpp):
// one cache shared by every `serve` replica that uses the same Redis and
// store, and the factory that picks memory or Redis from the configuration
// (performance.caching).
//
// Keys: key_prefix + namespace_id + ":" + the Searcher's key, e.g.
// "signal-hub:cache:3f2a...:search:42:<hash>"; values are stored as given
// (binary-safe). Each entry gets a TTL (SET ... PX), so entries of versions no
// replica asks for any more disappear by themselves; Clear() deletes the
// namespace's keys (SCAN MATCH + UNLINK) and nothing else.
//
// Memory: Redis bounds it. Operators set `maxmemory` and `maxmemory-policy
// volatile-lru` (every entry has a TTL) or `allkeys-lru` on a dedicated
// server. In addition, max_memory_bytes stops Puts while the server's
// used_memory (INFO memory, read at most once per kMemoryCheckInterval of the
// clock) is at or above it.
//
// Contract (QueryCache's): thread-safe; never fails the caller: a Redis that
// is down, slow (timeout_seconds) or erroring makes Get a miss and drops Put
// and Clear. Stats: hits and misses are counted by this process; evictions,
// entries and bytes are 0 (Redis evicts on its own; see INFO there).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/status.hpp"
#include "net/redis_client.hpp"
#include "search/cache.hpp"

namespace signalhub::search {

struct RedisCacheOptions {
    std::string redis_url;  // redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    redis::TlsOptions tls;  // rediss:// only: CA file, client certificate and key
    std::string namespace_id;                    // the store's identity; non-empty
    std::string key_prefix = "signal-hub:cache:";
    double ttl_seconds = 3600;                   // > 0 (rounded up to whole milliseconds)
    // < 0: no check; 0: nothing is stored; > 0: Puts are skipped while the
    // server's used_memory >= this.
    std::int64_t max_memory_bytes = -1;
    double timeout_seconds = 0.5;                // connect and per-command timeout
    int pool_size = 8;
    double reconnect_interval_seconds = 0.25;    // see redis::PoolOptions
};

class RedisQueryCache final : public QueryCache {
   public:
    static constexpr std::chrono::seconds kMemoryCheckInterval{1};

    // InvalidArgument naming what is wrong (the URL, never its password; the
    // namespace; the TTL). Redis need not be up. `clock` must outlive the cache.
    static Result<std::unique_ptr<RedisQueryCache>> Create(const RedisCacheOptions& options, const Clock& clock);
    ~RedisQueryCache() override;

    std::optional<std::string> Get(const std::string& key) override;
    void Put(const std::string& key, std::string value) override;
    void Clear() override;
    CacheStats Stats() const override;

    // The full Redis key of a cache key (for tests and operators).
    std::string RedisKey(std::string_view key) const;

   private:
    RedisQueryCache(const RedisCacheOptions& options, std::unique_ptr<redis::RedisPool> pool, const Clock& clock);
    bool OverMemoryBudget();

    const RedisCacheOptions options_;
    const std::string namespace_prefix_;  // key_prefix + namespace_id + ":"
    const std::string ttl_ms_;
    std::unique_ptr<redis::RedisPool> pool_;
    const Clock& clock_;
    std::atomic<std::int64_t> next_memory_check_ns_{std::numeric_limits<std::int64_t>::min()};
    std::atomic<bool> over_budget_{false};
    std::atomic<std::int64_t> hits_{0};
    std::atomic<std::int64_t> misses_{0};
};

// The query cache of performance.caching: nullptr when caching is disabled or
// max_memory is 0; an LruQueryCache(max_memory) for backend memory; a
// RedisQueryCache (namespace: a hash of `store_identity`, ttl, max_memory) for
// backend redis. Errors: InvalidArgument prefixed with the key
// ("performance.caching.redis_url: ..."). `clock` must outlive the cache.
Result<std::unique_ptr<QueryCache>> MakeQueryCache(const config::CachingConfig& config,
                                                   std::string_view store_identity, const Clock& clock);

}  // namespace signalhub::search

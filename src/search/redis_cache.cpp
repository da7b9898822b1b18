#include "search/redis_cache.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <utility>
#include <vector>

#include "core/hash.hpp"
#include "net/redis_client.hpp"

namespace signalhub::search {
namespace {

// SCAN MATCH treats * ? [ ] \ as glob syntax: escape them in the literal prefix.
std::string GlobEscape(std::string_view literal) {
    std::string out;
    for (char c : literal) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// "used_memory:123\r\n" in an INFO reply.
std::optional<std::int64_t> UsedMemory(std::string_view info) {
    constexpr std::string_view kField = "\nused_memory:";
    std::size_t at = info.rfind("used_memory:", 0) == 0 ? 0 : info.find(kField);
    if (at == std::string_view::npos) return std::nullopt;
    at = info.find(':', at) + 1;
    std::int64_t value = 0;
    bool any = false;
    while (at < info.size() && info[at] >= '0' && info[at] <= '9') {
        value = value * 10 + (info[at] - '0');
        ++at;
        any = true;
    }
    return any ? std::optional<std::int64_t>(value) : std::nullopt;
}

}  // namespace

Result<std::unique_ptr<RedisQueryCache>> RedisQueryCache::Create(const RedisCacheOptions& options, const Clock& clock) {
    SH_ASSIGN_OR_RETURN(redis::PoolOptions pool_options,
                        redis::MakePoolOptions(options.redis_url, options.tls, options.timeout_seconds,
                                               options.pool_size, std::max(0.0, options.reconnect_interval_seconds)));
    if (options.namespace_id.empty()) return InvalidArgument("the Redis cache needs a namespace (the store's identity)");
    if (!(options.ttl_seconds > 0) || !std::isfinite(options.ttl_seconds)) {
        return InvalidArgument("the Redis cache TTL must be a number of seconds greater than 0");
    }
    SH_ASSIGN_OR_RETURN(std::unique_ptr<redis::RedisPool> pool, redis::RedisPool::Create(std::move(pool_options)));
    try {
        return std::unique_ptr<RedisQueryCache>(new RedisQueryCache(options, std::move(pool), clock));
    } catch (const std::exception& e) {
        return Internal(std::string("cannot create the Redis cache: ") + e.what());
    }
}

RedisQueryCache::RedisQueryCache(const RedisCacheOptions& options, std::unique_ptr<redis::RedisPool> pool,
                                 const Clock& clock)
    : options_(options),
      namespace_prefix_(options.key_prefix + options.namespace_id + ":"),
      ttl_ms_(std::to_string(std::max<long long>(1, static_cast<long long>(std::ceil(options.ttl_seconds * 1000))))),
      pool_(std::move(pool)),
      clock_(clock) {}

RedisQueryCache::~RedisQueryCache() = default;

std::string RedisQueryCache::RedisKey(std::string_view key) const { return namespace_prefix_ + std::string(key); }

std::optional<std::string> RedisQueryCache::Get(const std::string& key) {
    try {
        Result<redis::Reply> reply = pool_->Command({"GET", RedisKey(key)});
        if (reply.ok() && reply->type == redis::Reply::Type::kString) {
            hits_.fetch_add(1, std::memory_order_relaxed);
            return std::move(reply->str);
        }
    } catch (const std::exception&) {  // out of memory: a miss
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
}

bool RedisQueryCache::OverMemoryBudget() {
    if (options_.max_memory_bytes < 0) return false;
    if (options_.max_memory_bytes == 0) return true;
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count();
    std::int64_t due = next_memory_check_ns_.load();
    if (now >= due) {
        const std::int64_t next = now + std::chrono::duration_cast<std::chrono::nanoseconds>(kMemoryCheckInterval).count();
        if (next_memory_check_ns_.compare_exchange_strong(due, next)) {
            // One caller refreshes; the others use the last answer meanwhile.
            Result<redis::Reply> info = pool_->Command({"INFO", "memory"});
            if (info.ok() && info->type == redis::Reply::Type::kString) {
                if (std::optional<std::int64_t> used = UsedMemory(info->str)) {
                    over_budget_.store(*used >= options_.max_memory_bytes);
                }
            }
        }
    }
    return over_budget_.load();
}

void RedisQueryCache::Put(const std::string& key, std::string value) {
    try {
        if (OverMemoryBudget()) return;
        (void)pool_->Command({"SET", RedisKey(key), value, "PX", ttl_ms_});
    } catch (const std::exception&) {  // out of memory: not cached
    }
}

void RedisQueryCache::Clear() {
    try {
        const std::string pattern = GlobEscape(namespace_prefix_) + "*";
        std::string cursor = "0";
        // Bounded: SCAN visits every key present for the whole scan at least once.
        for (int round = 0; round < 1'000'000; ++round) {
            Result<redis::Reply> reply = pool_->Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
            if (!reply.ok() || reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2) return;
            cursor = reply->elements[0].str;
            const std::vector<redis::Reply>& keys = reply->elements[1].elements;
            if (!keys.empty()) {
                std::vector<std::string_view> args = {"UNLINK"};
                for (const redis::Reply& k : keys) args.push_back(k.str);
                Result<redis::Reply> unlinked = pool_->Command(args);
                if (!unlinked.ok()) return;
            }
            if (cursor == "0") return;
        }
    } catch (const std::exception&) {  // out of memory: stop; the TTL removes the rest
    }
}

CacheStats RedisQueryCache::Stats() const {
    CacheStats s;
    s.hits = hits_.load(std::memory_order_relaxed);
    s.misses = misses_.load(std::memory_order_relaxed);
    return s;
}

Result<std::unique_ptr<QueryCache>> MakeQueryCache(const config::CachingConfig& config,
                                                   std::string_view store_identity, const Clock& clock) {
    if (!config.enabled || config.max_memory.bytes <= 0) return std::unique_ptr<QueryCache>();
    if (config.backend == "memory") {
        return std::unique_ptr<QueryCache>(
            std::make_unique<LruQueryCache>(static_cast<std::size_t>(config.max_memory.bytes)));
    }
    if (config.backend != "redis") {
        return InvalidArgument("performance.caching.backend: must be one of memory, redis, got '" +
                               config.backend.substr(0, 40) + "'");
    }
    RedisCacheOptions options;
    options.redis_url = config.redis_url;
    options.tls = {.ca_file = config.redis_tls_ca_file,
                   .cert_file = config.redis_tls_cert_file,
                   .key_file = config.redis_tls_key_file};
    options.namespace_id = Hash128Hex(store_identity).substr(0, 16);
    options.ttl_seconds = config.ttl;
    options.max_memory_bytes = config.max_memory.bytes;
    if (auto url = redis::ParseRedisUrl(config.redis_url); !url.ok()) {
        return url.status().WithContext("performance.caching.redis_url");
    }
    auto cache = RedisQueryCache::Create(options, clock);
    if (!cache.ok()) return cache.status().WithContext("performance.caching");
    return std::unique_ptr<QueryCache>(std::move(cache).value());
}

}  // namespace signalhub::search

#pragma once
// Query-result cache: the interface (a Redis backend can be added later), an
// in-memory LRU bounded by bytes, and the pieces the Searcher uses to cache
// SearchResponses (key derivation and a value encoding).
//
// Keys carry the store's DataVersion, so an entry can never answer for another
// version of the index and entries need no TTL; the Searcher also calls Clear()
// when it sees a new version, to free what can no longer be hit.

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/config.hpp"
#include "core/record.hpp"
#include "search/searcher.hpp"

namespace signalhub::search {

struct CacheStats {
    std::int64_t hits = 0;
    std::int64_t misses = 0;
    std::int64_t evictions = 0;  // entries dropped to stay within the budget (Clear() is not counted)
    std::int64_t entries = 0;
    std::int64_t bytes = 0;  // accounted size of the entries (the backend's own estimate)
};

// Contract:
//  - Keys and values are opaque byte strings; a value is returned exactly as
//    it was put. No TTL: keys are expected to embed whatever makes them stale.
//  - Thread-safe: every method may be called concurrently.
//  - Never fails the caller: Get/Put/Clear do not throw and report no errors; a
//    backend that cannot reach its server or runs out of memory treats Get as
//    a miss and drops the Put. A cache may drop any entry at any time.
//  - A backend shared by several stores (e.g. one Redis for many indexes)
//    namespaces keys per store itself; Clear() clears that namespace only.
class QueryCache {
   public:
    virtual ~QueryCache() = default;
    virtual std::optional<std::string> Get(const std::string& key) = 0;
    virtual void Put(const std::string& key, std::string value) = 0;
    virtual void Clear() = 0;
    virtual CacheStats Stats() const = 0;
};

// In-process LRU bounded by total bytes: each entry costs key + value +
// kEntryOverhead (bookkeeping estimate). Putting an entry evicts the least
// recently used ones (Get counts as use) until the total fits; an entry whose
// cost alone exceeds max_bytes is not stored (and removes an older value of
// the same key). max_bytes == 0 stores nothing. Thread-safe (one mutex).
class LruQueryCache final : public QueryCache {
   public:
    static constexpr std::size_t kEntryOverhead = 128;

    explicit LruQueryCache(std::size_t max_bytes);

    std::optional<std::string> Get(const std::string& key) override;
    void Put(const std::string& key, std::string value) override;
    void Clear() override;
    CacheStats Stats() const override;
    std::size_t max_bytes() const { return max_bytes_; }

   private:
    struct Entry {
        std::string key;
        std::string value;
    };
    using List = std::list<Entry>;
    static std::size_t Cost(const Entry& e) { return e.key.size() + e.value.size() + kEntryOverhead; }
    void EraseLocked(List::iterator it);

    const std::size_t max_bytes_;
    mutable std::mutex mu_;
    List lru_;  // front: most recently used
    // Keys view the strings inside lru_'s nodes (list nodes never move).
    std::unordered_map<std::string_view, List::iterator> index_;
    std::size_t bytes_ = 0;
    std::int64_t hits_ = 0;
    std::int64_t misses_ = 0;
    std::int64_t evictions_ = 0;
};

// The cache key of a search: the data version in clear (readable in a Redis
// listing) and an XXH3-128 hash over everything else that decides the
// response: the embedder's model, dimension and metric, every SearchRequest
// field, the SearchConfig fields the Searcher uses (rrf_k, ef_search), the
// value-format version and `scope`: what the searched store view may see (a
// key's collection allow-list, store/restricted_store.hpp), so a response
// computed for one view never answers another.
std::string SearchCacheKey(std::int64_t data_version, const CollectionSpec& embedder, const SearchRequest& request,
                           const config::SearchConfig& config, std::string_view scope = {});

// A compact versioned binary encoding of a SearchResponse (exact: scores keep
// every bit). Decode returns nullopt for anything it did not encode (another
// format version, truncated or foreign bytes), which the Searcher treats as a miss.
std::string EncodeSearchResponse(const SearchResponse& response);
std::optional<SearchResponse> DecodeSearchResponse(std::string_view bytes);

}  // namespace signalhub::search

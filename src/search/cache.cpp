#include "search/cache.hpp"

#include <bit>
#include <exception>

#include "core/hash.hpp"

namespace signalhub::search {

// ---- LruQueryCache ------------------------------------------------------------

LruQueryCache::LruQueryCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

void LruQueryCache::EraseLocked(List::iterator it) {
    bytes_ -= Cost(*it);
    index_.erase(std::string_view(it->key));
    lru_.erase(it);
}

std::optional<std::string> LruQueryCache::Get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(std::string_view(key));
    if (it == index_.end()) {
        ++misses_;
        return std::nullopt;
    }
    try {
        std::string value = it->second->value;
        lru_.splice(lru_.begin(), lru_, it->second);
        ++hits_;
        return value;
    } catch (const std::exception&) {  // out of memory copying the value: a miss
        ++misses_;
        return std::nullopt;
    }
}

void LruQueryCache::Put(const std::string& key, std::string value) {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(std::string_view(key)); it != index_.end()) EraseLocked(it->second);
    const std::size_t cost = key.size() + value.size() + kEntryOverhead;
    if (cost > max_bytes_) return;
    try {
        lru_.push_front(Entry{key, std::move(value)});
    } catch (const std::exception&) {
        return;  // out of memory: not cached
    }
    try {
        index_.emplace(std::string_view(lru_.front().key), lru_.begin());
    } catch (const std::exception&) {
        lru_.pop_front();
        return;
    }
    bytes_ += cost;
    while (bytes_ > max_bytes_) {
        EraseLocked(std::prev(lru_.end()));  // never the new entry: its cost alone fits
        ++evictions_;
    }
}

void LruQueryCache::Clear() {
    std::lock_guard lock(mu_);
    index_.clear();
    lru_.clear();
    bytes_ = 0;
}

CacheStats LruQueryCache::Stats() const {
    std::lock_guard lock(mu_);
    CacheStats s;
    s.hits = hits_;
    s.misses = misses_;
    s.evictions = evictions_;
    s.entries = static_cast<std::int64_t>(lru_.size());
    s.bytes = static_cast<std::int64_t>(bytes_);
    return s;
}

// ---- encoding ---------------------------------------------------------------------

namespace {

// Bumped whenever the value encoding changes; part of both the value and the key.
constexpr std::string_view kValueMagic = "SHSR1";
// Bumped whenever the same request over the same data may rank differently (a shared
// cache must not answer a new build with an older build's ranking); part of the key.
// 2: the exact-symbol rule (searcher.hpp). 3: English stop words left out of the lexical query (ADR-26).
constexpr std::int64_t kRankingRules = 3;

class ByteWriter {
   public:
    void U64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    void I64(std::int64_t v) { U64(static_cast<std::uint64_t>(v)); }
    void F64(double v) { U64(std::bit_cast<std::uint64_t>(v)); }
    void Str(std::string_view s) {
        U64(s.size());
        out_.append(s);
    }
    void Raw(std::string_view s) { out_.append(s); }
    std::string Take() { return std::move(out_); }

   private:
    std::string out_;
};

class ByteReader {
   public:
    explicit ByteReader(std::string_view in) : in_(in) {}
    bool U64(std::uint64_t& v) {
        if (in_.size() < 8) return false;
        v = 0;
        for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
        in_.remove_prefix(8);
        return true;
    }
    bool I64(std::int64_t& v) {
        std::uint64_t u = 0;
        if (!U64(u)) return false;
        v = static_cast<std::int64_t>(u);
        return true;
    }
    bool Int(int& v) {
        std::int64_t wide = 0;
        if (!I64(wide) || wide < INT32_MIN || wide > INT32_MAX) return false;
        v = static_cast<int>(wide);
        return true;
    }
    bool F64(double& v) {
        std::uint64_t u = 0;
        if (!U64(u)) return false;
        v = std::bit_cast<double>(u);
        return true;
    }
    bool Str(std::string& s) {
        std::uint64_t n = 0;
        if (!U64(n) || n > in_.size()) return false;
        s.assign(in_.substr(0, n));
        in_.remove_prefix(n);
        return true;
    }
    bool Literal(std::string_view expected) {
        if (in_.substr(0, expected.size()) != expected) return false;
        in_.remove_prefix(expected.size());
        return true;
    }
    bool AtEnd() const { return in_.empty(); }
    std::size_t remaining() const { return in_.size(); }

   private:
    std::string_view in_;
};

void OptionalStr(ByteWriter& w, const std::optional<std::string>& s) {
    w.U64(s ? 1 : 0);
    w.Str(s ? *s : std::string_view());
}

}  // namespace

std::string SearchCacheKey(std::int64_t data_version, const CollectionSpec& embedder, const SearchRequest& request,
                           const config::SearchConfig& config, std::string_view scope) {
    ByteWriter w;
    w.Str(kValueMagic);
    w.I64(kRankingRules);
    w.Str(embedder.model);
    w.I64(embedder.dimension);
    w.Str(DistanceMetricName(embedder.metric));
    w.Str(request.query);
    w.U64(request.k);
    w.Str(ModeName(request.mode));
    w.Str(request.collection);
    OptionalStr(w, request.filter.language);
    OptionalStr(w, request.filter.path_glob);
    OptionalStr(w, request.filter.symbol);
    w.F64(request.min_score);
    w.I64(request.keep_stop_words ? 1 : 0);
    w.I64(config.rrf_k);
    w.I64(config.ef_search);
    w.Str(scope);
    return "search:" + std::to_string(data_version) + ":" + Hash128Hex(w.Take());
}

std::string EncodeSearchResponse(const SearchResponse& response) {
    ByteWriter w;
    w.Raw(kValueMagic);
    w.Str(response.query);
    w.Str(ModeName(response.mode));
    w.U64(response.results.size());
    for (const auto& r : response.results) {
        w.Str(r.id);
        w.Str(r.collection);
        w.Str(r.file_path);
        w.I64(r.start_line);
        w.I64(r.end_line);
        w.Str(r.language);
        w.Str(r.symbol);
        w.Str(r.kind);
        w.F64(r.score);
        w.Str(r.text);
    }
    return w.Take();
}

std::optional<SearchResponse> DecodeSearchResponse(std::string_view bytes) {
    ByteReader r(bytes);
    SearchResponse out;
    std::string mode;
    std::uint64_t count = 0;
    if (!r.Literal(kValueMagic) || !r.Str(out.query) || !r.Str(mode) || !r.U64(count)) return std::nullopt;
    auto parsed = ParseMode(mode);
    if (!parsed.ok()) return std::nullopt;
    out.mode = *parsed;
    // Every result takes at least 10 fields of 8 bytes: bounds the reservation.
    if (count > r.remaining() / 80) return std::nullopt;
    out.results.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        SearchResult x;
        if (!r.Str(x.id) || !r.Str(x.collection) || !r.Str(x.file_path) || !r.Int(x.start_line) ||
            !r.Int(x.end_line) || !r.Str(x.language) || !r.Str(x.symbol) || !r.Str(x.kind) || !r.F64(x.score) ||
            !r.Str(x.text)) {
            return std::nullopt;
        }
        out.results.push_back(std::move(x));
    }
    if (!r.AtEnd()) return std::nullopt;
    return out;
}

}  // namespace signalhub::search

#include "search/searcher.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "search/cache.hpp"
#include "search/context.hpp"
#include "telemetry/trace.hpp"

namespace signalhub::search {

Result<Mode> ParseMode(std::string_view s) {
    if (s == "hybrid") return Mode::kHybrid;
    if (s == "vector") return Mode::kVector;
    if (s == "lexical") return Mode::kLexical;
    return InvalidArgument("unknown search mode '" + std::string(s) + "' (expected hybrid, vector or lexical)");
}

std::string_view ModeName(Mode m) {
    switch (m) {
        case Mode::kHybrid: return "hybrid";
        case Mode::kVector: return "vector";
        case Mode::kLexical: return "lexical";
    }
    return "hybrid";
}

std::vector<std::pair<std::string, double>> FuseRrf(const std::vector<std::vector<std::string>>& ranked_lists,
                                                    int rrf_k) {
    std::unordered_map<std::string, double> scores;
    std::vector<std::string> order;  // first-seen order for deterministic ties
    for (const auto& list : ranked_lists) {
        for (size_t rank = 0; rank < list.size(); ++rank) {
            auto [it, inserted] = scores.try_emplace(list[rank], 0.0);
            if (inserted) order.push_back(list[rank]);
            it->second += 1.0 / (rrf_k + static_cast<double>(rank) + 1.0);
        }
    }
    const double best = ranked_lists.empty() ? 1.0 : static_cast<double>(ranked_lists.size()) / (rrf_k + 1.0);
    std::vector<std::pair<std::string, double>> out;
    out.reserve(order.size());
    for (const auto& id : order) out.emplace_back(id, scores[id] / best);
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
}

bool Overlaps(const SearchResult& a, const SearchResult& b) {
    if (a.collection != b.collection || a.file_path != b.file_path) return false;
    int lo = std::max(a.start_line, b.start_line);
    int hi = std::min(a.end_line, b.end_line);
    if (hi < lo) return false;
    int shared = hi - lo + 1;
    int shorter = std::min(a.end_line - a.start_line + 1, b.end_line - b.start_line + 1);
    return shared * 2 > shorter;
}

namespace {

// Keeps the best-ranked of any group of overlapping chunks of one file, and
// the first of chunks with identical text (copies of a file in two places).
std::vector<SearchResult> Collapse(std::vector<SearchResult> ranked, size_t k,
                                   const std::unordered_map<std::string, std::string>& text_hash) {
    std::vector<SearchResult> kept;
    std::unordered_set<std::string> seen_hashes;
    for (auto& r : ranked) {
        if (kept.size() >= k) break;
        bool dup = std::any_of(kept.begin(), kept.end(), [&](const SearchResult& x) { return Overlaps(x, r); });
        if (dup) continue;
        auto h = text_hash.find(r.id);
        if (h != text_hash.end() && !h->second.empty() && !seen_hashes.insert(h->second).second) continue;
        kept.push_back(std::move(r));
    }
    return kept;
}

}  // namespace

namespace {
constexpr std::int64_t kNoVersion = std::numeric_limits<std::int64_t>::min();
}  // namespace

Searcher::Searcher(store::VectorStore& store, embed::Embedder& embedder, config::SearchConfig config,
                   QueryCache* cache)
    : store_(&store),
      embedder_(embedder),
      config_(std::move(config)),
      cache_(cache),
      cache_version_(std::make_shared<std::atomic<std::int64_t>>(kNoVersion)) {}

Searcher Searcher::WithStore(store::VectorStore& view, std::string cache_scope) const {
    Searcher copy = *this;
    copy.store_ = &view;
    copy.cache_scope_ = std::move(cache_scope);
    return copy;
}

Result<SearchResponse> Searcher::Search(const SearchRequest& request) const {
    // The embedding and store calls below are this span's children (monitoring.tracing).
    telemetry::ScopedSpan span("search");
    if (span->recording()) {
        span->SetAttribute("signal_hub.search.mode", ModeName(request.mode));
        span->SetAttribute("signal_hub.search.k", request.k);
        if (!request.collection.empty()) span->SetAttribute("signal_hub.collection", request.collection);
    }
    const auto start = std::chrono::steady_clock::now();
    Result<SearchResponse> response = SearchUntimed(request, span.span());
    if (on_duration_)
        on_duration_(request.mode, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    span->SetStatus(response.status());
    if (response.ok()) span->SetAttribute("signal_hub.search.results", response->results.size());
    return response;
}

Result<SearchResponse> Searcher::SearchUntimed(const SearchRequest& request, telemetry::Span& span) const {
    if (request.query.find_first_not_of(" \t\r\n") == std::string::npos)
        return InvalidArgument("the search query is empty");
    if (request.k < 1 || request.k > 1000) return InvalidArgument("k must be between 1 and 1000");
    if (cache_ == nullptr) return SearchUncached(request);

    auto version = store_->DataVersion();
    if (!version.ok()) return SearchUncached(request);
    // Any change of version (even backwards, e.g. a restored backup) frees
    // what the old version cached. Concurrent searches straddling a commit may
    // clear twice; that only costs misses.
    // The first version seen clears nothing: a shared (Redis) cache may hold
    // other replicas' entries for it, and a private one is still empty.
    std::int64_t seen = cache_version_->load();
    if (seen != *version && cache_version_->compare_exchange_strong(seen, *version) && seen != kNoVersion) {
        cache_->Clear();
    }

    const std::string key = SearchCacheKey(*version, embedder_.SpecFor(""), request, config_, cache_scope_);
    if (std::optional<std::string> hit = cache_->Get(key)) {
        if (std::optional<SearchResponse> decoded = DecodeSearchResponse(*hit)) {
            span.SetAttribute("signal_hub.search.cache_hit", true);
            return std::move(*decoded);
        }
    }
    span.SetAttribute("signal_hub.search.cache_hit", false);
    SH_ASSIGN_OR_RETURN(SearchResponse response, SearchUncached(request));
    // Not after a newer version was seen: that entry could never be hit again.
    if (cache_version_->load() == *version) cache_->Put(key, EncodeSearchResponse(response));
    return response;
}

Result<SearchResponse> Searcher::SearchUncached(const SearchRequest& request) const {
    std::vector<CollectionInfo> collections;
    if (!request.collection.empty()) {
        SH_ASSIGN_OR_RETURN(auto info, store_->GetCollection(request.collection));
        collections.push_back(std::move(info));
    } else {
        SH_ASSIGN_OR_RETURN(collections, store_->ListCollections());
        if (collections.empty()) return NotFound("the store has no collections yet; run `signal-hub index` first");
    }

    std::optional<std::vector<float>> query_vector;
    if (request.mode != Mode::kLexical) {
        for (const auto& c : collections) SH_RETURN_IF_ERROR(CheckCompatible(c.spec, embedder_.SpecFor(c.spec.name)));
        std::vector<std::string> texts{request.query};
        SH_ASSIGN_OR_RETURN(auto vectors, embedder_.Embed(texts, embed::Purpose::kQuery));
        query_vector = std::move(vectors.at(0));
    }

    SearchResponse response;
    response.query = request.query;
    response.mode = request.mode;
    for (const auto& c : collections) {
        SH_ASSIGN_OR_RETURN(auto results, SearchCollection(c, request, query_vector ? &*query_vector : nullptr));
        for (auto& r : results) response.results.push_back(std::move(r));
    }
    if (collections.size() > 1) {
        std::stable_sort(response.results.begin(), response.results.end(),
                         [](const SearchResult& a, const SearchResult& b) { return a.score > b.score; });
        if (response.results.size() > request.k) response.results.resize(request.k);
    }
    return response;
}

Result<std::vector<SearchResult>> Searcher::SearchCollection(const CollectionInfo& collection,
                                                             const SearchRequest& request,
                                                             const std::vector<float>* query_vector) const {
    const std::string& name = collection.spec.name;
    // Over-fetch so that collapsing overlaps and fusing still leaves k results.
    store::SearchOptions options;
    options.k = std::max<size_t>(request.k * 4, 40);
    options.filter = request.filter;
    options.ef_search = config_.ef_search;

    std::vector<store::Hit> vector_hits;
    std::vector<store::Hit> lexical_hits;
    if (request.mode != Mode::kLexical) {
        SH_ASSIGN_OR_RETURN(vector_hits, store_->VectorSearch(name, *query_vector, options));
    }
    if (request.mode != Mode::kVector) {
        SH_ASSIGN_OR_RETURN(lexical_hits, store_->LexicalSearch(name, request.query, options));
    }

    std::unordered_map<std::string, const Record*> by_id;
    std::unordered_map<std::string, std::string> text_hash;
    std::vector<SearchResult> ranked;
    auto index_hits = [&](const std::vector<store::Hit>& hits) {
        for (const auto& h : hits) {
            by_id.emplace(h.record.id, &h.record);
            text_hash.emplace(h.record.id, GetString(h.record.metadata, meta::kContentHash).value_or(""));
        }
    };
    index_hits(vector_hits);
    index_hits(lexical_hits);

    if (request.mode == Mode::kHybrid) {
        std::vector<std::vector<std::string>> lists(2);
        for (const auto& h : vector_hits) lists[0].push_back(h.record.id);
        for (const auto& h : lexical_hits) lists[1].push_back(h.record.id);
        for (const auto& [id, score] : FuseRrf(lists, config_.rrf_k)) {
            ranked.push_back(ResultFromRecord(name, *by_id.at(id), score));
        }
    } else {
        const auto& hits = request.mode == Mode::kVector ? vector_hits : lexical_hits;
        for (const auto& h : hits) ranked.push_back(ResultFromRecord(name, h.record, h.score));
    }
    std::erase_if(ranked, [&](const SearchResult& r) { return r.score < request.min_score; });
    return Collapse(std::move(ranked), request.k, text_hash);
}

}  // namespace signalhub::search

#pragma once
// Hybrid code search over one store: vector kNN + BM25 fused by reciprocal
// rank fusion, with filters and collapsing of overlapping / duplicate chunks.
//
// Exact symbols (docs/architecture.md, ADR "exact-symbol rule"): when the
// query is exactly one identifier, possibly qualified ("urlsplit",
// "Cart.add_item", "ns::Cart"; ExactSymbolQuery), the definitions whose
// symbol is that name (or ends with "." + it) come first in every mode, found
// by a store-side lookup (store::Filter::symbol) whatever their rank in the
// mode's own lists: full-name matches before qualified ones, then in the
// mode's order, at most one chunk per definition (its first), the request's
// filters applied. They carry the best score of the response (or their own,
// if higher), so scores still descend.
//
// Contract: a Searcher borrows the store, embedder and optional cache (they
// must outlive it) and is thread-safe when they are. Errors: InvalidArgument
// (empty query, k out of range, unknown mode), NotFound (named collection
// absent, or the store has no collection), FailedPrecondition (the collection
// was built with a different embedding model, dimension or metric), plus
// store/embedder errors. Errors are never cached.
//
// Caching (when a QueryCache is given): each Search reads store.DataVersion()
// first, then looks up SearchCacheKey(version, embedder spec, request, config)
// (search/cache.hpp); a hit returns the stored response, a miss searches and
// stores the response. A version read before the data guarantees the cached
// response reflects at least that version, so the cache never answers from an
// older index. When the version differs from the last one seen (not on the
// first search), the cache is cleared (entries of other versions can no
// longer be hit; a cache shared by replicas is cleared by each of them once
// per new version, which costs them some misses). If DataVersion
// fails, the search runs uncached. One cache per store: the Searcher clears it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "store/vector_store.hpp"

namespace signalhub::telemetry {
class Span;
}

namespace signalhub::search {

enum class Mode { kHybrid, kVector, kLexical };
Result<Mode> ParseMode(std::string_view s);
std::string_view ModeName(Mode m);

struct SearchRequest {
    std::string query{};
    size_t k = 10;
    Mode mode = Mode::kHybrid;
    std::string collection{};  // "" = every collection in the store
    store::Filter filter{};
    double min_score = 0;    // drop results scoring below this (after fusion)
    // Keep English stop words in the lexical query (store::SearchOptions); for benchmarks.
    bool keep_stop_words = false;
};

struct SearchResult {
    std::string id{};
    std::string collection{};
    std::string file_path{};
    int start_line = 0;
    int end_line = 0;
    std::string language{};
    std::string symbol{};
    std::string kind{};
    // Hybrid: RRF score normalised so the best possible (rank 1 in both lists)
    // is 1.0. Vector: cosine similarity. Lexical: BM25.
    double score = 0;
    std::string text{};
    // Internal to Searcher: false while `text` is still to be read (the hit came without its
    // document, store::SearchOptions::include_documents). Every returned result has it true.
    bool has_text = true;
};

struct SearchResponse {
    std::string query{};
    Mode mode = Mode::kHybrid;
    std::vector<SearchResult> results{};
};

class QueryCache;  // search/cache.hpp

class Searcher {
   public:
    // `cache`: optional query-result cache (nullptr: every search runs).
    Searcher(store::VectorStore& store, embed::Embedder& embedder, config::SearchConfig config,
             QueryCache* cache = nullptr);
    Result<SearchResponse> Search(const SearchRequest& request) const;

    // Told the duration of every Search (cache lookup and query embedding
    // included, failed searches too), for metrics. Set up before searching;
    // copies made by WithStore keep it. Called on the searching thread,
    // possibly concurrently: thread-safe, quick, no throwing.
    void SetDurationObserver(std::function<void(Mode mode, double seconds)> observer) {
        on_duration_ = std::move(observer);
    }

    // Runs a hybrid search's lexical half beside its vector half: `helper`
    // either takes the task and starts it on another thread at once (true) or
    // declines (false: the search runs both halves itself, one after the
    // other). A task taken but not yet started when the vector half is done is
    // run by the search itself (the helper's call then does nothing), so a
    // slow helper never delays a search. Set up before searching; copies made
    // by WithStore keep it. Thread-safe, must not block. ADR-34a.
    void SetHelper(std::function<bool(std::function<void()>)> helper) { helper_ = std::move(helper); }

    // The same searcher (embedder, config, cache) over another view of the
    // store, e.g. a store::RestrictedStore for an API key limited to some
    // collections. `cache_scope` must differ for views that see different
    // data (it becomes part of every cache key); the view must outlive the copy.
    Searcher WithStore(store::VectorStore& view, std::string cache_scope) const;

   private:
    Result<SearchResponse> SearchUntimed(const SearchRequest& request, telemetry::Span& span) const;
    Result<SearchResponse> SearchUncached(const SearchRequest& request) const;
    // The collection's best request.k results; *promoted (set) counts the leading ones that are
    // definitions of the query's exact symbol.
    Result<std::vector<SearchResult>> SearchCollection(const CollectionSpec& collection, const SearchRequest& request,
                                                       const std::vector<float>* query_vector,
                                                       size_t* promoted) const;
    // Definitions of `symbol` in the collection, in the order the exact-symbol rule puts them.
    Result<std::vector<SearchResult>> SymbolDefinitions(const std::string& collection, const SearchRequest& request,
                                                        const std::string& symbol,
                                                        const std::vector<SearchResult>& ranked) const;

    // Reads the documents of the results that lack theirs (one Get per collection) and refreshes
    // their fields from the record as read; results whose record is gone are dropped.
    Status FillTexts(std::vector<SearchResult>& results) const;

    store::VectorStore* store_;
    embed::Embedder& embedder_;
    config::SearchConfig config_;
    QueryCache* cache_;
    std::string cache_scope_;
    // The DataVersion last seen by Search (shared by copies: they share the cache).
    std::shared_ptr<std::atomic<std::int64_t>> cache_version_;
    std::function<void(Mode mode, double seconds)> on_duration_;
    std::function<bool(std::function<void()>)> helper_;
};

// Exposed for tests: fuses ranked lists of ids by RRF with constant k; returns
// (id, normalised score) best first.
std::vector<std::pair<std::string, double>> FuseRrf(const std::vector<std::vector<std::string>>& ranked_lists,
                                                    int rrf_k);

// The symbol a query names when it is exactly one identifier ([A-Za-z_$]
// then [A-Za-z0-9_$]*), possibly qualified with '.' or '::' (normalised to
// '.'), surrounding blanks ignored; nullopt for anything else (two words,
// punctuation, a number).
std::optional<std::string> ExactSymbolQuery(std::string_view query);

// Exposed for tests: true when b overlaps a by more than half of the shorter
// range in the same file.
bool Overlaps(const SearchResult& a, const SearchResult& b);

}  // namespace signalhub::search

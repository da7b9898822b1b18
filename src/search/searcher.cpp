#include "search/searcher.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>
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

std::optional<std::string> ExactSymbolQuery(std::string_view query) {
    const size_t begin = query.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) return std::nullopt;
    const size_t end = query.find_last_not_of(" \t\r\n") + 1;
    const std::string_view word = query.substr(begin, end - begin);
    std::string symbol;
    bool component_start = true;
    for (size_t i = 0; i < word.size(); ++i) {
        const char c = word[i];
        const bool separator = c == '.' || (c == ':' && i + 1 < word.size() && word[i + 1] == ':');
        if (separator) {
            if (component_start) return std::nullopt;  // empty component: ".x", "a..b", "a::"
            if (c == ':') ++i;
            symbol += '.';
            component_start = true;
            continue;
        }
        if (!IsIdentifierChar(c) || (component_start && c >= '0' && c <= '9')) return std::nullopt;
        symbol += c;
        component_start = false;
    }
    if (component_start) return std::nullopt;  // ends with a separator
    return symbol;
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
    // Specs only: a search needs no counts, and the spec lookups cost the same at any collection size.
    std::vector<CollectionSpec> collections;
    if (!request.collection.empty()) {
        SH_ASSIGN_OR_RETURN(auto spec, store_->GetCollectionSpec(request.collection));
        collections.push_back(std::move(spec));
    } else {
        SH_ASSIGN_OR_RETURN(collections, store_->ListCollectionSpecs());
        if (collections.empty()) return NotFound("the store has no collections yet; run `signal-hub index` first");
    }

    std::optional<std::vector<float>> query_vector;
    if (request.mode != Mode::kLexical) {
        for (const auto& c : collections) SH_RETURN_IF_ERROR(CheckCompatible(c, embedder_.SpecFor(c.name)));
        std::vector<std::string> texts{request.query};
        SH_ASSIGN_OR_RETURN(auto vectors, embedder_.Embed(texts, embed::Purpose::kQuery));
        query_vector = std::move(vectors.at(0));
    }

    SearchResponse response;
    response.query = request.query;
    response.mode = request.mode;
    std::vector<SearchResult> definitions;  // of the query's exact symbol, from every collection
    for (const auto& c : collections) {
        size_t promoted = 0;
        SH_ASSIGN_OR_RETURN(auto results,
                            SearchCollection(c, request, query_vector ? &*query_vector : nullptr, &promoted));
        for (size_t i = 0; i < results.size(); ++i) {
            (i < promoted ? definitions : response.results).push_back(std::move(results[i]));
        }
    }
    if (collections.size() > 1) {
        auto by_score = [](const SearchResult& a, const SearchResult& b) { return a.score > b.score; };
        std::stable_sort(response.results.begin(), response.results.end(), by_score);
        // Full-name matches first, as within a collection.
        const std::string symbol = definitions.empty() ? "" : *ExactSymbolQuery(request.query);
        std::stable_sort(definitions.begin(), definitions.end(), [&](const SearchResult& a, const SearchResult& b) {
            if ((a.symbol == symbol) != (b.symbol == symbol)) return a.symbol == symbol;
            return a.score > b.score;
        });
    }
    // Scores keep descending: a definition gets the best score of the response if its own is lower.
    for (const auto& r : response.results) {
        for (auto& d : definitions) d.score = std::max(d.score, r.score);
    }
    response.results.insert(response.results.begin(), std::make_move_iterator(definitions.begin()),
                            std::make_move_iterator(definitions.end()));
    if (response.results.size() > request.k) response.results.resize(request.k);
    SH_RETURN_IF_ERROR(FillTexts(response.results));
    return response;
}

Status Searcher::FillTexts(std::vector<SearchResult>& results) const {
    // Results whose hit came without its document (SearchOptions::include_documents), by collection.
    std::map<std::string, std::vector<std::string>> missing;
    for (const auto& r : results) {
        if (!r.has_text) missing[r.collection].push_back(r.id);
    }
    if (missing.empty()) return Status::Ok();
    std::unordered_map<std::string, Record> records;  // key: collection + '\0' + id
    for (const auto& [collection, ids] : missing) {
        SH_ASSIGN_OR_RETURN(std::vector<Record> got, store_->Get(collection, ids));
        for (auto& record : got) {
            std::string key = collection + '\0' + record.id;
            records.emplace(std::move(key), std::move(record));
        }
    }
    // The record as read now (text, lines and path agree); one deleted since the search drops out.
    std::erase_if(results, [&](SearchResult& r) {
        if (r.has_text) return false;
        auto it = records.find(r.collection + '\0' + r.id);
        if (it == records.end()) return true;
        SearchResult fresh = ResultFromRecord(r.collection, it->second, r.score);
        fresh.has_text = true;
        r = std::move(fresh);
        return false;
    });
    return Status::Ok();
}

Result<std::vector<SearchResult>> Searcher::SymbolDefinitions(const std::string& collection,
                                                              const SearchRequest& request, const std::string& symbol,
                                                              const std::vector<SearchResult>& ranked) const {
    // Every record whose symbol matches holds the name's tokens (LexicalSearch indexes the
    // "symbol" metadata), so a lexical search for the name restricted to the symbol finds them all.
    store::SearchOptions lookup;
    lookup.k = std::max<size_t>(request.k * 4, 40);
    lookup.filter = request.filter;
    lookup.filter.symbol = symbol;
    lookup.include_documents = false;  // the survivors' texts are read at the end (FillTexts)
    SH_ASSIGN_OR_RETURN(std::vector<store::Hit> hits, store_->LexicalSearch(collection, LastComponent(symbol), lookup));

    // One chunk per definition: the first part of a unit split into several.
    std::map<std::tuple<std::string, std::string, std::string>, SearchResult> first_parts;
    std::unordered_map<std::string, size_t> lexical_rank;
    for (size_t i = 0; i < hits.size(); ++i) {
        SearchResult r = ResultFromRecord(collection, hits[i].record, hits[i].score);
        if (!IsDefinitionKind(r.kind) || !SymbolMatches(r.symbol, symbol)) continue;
        lexical_rank.emplace(r.id, i);
        auto key = std::make_tuple(r.file_path, r.symbol, r.kind);
        auto it = first_parts.find(key);
        if (it == first_parts.end()) {
            first_parts.emplace(std::move(key), std::move(r));
        } else if (r.start_line < it->second.start_line) {
            it->second = std::move(r);
        }
    }
    std::unordered_map<std::string, const SearchResult*> in_ranking;
    double best = -std::numeric_limits<double>::infinity();
    for (const auto& r : ranked) {
        in_ranking.emplace(r.id, &r);
        best = std::max(best, r.score);
    }
    std::vector<SearchResult> out;
    for (auto& [key, r] : first_parts) {
        auto own = in_ranking.find(r.id);
        if (own != in_ranking.end()) r.score = own->second->score;  // the mode's own score
        if (!ranked.empty()) r.score = std::max(r.score, best);
        out.push_back(std::move(r));
    }
    // Full-name matches first; then the mode's order (ranked ones by rank), then lexical order.
    std::unordered_map<std::string, size_t> position;
    for (size_t i = 0; i < ranked.size(); ++i) position.emplace(ranked[i].id, i);
    auto order = [&](const SearchResult& r) {
        auto p = position.find(r.id);
        return std::make_tuple(r.symbol == symbol ? 0 : 1, p == position.end() ? ranked.size() : p->second,
                               lexical_rank.at(r.id));
    };
    std::sort(out.begin(), out.end(),
              [&](const SearchResult& a, const SearchResult& b) { return order(a) < order(b); });
    return out;
}

Result<std::vector<SearchResult>> Searcher::SearchCollection(const CollectionSpec& collection,
                                                             const SearchRequest& request,
                                                             const std::vector<float>* query_vector,
                                                             size_t* promoted) const {
    *promoted = 0;
    const std::string& name = collection.name;
    // Over-fetch so that collapsing overlaps and fusing still leaves k results.
    store::SearchOptions options;
    options.k = std::max<size_t>(request.k * 4, 40);
    options.filter = request.filter;
    options.ef_search = config_.ef_search;
    options.keep_stop_words = request.keep_stop_words;
    // Fusion and collapsing need ids and metadata only: the documents of the k survivors are
    // read afterwards, in one Get per collection (FillTexts; ADR-31).
    options.include_documents = false;

    std::vector<store::Hit> vector_hits;
    std::vector<store::Hit> lexical_hits;
    // Hybrid with a helper: the lexical half may run on the helper's thread meanwhile (ADR-34a).
    // state: 0 = not started, 1 = taken (by the helper or by us), 2 = the helper finished it.
    struct LexicalHalf {
        std::atomic<int> state{0};
        std::mutex mu;
        std::condition_variable done;
        std::optional<Result<std::vector<store::Hit>>> result;
    };
    std::shared_ptr<LexicalHalf> half;
    if (request.mode == Mode::kHybrid && helper_) {
        half = std::make_shared<LexicalHalf>();
        // The task touches the store only if it wins the state (we then wait for it below).
        const bool taken = helper_([half, store = store_, name, query = request.query, options] {
            int expected = 0;
            if (!half->state.compare_exchange_strong(expected, 1)) return;
            Result<std::vector<store::Hit>> r = Internal("the lexical search did not complete");
            try {  // the searching thread waits for state 2: nothing may skip it
                r = store->LexicalSearch(name, query, options);
            } catch (const std::exception& e) {
                r = Internal(std::string("lexical search: ") + e.what());
            }
            std::lock_guard<std::mutex> lock(half->mu);
            half->result.emplace(std::move(r));
            half->state.store(2);
            half->done.notify_one();
        });
        if (!taken) half.reset();
    }
    if (request.mode != Mode::kLexical) {
        auto vector = store_->VectorSearch(name, *query_vector, options);
        if (half) {  // whatever the vector half's outcome, the helper's task must not outlive this call
            int expected = 0;
            if (!half->state.compare_exchange_strong(expected, 1)) {
                std::unique_lock<std::mutex> lock(half->mu);
                half->done.wait(lock, [&] { return half->state.load() == 2; });
                if (vector.ok()) {
                    SH_ASSIGN_OR_RETURN(lexical_hits, std::move(*half->result));
                }
            } else {
                half.reset();  // not started: ours to run, below
            }
        }
        SH_ASSIGN_OR_RETURN(vector_hits, std::move(vector));
    }
    if (request.mode != Mode::kVector && !half) {
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
    std::unordered_set<std::string> definition_ids;
    if (std::optional<std::string> symbol = ExactSymbolQuery(request.query)) {
        SH_ASSIGN_OR_RETURN(std::vector<SearchResult> definitions, SymbolDefinitions(name, request, *symbol, ranked));
        for (const auto& d : definitions) definition_ids.insert(d.id);
        std::erase_if(ranked, [&](const SearchResult& r) { return definition_ids.count(r.id) > 0; });
        ranked.insert(ranked.begin(), std::make_move_iterator(definitions.begin()),
                      std::make_move_iterator(definitions.end()));
    }
    std::erase_if(ranked, [&](const SearchResult& r) { return r.score < request.min_score; });
    std::vector<SearchResult> kept = Collapse(std::move(ranked), request.k, text_hash);
    while (*promoted < kept.size() && definition_ids.count(kept[*promoted].id) > 0) ++*promoted;
    return kept;
}

}  // namespace signalhub::search

#include "store/memory_store.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "store/store_util.hpp"

namespace signalhub::store {

MemoryStore::MemoryStore(Clock& clock) : clock_(clock) {}

Result<const MemoryStore::Collection*> MemoryStore::Find(std::string_view name) const {
    auto it = collections_.find(name);
    if (it == collections_.end()) return NotFound("collection '" + std::string(name) + "' does not exist");
    return &it->second;
}

CollectionInfo MemoryStore::Info(const Collection& c) {
    CollectionInfo info;
    info.spec = c.spec;
    info.records = static_cast<std::int64_t>(c.records.size());
    std::int64_t bytes = 0;
    for (const auto& [id, entry] : c.records) {
        const Record& r = entry.record;
        bytes += static_cast<std::int64_t>(r.id.size() + (r.document ? r.document->size() : 0) +
                                           r.embedding.size() * sizeof(float));
        for (const auto& [key, value] : r.metadata) {
            bytes += static_cast<std::int64_t>(key.size());
            bytes += std::holds_alternative<std::string>(value)
                         ? static_cast<std::int64_t>(std::get<std::string>(value).size())
                         : 8;
        }
    }
    info.bytes = bytes;
    info.last_indexed_unix = c.last_indexed;
    info.files = static_cast<std::int64_t>(c.files.size());
    info.properties = c.properties;
    return info;
}

Result<CollectionInfo> MemoryStore::EnsureCollection(const CollectionSpec& spec) {
    SH_RETURN_IF_ERROR(ValidateSpec(spec));
    std::unique_lock lock(mu_);
    auto it = collections_.find(spec.name);
    if (it != collections_.end()) {
        SH_RETURN_IF_ERROR(CheckCompatible(it->second.spec, spec));
        return Info(it->second);
    }
    Collection c;
    c.spec = spec;
    auto [pos, inserted] = collections_.emplace(spec.name, std::move(c));
    data_version_.fetch_add(1);
    return Info(pos->second);
}

Result<CollectionInfo> MemoryStore::GetCollection(std::string_view name) {
    std::shared_lock lock(mu_);
    SH_ASSIGN_OR_RETURN(const Collection* c, Find(name));
    return Info(*c);
}

Result<std::vector<CollectionInfo>> MemoryStore::ListCollections() {
    std::shared_lock lock(mu_);
    std::vector<CollectionInfo> out;
    for (const auto& [name, c] : collections_) out.push_back(Info(c));
    return out;
}

Status MemoryStore::DropCollection(std::string_view name) {
    std::unique_lock lock(mu_);
    auto it = collections_.find(name);
    if (it == collections_.end()) return NotFound("collection '" + std::string(name) + "' does not exist");
    collections_.erase(it);
    data_version_.fetch_add(1);
    return Status::Ok();
}

Status MemoryStore::Commit(std::string_view collection, const ChangeSet& changes) {
    std::unique_lock lock(mu_);
    auto it = collections_.find(collection);
    if (it == collections_.end()) return NotFound("collection '" + std::string(collection) + "' does not exist");
    Collection& c = it->second;
    SH_RETURN_IF_ERROR(ValidateChangeSet(collection, c.spec.dimension, changes));
    // Validated: nothing below can fail, so the change set applies whole.
    auto erase = [&c](std::string_view id) {
        auto rec = c.records.find(id);
        if (rec == c.records.end()) return;
        c.total_tokens -= rec->second.length;
        c.records.erase(rec);
    };
    for (const auto& id : changes.delete_ids) erase(id);
    for (const auto& record : changes.upserts) {
        erase(record.id);
        Entry entry;
        entry.record = record;
        auto tokens = LexicalTokens(record);
        entry.length = static_cast<int>(tokens.size());
        for (auto& t : tokens) ++entry.term_counts[std::move(t)];
        c.total_tokens += entry.length;
        c.records.insert_or_assign(record.id, std::move(entry));
    }
    for (const auto& path : changes.delete_files) c.files.erase(path);
    for (const auto& file : changes.put_files) c.files.insert_or_assign(file.path, file);
    if (changes.touch_last_indexed) c.last_indexed = clock_.UnixSeconds();
    for (const auto& [key, value] : changes.set_properties) {
        if (value) c.properties.insert_or_assign(key, *value);
        else c.properties.erase(key);
    }
    if (!changes.empty()) data_version_.fetch_add(1);
    return Status::Ok();
}

Status MemoryStore::CheckHealth() { return Status::Ok(); }

Result<std::int64_t> MemoryStore::DataVersion() { return data_version_.load(); }

Result<std::vector<FileState>> MemoryStore::ListFiles(std::string_view collection) {
    std::shared_lock lock(mu_);
    SH_ASSIGN_OR_RETURN(const Collection* c, Find(collection));
    std::vector<FileState> out;
    out.reserve(c->files.size());
    for (const auto& [path, file] : c->files) out.push_back(file);
    return out;
}

Result<std::vector<Record>> MemoryStore::Get(std::string_view collection, std::span<const std::string> ids) {
    std::shared_lock lock(mu_);
    SH_ASSIGN_OR_RETURN(const Collection* c, Find(collection));
    std::vector<Record> out;
    for (const auto& id : ids) {
        auto it = c->records.find(id);
        if (it != c->records.end()) out.push_back(it->second.record);
    }
    return out;
}

Result<ScanPage> MemoryStore::Scan(std::string_view collection, std::string_view after_id, size_t limit) {
    if (limit == 0) return InvalidArgument("scan limit must be positive");
    std::shared_lock lock(mu_);
    SH_ASSIGN_OR_RETURN(const Collection* c, Find(collection));
    ScanPage page;
    auto it = after_id.empty() ? c->records.begin() : c->records.upper_bound(after_id);
    for (; it != c->records.end() && page.records.size() < limit; ++it) page.records.push_back(it->second.record);
    if (it != c->records.end() && !page.records.empty()) page.next_after = page.records.back().id;
    return page;
}

namespace {

void SortAndTrim(std::vector<Hit>& hits, size_t k) {
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
        if (a.score != b.score) return a.score > b.score;
        return a.record.id < b.record.id;
    });
    if (hits.size() > k) hits.resize(k);
}

}  // namespace

Result<std::vector<Hit>> MemoryStore::VectorSearch(std::string_view collection, std::span<const float> query,
                                                   const SearchOptions& options) {
    SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
    std::shared_lock lock(mu_);
    SH_ASSIGN_OR_RETURN(const Collection* c, Find(collection));
    SH_RETURN_IF_ERROR(ValidateQuery(collection, c->spec.dimension, query));
    const DistanceMetric metric = c->spec.metric;
    std::vector<float> q = PrepareVector(metric, query);
    std::vector<Hit> hits;
    for (const auto& [id, entry] : c->records) {
        if (!options.filter.Matches(entry.record.metadata)) continue;
        std::vector<float> v = PrepareVector(metric, entry.record.embedding);
        Hit hit;
        hit.score = Similarity(metric, q, v);
        hit.record = entry.record;
        if (!options.include_embeddings) hit.record.embedding.clear();
        hits.push_back(std::move(hit));
    }
    SortAndTrim(hits, options.k);
    return hits;
}

Result<std::vector<Hit>> MemoryStore::LexicalSearch(std::string_view collection, std::string_view query,
                                                    const SearchOptions& options) {
    SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
    std::shared_lock lock(mu_);
    SH_ASSIGN_OR_RETURN(const Collection* c, Find(collection));
    std::vector<std::string> terms = LexicalQueryTerms(query, options.keep_stop_words);
    std::vector<Hit> hits;
    if (terms.empty() || c->records.empty()) return hits;
    // FTS5 bm25(): idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6.
    const double n_rows = static_cast<double>(c->records.size());
    const double avgdl = static_cast<double>(c->total_tokens) / n_rows;
    std::vector<double> idf;
    idf.reserve(terms.size());
    for (const auto& term : terms) {
        double n_hit = 0;
        for (const auto& [id, entry] : c->records) n_hit += entry.term_counts.contains(term) ? 1 : 0;
        double value = std::log((n_rows - n_hit + 0.5) / (n_hit + 0.5));
        idf.push_back(value <= 0 ? 1e-6 : value);
    }
    for (const auto& [id, entry] : c->records) {
        double score = 0;
        bool any = false;
        for (size_t i = 0; i < terms.size(); ++i) {
            auto tc = entry.term_counts.find(terms[i]);
            if (tc == entry.term_counts.end()) continue;
            any = true;
            double tf = tc->second;
            score += idf[i] * (tf * (kBm25K1 + 1)) / (tf + kBm25K1 * (1 - kBm25B + kBm25B * entry.length / avgdl));
        }
        if (!any || !options.filter.Matches(entry.record.metadata)) continue;
        Hit hit;
        hit.score = score;
        hit.record = entry.record;
        if (!options.include_embeddings) hit.record.embedding.clear();
        hits.push_back(std::move(hit));
    }
    SortAndTrim(hits, options.k);
    return hits;
}

}  // namespace signalhub::store

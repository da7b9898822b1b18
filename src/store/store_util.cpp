#include "store/store_util.hpp"

#include <cmath>
#include <unordered_set>

#include "core/text.hpp"

namespace signalhub::store {

Status ValidateSpec(const CollectionSpec& spec) {
    if (spec.name.empty()) return InvalidArgument("collection name must not be empty");
    if (spec.dimension < 1 || spec.dimension > kMaxDimension) {
        return InvalidArgument("collection '" + spec.name + "' has invalid dimension " +
                               std::to_string(spec.dimension) + " (expected 1.." + std::to_string(kMaxDimension) +
                               ")");
    }
    return Status::Ok();
}

Status ValidateFilter(const Filter& filter) {
    if (filter.language && filter.language->empty()) return InvalidArgument("filter language must not be empty");
    if (filter.path_glob && filter.path_glob->empty()) return InvalidArgument("filter path glob must not be empty");
    if (filter.symbol && filter.symbol->empty()) return InvalidArgument("filter symbol must not be empty");
    return Status::Ok();
}

namespace {

bool AllFinite(std::span<const float> v) {
    for (float x : v) {
        if (!std::isfinite(x)) return false;
    }
    return true;
}

}  // namespace

Status ValidateChangeSet(std::string_view collection, int dimension, const ChangeSet& changes) {
    for (const auto& id : changes.delete_ids) {
        if (id.empty()) return InvalidArgument("delete of an empty record id");
    }
    for (const auto& record : changes.upserts) {
        if (record.id.empty()) return InvalidArgument("record with an empty id");
        if (record.embedding.size() != static_cast<size_t>(dimension)) {
            return InvalidArgument("record '" + record.id + "' has embedding dimension " +
                                   std::to_string(record.embedding.size()) + " but collection '" +
                                   std::string(collection) + "' has dimension " + std::to_string(dimension));
        }
        if (!AllFinite(record.embedding)) {
            return InvalidArgument("record '" + record.id + "' has a non-finite embedding component");
        }
    }
    for (const auto& path : changes.delete_files) {
        if (path.empty()) return InvalidArgument("file-state delete with an empty path");
    }
    for (const auto& file : changes.put_files) {
        if (file.path.empty()) return InvalidArgument("file state with an empty path");
    }
    for (const auto& [key, value] : changes.set_properties) {
        if (key.empty()) return InvalidArgument("collection property with an empty key");
    }
    return Status::Ok();
}

Status ValidateQuery(std::string_view collection, int dimension, std::span<const float> query) {
    if (query.size() != static_cast<size_t>(dimension)) {
        return InvalidArgument("query vector has dimension " + std::to_string(query.size()) + " but collection '" +
                               std::string(collection) + "' has dimension " + std::to_string(dimension));
    }
    if (!AllFinite(query)) return InvalidArgument("query vector has a non-finite component");
    return Status::Ok();
}

std::vector<std::string> LexicalTokens(const Record& record) {
    std::string text;
    if (record.document) text = *record.document;
    if (auto symbol = GetString(record.metadata, meta::kSymbol)) {
        text += '\n';
        text += *symbol;
    }
    if (auto path = GetString(record.metadata, meta::kFilePath)) {
        text += '\n';
        text += *path;
    }
    return CodeTokens(text);
}

bool IsStopWord(std::string_view term) {
    // Lucene's English stop set (EnglishAnalyzer), which is small enough to be
    // rarely meaningful in a code search.
    static const std::unordered_set<std::string_view> kStopWords = {
        "a",     "an",   "and",  "are",  "as",    "at",   "be",    "but",  "by",   "for",  "if",
        "in",    "into", "is",   "it",   "no",    "not",  "of",    "on",   "or",   "such", "that",
        "the",   "their", "then", "there", "these", "they", "this", "to",  "was",  "will", "with"};
    return kStopWords.contains(term);
}

std::vector<std::string> LexicalQueryTerms(std::string_view query, bool keep_stop_words) {
    std::vector<std::string> all;
    std::vector<std::string> kept;
    std::unordered_set<std::string> seen;
    for (auto& token : CodeTokens(query)) {
        if (!seen.insert(token).second) continue;
        if (!IsStopWord(token)) kept.push_back(token);
        all.push_back(std::move(token));
    }
    return keep_stop_words || kept.empty() ? all : kept;
}

std::vector<float> PrepareVector(DistanceMetric metric, std::span<const float> v) {
    std::vector<float> out(v.begin(), v.end());
    if (metric != DistanceMetric::kCosine) return out;
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    norm = std::sqrt(norm);
    if (norm > 0) {
        for (float& x : out) x = static_cast<float>(x / norm);
    }
    return out;
}

double Similarity(DistanceMetric metric, std::span<const float> a, std::span<const float> b) {
    double acc = 0;
    if (metric == DistanceMetric::kL2) {
        for (size_t i = 0; i < a.size(); ++i) {
            double d = static_cast<double>(a[i]) - b[i];
            acc += d * d;
        }
        return -std::sqrt(acc);
    }
    for (size_t i = 0; i < a.size(); ++i) acc += static_cast<double>(a[i]) * b[i];
    return acc;
}

}  // namespace signalhub::store

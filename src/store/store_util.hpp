#pragma once
// Helpers shared by the VectorStore backends so that every backend validates,
// tokenises and scores the same way. Internal to the store module.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.hpp"
#include "core/status.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store {

inline constexpr int kMaxDimension = 65536;
// FTS5's bm25() defaults; the memory store uses the same formula.
inline constexpr double kBm25K1 = 1.2;
inline constexpr double kBm25B = 0.75;

// InvalidArgument unless the name is non-empty and 1 <= dimension <= kMaxDimension.
Status ValidateSpec(const CollectionSpec& spec);
// InvalidArgument for empty filter fields.
Status ValidateFilter(const Filter& filter);
// InvalidArgument for an empty record id, an embedding whose dimension differs
// from the collection's (naming the record id and both dimensions), or a
// non-finite embedding component.
Status ValidateChangeSet(std::string_view collection, int dimension, const ChangeSet& changes);
// InvalidArgument when the query vector's dimension differs or is not finite.
Status ValidateQuery(std::string_view collection, int dimension, std::span<const float> query);

// The lexical tokens of a record: CodeTokens(document, symbol, file_path).
std::vector<std::string> LexicalTokens(const Record& record);
// Distinct CodeTokens of a query, in first-occurrence order, without English
// stop words ("the", "of", "is", ...; IsStopWord) unless keep_stop_words is set or
// every term is one (then all are kept: "to be or not to be" still finds
// something). Stop words match about half of all records and carry almost no
// BM25 weight, yet every matching row is scored: dropping them is most of the
// cost of a lexical search (docs/performance.md, ADR-26).
std::vector<std::string> LexicalQueryTerms(std::string_view query, bool keep_stop_words = false);
// True for a lower-case English stop word of the lexical query.
bool IsStopWord(std::string_view term);

// The vector as the index stores it: unit-normalised for cosine (a zero
// vector stays zero), unchanged otherwise.
std::vector<float> PrepareVector(DistanceMetric metric, std::span<const float> v);
// Similarity of two prepared vectors, higher is better: cosine similarity for
// cosine, inner product for ip, negative Euclidean distance for l2.
double Similarity(DistanceMetric metric, std::span<const float> a, std::span<const float> b);

}  // namespace signalhub::store

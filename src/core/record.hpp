#pragma once
// The data model every store carries without loss (see docs/architecture.md):
// a collection holds records; a record is id, optional document, typed scalar
// metadata and a float32 embedding of the collection's fixed dimension.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.hpp"

namespace signalhub {

// Scalar metadata value; the alternative's type is part of the data (an int 1
// and a float 1.0 are different values and must stay different).
using MetadataValue = std::variant<std::string, std::int64_t, double, bool>;
using Metadata = std::map<std::string, MetadataValue, std::less<>>;

struct Record {
    std::string id;
    std::optional<std::string> document;
    Metadata metadata;
    std::vector<float> embedding;
};

enum class DistanceMetric { kCosine, kL2, kInnerProduct };
std::string_view DistanceMetricName(DistanceMetric m);  // "cosine", "l2", "ip"
Result<DistanceMetric> ParseDistanceMetric(std::string_view s);

// What must match between a collection and the embedder that reads or writes it.
struct CollectionSpec {
    std::string name;
    std::string model;  // embedding model name, e.g. "builtin-hash-v1"
    int dimension = 0;
    DistanceMetric metric = DistanceMetric::kCosine;
};

// Returns FailedPrecondition naming every mismatching field, OK if equal.
Status CheckCompatible(const CollectionSpec& collection, const CollectionSpec& wanted);

struct CollectionInfo {
    CollectionSpec spec;
    std::int64_t records = 0;
    std::int64_t bytes = 0;                        // best estimate of size on disk
    std::optional<std::int64_t> last_indexed_unix;  // seconds since epoch
    std::int64_t files = 0;                        // file states (FileState) stored for the collection
    // Free-form string properties set through ChangeSet::set_properties (well-known
    // keys in collection_property below); every backend stores them losslessly.
    std::map<std::string, std::string, std::less<>> properties{};
};

// Well-known collection properties (CollectionInfo::properties).
namespace collection_property {
// Absolute path of the tree the collection indexes (written by every index run).
inline constexpr std::string_view kRoot = "root";
// Unix seconds when an index run started; present only while a run is unfinished,
// so a collection still carrying it after the run ended was interrupted.
inline constexpr std::string_view kIndexStarted = "index_started";
// Unix seconds when `migrate import` wrote the collection.
inline constexpr std::string_view kImportedAt = "imported_at";
// The git commit (full object name) HEAD named when the last finished index run started, and
// whether the tree had uncommitted changes then ("true"/"false"); absent when the root is not
// in a git work tree (or git is not installed).
inline constexpr std::string_view kGitCommit = "git_commit";
inline constexpr std::string_view kGitDirty = "git_dirty";
// What re-embedding every record would send to the embedder: the bytes of the records'
// embedding texts and their count (kept up to date in every index commit; a count that does
// not match the collection's records makes the next run recount).
inline constexpr std::string_view kEmbedTextBytes = "embed_text_bytes";
inline constexpr std::string_view kEmbedTextChunks = "embed_text_chunks";
// A collection that came from ChromaDB: its own Chroma collection metadata (the user's keys, JSON
// object text) and configuration (Chroma's configuration_json, JSON object text), carried through
// the export format so a rollback into Chroma recreates the collection as it was (ADR-25).
inline constexpr std::string_view kChromaMetadata = "chroma.metadata";
inline constexpr std::string_view kChromaConfiguration = "chroma.configuration";
}  // namespace collection_property

// How a collection's properties read (status, collections list, MCP index_status):
// The tree root recorded by the last index run; "" for collections written by older builds or only imported.
std::string CollectionRoot(const CollectionInfo& c);
// When `migrate import` wrote the collection (Unix seconds), if it did.
std::optional<std::int64_t> ImportedAtUnix(const CollectionInfo& c);
// An index run started and did not finish (interrupted, or running now).
bool IndexIncomplete(const CollectionInfo& c);
// "2026-01-02T03:04:05Z", "imported 2026-01-02T03:04:05Z" (migrate import wrote it after the last index
// run, or no run has) or "never".
std::string LastWrittenText(const CollectionInfo& c);

// Well-known metadata keys written by the indexer.
namespace meta {
inline constexpr std::string_view kFilePath = "file_path";
inline constexpr std::string_view kLanguage = "language";
inline constexpr std::string_view kStartLine = "start_line";
inline constexpr std::string_view kEndLine = "end_line";
inline constexpr std::string_view kSymbol = "symbol";
inline constexpr std::string_view kKind = "kind";
inline constexpr std::string_view kParent = "parent";
inline constexpr std::string_view kContentHash = "content_hash";
}  // namespace meta

// Typed accessors; return nullopt when absent or of another type.
std::optional<std::string> GetString(const Metadata& m, std::string_view key);
std::optional<std::int64_t> GetInt(const Metadata& m, std::string_view key);

}  // namespace signalhub

#pragma once
// HnswIndex: one collection's approximate nearest-neighbour index (hnswlib
// 0.6.2, M=16, ef_construction=200). Labels are the records' SQLite row ids.
// Cosine uses the inner-product space over unit-normalised vectors, ip the raw
// inner product, l2 the squared-L2 space. Not internally synchronised: callers
// hold an exclusive lock for Upsert/Remove and a shared lock for the rest.
// hnswlib's exceptions are converted to Status here.
//
// Graph file (format 2, ADR-35): the graph only (labels, levels, links) and the vectors of
// elements marked deleted; the live elements' vectors are the records' embeddings, which the
// store reads from SQLite at load (Load's `read_vectors`). Native byte order (little-endian on
// every supported platform), like hnswlib's own format:
//   "SHHNSWG\n"  u32 format (2)  u32 dimension  u32 M  u32 ef_construction
//   u64 elements  i32 max level  u32 entry point  u64 deleted elements
//   per element: u64 label, i32 level
//   per element: its level-0 link list (hnswlib's block: u32 count and flags, then 2M u32 ids)
//   per element with level > 0: its upper link lists (level blocks of u32 count, then M u32 ids)
//   per deleted element, in element order: its (prepared) vector, dimension float32
//   u64 XXH3-64 of every byte before it
// Format 1 is hnswlib 0.6.2's saveIndex (vectors included), written before issue 16: it still
// loads; Save always writes format 2.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/record.hpp"
#include "core/status.hpp"

namespace signalhub::store {

// Graph parameters of every collection's index (bench/raw_hnswlib_bench uses
// the same ones for its side-by-side peer).
inline constexpr size_t kHnswM = 16;
inline constexpr size_t kHnswEfConstruction = 200;

class HnswIndex {
   public:
    struct FileInfo {
        std::int64_t bytes = 0;
        std::uint64_t xxh3 = 0;  // XXH3-64 of the file
    };
    struct Scored {
        double score = 0;  // higher is better (see VectorStore Hit::score)
        std::int64_t label = 0;
    };

    ~HnswIndex();
    HnswIndex(const HnswIndex&) = delete;
    HnswIndex& operator=(const HnswIndex&) = delete;

    // An index over `vectors` (raw, not normalised) with the given labels,
    // built on several threads when large.
    static Result<std::unique_ptr<HnswIndex>> Build(int dimension, DistanceMetric metric,
                                                    const std::vector<std::int64_t>& labels,
                                                    const std::vector<float>& vectors);
    // Receives one record's raw (not normalised) vector.
    using VectorSink = std::function<void(std::int64_t label, std::span<const float> vector)>;
    // Calls the sink once per record it has (a read of the records' embeddings).
    using VectorReader = std::function<Status(const VectorSink&)>;

    // Loads a file written by Save after checking its size and checksum (DataLoss when they
    // differ, the file is unreadable or its structure is inconsistent). A graph-only file calls
    // `read_vectors` once for the live elements' vectors: labels the graph lacks are ignored, a
    // live element that gets no vector (its record is gone) is marked deleted. A format-1 file
    // holds its vectors and does not call it.
    static Result<std::unique_ptr<HnswIndex>> Load(const std::string& path, int dimension, DistanceMetric metric,
                                                   const FileInfo& expected, const VectorReader& read_vectors);
    // Writes the index atomically: temp file, fsync, rename, fsync of the directory.
    Result<FileInfo> Save(const std::string& path) const;
    // Size and XXH3-64 of a saved file (what Save returned for it), e.g. to check a copy.
    static Result<FileInfo> Checksum(const std::string& path);

    // Inserts or replaces `label` (raw vector); no-op when the stored vector is identical, unless
    // `relink`: after loading a graph-only file the stored vector is today's, while the element's
    // links may have been made for the vector it had when the file was saved.
    Status Upsert(std::int64_t label, std::span<const float> vector, bool relink = false);
    // Marks `label` deleted (no-op when absent or already deleted).
    void Remove(std::int64_t label);

    // Up to k best labels for a prepared query (see PrepareVector), best first.
    Result<std::vector<Scored>> Search(std::span<const float> prepared_query, size_t k, size_t ef) const;
    // The exact k best labels (every live element scored), best first; ties by label, ascending.
    std::vector<Scored> ExactSearch(std::span<const float> prepared_query, size_t k) const;
    // Exact score of one label; false when absent or deleted.
    bool Score(std::span<const float> prepared_query, std::int64_t label, double& score) const;

    size_t live() const;     // elements not marked deleted
    size_t deleted() const;  // elements marked deleted
    size_t elements() const;
    // The file format Load read (1: hnswlib's, 2: graph only); 0 for a built index.
    int loaded_format() const;

    class Impl;

   private:
    explicit HnswIndex(std::unique_ptr<Impl> impl);
    static Result<std::unique_ptr<HnswIndex>> LoadLegacy(const std::string& path, int dimension,
                                                         DistanceMetric metric, const FileInfo& expected);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::store

#pragma once
// HnswIndex: one collection's approximate nearest-neighbour index (hnswlib
// 0.6.2, M=16, ef_construction=200). Labels are the records' SQLite row ids.
// Cosine uses the inner-product space over unit-normalised vectors, ip the raw
// inner product, l2 the squared-L2 space. Not internally synchronised: callers
// hold an exclusive lock for Upsert/Remove and a shared lock for the rest.
// hnswlib's exceptions are converted to Status here.

#include <cstdint>
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
    // Loads a file written by Save after checking its size and checksum
    // (DataLoss when they differ or the file is unreadable).
    static Result<std::unique_ptr<HnswIndex>> Load(const std::string& path, int dimension, DistanceMetric metric,
                                                   const FileInfo& expected);
    // Writes the index atomically: temp file, fsync, rename, fsync of the directory.
    Result<FileInfo> Save(const std::string& path) const;
    // Size and XXH3-64 of a saved file (what Save returned for it), e.g. to check a copy.
    static Result<FileInfo> Checksum(const std::string& path);

    // Inserts or replaces `label` (raw vector); no-op when the stored vector is identical.
    Status Upsert(std::int64_t label, std::span<const float> vector);
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

    class Impl;

   private:
    explicit HnswIndex(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::store

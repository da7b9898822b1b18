#pragma once
// VectorStore: the storage interface every backend implements (embedded
// SQLite + HNSW now; PostgreSQL + pgvector and ChromaDB later).
//
// Contract:
//  - Thread safety: one VectorStore may be used from several threads; writes
//    (Commit, CreateCollection, DropCollection) are serialised internally.
//  - Atomicity: Commit() applies a whole ChangeSet or nothing. A crash
//    (kill -9) at any moment leaves the last committed state readable.
//  - Ownership: returned records and hits are copies owned by the caller.
//  - Collection info: records, files (number of stored FileStates),
//    last_indexed and the string properties of ChangeSet::set_properties
//    (e.g. the indexed tree's root) are kept by every backend and dropped with
//    the collection.
//  - Errors: NotFound (no such collection), FailedPrecondition (spec
//    mismatch, store locked by another writer, store opened read-only),
//    InvalidArgument (wrong embedding dimension, bad filter), Unavailable (the
//    backend cannot be reached), DataLoss (corruption detected), Internal.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/pool_stats.hpp"
#include "core/record.hpp"
#include "core/status.hpp"

namespace signalhub::store {

// Per-file indexing state, used for incremental indexing.
struct FileState {
    std::string path{};        // repo-relative, '/' separated
    std::string content_hash{};  // Hash128Hex of the file bytes
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::vector<std::string> record_ids{};  // records produced from this file
};

// A unit of atomic change (like LevelDB's WriteBatch). Applied in order:
// record deletes, record upserts, file-state deletes, file-state puts.
struct ChangeSet {
    std::vector<std::string> delete_ids{};
    std::vector<Record> upserts{};  // insert or replace by id
    std::vector<std::string> delete_files{};
    std::vector<FileState> put_files{};
    bool touch_last_indexed = false;  // set the collection's last_indexed to now
    // Collection properties to set (a value) or remove (nullopt), applied last.
    // Keys are non-empty; values any string.
    std::map<std::string, std::optional<std::string>, std::less<>> set_properties{};
    bool empty() const {
        return delete_ids.empty() && upserts.empty() && delete_files.empty() && put_files.empty() &&
               !touch_last_indexed && set_properties.empty();
    }
};

// Result filter. All set fields must match.
struct Filter {
    std::optional<std::string> language{};   // metadata "language" equals
    std::optional<std::string> path_glob{};  // metadata "file_path" matches (glob: *, **, ?, [..])
    // Metadata "symbol" is this name, or ends with "." + it: "add_item" matches "add_item" and
    // "Cart.add_item", not "add_items"; "Cart.add_item" matches "shop.Cart.add_item". An
    // exact-symbol lookup (search::Searcher puts the definition of a query that is a symbol first).
    std::optional<std::string> symbol{};
    bool empty() const { return !language && !path_glob && !symbol; }
    bool Matches(const Metadata& metadata) const;
};

struct SearchOptions {
    size_t k = 10;
    Filter filter{};
    int ef_search = 0;  // 0: backend default
    // Force an exact (brute-force) scan instead of the approximate index, e.g.
    // to measure recall. Backends without an approximate index are always exact.
    bool exact = false;
    // When false, hits carry no embedding (cheaper).
    bool include_embeddings = false;
    // When false, a backend may leave the hits' documents unset (nullopt) to save reading them
    // (id, metadata and score are always there); callers that need the text of some hits read
    // them afterwards with Get. A hint: backends that return the document anyway (memory,
    // ChromaDB) stay correct, so a caller must treat a set document as the record's. The
    // embedded store and PostgreSQL skip the column (search::Searcher over-fetches 4k candidates
    // per side and reads documents only for the k it returns; ADR-31).
    bool include_documents = true;
    // Lexical search: keep English stop words in the query (LexicalQueryTerms).
    // Off by default; bench/retrieval_bench and query_bench set it to measure
    // the query as it was before stop words were dropped.
    bool keep_stop_words = false;
};

struct Hit {
    Record record;
    // Higher is better. Vector search: similarity (cosine similarity =
    // 1 - cosine distance for cosine, the inner product for ip, the negative
    // Euclidean distance for l2). Lexical search: BM25 (positive, unbounded).
    double score = 0;
};

struct ScanPage {
    std::vector<Record> records;
    std::optional<std::string> next_after;  // pass as `after_id` for the next page; nullopt at the end
};

class VectorStore {
   public:
    virtual ~VectorStore() = default;

    // Creates the collection, or returns the existing one if its spec matches
    // (FailedPrecondition naming the differences otherwise).
    virtual Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) = 0;
    // Info with exact counts (records, files) and a size estimate: may cost a scan of the
    // collection (the embedded store counts its rows), so the search path uses the spec
    // lookups below instead.
    virtual Result<CollectionInfo> GetCollection(std::string_view name) = 0;
    virtual Result<std::vector<CollectionInfo>> ListCollections() = 0;
    // Only the spec (name, model, dimension, metric) of one collection / of every collection
    // (in ListCollections' order): what a search needs, at a cost that does not grow with the collection
    // (the embedded store reads one row per collection; it runs on every search). Errors as
    // GetCollection / ListCollections (NotFound for a missing collection). The defaults derive
    // them from GetCollection / ListCollections, so backends whose info is already cheap
    // (ChromaDB, memory) and wrappers that restrict those stay correct.
    virtual Result<CollectionSpec> GetCollectionSpec(std::string_view name) {
        SH_ASSIGN_OR_RETURN(CollectionInfo info, GetCollection(name));
        return std::move(info.spec);
    }
    virtual Result<std::vector<CollectionSpec>> ListCollectionSpecs() {
        SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, ListCollections());
        std::vector<CollectionSpec> specs;
        specs.reserve(infos.size());
        for (auto& info : infos) specs.push_back(std::move(info.spec));
        return specs;
    }
    virtual Status DropCollection(std::string_view name) = 0;

    virtual Status Commit(std::string_view collection, const ChangeSet& changes) = 0;

    virtual Result<std::vector<FileState>> ListFiles(std::string_view collection) = 0;
    // Records by id; missing ids are absent from the result.
    virtual Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) = 0;
    // Records ordered by id (bytewise), starting after `after_id` ("" = from
    // the start); at most `limit` (> 0, InvalidArgument otherwise) per page.
    virtual Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) = 0;

    // k nearest records to `query` (dimension must match), best first. With a
    // filter, returns the k best *matching* records (no silent loss).
    virtual Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                                  const SearchOptions& options) = 0;
    // BM25 over the records' documents (code-aware tokens, see core/text.hpp),
    // best first; any word of `query` may match. The indexed text is the
    // document plus the "symbol" and "file_path" metadata. Any query text is
    // safe (no query syntax reaches the backend); a query without words
    // returns no hits.
    virtual Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                                   const SearchOptions& options) = 0;

    // Readiness: OK when the backend is reachable, its schema is current and it
    // can serve reads. Otherwise Unavailable (cannot reach it, or its files are
    // gone or were replaced since the open), FailedPrecondition (schema older or
    // newer than this build's), DataLoss (corruption detected), each with a
    // message an operator can act on. Cheap (no scans): a readiness probe calls
    // it every few seconds. Reflects the current state each call: a store whose
    // files come back is healthy again without reopening.
    virtual Status CheckHealth() = 0;

    // A store-wide number that increases whenever committed data changes: a
    // Commit of a non-empty ChangeSet, EnsureCollection creating a collection,
    // DropCollection. Failed writes, empty commits and reads leave it unchanged.
    // Every open of the same store sees the new value once the change is
    // committed, read-only opens in other processes included, and never a new
    // version together with older data: read it *before* reading data and a
    // result computed afterwards reflects at least that version. Used as a
    // cache key. Errors as for reads (Unavailable, DataLoss, Internal).
    virtual Result<std::int64_t> DataVersion() = 0;

    // Persists derived state (e.g. the embedded store's HNSW files) now, so the
    // next open need not replay or rebuild. Committed data never depends on it.
    // No-op for backends without derived state and for read-only stores.
    virtual Status Flush() { return Status::Ok(); }

    // The backend's connection pool, for metrics: nullopt for backends without
    // one (embedded, memory, ChromaDB); PostgreSQL reports its PgPool
    // (db/postgres/pg_client.hpp says how each number is counted). Cheap, no
    // I/O, thread-safe: the metrics endpoint calls it on every scrape.
    virtual std::optional<PoolStats> pool_stats() const { return std::nullopt; }
    // Read replicas, for stores that route reads to them (PostgreSQL with database.read_urls);
    // nullopt otherwise.
    virtual std::optional<ReadRoutingStats> read_routing() const { return std::nullopt; }
};

struct OpenOptions {
    bool read_only = false;  // readers never take the writer lock
    // Who opens the store as its writer, e.g. "signal-hub serve --watch": the embedded store writes it
    // into its lock file, for the message another writer gets. "" = this process's command line.
    std::string holder{};
    // A read-only open may send reads to the read replicas its URL names (PostgreSQL read_url
    // parameters; `serve` sets this). Off: everything goes to the primary, no replica checks run.
    bool read_replicas = false;
};

// Opens a store by URL: a filesystem path or "sqlite://PATH" for the embedded
// store, "memory://" for the in-memory store used in tests ("memory://NAME":
// one store per NAME shared within the process), "postgresql://..." or
// "postgres://..." for PostgreSQL + pgvector, "chroma+http://..." or
// "chroma+https://..." for a ChromaDB server (store/chroma/chroma_store.hpp).
// Unknown scheme:
// InvalidArgument listing the supported ones. Other backends register through
// store/registry.hpp. Embedded: NotFound when a read-only open finds no index,
// FailedPrecondition when another writer holds the lock or the schema is newer.
Result<std::unique_ptr<VectorStore>> OpenStore(const std::string& url, const OpenOptions& options);

// Glob match for paths: '*' any run without '/', '**' any run including '/',
// '?' one non-'/' character, '[abc]' / '[!abc]' / '[a-z]' classes. A pattern
// without '/' matches the basename anywhere ("*.py"); "**/" also matches zero
// directories ("src/**/*.py" matches "src/a.py"); a leading "/" or "./" is
// ignored (patterns with '/' are anchored at the root); a trailing '/' means
// everything below ("src/" == "src/**").
bool GlobMatch(std::string_view pattern, std::string_view path);

}  // namespace signalhub::store

#pragma once
// ChromaStore: a VectorStore on a running ChromaDB 1.0 server, over its HTTP
// API v2 (/api/v2/...). What existing Chroma users have; Chroma keeps the
// records and their HNSW index, Signal Hub adds what Chroma lacks (file states,
// a data version, BM25) on top, as Chroma data of its own.
//
// URL: chroma+http://HOST:PORT[/PATH][?PARAMS] or chroma+https://... (PATH: a
// reverse proxy's prefix in front of /api/v2). PARAMS (unknown ones are
// InvalidArgument):
//   tenant=NAME        Chroma tenant (default default_tenant; must exist)
//   database=NAME      Chroma database (default default_database; created when missing)
//   prefix=TEXT        prepended to every Chroma collection name this store uses
//                      (default none). Chroma names need 3-512 characters from
//                      [a-zA-Z0-9._-], starting and ending alphanumeric; a
//                      Signal Hub collection whose Chroma name breaks that rule
//                      is refused by the server (InvalidArgument).
//   bookkeeping=on|off on (default): the data mapping below. off: a store Signal Hub does
//                      not own (a rollback into the user's Chroma, ADR-25): no ".sh-files"
//                      nor "signal-hub-meta" collection, no signal_hub:* key in record or
//                      collection metadata; collections are created with exactly the Chroma
//                      metadata/configuration given (EnsureCollection with a ChromaShape);
//                      Commit writes the records only (file states, properties, touch and the
//                      data version are dropped); a NaN/inf/-0.0 metadata value is refused;
//                      cosine vectors read back as Chroma's re-rounded copy. Reads are unchanged.
//   token=SECRET       auth token; when absent, the environment variable
//                      CHROMA_TOKEN (if set and non-empty). Never logged nor
//                      put in error messages.
//   auth_header=bearer|x-chroma-token   how the token is sent: "Authorization:
//                      Bearer SECRET" (default) or "X-Chroma-Token: SECRET".
//   timeout_ms=N       per-request deadline (default 30000).
//
// Data mapping (one Signal Hub collection NAME):
//   - Chroma collection PREFIX+NAME: one Chroma record per Signal Hub record.
//     id = id; document = document (null when absent, so absent != ""); the
//     embedding is sent as base64 little-endian float32 (bit-exact) and, for
//     l2 and ip collections, read back as JSON numbers, which Chroma prints as
//     shortest round-trip float32 decimals (parsed through double, which is
//     exact for them). Cosine collections: Chroma 1.0 returns their embeddings
//     re-scaled from its normalised index copy (1.0 comes back as 0.99999994,
//     FLT_MAX fails), so the exact float32 bytes are also kept in the reserved
//     metadata key "signal_hub:embedding" (base64; ~1.33x the vector's size)
//     and read from there (Chroma's copy only for records other clients
//     wrote). Chroma's index still gets the real vector. Metadata as
//     Chroma metadata: strings, int64, bool and finite doubles natively (Chroma
//     keeps int and float apart: 1 and 1.0 stay different). Doubles Chroma
//     cannot store (NaN, +-inf, and -0.0, which its SQLite REAL turns into 0.0)
//     are kept in the reserved key "signal_hub:floats" (JSON text) and restored
//     on read. Metadata keys starting with "signal_hub:" are reserved
//     (InvalidArgument).
//     Collection metadata: "signal_hub:model", "signal_hub:dimension",
//     "signal_hub:last_indexed"; the metric is Chroma's configuration
//     hnsw.space (cosine, l2, ip). A collection created by another Chroma
//     client reads with model "" and the dimension Chroma reports.
//     EnsureCollection refuses a dimension/metric/model mismatch
//     (FailedPrecondition naming the fields).
//   - Chroma collection PREFIX+NAME+".sh-files": the file states (id = path;
//     metadata content_hash, size, mtime_ns, record_ids as JSON text; a
//     1-dimensional zero embedding, never searched). Hidden from ListCollections.
//   - Chroma collection PREFIX+"signal-hub-meta": one record "data_version"
//     whose int metadata "version" is DataVersion(). Hidden as well.
//   A Signal Hub collection name must not end in ".sh-files" nor be
//   "signal-hub-meta" (InvalidArgument).
//
// Atomicity (Chroma has no multi-request transactions): each Chroma request is
// atomic on its own, nothing more. A Commit is validated completely before the
// first request (a bad change set changes nothing), then applied in this order,
// in batches of at most the server's max_batch_size (GET /pre-flight-checks):
//   1. delete the records of delete_ids and of every upserted id (Chroma's
//      upsert would merge metadata into an existing record, not replace it),
//   2. upsert the records, 3. delete file states, 4. upsert file states,
//   5. set last_indexed (touch), 6. bump the data version.
// Every step is idempotent, so a Commit interrupted by a crash or a lost
// connection is repaired by running the same Commit again; until then readers
// may see part of it (records deleted but not yet re-added, new records with
// the old file states). File states are written after the records they
// describe, so the incremental indexer re-indexes an interrupted file. The
// data version is bumped last, so a reader that reads DataVersion() first
// never sees a version whose data is not there yet (the contract).
// EnsureCollection creates the file-state collection, then the record
// collection; DropCollection deletes them in the opposite order (a crash in
// between leaves a record collection without file states: the indexer
// re-indexes it, nothing stale survives).
//
// Concurrency: writes through one ChromaStore are serialised; all methods may
// be called from several threads (a small pool of keep-alive connections).
// Several *processes* writing the same store are not coordinated (Chroma has
// no compare-and-set for the version record): run one writer per store, as
// with the embedded store; readers in other processes are fine.
//
// Searches:
//   - VectorSearch: Chroma's HNSW query; the hits are re-scored here in double
//     precision from their exact embeddings (cosine similarity, inner product,
//     negative Euclidean distance), like every other backend. The
//     language filter is a Chroma `where`; a path_glob or symbol is matched here
//     over the candidates' metadata and passed to Chroma as the allowed `ids`. When HNSW
//     returns fewer than k hits while more records match, and for exact=true,
//     the search is an exact scan over the (filtered) records, computed here.
//     SearchOptions::ef_search is ignored (Chroma sets ef_search per
//     collection, not per query).
//   - LexicalSearch: Chroma has no BM25 (its where_document $contains is a
//     case-sensitive substring match, not code-aware tokens), so the documents
//     and metadata of the collection are read (paginated) and scored here with
//     the same tokens and BM25 formula as the other backends. Exact, but O(N)
//     per query: fine for a repository, slow for millions of records.
//   - Scan: Chroma pages by insertion order, not by id, so a Scan reads all
//     ids (paginated, no payload), sorts them and fetches the page's records.
//     The sorted ids are kept for the next page of the same scan (after_id =
//     the previous next_after), so a full scan lists the ids once.
//   Paginated reads (Scan, LexicalSearch, exact search, ListFiles) page by
//   offset and are not snapshots: a Commit running meanwhile may shift records
//   between pages (read DataVersion before and after to detect it).
//
// Chroma 1.0 keeps its catalog in SQLite and answers HTTP 500 "database is
// locked" while another client writes; such calls are retried with backoff
// (about 10 s in all) before the error is returned.
//
// Errors: InvalidArgument (bad URL, or Chroma refusing a name/value),
// Unavailable (server unreachable or failing: names host:port, never the
// token), Unauthenticated (HTTP 401/403), NotFound (unknown collection; tenant
// or database missing on a read-only open), FailedPrecondition (spec mismatch,
// store opened read-only), DeadlineExceeded, Internal (unexpected reply).

#include <memory>
#include <string>

#include "store/vector_store.hpp"

namespace signalhub::store {

class ChromaStore final : public VectorStore {
   public:
    // Contacts the server (heartbeat, pre-flight checks, tenant and database).
    static Result<std::unique_ptr<ChromaStore>> Open(const std::string& url, const OpenOptions& options);
    ~ChromaStore() override;
    ChromaStore(const ChromaStore&) = delete;
    ChromaStore& operator=(const ChromaStore&) = delete;

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override;
    // A collection restored from an export of a Chroma collection: created with that
    // collection's own Chroma metadata and configuration (JSON object texts, "" for none;
    // CollectionInfo::properties chroma.metadata / chroma.configuration). An existing
    // collection is checked as by EnsureCollection and left as it is.
    struct ChromaShape {
        std::string metadata;
        std::string configuration;
    };
    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec, const ChromaShape& shape);
    // False for a store opened with bookkeeping=off (see the header).
    bool bookkeeping() const;
    Result<CollectionInfo> GetCollection(std::string_view name) override;
    Result<std::vector<CollectionInfo>> ListCollections() override;
    Status DropCollection(std::string_view name) override;
    Status Commit(std::string_view collection, const ChangeSet& changes) override;
    Result<std::vector<FileState>> ListFiles(std::string_view collection) override;
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override;
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override;
    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) override;
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) override;
    // The server answers its heartbeat and the tenant and database exist.
    Status CheckHealth() override;
    // The "version" of the meta record (0 before the first write).
    Result<std::int64_t> DataVersion() override;

    class Impl;

   private:
    explicit ChromaStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::store

#pragma once
// LexicalIndex: the BM25 index of one collection of the embedded store (ADR-28).
//
// Contract
// - Derived data, like the HNSW graph: DIR/lexical/<collection id>/ is a Xapian glass database
//   with one document per record (Xapian docid = records.row_id). Terms: the record's
//   LexicalTokens (CodeTokens of document, symbol, file path), each once with its count as wdf (no
//   positions); a token longer than kMaxTermBytes is not indexed (nor queried). Values: the
//   record's language, file path and symbol (kLanguageSlot.., "=" + value when present), read by
//   the filter. Metadata key "seq": the change-log sequence the documents reflect; it is set in the
//   same Xapian commit as the documents (a commit is atomic).
// - Never the source of truth. Any open that finds the index missing, unreadable, with a seq
//   before the pruned log (seq < prune_seq), or holding a document count other than the
//   collection's record count (checked when the seq is exactly the snapshot's head), or a writer
//   open that finds it past the log head, rebuilds it from SQLite: the writer into
//   lexical/<cid>.tmp, renamed over lexical/<cid> (so a kill -9 mid-build leaves the old index or
//   a temp dir swept later); a read-only open in memory (it may not write the store).
// - Writer (the process holding the store's writer lock; the only one opening the database for
//   writing): Apply() the changes of each SQLite commit right after it, then Commit() (no fsync:
//   a kill -9 keeps the page cache); Sync() fsyncs the files (at the store's Flush, when it
//   is about to prune the change log past them). An index behind the log catches up from change_log.
// - Read-only: the database is opened read-only at the committed state; CatchUp() reopens it and
//   indexes the records changed after its seq (a few, normally: the writer commits after every
//   SQLite commit) into an in-memory overlay searched together with it; their stale copies in the
//   database are dropped from results. Overlay records count in the collection statistics
//   (document count, average length) twice until the writer commits: scores shift slightly.
// - Scoring: FTS5's bm25() formula (k1 = kBm25K1, b = kBm25B, idf floored at 1e-6), the other
//   backends' too, as a Xapian::Weight with an upper bound so that Xapian's top-k pruning works, on
//   an OP_OR query of the terms; the caller asks for more than k results and breaks equal scores by
//   record id.
// - Not thread-safe (Xapian database objects are not): the store serialises use of one object,
//   keeping a pool of read-only ones for concurrent searches.

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/status.hpp"
#include "store/embedded/embedded_sql.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::embedded_detail {

struct LexicalCounters {
    std::int64_t loads = 0;     // indexes opened from disk
    std::int64_t rebuilds = 0;  // indexes rebuilt from SQLite (on disk or in memory)
    std::int64_t replayed = 0;  // change-log records applied on catch-up
};

class LexicalIndex {
   public:
    static constexpr size_t kMaxTermBytes = 240;
    struct Scored {
        double score = 0;
        std::int64_t rowid = 0;
    };

    // `db` holds a read snapshot (an open transaction) in which `head` is the collection's log head
    // and `prune_seq` the sequence the log is pruned up to (collections.hnsw_seq).
    static Result<std::unique_ptr<LexicalIndex>> OpenWritable(sqlite3* db, const std::string& path,
                                                              std::int64_t collection_id, std::int64_t prune_seq,
                                                              std::int64_t head, LexicalCounters& counters);
    static Result<std::unique_ptr<LexicalIndex>> OpenReadOnly(sqlite3* db, const std::string& path,
                                                              std::int64_t collection_id, std::int64_t prune_seq,
                                                              std::int64_t head, LexicalCounters& counters);
    ~LexicalIndex();
    LexicalIndex(const LexicalIndex&) = delete;
    LexicalIndex& operator=(const LexicalIndex&) = delete;

    // Brings the index to `head` (same snapshot rules as the opens). Writer: applied and committed.
    Status CatchUp(sqlite3* db, std::int64_t prune_seq, std::int64_t head, LexicalCounters& counters);
    // Writer: applies the records of one SQLite commit, log rows (seq(), last_seq], and commits.
    Status Apply(std::span<const RecordOp> ops, std::int64_t last_seq);
    // Writer: fsyncs the database files.
    Status Sync();
    // The change-log sequence the index reflects.
    std::int64_t seq() const { return seq_; }

    // The best `want` records for an OR of `terms` (best first; equal scores by row id), keeping
    // only records matching `filter`.
    Result<std::vector<Scored>> Search(const std::vector<std::string>& terms, size_t want, const Filter& filter);

    struct Impl;

   private:
    explicit LexicalIndex(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    std::int64_t seq_ = 0;
};

// The lexical indexes of one store open: per collection, the writer's LexicalIndex (writer opens)
// and a pool of read-only ones for concurrent searches. Thread-safe. `db` arguments hold a read
// snapshot (an open transaction or, after a commit, the writer connection) in which `head` is the
// collection's log head and `prune_seq` the sequence its log is pruned up to.
class LexicalIndexes {
   public:
    LexicalIndexes(std::string dir, bool writable) : dir_(std::move(dir)), writable_(writable) {}

    std::string Dir() const { return dir_ + "/lexical"; }
    std::string PathOf(std::int64_t collection_id) const { return Dir() + "/" + std::to_string(collection_id); }

    // Writer, after a SQLite commit of log rows (prev_head, last_seq]: applies `ops` to the loaded
    // index when it is at prev_head, else opens / catches it up from `db`. A failure leaves the
    // index to be rebuilt on next use (the SQLite commit stands).
    void AfterCommit(sqlite3* db, std::int64_t collection_id, std::int64_t prune_seq, std::int64_t prev_head,
                     std::int64_t last_seq, std::span<const RecordOp> ops);
    // Writer: the index caught up to `head` and committed, and with `sync` fsynced; returns the seq it
    // reflects. The store syncs only when it is about to prune the change log past the index (an
    // index that is lost or damaged before that is caught up or rebuilt from the log; ADR-32a).
    Result<std::int64_t> Flush(sqlite3* db, std::int64_t collection_id, std::int64_t prune_seq, std::int64_t head,
                               bool sync);
    // The best `want` row ids for `terms` (LexicalIndex::Search) as of `head`.
    Result<std::vector<LexicalIndex::Scored>> Search(sqlite3* db, std::int64_t collection_id, std::int64_t prune_seq,
                                                     std::int64_t head, const std::vector<std::string>& terms,
                                                     size_t want, const Filter& filter);
    // Forgets a dropped collection and removes its directory.
    void Drop(std::int64_t collection_id);
    // Writer: removes temp directories and those of collections not in `keep`.
    void Sweep(const std::unordered_set<std::string>& keep);
    LexicalCounters counters() const;

   private:
    struct Slot {
        std::mutex mu;  // the writer index
        std::unique_ptr<LexicalIndex> writer;
        std::mutex pool_mu;
        std::vector<std::unique_ptr<LexicalIndex>> idle;
    };
    std::shared_ptr<Slot> SlotFor(std::int64_t collection_id);
    Status EnsureWriterLocked(Slot& slot, sqlite3* db, std::int64_t collection_id, std::int64_t prune_seq,
                              std::int64_t head);
    void Count(const LexicalCounters& c);

    const std::string dir_;
    const bool writable_;
    mutable std::mutex mu_;
    std::map<std::int64_t, std::shared_ptr<Slot>> slots_;
    LexicalCounters counters_;
};

}  // namespace signalhub::store::embedded_detail

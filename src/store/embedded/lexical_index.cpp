#include "store/embedded/lexical_index.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <xapian.h>

#include "core/record.hpp"
#include "store/embedded/file_util.hpp"
#include "store/store_util.hpp"

namespace signalhub::store::embedded_detail {

namespace fs = std::filesystem;

namespace {

constexpr Xapian::valueno kLanguageSlot = 0;
constexpr Xapian::valueno kPathSlot = 1;
constexpr Xapian::valueno kSymbolSlot = 2;
constexpr const char* kSeqKey = "seq";
// An index smaller than this is not compacted when it grows (ADR-35a): too small to matter.
constexpr Xapian::doccount kCompactMinDocs = 1000;

Status XapianError(const std::string& what, const Xapian::Error& e) {
    return Internal(what + ": " + e.get_description());
}

Result<Xapian::docid> DocId(std::int64_t rowid) {
    if (rowid < 1 || rowid > std::numeric_limits<Xapian::docid>::max()) {
        return Internal("record row id " + std::to_string(rowid) + " is outside Xapian's document id range");
    }
    return static_cast<Xapian::docid>(rowid);
}

Xapian::Document MakeDocument(const Record& r) {
    std::map<std::string, Xapian::termcount> counts;
    for (auto& t : LexicalTokens(r)) {
        if (!t.empty() && t.size() <= LexicalIndex::kMaxTermBytes) counts[std::move(t)]++;
    }
    Xapian::Document doc;
    for (const auto& [term, wdf] : counts) doc.add_term(term, wdf);
    if (auto v = GetString(r.metadata, meta::kLanguage)) doc.add_value(kLanguageSlot, "=" + *v);
    if (auto v = GetString(r.metadata, meta::kFilePath)) doc.add_value(kPathSlot, "=" + *v);
    if (auto v = GetString(r.metadata, meta::kSymbol)) doc.add_value(kSymbolSlot, "=" + *v);
    return doc;
}

std::int64_t SeqOf(const Xapian::Database& db) {
    const std::string s = db.get_metadata(kSeqKey);
    if (s.empty()) return -1;
    try {
        return std::stoll(s);
    } catch (const std::exception&) {
        return -1;
    }
}

// FTS5's bm25() (and the memory, PostgreSQL and Chroma stores' formula), so that every backend
// scores alike: idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6; tf part
// f (k1 + 1) / (f + k1 (1 - b + b dl / avgdl)), dl = the record's token count. The upper bound
// (get_maxpart) lets Xapian skip records that cannot reach the top k.
class Fts5Bm25Weight : public Xapian::Weight {
   public:
    Fts5Bm25Weight(double k1, double b) : k1_(k1), b_(b) {
        need_stat(COLLECTION_SIZE);
        need_stat(TERMFREQ);
        need_stat(AVERAGE_LENGTH);
        need_stat(DOC_LENGTH);
        need_stat(DOC_LENGTH_MIN);
        need_stat(WDF);
        need_stat(WDF_MAX);
    }
    std::string name() const override { return "signalhub.Fts5Bm25Weight"; }
    Fts5Bm25Weight* clone() const override { return new Fts5Bm25Weight(k1_, b_); }
    double get_sumpart(Xapian::termcount wdf, Xapian::termcount doclen, Xapian::termcount) const override {
        return Part(wdf, doclen);
    }
    double get_maxpart() const override {
        const Xapian::termcount wdf = get_wdf_upper_bound();
        return Part(wdf, std::max<Xapian::termcount>(get_doclength_lower_bound(), 1));
    }
    double get_sumextra(Xapian::termcount, Xapian::termcount) const override { return 0; }
    double get_maxextra() const override { return 0; }

   private:
    void init(double factor) override {
        const double n = static_cast<double>(get_termfreq());
        const double total = static_cast<double>(get_collection_size());
        double idf = std::log((total - n + 0.5) / (n + 0.5));
        if (idf <= 0) idf = 1e-6;
        scale_ = idf * factor;
        avgdl_ = get_average_length();
        if (avgdl_ <= 0) avgdl_ = 1;
    }
    double Part(Xapian::termcount wdf, Xapian::termcount doclen) const {
        if (wdf == 0 || scale_ == 0) return 0;
        const double f = wdf;
        return scale_ * (f * (k1_ + 1)) / (f + k1_ * (1 - b_ + b_ * static_cast<double>(doclen) / avgdl_));
    }

    double k1_, b_;
    double scale_ = 0, avgdl_ = 1;
};

// Filter semantics of the SQL the store used before (language =, sh_glob on file_path, symbol equal
// or ending with "." + symbol); a record without the field never matches a filter on it.
class FilterDecider : public Xapian::MatchDecider {
   public:
    explicit FilterDecider(const Filter& f) : f_(f) {}
    bool operator()(const Xapian::Document& doc) const override {
        if (f_.language) {
            const std::string v = doc.get_value(kLanguageSlot);
            if (v.empty() || std::string_view(v).substr(1) != *f_.language) return false;
        }
        if (f_.path_glob) {
            const std::string v = doc.get_value(kPathSlot);
            if (v.empty() || !GlobMatch(*f_.path_glob, std::string_view(v).substr(1))) return false;
        }
        if (f_.symbol) {
            const std::string v = doc.get_value(kSymbolSlot);
            if (v.empty()) return false;
            const std::string_view s = std::string_view(v).substr(1);
            const std::string& want = *f_.symbol;
            if (s != want && !(s.size() > want.size() && s.ends_with(want) && s[s.size() - want.size() - 1] == '.')) {
                return false;
            }
        }
        return true;
    }

   private:
    const Filter& f_;
};

// Calls add(rowid, record or nullopt for a deleted row) for the records changed after `after`
// (every record of the collection when `after` is nullopt).
template <typename F>
Status ForEachRow(sqlite3* db, std::int64_t collection_id, std::optional<std::int64_t> after, F&& add) {
    SH_ASSIGN_OR_RETURN(
        Stmt stmt,
        Stmt::Prepare(db, after ? "SELECT c.record_rowid, r.id, r.document, r.metadata FROM (SELECT DISTINCT "
                                  "record_rowid FROM change_log WHERE collection_id = ?1 AND seq > ?2) c LEFT JOIN "
                                  "records r ON r.row_id = c.record_rowid AND r.collection_id = ?1"
                                : "SELECT row_id, id, document, metadata FROM records WHERE collection_id = ?1"));
    stmt.Bind(1, collection_id);
    if (after) stmt.Bind(2, *after);
    while (true) {
        SH_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
        if (!has_row) break;
        const std::int64_t rowid = stmt.Int(0);
        if (stmt.IsNull(1)) {
            SH_RETURN_IF_ERROR(add(rowid, static_cast<const Record*>(nullptr)));
            continue;
        }
        SH_ASSIGN_OR_RETURN(Record r, ReadRecord(stmt, 1, false, 0));
        SH_RETURN_IF_ERROR(add(rowid, &r));
    }
    return Status::Ok();
}

Status Put(Xapian::WritableDatabase& db, std::int64_t rowid, const Record* r) {
    SH_ASSIGN_OR_RETURN(Xapian::docid did, DocId(rowid));
    if (r != nullptr) {
        db.replace_document(did, MakeDocument(*r));
    } else {
        try {
            db.delete_document(did);
        } catch (const Xapian::DocNotFoundError&) {
        }
    }
    return Status::Ok();
}

Status FsyncTree(const std::string& dir) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file(ec)) continue;
        const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return Internal("cannot open " + entry.path().string() + ": " + std::strerror(errno));
        const int rc = ::fsync(fd);
        ::close(fd);
        if (rc != 0) return Internal("cannot fsync " + entry.path().string() + ": " + std::strerror(errno));
    }
    if (ec) return Internal("cannot list " + dir + ": " + ec.message());
    return FsyncDirectory(dir);
}

// Writes a compacted copy of the glass database `from` to `to` (ADR-35a): full blocks, the same
// document ids (= row ids), the same metadata (the seq); then fsyncs it. Throws Xapian::Error.
Status CompactInto(const std::string& from, const std::string& to) {
    std::error_code ec;
    fs::remove_all(to, ec);
    Xapian::Database(from, Xapian::DB_BACKEND_GLASS).compact(to, Xapian::DBCOMPACT_NO_RENUMBER | Xapian::Compactor::FULL);
    return FsyncTree(to);
}

Result<std::int64_t> RecordCount(sqlite3* db, std::int64_t collection_id) {
    return QueryIntBound(db, "SELECT count(*) FROM records WHERE collection_id = ?1", collection_id);
}

}  // namespace

struct LexicalIndex::Impl {
    std::string path;
    std::int64_t collection_id = 0;
    bool writable = false;
    std::optional<Xapian::WritableDatabase> writer;  // writable: the database on disk
    Xapian::doccount compacted_docs = 0;             // writable: documents when opened, built or compacted
    Xapian::Database base;                           // read-only: on disk, or in memory after a rebuild
    bool in_memory = false;                          // read-only: `base` was rebuilt in memory
    std::int64_t disk_seq = -1;                      // read-only: seq of the database on disk
    std::optional<Xapian::WritableDatabase> overlay;  // read-only: records changed after base's seq
    std::unordered_set<std::int64_t> changed;         // their row ids (stale in base)
    Xapian::Database searched;                        // base (+ overlay)

    Xapian::Database& Searched() {
        if (writable) return *writer;
        return searched;
    }

    // Writer: (re)builds the index from every record into path.build.tmp, compacts it into
    // path.tmp and renames that over path (ADR-35a).
    Status RebuildOnDisk(sqlite3* db, std::int64_t head) {
        writer.reset();
        const std::string build = path + ".build.tmp", tmp = path + ".tmp";
        std::error_code ec;
        fs::remove_all(build, ec);
        try {
            Xapian::WritableDatabase w(build, Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS | Xapian::DB_NO_SYNC);
            SH_RETURN_IF_ERROR(ForEachRow(db, collection_id, std::nullopt,
                                          [&](std::int64_t rowid, const Record* r) { return Put(w, rowid, r); }));
            w.set_metadata(kSeqKey, std::to_string(head));
            w.commit();
            w.close();
            SH_RETURN_IF_ERROR(CompactInto(build, tmp));
        } catch (const Xapian::Error& e) {
            return XapianError("cannot build lexical index " + tmp, e);
        }
        fs::remove_all(build, ec);
        fs::remove_all(path, ec);
        fs::rename(tmp, path, ec);
        if (ec) return Internal("cannot rename " + tmp + " to " + path + ": " + ec.message());
        SH_RETURN_IF_ERROR(FsyncDirectory(fs::path(path).parent_path().string()));
        SH_RETURN_IF_ERROR(OpenWriter());
        compacted_docs = writer->get_doccount();
        return Status::Ok();
    }

    Status OpenWriter() {
        try {
            writer.emplace(path, Xapian::DB_OPEN | Xapian::DB_BACKEND_GLASS | Xapian::DB_NO_SYNC);
        } catch (const Xapian::Error& e) {
            return XapianError("cannot open lexical index " + path, e);
        }
        return Status::Ok();
    }

    // Writer: an index that has at least doubled (by documents) since it was opened, built or
    // last compacted (a cold index run fills an empty one commit by commit) is compacted the same
    // way: a copy in path.tmp, then path -> path.old.tmp, path.tmp -> path. A kill -9 between the
    // renames leaves no index at path: the next open rebuilds it, as for any missing index.
    Status CompactIfGrown() {
        const Xapian::doccount docs = writer->get_doccount();
        if (docs < kCompactMinDocs || docs < 2 * compacted_docs) return Status::Ok();
        const std::string tmp = path + ".tmp", old = path + ".old.tmp";
        try {
            writer->commit();
            writer->close();
            writer.reset();
            SH_RETURN_IF_ERROR(CompactInto(path, tmp));
        } catch (const Xapian::Error& e) {
            Status reopened = OpenWriter();
            return reopened.ok() ? XapianError("cannot compact lexical index " + path, e) : reopened;
        }
        std::error_code ec;
        fs::remove_all(old, ec);
        fs::rename(path, old, ec);
        if (!ec) fs::rename(tmp, path, ec);
        if (ec) {
            std::error_code ignored;
            if (!fs::exists(path, ignored)) fs::rename(old, path, ignored);
            return Internal("cannot replace " + path + " by its compacted copy: " + ec.message());
        }
        SH_RETURN_IF_ERROR(FsyncDirectory(fs::path(path).parent_path().string()));
        fs::remove_all(old, ec);
        SH_RETURN_IF_ERROR(OpenWriter());
        compacted_docs = writer->get_doccount();
        return Status::Ok();
    }

    Status RebuildInMemory(sqlite3* db) {
        overlay.reset();
        changed.clear();
        try {
            Xapian::WritableDatabase w(std::string(), Xapian::DB_BACKEND_INMEMORY);
            SH_RETURN_IF_ERROR(ForEachRow(db, collection_id, std::nullopt,
                                          [&](std::int64_t rowid, const Record* r) { return Put(w, rowid, r); }));
            base = w;
        } catch (const Xapian::Error& e) {
            return XapianError("cannot build lexical index of collection " + std::to_string(collection_id) + " in memory",
                               e);
        }
        in_memory = true;
        searched = base;
        return Status::Ok();
    }

    // Read-only: the overlay of records changed after `after`.
    Status BuildOverlay(sqlite3* db, std::int64_t after, LexicalCounters& counters) {
        overlay.reset();
        changed.clear();
        Xapian::WritableDatabase w(std::string(), Xapian::DB_BACKEND_INMEMORY);
        SH_RETURN_IF_ERROR(ForEachRow(db, collection_id, after, [&](std::int64_t rowid, const Record* r) {
            changed.insert(rowid);
            counters.replayed++;
            return r != nullptr ? Put(w, rowid, r) : Status::Ok();
        }));
        searched = base;
        if (!changed.empty()) {
            overlay.emplace(std::move(w));
            searched.add_database(*overlay);
        }
        return Status::Ok();
    }
};

LexicalIndex::LexicalIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LexicalIndex::~LexicalIndex() = default;

Result<std::unique_ptr<LexicalIndex>> LexicalIndex::OpenWritable(sqlite3* db, const std::string& path,
                                                                 std::int64_t collection_id, std::int64_t prune_seq,
                                                                 std::int64_t head, LexicalCounters& counters) {
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->collection_id = collection_id;
    impl->writable = true;
    std::unique_ptr<LexicalIndex> index(new LexicalIndex(std::move(impl)));
    Impl& m = *index->impl_;
    std::int64_t seq = -1;
    try {
        m.writer.emplace(path, Xapian::DB_OPEN | Xapian::DB_BACKEND_GLASS | Xapian::DB_NO_SYNC);
        seq = SeqOf(*m.writer);
        m.compacted_docs = m.writer->get_doccount();
        counters.loads++;
    } catch (const Xapian::DatabaseLockError& e) {
        return XapianError("lexical index " + path + " is locked by another process", e);
    } catch (const Xapian::Error&) {
        m.writer.reset();  // missing or unreadable: rebuilt below
    }
    bool usable = m.writer && seq >= prune_seq && seq <= head;
    if (usable) {
        index->seq_ = seq;
        Status s = index->CatchUp(db, prune_seq, head, counters);
        if (s.ok()) {
            SH_ASSIGN_OR_RETURN(std::int64_t count, RecordCount(db, collection_id));
            usable = static_cast<std::int64_t>(m.writer->get_doccount()) == count;
        } else {
            usable = false;
        }
    }
    if (!usable) {
        SH_RETURN_IF_ERROR(m.RebuildOnDisk(db, head));
        counters.rebuilds++;
        index->seq_ = head;
    }
    return index;
}

Result<std::unique_ptr<LexicalIndex>> LexicalIndex::OpenReadOnly(sqlite3* db, const std::string& path,
                                                                 std::int64_t collection_id, std::int64_t prune_seq,
                                                                 std::int64_t head, LexicalCounters& counters) {
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->collection_id = collection_id;
    std::unique_ptr<LexicalIndex> index(new LexicalIndex(std::move(impl)));
    Impl& m = *index->impl_;
    bool opened = false;
    try {
        m.base = Xapian::Database(path, Xapian::DB_BACKEND_GLASS);
        opened = true;
        counters.loads++;
    } catch (const Xapian::Error&) {
    }
    if (opened) {
        index->seq_ = -1;  // forces CatchUp to read the database's seq
        Status s = index->CatchUp(db, prune_seq, head, counters);
        if (s.ok() && !m.in_memory) {
            SH_ASSIGN_OR_RETURN(std::int64_t count, RecordCount(db, collection_id));
            std::int64_t docs = 0;
            try {
                docs = static_cast<std::int64_t>(m.searched.get_doccount());
            } catch (const Xapian::Error&) {
                docs = -1;
            }
            // Checked when the database is at exactly this snapshot: with an overlay its records
            // count twice, and a database ahead (a writer committed since) holds other records.
            if (m.disk_seq == head && !m.overlay && docs != count) opened = false;
        } else if (!s.ok()) {
            opened = false;
        }
    }
    if (!opened || m.in_memory) {
        if (!m.in_memory) {
            SH_RETURN_IF_ERROR(m.RebuildInMemory(db));
            counters.rebuilds++;
        }
        index->seq_ = head;
    }
    return index;
}

Status LexicalIndex::CatchUp(sqlite3* db, std::int64_t prune_seq, std::int64_t head, LexicalCounters& counters) {
    Impl& m = *impl_;
    if (seq_ >= 0 && seq_ >= head) return Status::Ok();
    try {
        if (m.writable) {
            SH_RETURN_IF_ERROR(ForEachRow(db, m.collection_id, seq_, [&](std::int64_t rowid, const Record* r) {
                counters.replayed++;
                return Put(*m.writer, rowid, r);
            }));
            m.writer->set_metadata(kSeqKey, std::to_string(head));
            m.writer->commit();
            seq_ = head;
            return Status::Ok();
        }
        if (m.in_memory) {
            // Rebuilt in memory: follow the database on disk once a writer has made one.
            try {
                m.base = Xapian::Database(m.path, Xapian::DB_BACKEND_GLASS);
                m.in_memory = false;
            } catch (const Xapian::Error&) {
                SH_RETURN_IF_ERROR(m.RebuildInMemory(db));
                counters.rebuilds++;
                seq_ = head;
                return Status::Ok();
            }
        }
        m.base.reopen();
        const std::int64_t disk_seq = SeqOf(m.base);
        m.disk_seq = disk_seq;
        if (disk_seq < prune_seq) {
            SH_RETURN_IF_ERROR(m.RebuildInMemory(db));
            counters.rebuilds++;
            seq_ = head;
            return Status::Ok();
        }
        if (disk_seq >= head) {
            m.overlay.reset();
            m.changed.clear();
            m.searched = m.base;
        } else {
            SH_RETURN_IF_ERROR(m.BuildOverlay(db, disk_seq, counters));
        }
        seq_ = std::max(disk_seq, head);
        return Status::Ok();
    } catch (const Xapian::Error& e) {
        return XapianError("cannot catch up lexical index " + m.path, e);
    }
}

Status LexicalIndex::Apply(std::span<const RecordOp> ops, std::int64_t last_seq) {
    Impl& m = *impl_;
    if (!m.writable) return Internal("lexical index " + m.path + " is read-only");
    try {
        for (const auto& op : ops) SH_RETURN_IF_ERROR(Put(*m.writer, op.rowid, op.record));
        m.writer->set_metadata(kSeqKey, std::to_string(last_seq));
        m.writer->commit();
    } catch (const Xapian::Error& e) {
        return XapianError("cannot update lexical index " + m.path, e);
    }
    seq_ = last_seq;
    return Status::Ok();
}

Status LexicalIndex::Sync() {
    if (!impl_->writable) return Status::Ok();
    SH_RETURN_IF_ERROR(impl_->CompactIfGrown());
    return FsyncTree(impl_->path);
}

Result<std::vector<LexicalIndex::Scored>> LexicalIndex::Search(const std::vector<std::string>& terms, size_t want,
                                                               const Filter& filter) {
    Impl& m = *impl_;
    std::vector<Scored> out;
    std::vector<std::string> usable;
    for (const auto& t : terms) {
        if (!t.empty() && t.size() <= kMaxTermBytes) usable.push_back(t);
    }
    if (usable.empty() || want == 0) return out;
    // Stale base copies of overlay records are dropped below: ask for that many more.
    const size_t ask = std::min<size_t>(want + m.changed.size(), std::numeric_limits<Xapian::doccount>::max());
    const Xapian::doccount shards = m.overlay ? 2 : 1;
    for (int attempt = 0;; ++attempt) {
        try {
            Xapian::Enquire enquire(m.Searched());
            enquire.set_query(Xapian::Query(Xapian::Query::OP_OR, usable.begin(), usable.end()));
            enquire.set_weighting_scheme(Fts5Bm25Weight(kBm25K1, kBm25B));
            FilterDecider decider(filter);
            Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(ask), nullptr,
                                                 filter.empty() ? nullptr : &decider);
            out.clear();
            for (auto it = mset.begin(); it != mset.end() && out.size() < want; ++it) {
                const Xapian::docid did = *it;
                const std::int64_t rowid = static_cast<std::int64_t>((did - 1) / shards + 1);
                const bool in_overlay = shards == 2 && (did - 1) % 2 == 1;
                if (!in_overlay && m.changed.contains(rowid)) continue;
                out.push_back({it.get_weight(), rowid});
            }
            return out;
        } catch (const Xapian::DatabaseModifiedError& e) {
            if (attempt > 0 || m.writable) return XapianError("lexical search on " + m.path, e);
            try {
                m.base.reopen();  // the writer committed twice since: the caller catches up next time
            } catch (const Xapian::Error& e2) {
                return XapianError("lexical search on " + m.path, e2);
            }
        } catch (const Xapian::Error& e) {
            return XapianError("lexical search on " + m.path, e);
        }
    }
}

// ---- LexicalIndexes ----

std::shared_ptr<LexicalIndexes::Slot> LexicalIndexes::SlotFor(std::int64_t collection_id) {
    std::lock_guard lock(mu_);
    auto& slot = slots_[collection_id];
    if (!slot) slot = std::make_shared<Slot>();
    return slot;
}

void LexicalIndexes::Count(const LexicalCounters& c) {
    std::lock_guard lock(mu_);
    counters_.loads += c.loads;
    counters_.rebuilds += c.rebuilds;
    counters_.replayed += c.replayed;
}

LexicalCounters LexicalIndexes::counters() const {
    std::lock_guard lock(mu_);
    return counters_;
}

Status LexicalIndexes::EnsureWriterLocked(Slot& slot, sqlite3* db, std::int64_t collection_id,
                                          std::int64_t prune_seq, std::int64_t head) {
    LexicalCounters c;
    Status s = Status::Ok();
    if (!slot.writer) {
        std::error_code ec;
        fs::create_directories(Dir(), ec);
        if (ec) return Internal("cannot create " + Dir() + ": " + ec.message());
        Result<std::unique_ptr<LexicalIndex>> opened =
            LexicalIndex::OpenWritable(db, PathOf(collection_id), collection_id, prune_seq, head, c);
        if (opened.ok()) slot.writer = std::move(*opened);
        s = opened.status();
    } else if (slot.writer->seq() < head) {
        s = slot.writer->CatchUp(db, prune_seq, head, c);
        if (!s.ok()) slot.writer.reset();
    }
    Count(c);
    return s;
}

void LexicalIndexes::AfterCommit(sqlite3* db, std::int64_t collection_id, std::int64_t prune_seq,
                                 std::int64_t prev_head, std::int64_t last_seq, std::span<const RecordOp> ops) {
    if (!writable_ || ops.empty()) return;
    std::shared_ptr<Slot> slot = SlotFor(collection_id);
    std::lock_guard lock(slot->mu);
    if (slot->writer && slot->writer->seq() == prev_head) {
        if (!slot->writer->Apply(ops, last_seq).ok()) slot->writer.reset();
        return;
    }
    if (!EnsureWriterLocked(*slot, db, collection_id, prune_seq, last_seq).ok()) slot->writer.reset();
}

Result<std::int64_t> LexicalIndexes::Flush(sqlite3* db, std::int64_t collection_id, std::int64_t prune_seq,
                                           std::int64_t head, bool sync) {
    std::shared_ptr<Slot> slot = SlotFor(collection_id);
    std::lock_guard lock(slot->mu);
    SH_RETURN_IF_ERROR(EnsureWriterLocked(*slot, db, collection_id, prune_seq, head));
    if (sync) {
        Status synced = slot->writer->Sync();
        if (!synced.ok()) {
            slot->writer.reset();  // opened again (or rebuilt) on next use
            return synced;
        }
    }
    return slot->writer->seq();
}

Result<std::vector<LexicalIndex::Scored>> LexicalIndexes::Search(sqlite3* db, std::int64_t collection_id,
                                                                 std::int64_t prune_seq, std::int64_t head,
                                                                 const std::vector<std::string>& terms, size_t want,
                                                                 const Filter& filter) {
    std::shared_ptr<Slot> slot = SlotFor(collection_id);
    if (writable_) {
        // The writer's index on disk is what the pooled readers open: make it current first.
        std::lock_guard lock(slot->mu);
        SH_RETURN_IF_ERROR(EnsureWriterLocked(*slot, db, collection_id, prune_seq, head));
    }
    std::unique_ptr<LexicalIndex> reader;
    {
        std::lock_guard lock(slot->pool_mu);
        if (!slot->idle.empty()) {
            reader = std::move(slot->idle.back());
            slot->idle.pop_back();
        }
    }
    LexicalCounters c;
    if (reader) {
        Status s = reader->CatchUp(db, prune_seq, head, c);
        if (!s.ok()) reader.reset();
    }
    if (!reader) {
        Result<std::unique_ptr<LexicalIndex>> opened =
            LexicalIndex::OpenReadOnly(db, PathOf(collection_id), collection_id, prune_seq, head, c);
        if (!opened.ok()) {
            Count(c);
            return opened.status();
        }
        reader = std::move(*opened);
    }
    Count(c);
    Result<std::vector<LexicalIndex::Scored>> out = reader->Search(terms, want, filter);
    if (out.ok()) {
        std::lock_guard lock(slot->pool_mu);
        if (slot->idle.size() < kMaxIdleConnections) slot->idle.push_back(std::move(reader));
    }
    return out;
}

void LexicalIndexes::Drop(std::int64_t collection_id) {
    std::shared_ptr<Slot> slot;
    {
        std::lock_guard lock(mu_);
        auto it = slots_.find(collection_id);
        if (it != slots_.end()) {
            slot = it->second;
            slots_.erase(it);
        }
    }
    if (slot) {
        std::lock_guard lock(slot->mu);
        slot->writer.reset();
        std::lock_guard pool_lock(slot->pool_mu);
        slot->idle.clear();
    }
    if (!writable_) return;
    std::error_code ec;
    fs::remove_all(PathOf(collection_id), ec);
}

void LexicalIndexes::Sweep(const std::unordered_set<std::string>& keep) {
    if (!writable_) return;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(Dir(), ec)) {
        const std::string name = entry.path().filename().string();
        if (name.ends_with(".tmp") || !keep.contains(name)) fs::remove_all(entry.path(), ec);
    }
}

}  // namespace signalhub::store::embedded_detail

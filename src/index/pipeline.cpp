#include "index/pipeline.hpp"

#include <algorithm>
#include <charconv>
#include <future>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/hash.hpp"
#include "index/chunk/chunker.hpp"
#include "index/language.hpp"

namespace signalhub::index {
namespace fs = std::filesystem;

std::string DefaultCollectionName(const fs::path& root) {
    std::error_code ec;
    fs::path abs = fs::weakly_canonical(fs::absolute(root, ec), ec);
    std::string base = abs.filename().string();
    if (base.empty()) base = abs.parent_path().filename().string();
    std::string out;
    for (char c : base) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        out += ok ? c : '_';
    }
    if (out.empty() || out == "." || out == "..") out = "repo";
    return out;
}

std::string RecordId(std::string_view rel_path, std::string_view kind, std::string_view symbol, int occurrence,
                     int part) {
    std::string key;
    key.reserve(rel_path.size() + kind.size() + symbol.size() + 16);
    key.append(rel_path).push_back('\0');
    key.append(kind).push_back('\0');
    key.append(symbol).push_back('\0');
    key.append(std::to_string(occurrence)).push_back('\0');
    key.append(std::to_string(part));
    return Hash128Hex(key);
}

std::string EmbeddingText(std::string_view rel_path, std::string_view symbol, std::string_view kind,
                          std::string_view code) {
    std::string out;
    out.reserve(code.size() + rel_path.size() + symbol.size() + 32);
    out.append("file: ").append(rel_path).push_back('\n');
    if (!symbol.empty()) out.append(kind).append(": ").append(symbol).push_back('\n');
    out.append(code);
    return out;
}

std::int64_t EstimateTokens(std::int64_t text_bytes) { return text_bytes <= 0 ? 0 : (text_bytes + 3) / 4; }

std::int64_t EmbeddingTextBytes(const Record& record) {
    const std::string path = GetString(record.metadata, meta::kFilePath).value_or("");
    const std::string symbol = GetString(record.metadata, meta::kSymbol).value_or("");
    const std::string kind = GetString(record.metadata, meta::kKind).value_or("");
    // EmbeddingText: "file: PATH\n", then "KIND: SYMBOL\n" when there is a symbol, then the code.
    std::int64_t bytes = 6 + static_cast<std::int64_t>(path.size()) + 1;
    if (!symbol.empty()) bytes += static_cast<std::int64_t>(kind.size() + 2 + symbol.size() + 1);
    return bytes + static_cast<std::int64_t>(record.document ? record.document->size() : 0);
}

std::string RootProperty(const fs::path& root) {
    std::error_code ec;
    fs::path abs = fs::weakly_canonical(fs::absolute(root, ec), ec);
    return (ec ? root : abs).string();
}

namespace {

std::int64_t UnixNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Runs fn(i) for i in [0, n) on up to `threads` threads; fn must be thread-safe.
void ParallelFor(size_t n, unsigned threads, const std::function<void(size_t)>& fn) {
    if (n == 0) return;
    unsigned workers = std::min<unsigned>(threads, static_cast<unsigned>(n));
    if (workers <= 1) {
        for (size_t i = 0; i < n; ++i) fn(i);
        return;
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    pool.reserve(workers);
    for (unsigned w = 0; w < workers; ++w) {
        pool.emplace_back([&] {
            for (size_t i = next++; i < n; i = next++) fn(i);
        });
    }
    for (auto& t : pool) t.join();
}

// One file whose content must be (re)considered in this run.
struct FileWork {
    const ScannedFile* file = nullptr;
    const store::FileState* previous = nullptr;  // nullptr: new file
    // Filled by the read/chunk stage:
    std::string content_hash;
    bool skip = false;  // binary or unreadable: drop it (and its old records)
    std::string skip_reason;
    bool unchanged_content = false;
    std::vector<Record> records;
    std::vector<std::string> embed_texts;
    std::int64_t embed_bytes = 0;  // total size of embed_texts
};

void ReadAndChunk(const fs::path& root, const config::IndexConfig& config, FileWork& work) {
    auto read = ReadWholeFile((root / work.file->rel_path).string());
    if (!read.ok()) {
        work.skip = true;
        work.skip_reason = "unreadable: " + read.status().message();
        return;
    }
    const std::string content = std::move(*read);
    work.content_hash = Hash128Hex(content);
    if (work.previous && work.previous->content_hash == work.content_hash) {
        work.unchanged_content = true;
        return;
    }
    if (LooksBinary(std::string_view(content).substr(0, 8192))) {
        work.skip = true;
        work.skip_reason = "binary content";
        return;
    }
    const std::string& path = work.file->rel_path;
    std::vector<Chunk> chunks = ChunkFile(work.file->language, content, config.chunk);
    std::map<std::pair<std::string, std::string>, int> occurrences;
    work.records.reserve(chunks.size());
    work.embed_texts.reserve(chunks.size());
    for (auto& c : chunks) {
        int occurrence = 0;
        if (c.part <= 1) occurrence = occurrences[{c.kind, c.symbol}]++;
        else occurrence = occurrences[{c.kind, c.symbol}] - 1;
        Record r;
        r.id = RecordId(path, c.kind, c.symbol, occurrence, c.part);
        r.metadata.emplace(std::string(meta::kFilePath), path);
        r.metadata.emplace(std::string(meta::kLanguage), work.file->language);
        r.metadata.emplace(std::string(meta::kStartLine), std::int64_t{c.start_line});
        r.metadata.emplace(std::string(meta::kEndLine), std::int64_t{c.end_line});
        r.metadata.emplace(std::string(meta::kSymbol), c.symbol);
        r.metadata.emplace(std::string(meta::kKind), c.kind);
        r.metadata.emplace(std::string(meta::kParent), c.parent);
        r.metadata.emplace(std::string(meta::kContentHash), Hash128Hex(c.text));
        work.embed_texts.push_back(EmbeddingText(path, c.symbol, c.kind, c.text));
        work.embed_bytes += static_cast<std::int64_t>(work.embed_texts.back().size());
        r.document = std::move(c.text);
        work.records.push_back(std::move(r));
    }
}

// The rebuild cost of a collection (records and bytes of embedding text), kept in its
// properties and updated with every commit of an index run.
struct RebuildCost {
    std::int64_t chunks = 0;
    std::int64_t bytes = 0;
    void AddTo(store::ChangeSet& changes) const {
        changes.set_properties[std::string(collection_property::kEmbedTextBytes)] = std::to_string(bytes);
        changes.set_properties[std::string(collection_property::kEmbedTextChunks)] = std::to_string(chunks);
    }
};

std::optional<std::int64_t> IntProperty(const CollectionInfo& info, std::string_view key) {
    auto it = info.properties.find(key);
    if (it == info.properties.end()) return std::nullopt;
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    if (ec != std::errc() || ptr != it->second.data() + it->second.size() || value < 0) return std::nullopt;
    return value;
}

// The recorded cost when it matches the collection's record count; otherwise (a collection
// written by an older build, or by `migrate import`) counted by reading every record once.
Result<RebuildCost> CurrentRebuildCost(store::VectorStore& store, const CollectionInfo& info) {
    auto bytes = IntProperty(info, collection_property::kEmbedTextBytes);
    auto chunks = IntProperty(info, collection_property::kEmbedTextChunks);
    if (bytes && chunks && *chunks == info.records) return RebuildCost{*chunks, *bytes};
    RebuildCost cost;
    std::string after;
    while (true) {
        SH_ASSIGN_OR_RETURN(store::ScanPage page, store.Scan(info.spec.name, after, 256));
        for (const auto& r : page.records) {
            ++cost.chunks;
            cost.bytes += EmbeddingTextBytes(r);
        }
        if (!page.next_after) break;
        after = *page.next_after;
    }
    return cost;
}

// Subtracts the stored records `ids` (about to be replaced or deleted) from `cost`.
Status SubtractRecords(store::VectorStore& store, const std::string& collection, const std::vector<std::string>& ids,
                       RebuildCost& cost) {
    constexpr size_t kPage = 512;
    for (size_t lo = 0; lo < ids.size(); lo += kPage) {
        const size_t n = std::min(kPage, ids.size() - lo);
        SH_ASSIGN_OR_RETURN(std::vector<Record> old, store.Get(collection, std::span<const std::string>(ids.data() + lo, n)));
        for (const auto& r : old) {
            --cost.chunks;
            cost.bytes -= EmbeddingTextBytes(r);
        }
    }
    return Status::Ok();
}

}  // namespace

namespace {
// Adds the time since construction to `sink` when destroyed.
class StageTimer {
   public:
    explicit StageTimer(double& sink) : sink_(sink), start_(std::chrono::steady_clock::now()) {}
    ~StageTimer() { sink_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
    StageTimer(const StageTimer&) = delete;
    StageTimer& operator=(const StageTimer&) = delete;

   private:
    double& sink_;
    std::chrono::steady_clock::time_point start_;
};
}  // namespace

namespace {
// Commits change sets on one background thread, one at a time and in order. Wait() returns the
// status of the commit in flight (Ok when none); the destructor waits too, so an early return
// never leaves a commit running against a store that is about to close.
class GroupCommitter {
   public:
    GroupCommitter(store::VectorStore& store, const std::string& collection, double& seconds)
        : store_(store), collection_(collection), seconds_(seconds) {}
    ~GroupCommitter() { (void)Wait(); }
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    void Start(store::ChangeSet changes) {
        changes_ = std::move(changes);
        thread_ = std::thread([this] {
            StageTimer timer(seconds_);
            status_ = store_.Commit(collection_, changes_);
        });
    }
    Status Wait() {
        if (thread_.joinable()) thread_.join();
        changes_ = store::ChangeSet{};
        Status s = std::move(status_);
        status_ = Status::Ok();
        return s;
    }

   private:
    store::VectorStore& store_;
    const std::string& collection_;
    double& seconds_;
    store::ChangeSet changes_;
    Status status_;
    std::thread thread_;
};
}  // namespace

ScanOptions ScanOptionsFor(const IndexOptions& options) {
    ScanOptions scan_options;
    scan_options.max_file_bytes = options.config.max_file_bytes;
    scan_options.default_excludes = options.config.default_excludes;
    scan_options.extra_excludes = options.config.exclude;
    scan_options.follow_symlinks = options.config.follow_symlinks;
    if (!options.store_dir.empty()) {
        std::error_code ec;
        fs::path rel = fs::relative(fs::weakly_canonical(options.store_dir, ec), fs::weakly_canonical(options.root, ec),
                                    ec);
        if (!ec && !rel.empty() && rel.native().rfind("..", 0) != 0) scan_options.store_dir = rel.generic_string();
    }
    return scan_options;
}

Result<TreeChanges> CompareTree(store::VectorStore& store, const IndexOptions& options) {
    if (options.collection.empty()) return InvalidArgument("no collection name given");
    SH_ASSIGN_OR_RETURN(ScanResult scan, ScanTree(options.root, ScanOptionsFor(options)));
    auto listed = store.ListFiles(options.collection);
    if (!listed.ok() && listed.status().code() != ErrorCode::kNotFound) return listed.status();
    const std::vector<store::FileState> states = listed.ok() ? std::move(*listed) : std::vector<store::FileState>{};
    std::unordered_map<std::string, const store::FileState*> previous;
    for (const auto& st : states) previous.emplace(st.path, &st);
    TreeChanges changes;
    changes.files_scanned = static_cast<std::int64_t>(scan.files.size());
    for (const auto& f : scan.files) {
        auto it = previous.find(f.rel_path);
        if (it == previous.end()) {
            ++changes.files_new;
            continue;
        }
        if (it->second->size != f.size || it->second->mtime_ns != f.mtime_ns) ++changes.files_modified;
        previous.erase(it);
    }
    changes.files_deleted = static_cast<std::int64_t>(previous.size());
    return changes;
}

Result<IndexStats> IndexTree(store::VectorStore& store, embed::Embedder& embedder, const IndexOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    IndexStats stats;
    IndexProgress progress;
    auto report = [&](IndexProgress::Phase phase) {
        if (!options.on_progress) return;
        progress.phase = phase;
        progress.elapsed = std::chrono::steady_clock::now() - started;
        options.on_progress(progress);
    };
    auto cancelled = [&] { return options.cancel && options.cancel->load(); };
    if (options.collection.empty()) return InvalidArgument("no collection name given");
    unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());

    // 1. Scan. Git's HEAD is read first: should it move during the run, the recorded commit is
    // the older one, and catching up from it later re-reads more, never less.
    report(IndexProgress::Phase::kScanning);
    const ScanOptions scan_options = ScanOptionsFor(options);
    // The dirty flag: tracked changes and the tracked paths come from git beside the scan and the
    // comparison with the store; untracked files from the scan itself (git's own walk for them cost
    // as much as the whole no-change run, ADR-36b). Waited for before any file is read; an early
    // return waits for it too (a std::async future joins when destroyed).
    std::future<std::optional<GitTracked>> git_tracked;
    if (options.record_git) {
        if (auto head = ReadGitHead(options.root)) {
            stats.git = GitState{*head, std::nullopt};
            git_tracked = std::async(std::launch::async, [root = options.root, exclude = scan_options.store_dir] {
                return ReadGitTracked(root, exclude);
            });
        }
    }
    std::vector<std::string> scanned_paths;  // for the dirty flag: what this run indexes
    auto join_git = [&] {
        if (!git_tracked.valid()) return;
        std::optional<GitTracked> tracked = git_tracked.get();
        if (!tracked) return;  // git could not tell: dirty stays unknown
        if (tracked->changed) {
            stats.git->dirty = true;
            return;
        }
        const std::vector<std::string> candidates = UntrackedCandidates(tracked->paths, scanned_paths);
        stats.git->dirty = candidates.empty() ? std::optional<bool>(false) : AnyNotIgnored(options.root, candidates);
    };
    auto scanned = [&] {
        StageTimer timer(stats.scan_seconds);
        return ScanTree(options.root, scan_options);
    }();
    SH_ASSIGN_OR_RETURN(ScanResult scan, std::move(scanned));
    stats.files_scanned = static_cast<std::int64_t>(scan.files.size());
    stats.skipped = std::move(scan.skipped);
    if (git_tracked.valid()) {
        scanned_paths.reserve(scan.files.size());
        for (const auto& f : scan.files) scanned_paths.push_back(f.rel_path);
    }

    // 2. Compare with the stored state.
    // Creates the collection, or refuses an embedder that does not match it.
    SH_RETURN_IF_ERROR(store.EnsureCollection(embedder.SpecFor(options.collection)).status());
    {
        // Records the tree's root, and marks the run unfinished until its last commit (status
        // reports a collection still marked as interrupted).
        store::ChangeSet start;
        start.set_properties.emplace(std::string(collection_property::kRoot), RootProperty(options.root));
        start.set_properties.emplace(std::string(collection_property::kIndexStarted), std::to_string(UnixNow()));
        SH_RETURN_IF_ERROR(store.Commit(options.collection, start));
    }
    // The collection's properties (the indexed commit, the rebuild cost) come from GetCollection:
    // EnsureCollection's info carries them on the embedded store only, not on PostgreSQL.
    SH_ASSIGN_OR_RETURN(CollectionInfo info, store.GetCollection(options.collection));
    if (auto it = info.properties.find(collection_property::kGitCommit); it != info.properties.end())
        stats.previous_git_commit = it->second;
    SH_ASSIGN_OR_RETURN(RebuildCost cost, CurrentRebuildCost(store, info));
    SH_ASSIGN_OR_RETURN(std::vector<store::FileState> states, store.ListFiles(options.collection));
    std::unordered_map<std::string, const store::FileState*> previous;
    for (const auto& st : states) previous.emplace(st.path, &st);

    std::vector<FileWork> work;
    std::unordered_set<std::string> present;
    present.reserve(scan.files.size());
    for (const auto& f : scan.files) {
        present.insert(f.rel_path);
        auto it = previous.find(f.rel_path);
        const store::FileState* prev = it == previous.end() ? nullptr : it->second;
        if (prev && prev->size == f.size && prev->mtime_ns == f.mtime_ns) {
            ++stats.files_unchanged;
            stats.chunks_reused += static_cast<std::int64_t>(prev->record_ids.size());
            continue;
        }
        FileWork w;
        w.file = &f;
        w.previous = prev;
        work.push_back(std::move(w));
        progress.files_total++;
        progress.bytes_total += f.size;
    }

    join_git();

    // 3. Read, chunk, embed and commit changed files in groups.
    GroupCommitter committer(store, options.collection, stats.commit_seconds);
    const size_t group_chunks = static_cast<size_t>(std::max(1, options.config.batch_size));
    size_t next = 0;
    report(IndexProgress::Phase::kIndexing);
    while (next < work.size()) {
        if (cancelled()) {
            SH_RETURN_IF_ERROR(committer.Wait());
            return Cancelled("indexing interrupted; committed work is kept, run `index` again to resume");
        }
        // Read and chunk files until the group holds enough chunks. Files are
        // read in slices of `threads * 4` so that one huge group is avoided.
        size_t group_begin = next;
        size_t chunk_count = 0;
        {
            StageTimer timer(stats.chunk_seconds);
            while (next < work.size() && chunk_count < group_chunks) {
                size_t slice_end = std::min(work.size(), next + threads * 4);
                ParallelFor(slice_end - next, threads,
                            [&](size_t i) { ReadAndChunk(options.root, options.config, work[next + i]); });
                for (size_t i = next; i < slice_end; ++i) chunk_count += work[i].records.size();
                next = slice_end;
            }
        }

        // Embed this group's chunks in batches, in parallel.
        std::vector<std::pair<size_t, size_t>> text_refs;  // (work index, record index)
        for (size_t i = group_begin; i < next; ++i)
            for (size_t r = 0; r < work[i].records.size(); ++r) text_refs.emplace_back(i, r);
        const size_t batch = std::max<size_t>(1, embedder.batch_size());
        const size_t batches = (text_refs.size() + batch - 1) / batch;
        std::vector<Status> batch_status(batches);
        std::optional<StageTimer> embed_timer(std::in_place, stats.embed_seconds);
        ParallelFor(batches, threads, [&](size_t b) {
            size_t lo = b * batch, hi = std::min(text_refs.size(), lo + batch);
            std::vector<std::string> texts;
            texts.reserve(hi - lo);
            for (size_t t = lo; t < hi; ++t) {
                auto [wi, ri] = text_refs[t];
                texts.push_back(std::move(work[wi].embed_texts[ri]));
            }
            auto vectors = embedder.Embed(texts, embed::Purpose::kDocument);
            if (!vectors.ok()) {
                batch_status[b] = vectors.status();
                return;
            }
            for (size_t t = lo; t < hi; ++t) {
                auto [wi, ri] = text_refs[t];
                work[wi].records[ri].embedding = std::move((*vectors)[t - lo]);
            }
        });
        embed_timer.reset();
        for (const auto& s : batch_status) SH_RETURN_IF_ERROR(s.WithContext("embedding"));

        // Commit the group atomically.
        store::ChangeSet changes;
        std::vector<std::string> replaced;  // stored records of changed or dropped files
        for (size_t i = group_begin; i < next; ++i) {
            FileWork& w = work[i];
            progress.files_done++;
            progress.bytes_done += w.file->size;
            if (w.skip) {
                ++stats.files_skipped;
                stats.skipped.push_back({w.file->rel_path, w.skip_reason});
                if (w.previous) {
                    replaced.insert(replaced.end(), w.previous->record_ids.begin(), w.previous->record_ids.end());
                    changes.delete_ids.insert(changes.delete_ids.end(), w.previous->record_ids.begin(),
                                              w.previous->record_ids.end());
                    stats.chunks_deleted += static_cast<std::int64_t>(w.previous->record_ids.size());
                    changes.delete_files.push_back(w.file->rel_path);
                }
                continue;
            }
            store::FileState st;
            st.path = w.file->rel_path;
            st.content_hash = w.content_hash;
            st.size = w.file->size;
            st.mtime_ns = w.file->mtime_ns;
            stats.bytes_read += w.file->size;
            if (w.unchanged_content) {
                ++stats.files_unchanged;
                stats.chunks_reused += static_cast<std::int64_t>(w.previous->record_ids.size());
                st.record_ids = w.previous->record_ids;
                changes.put_files.push_back(std::move(st));
                continue;
            }
            if (w.previous) {
                ++stats.files_changed;
                replaced.insert(replaced.end(), w.previous->record_ids.begin(), w.previous->record_ids.end());
                std::unordered_set<std::string> kept;
                for (const auto& r : w.records) kept.insert(r.id);
                for (const auto& id : w.previous->record_ids) {
                    if (!kept.count(id)) {
                        changes.delete_ids.push_back(id);
                        ++stats.chunks_deleted;
                    }
                }
            } else {
                ++stats.files_added;
            }
            for (auto& r : w.records) {
                st.record_ids.push_back(r.id);
                changes.upserts.push_back(std::move(r));
            }
            stats.chunks_written += static_cast<std::int64_t>(st.record_ids.size());
            cost.chunks += static_cast<std::int64_t>(st.record_ids.size());
            cost.bytes += w.embed_bytes;
            progress.chunks_done += static_cast<std::int64_t>(st.record_ids.size());
            changes.put_files.push_back(std::move(st));
            w.records.clear();
            w.records.shrink_to_fit();
        }
        SH_RETURN_IF_ERROR(SubtractRecords(store, options.collection, replaced, cost));
        cost.AddTo(changes);
        // One group is committed while the next is read, chunked and embedded (ADR-29b); groups
        // still commit one at a time and in order, each atomically, so an interrupted run keeps
        // exactly the groups that committed, as before.
        SH_RETURN_IF_ERROR(committer.Wait());
        report(IndexProgress::Phase::kIndexing);
        committer.Start(std::move(changes));
    }
    SH_RETURN_IF_ERROR(committer.Wait());
    report(IndexProgress::Phase::kIndexing);

    // 4. Remove files that are gone, then persist derived indexes.
    if (cancelled()) return Cancelled("indexing interrupted; committed work is kept, run `index` again to resume");
    report(IndexProgress::Phase::kRemoving);
    store::ChangeSet removal;
    for (const auto& st : states) {
        if (present.count(st.path)) continue;
        ++stats.files_removed;
        stats.chunks_deleted += static_cast<std::int64_t>(st.record_ids.size());
        removal.delete_ids.insert(removal.delete_ids.end(), st.record_ids.begin(), st.record_ids.end());
        removal.delete_files.push_back(st.path);
    }
    removal.touch_last_indexed = true;
    removal.set_properties.emplace(std::string(collection_property::kIndexStarted), std::nullopt);
    if (options.record_git) {
        std::optional<std::string> commit, dirty;
        if (stats.git) {
            commit = stats.git->commit;
            if (stats.git->dirty) dirty = *stats.git->dirty ? "true" : "false";
        }
        removal.set_properties.emplace(std::string(collection_property::kGitCommit), commit);
        removal.set_properties.emplace(std::string(collection_property::kGitDirty), dirty);
    }
    {
        StageTimer timer(stats.commit_seconds);
        SH_RETURN_IF_ERROR(SubtractRecords(store, options.collection, removal.delete_ids, cost));
        cost.AddTo(removal);
        SH_RETURN_IF_ERROR(store.Commit(options.collection, removal));
    }
    report(IndexProgress::Phase::kFinishing);
    {
        StageTimer timer(stats.flush_seconds);
        SH_RETURN_IF_ERROR(store.Flush());
    }
    stats.rebuild_chunks = cost.chunks;
    stats.rebuild_text_bytes = cost.bytes;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return stats;
}

}  // namespace signalhub::index

#pragma once
// Watch mode: keeps a store's collection in step with a source tree by running
// the incremental IndexTree pass whenever the tree changes (Linux inotify).
//
// How it works. One background thread owns an inotify instance with a watch on
// every directory the scanner would descend into: the root and below, except
// .git/, the store directory and directories excluded by the ignore rules
// (default excludes, .git/info/exclude, .gitignore and .signalhubignore at
// every level, IndexConfig::exclude) — the same rules as ScanTree, so events
// from ignored files and directories are dropped too. Events start a quiet
// period (WatchOptions::debounce); when it ends (or max_delay after the first
// event of a burst that never goes quiet) the watches are brought in step with
// the tree (new directories added, vanished or newly ignored ones removed) and
// one IndexTree pass runs with the caller's IndexOptions. IndexTree compares
// sizes and mtimes, so a pass costs one scan plus the work for what changed.
// Events that arrive during a pass start another pass afterwards, so the
// index converges on the tree's final state.
//
// Never silently stops: when the kernel's event queue overflows (IN_Q_OVERFLOW)
// the next pass is a full rescan; when not every directory can be watched
// (fs.inotify.max_user_watches reached, WatchOptions::max_watches, or no
// inotify instance available) the watcher keeps what it has and also runs a
// pass every poll_interval; a failed pass is retried with backoff. Every pass
// is reported to `on_pass`, with the reason and the watch coverage.
//
// What searches see. IndexTree commits files in groups, each group's records
// and file states in one store transaction, and the removals of deleted files
// in one final transaction. A search therefore sees every file either entirely
// at its old content or entirely at its new one, never a mix of chunks from
// both, and never a file's records without its file state. It may see some
// files of a pass already updated and others not yet (a pass is not one
// snapshot). Each commit bumps the store's DataVersion, so query caches keyed
// by it never serve results from before a commit. The watcher adds: one pass
// at a time (passes never overlap, and its writer store keeps other writers
// out), the quiet period (a file is read after the editor finished saving it,
// not halfway through; and if it is read mid-write anyway, the write's later
// events trigger another pass), and coverage of a changing tree (new
// directories are watched before the pass that indexes them, so no file
// created in them is missed).
//
// Thread safety: Start/Stop/accessors may be called from any thread. on_pass
// and IndexOptions::on_progress run on the watcher's thread; they must not
// destroy the Watcher (Stop() from them is allowed and does not wait).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "index/pipeline.hpp"
#include "store/vector_store.hpp"

namespace signalhub::index {

struct WatchOptions {
    // What each pass runs, as `signal-hub index` builds it (root, collection,
    // store_dir, config, threads; on_progress runs on the watcher's thread).
    // `cancel` is replaced by the watcher's own stop flag.
    IndexOptions index;
    // A pass starts once no event arrived for this long...
    std::chrono::milliseconds debounce{300};
    // ...or at the latest this long after the first event of a burst.
    std::chrono::milliseconds max_delay{10'000};
    // Run a pass right after starting (catches up with changes made while
    // nothing was watching).
    bool initial_pass = true;
    // Most directories to watch (one inotify watch each); 0: only the kernel's
    // limit (fs.inotify.max_user_watches, shared by every process of the user).
    std::size_t max_watches = 0;
    // While some directories are not watched: a full pass at least this often.
    std::chrono::milliseconds poll_interval{60'000};
    // After a failed pass: retried after retry_delay, doubling with each
    // consecutive failure up to poll_interval.
    std::chrono::milliseconds retry_delay{2'000};
};

struct WatchPass {
    enum class Trigger {
        kStart,     // the initial pass
        kChanges,   // file-system events
        kOverflow,  // the kernel dropped events: full rescan
        kPoll,      // periodic pass because some directories are not watched
        kRetry,     // the previous pass failed
    };
    Trigger trigger = Trigger::kChanges;
    std::int64_t events = 0;                   // file-system events coalesced into this pass
    std::size_t watched_dirs = 0;              // directories watched during the pass
    std::size_t unwatched_dirs = 0;            // directories that could not be watched (> 0: polling)
    std::string coverage_note;                 // why some are not watched (operator-facing), else ""
    Result<IndexStats> result = IndexStats{};  // Cancelled when Stop() interrupted the pass
};

std::string_view TriggerName(WatchPass::Trigger trigger);  // "start", "changes", "overflow", "poll", "retry"

class Watcher {
   public:
    using PassCallback = std::function<void(const WatchPass&)>;

    // Starts watching options.index.root and returns once the watches are in
    // place (changes made after Start returns are seen). Borrows `store` (a
    // writable open) and `embedder`: both must outlive the Watcher.
    // Errors: InvalidArgument (no collection name, root not a directory),
    // NotFound (root missing), Internal (no thread). Failing to create an
    // inotify instance is not an error: the watcher polls, and says so in
    // every WatchPass.
    static Result<std::unique_ptr<Watcher>> Start(store::VectorStore& store, embed::Embedder& embedder,
                                                  WatchOptions options, PassCallback on_pass);

    // Stop() and wait for the thread.
    ~Watcher();
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // Ends watching: a pass in progress is cancelled at its next commit
    // boundary (what it committed stays; the next run resumes) and reported
    // with a Cancelled result; returns when the thread has ended (immediately
    // when called from on_pass or on_progress). Idempotent.
    void Stop();
    // True once Stop() was called (e.g. for long-running on_progress hooks).
    bool stopping() const;

    // Root-relative directories currently watched ("" is the root), sorted.
    std::vector<std::string> WatchedDirectories() const;

    class Impl;

   private:
    explicit Watcher(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::index

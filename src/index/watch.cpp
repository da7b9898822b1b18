#include "index/watch.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "index/scanner.hpp"

namespace signalhub::index {
namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

std::string_view TriggerName(WatchPass::Trigger trigger) {
    switch (trigger) {
        case WatchPass::Trigger::kStart: return "start";
        case WatchPass::Trigger::kChanges: return "changes";
        case WatchPass::Trigger::kOverflow: return "overflow";
        case WatchPass::Trigger::kPoll: return "poll";
        case WatchPass::Trigger::kRetry: return "retry";
    }
    return "changes";
}

namespace {

// Entry changes of a directory, and the directory itself going away. Never
// IN_ACCESS/IN_OPEN/IN_CLOSE_NOWRITE: the passes' own reads must not wake us.
constexpr std::uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                     IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;

std::string ErrnoText(int err) { return std::strerror(err); }

std::string Seconds(std::chrono::milliseconds d) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g s", static_cast<double>(d.count()) / 1000.0);
    return buffer;
}

// As the scanner reads ignore files: regular files only (a symlinked ignore
// file is not followed, as in git); missing or unreadable ones add nothing.
bool ReadIgnoreFile(const std::string& path, std::string* text) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    auto read = ReadWholeFile(path);
    if (!read.ok()) return false;
    *text = std::move(*read);
    return true;
}

bool IsIgnoreFileName(std::string_view name) { return name == ".gitignore" || name == ".signalhubignore"; }

std::string Join(const std::string& rel, std::string_view name) {
    return rel.empty() ? std::string(name) : rel + "/" + std::string(name);
}

}  // namespace

class Watcher::Impl {
   public:
    Impl(store::VectorStore& store, embed::Embedder& embedder, WatchOptions options, PassCallback on_pass)
        : store_(store), embedder_(embedder), options_(std::move(options)), on_pass_(std::move(on_pass)) {}

    ~Impl() {
        if (inotify_fd_ >= 0) ::close(inotify_fd_);
        if (wake_fd_ >= 0) ::close(wake_fd_);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    Status Init() {
        const fs::path& root = options_.index.root;
        if (options_.index.collection.empty()) return InvalidArgument("watch: no collection name given");
        if (root.empty()) return InvalidArgument("watch: no root directory given");
        struct stat st {};
        if (::stat(root.c_str(), &st) != 0) {
            const int err = errno;
            if (err == ENOENT || err == ENOTDIR) return NotFound("watch: " + root.string() + " does not exist");
            return InvalidArgument("watch: cannot stat " + root.string() + ": " + ErrnoText(err));
        }
        if (!S_ISDIR(st.st_mode)) return InvalidArgument("watch: " + root.string() + " is not a directory");
        std::error_code ec;
        root_abs_ = fs::canonical(root, ec).string();
        if (ec) return InvalidArgument("watch: cannot resolve " + root.string() + ": " + ec.message());
        if (!options_.index.store_dir.empty()) {
            fs::path store = fs::weakly_canonical(fs::absolute(options_.index.store_dir, ec), ec);
            fs::path rel = store.lexically_relative(root_abs_);
            if (!ec && !rel.empty() && *rel.begin() != ".." && rel != ".") store_rel_ = rel.generic_string();
        }
        for (const std::string& pattern : options_.index.config.exclude) extra_.AddPatterns("", pattern);

        wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd_ < 0) return Internal("watch: eventfd: " + ErrnoText(errno));
        inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (inotify_fd_ < 0) {
            const int err = errno;
            inotify_failure_ = "cannot create an inotify instance (" + ErrnoText(err) + ")" +
                               (err == EMFILE ? "; raise fs.inotify.max_user_instances" : "");
        }
        Resync();
        return Status::Ok();
    }

    Status StartThread() {
        try {
            thread_ = std::thread([this] { Run(); });
        } catch (const std::exception& e) {
            return Internal(std::string("watch: cannot start its thread: ") + e.what());
        }
        return Status::Ok();
    }

    void Stop() {
        stop_.store(true);
        Wake();
        if (self_id_.load() == std::this_thread::get_id()) return;  // from on_pass / on_progress
        std::lock_guard lock(join_mu_);
        if (thread_.joinable()) thread_.join();
    }

    bool stopping() const { return stop_.load(); }

    std::vector<std::string> WatchedDirectories() const {
        std::lock_guard lock(mu_);
        std::vector<std::string> out;
        out.reserve(watches_.size());
        for (const auto& [wd, dir] : watches_) out.push_back(dir.rel);
        std::sort(out.begin(), out.end());
        return out;
    }

   private:
    struct DirWatch {
        std::string rel;        // root-relative, "" for the root
        IgnoreMatcher matcher;  // the rules in effect inside this directory
    };

    // ---- watches ----

    bool Ignored(const IgnoreMatcher& matcher, const std::string& rel, bool is_dir) const {
        return matcher.IsIgnoredEntry(rel, is_dir) || extra_.IsIgnoredEntry(rel, is_dir);
    }

    struct WalkState {
        std::unordered_map<int, DirWatch> watches;
        std::set<std::pair<dev_t, ino_t>> visited;
        std::size_t unwatched = 0;
        int limit_errno = 0;  // ENOSPC / ENOMEM from inotify_add_watch
    };

    // Brings the watches in step with the tree: every directory ScanTree would
    // enter is watched (as far as the limits allow), nothing else. Runs on the
    // watcher's thread (or in Init, before it starts).
    void Resync() {
        IgnoreMatcher base;
        if (options_.index.config.default_excludes) {
            std::string defaults;
            for (const std::string& pattern : DefaultExcludePatterns()) defaults += pattern + "\n";
            base.AddPatterns("", defaults);
        }
        // Worktrees keep info/exclude elsewhere; missing it only means watching more.
        std::string info_exclude;
        if (ReadIgnoreFile(root_abs_ + "/.git/info/exclude", &info_exclude)) base.AddPatterns("", info_exclude);

        WalkState state;
        struct stat st {};
        if (::stat(root_abs_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            Walk(root_abs_, "", base, st, /*via_symlink=*/false, state);
        }
        std::lock_guard lock(mu_);
        for (const auto& [wd, dir] : watches_) {
            if (!state.watches.contains(wd)) (void)::inotify_rm_watch(inotify_fd_, wd);
        }
        watches_ = std::move(state.watches);
        unwatched_ = state.unwatched;
        coverage_note_.clear();
        if (unwatched_ == 0 && inotify_fd_ >= 0) return;
        std::string why;
        if (inotify_fd_ < 0) {
            why = inotify_failure_;
        } else if (state.limit_errno == ENOSPC) {
            why = "the inotify watch limit is reached (raise fs.inotify.max_user_watches, e.g. sysctl "
                  "fs.inotify.max_user_watches=524288)";
        } else if (state.limit_errno != 0) {
            why = "the kernel refused more inotify watches (" + ErrnoText(state.limit_errno) + ")";
        } else {
            why = "max_watches (" + std::to_string(options_.max_watches) + ") is reached";
        }
        coverage_note_ = std::to_string(unwatched_) + " of " + std::to_string(unwatched_ + watches_.size()) +
                         " directories are not watched: " + why + "; the whole tree is rescanned every " +
                         Seconds(options_.poll_interval);
    }

    void AddWatch(const std::string& abs, const std::string& rel, const IgnoreMatcher& matcher, bool via_symlink,
                  WalkState& state) {
        if (inotify_fd_ < 0 || (options_.max_watches > 0 && state.watches.size() >= options_.max_watches)) {
            ++state.unwatched;
            return;
        }
        const int wd = ::inotify_add_watch(inotify_fd_, abs.c_str(), kWatchMask | (via_symlink ? 0 : IN_DONT_FOLLOW));
        if (wd < 0) {
            const int err = errno;
            // Out of watches: counted (polling covers it). Gone or unreadable:
            // nothing in it can be indexed either; its parent reports changes.
            if (err == ENOSPC || err == ENOMEM) {
                state.limit_errno = err;
                ++state.unwatched;
            }
            return;
        }
        state.watches[wd] = DirWatch{rel, matcher};
    }

    // Mirrors the scanner's walk (index/scanner.cpp): skips .git, the store
    // directory, ignored directories, loops; follows directory symlinks only
    // when follow_symlinks is set and they lead outside the root.
    void Walk(const std::string& abs, const std::string& rel, const IgnoreMatcher& inherited,
              const struct stat& dir_st, bool via_symlink, WalkState& state) {
        if (!state.visited.insert({dir_st.st_dev, dir_st.st_ino}).second) return;
        IgnoreMatcher matcher = inherited;
        std::string text;
        if (ReadIgnoreFile(abs + "/.gitignore", &text)) matcher.AddPatterns(rel, text);
        if (ReadIgnoreFile(abs + "/.signalhubignore", &text)) matcher.AddPatterns(rel, text);
        AddWatch(abs, rel, matcher, via_symlink, state);

        DIR* dir = ::opendir(abs.c_str());
        if (dir == nullptr) return;
        std::vector<std::pair<std::string, unsigned char>> entries;
        while (const dirent* entry = ::readdir(dir)) {
            const std::string_view name = entry->d_name;
            if (name != "." && name != "..") entries.emplace_back(std::string(name), entry->d_type);
        }
        ::closedir(dir);
        for (const auto& [name, type] : entries) {
            if (name == ".git") continue;
            const std::string child_rel = Join(rel, name);
            if (!store_rel_.empty() && child_rel == store_rel_) continue;
            if (type != DT_DIR && type != DT_LNK && type != DT_UNKNOWN) continue;
            const std::string child_abs = abs + "/" + name;
            struct stat st {};
            if (::lstat(child_abs.c_str(), &st) != 0) continue;
            if (S_ISDIR(st.st_mode)) {
                if (Ignored(matcher, child_rel, true)) continue;
                Walk(child_abs, child_rel, matcher, st, via_symlink, state);
            } else if (S_ISLNK(st.st_mode) && options_.index.config.follow_symlinks) {
                struct stat target {};
                if (::stat(child_abs.c_str(), &target) != 0 || !S_ISDIR(target.st_mode)) continue;
                if (InsideRoot(child_abs) || Ignored(matcher, child_rel, true)) continue;
                Walk(child_abs, child_rel, matcher, target, /*via_symlink=*/true, state);
            }
        }
    }

    bool InsideRoot(const std::string& abs) const {
        char* resolved = ::realpath(abs.c_str(), nullptr);
        if (resolved == nullptr) return false;
        const std::string target = resolved;
        std::free(resolved);
        const std::string prefix = root_abs_ == "/" ? "/" : root_abs_ + "/";
        return target == root_abs_ || target.rfind(prefix, 0) == 0;
    }

    bool Polling() const { return inotify_fd_ < 0 || unwatched_ > 0; }

    // ---- events ----

    void MarkChanged(SteadyClock::time_point now) {
        if (!pending_) first_event_ = now;
        pending_ = true;
        last_event_ = now;
        ++events_;
    }

    void HandleEvent(std::uint32_t mask, int wd, std::string_view name, SteadyClock::time_point now) {
        if (mask & IN_Q_OVERFLOW) {
            overflow_ = true;
            MarkChanged(now);
            return;
        }
        if (mask & IN_IGNORED) {  // the watch is gone (directory deleted or moved away)
            std::lock_guard lock(mu_);
            watches_.erase(wd);
            return;
        }
        auto it = watches_.find(wd);
        if (it == watches_.end()) return;  // a watch removed by Resync
        const DirWatch& dir = it->second;
        if (name.empty()) {
            // The directory itself: its parent reports what happens to it,
            // except for the root, which has no watched parent.
            if (dir.rel.empty()) MarkChanged(now);
            return;
        }
        if (name == ".git") return;
        const std::string child = Join(dir.rel, name);
        if (!store_rel_.empty() && child == store_rel_) return;
        const bool is_dir = (mask & IN_ISDIR) != 0;
        if (!is_dir && IsIgnoreFileName(name)) {
            MarkChanged(now);  // the rules changed: the next Resync and pass apply them
            return;
        }
        if (Ignored(dir.matcher, child, is_dir)) return;
        MarkChanged(now);
    }

    // Reads every queued event. False when the inotify descriptor failed (the
    // watcher then polls).
    bool ReadEvents() {
        alignas(inotify_event) char buffer[64 * 1024];
        while (true) {
            const ssize_t n = ::read(inotify_fd_, buffer, sizeof buffer);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
                inotify_failure_ = "reading inotify events failed (" + ErrnoText(errno) + ")";
                return false;
            }
            if (n == 0) return true;
            const auto now = SteadyClock::now();
            const auto size = static_cast<std::size_t>(n);
            for (std::size_t offset = 0; offset + sizeof(inotify_event) <= size;) {
                inotify_event event{};
                std::memcpy(&event, buffer + offset, sizeof event);
                const char* name = buffer + offset + sizeof(inotify_event);
                const std::size_t name_room = std::min<std::size_t>(event.len, size - offset - sizeof(inotify_event));
                // The name is NUL-padded to event.len bytes.
                HandleEvent(event.mask, event.wd, std::string_view(name, ::strnlen(name, name_room)), now);
                offset += sizeof(inotify_event) + event.len;
            }
        }
    }

    void Wake() {
        if (wake_fd_ < 0) return;
        const std::uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
    }

    // ---- the loop ----

    void Run() {
        self_id_.store(std::this_thread::get_id());
        using Trigger = WatchPass::Trigger;
        constexpr auto kNever = SteadyClock::time_point::max();
        bool start_pass = options_.initial_pass;
        auto next_poll = Polling() ? SteadyClock::now() + options_.poll_interval : kNever;
        auto retry_at = kNever;
        int failures = 0;
        while (!stop_.load()) {
            const auto now = SteadyClock::now();
            auto changes_due = kNever;
            if (pending_) changes_due = std::min(last_event_ + options_.debounce, first_event_ + options_.max_delay);
            std::optional<Trigger> trigger;
            if (start_pass) {
                trigger = Trigger::kStart;
            } else if (pending_ && changes_due <= now) {
                trigger = overflow_ ? Trigger::kOverflow : Trigger::kChanges;
            } else if (retry_at <= now) {
                trigger = Trigger::kRetry;
            } else if (next_poll <= now) {
                trigger = Trigger::kPoll;
            }
            if (trigger) {
                start_pass = false;
                const bool ok = RunPass(*trigger);
                const auto after = SteadyClock::now();
                if (ok) {
                    failures = 0;
                    retry_at = kNever;
                } else if (!stop_.load()) {
                    auto delay = options_.retry_delay;  // doubling per consecutive failure, up to poll_interval
                    for (int i = 0; i < failures && delay < options_.poll_interval; ++i) delay *= 2;
                    ++failures;
                    retry_at = after + std::min(delay, std::max(options_.poll_interval, options_.retry_delay));
                }
                next_poll = Polling() ? after + options_.poll_interval : kNever;
                continue;
            }
            const auto due = std::min({changes_due, retry_at, next_poll});
            int timeout_ms = -1;
            if (due != kNever) {
                const auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
                timeout_ms = static_cast<int>(std::clamp<long long>(wait, 1, std::numeric_limits<int>::max()));
            }
            pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
            const int ready = ::poll(fds, inotify_fd_ >= 0 ? 2 : 1, timeout_ms);
            if (ready < 0) continue;  // EINTR; anything else shows up again on the next call
            if (fds[0].revents & POLLIN) {
                std::uint64_t count = 0;
                (void)!::read(wake_fd_, &count, sizeof count);
            }
            if (inotify_fd_ >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) && !ReadEvents()) {
                // The descriptor is broken: poll the whole tree from now on.
                {
                    std::lock_guard lock(mu_);
                    watches_.clear();
                }
                ::close(inotify_fd_);
                inotify_fd_ = -1;
                overflow_ = true;
                MarkChanged(SteadyClock::now());
            }
        }
    }

    // Returns false when the pass failed (for a reason other than Stop()).
    bool RunPass(WatchPass::Trigger trigger) {
        WatchPass pass;
        pass.trigger = trigger;
        pass.events = events_;
        pending_ = false;
        overflow_ = false;
        events_ = 0;
        Resync();
        {
            std::lock_guard lock(mu_);
            pass.watched_dirs = watches_.size();
            pass.unwatched_dirs = unwatched_;
            pass.coverage_note = coverage_note_;
        }
        IndexOptions index = options_.index;
        index.cancel = &stop_;
        try {
            pass.result = IndexTree(store_, embedder_, index);
        } catch (const std::exception& e) {
            pass.result = Internal(std::string("watch: indexing pass failed: ") + e.what());
        }
        const bool ok = pass.result.ok() || pass.result.status().code() == ErrorCode::kCancelled;
        if (on_pass_) {
            try {
                on_pass_(pass);
            } catch (const std::exception&) {
                // A reporting hook must not end the watcher.
            }
        }
        return ok;
    }

    store::VectorStore& store_;
    embed::Embedder& embedder_;
    const WatchOptions options_;
    const PassCallback on_pass_;

    std::string root_abs_;   // canonical root
    std::string store_rel_;  // root-relative store directory ("" when outside the root)
    IgnoreMatcher extra_;    // IndexConfig::exclude, applied on top of every ignore file
    int inotify_fd_ = -1;    // -1: no inotify (polling only)
    int wake_fd_ = -1;
    std::string inotify_failure_;

    // Written by the watcher's thread under mu_; read by it without, by others with mu_.
    mutable std::mutex mu_;
    std::unordered_map<int, DirWatch> watches_;
    std::size_t unwatched_ = 0;
    std::string coverage_note_;

    // The watcher's thread only.
    bool pending_ = false;
    bool overflow_ = false;
    std::int64_t events_ = 0;
    SteadyClock::time_point first_event_{};
    SteadyClock::time_point last_event_{};

    std::atomic<bool> stop_{false};
    std::atomic<std::thread::id> self_id_{};  // the watcher's thread, once running
    std::mutex join_mu_;
    std::thread thread_;
};

Watcher::Watcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Watcher::~Watcher() {
    if (impl_) impl_->Stop();
}

Result<std::unique_ptr<Watcher>> Watcher::Start(store::VectorStore& store, embed::Embedder& embedder,
                                                WatchOptions options, PassCallback on_pass) {
    auto impl = std::make_unique<Impl>(store, embedder, std::move(options), std::move(on_pass));
    SH_RETURN_IF_ERROR(impl->Init());
    SH_RETURN_IF_ERROR(impl->StartThread());
    return std::unique_ptr<Watcher>(new Watcher(std::move(impl)));
}

void Watcher::Stop() { impl_->Stop(); }
bool Watcher::stopping() const { return impl_->stopping(); }
std::vector<std::string> Watcher::WatchedDirectories() const { return impl_->WatchedDirectories(); }

}  // namespace signalhub::index

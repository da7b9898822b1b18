#include "index/git_state.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <future>
#include <string_view>
#include <unordered_set>

extern char** environ;

namespace signalhub::index {
namespace fs = std::filesystem;

namespace {

// git answers rev-parse, rev-list and diff of two commits in milliseconds; status walks the
// work tree and may take seconds on a very large one.
constexpr std::chrono::milliseconds kQuickTimeout{5000};
constexpr std::chrono::milliseconds kStatusTimeout{20000};

std::string_view TrimNewline(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    return text;
}

std::optional<CommandOutput> Git(const fs::path& root, std::vector<std::string> args,
                                 std::chrono::milliseconds timeout = kQuickTimeout, size_t max_output = 1 << 20) {
    std::vector<std::string> argv = {"git", "-C", root.string()};
    for (auto& a : args) argv.push_back(std::move(a));
    auto result = RunCommand(argv, timeout, max_output);
    if (!result || result->timed_out || result->exit_code != 0) return std::nullopt;
    return result;
}

// `git ls-files -z` of a very large tree (~40 bytes a path): output at this size is taken as cut off.
constexpr size_t kMaxListing = size_t{256} << 20;
// Paths per `git check-ignore` call (argument lists stay far below ARG_MAX).
constexpr size_t kCheckIgnoreBatch = 256;

std::optional<std::string> Head(const fs::path& root) {
    auto out = Git(root, {"rev-parse", "--verify", "--quiet", "HEAD^{commit}"});
    if (!out) return std::nullopt;
    return ParseObjectName(out->out);
}

}  // namespace

std::optional<CommandOutput> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                        size_t max_output) {
    if (argv.empty()) return std::nullopt;
    std::vector<std::string> env_storage;
    for (char** e = environ; e && *e; ++e) {
        std::string_view var(*e);
        if (var.starts_with("GIT_") || var.starts_with("LC_ALL=") || var.starts_with("LANGUAGE=")) continue;
        env_storage.emplace_back(var);
    }
    env_storage.emplace_back("LC_ALL=C");
    env_storage.emplace_back("GIT_OPTIONAL_LOCKS=0");
    env_storage.emplace_back("GIT_TERMINAL_PROMPT=0");
    std::vector<char*> envp;
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& s : args) argp.push_back(s.data());
    argp.push_back(nullptr);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return std::nullopt;
    }

    CommandOutput output;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[8192];
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            output.timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int ready = poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0) {
            if (errno == EINTR) continue;
            output.timed_out = true;  // cannot wait any more: treat like a timeout
            break;
        }
        if (ready == 0) continue;  // the deadline check above ends the loop
        const ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            break;
        }
        if (n == 0) break;  // EOF: the child closed its stdout (normally: it exited)
        const size_t room = max_output > output.out.size() ? max_output - output.out.size() : 0;
        output.out.append(buffer, std::min(room, static_cast<size_t>(n)));
    }
    close(fds[0]);
    if (output.timed_out) kill(pid, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    output.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    return output;
}

std::optional<std::string> ParseObjectName(std::string_view text) {
    text = TrimNewline(text);
    if (text.size() != 40 && text.size() != 64) return std::nullopt;
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    }
    return std::string(text);
}

std::optional<std::int64_t> ParseCount(std::string_view text) {
    text = TrimNewline(text);
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 0) return std::nullopt;
    return value;
}

std::optional<std::int64_t> ParseShortstatFiles(std::string_view text) {
    text = TrimNewline(text);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (text.empty()) return 0;
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == 0) return std::nullopt;
    const std::string_view rest = text.substr(digits);
    if (!rest.starts_with(" file changed") && !rest.starts_with(" files changed")) return std::nullopt;
    return ParseCount(text.substr(0, digits));
}

std::string ShortCommit(std::string_view commit) { return std::string(commit.substr(0, 7)); }

std::optional<std::string> ReadGitHead(const fs::path& root) { return Head(root); }

std::optional<bool> ReadGitDirty(const fs::path& root, const std::string& exclude) {
    // Tracked changes and untracked files under the root (what `index` would read), without the
    // store's own directory; files git ignores are not "uncommitted changes".
    std::vector<std::string> args = {"status", "--porcelain", "--untracked-files=normal", "--ignore-submodules=dirty",
                                     "--", "."};
    if (!exclude.empty()) args.push_back(":(exclude)" + exclude);
    if (auto status = Git(root, std::move(args), kStatusTimeout)) return !status->out.empty();
    return std::nullopt;
}

std::optional<GitTracked> ReadGitTracked(const fs::path& root, const std::string& exclude) {
    std::vector<std::string> args = {"status", "--porcelain", "--untracked-files=no", "--ignore-submodules=dirty",
                                     "--", "."};
    if (!exclude.empty()) args.push_back(":(exclude)" + exclude);
    // Paths relative to root (-C root), NUL-separated and unquoted; a submodule is one entry. Listed
    // while status runs.
    auto listed = std::async(std::launch::async, [&root] {
        return Git(root, {"ls-files", "-z", "--", "."}, kStatusTimeout, kMaxListing);
    });
    auto status = Git(root, std::move(args), kStatusTimeout);
    auto listing = listed.get();
    if (!status || !listing || listing->out.size() >= kMaxListing) return std::nullopt;
    GitTracked tracked;
    tracked.changed = !status->out.empty();
    std::string_view rest = listing->out;
    while (!rest.empty()) {
        const size_t end = rest.find('\0');
        tracked.paths.emplace_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
    }
    return tracked;
}

std::vector<std::string> UntrackedCandidates(const std::vector<std::string>& tracked,
                                             const std::vector<std::string>& scanned) {
    std::unordered_set<std::string_view> known(tracked.begin(), tracked.end());
    std::vector<std::string> out;
    for (const std::string& path : scanned) {
        std::string_view p = path;
        bool is_tracked = known.count(p) != 0;
        // Under a tracked path: a file inside a submodule (a gitlink entry).
        for (size_t slash = p.rfind('/'); !is_tracked && slash != std::string_view::npos && slash > 0;
             slash = p.rfind('/', slash - 1)) {
            is_tracked = known.count(p.substr(0, slash)) != 0;
        }
        if (!is_tracked) out.push_back(path);
    }
    return out;
}

std::optional<bool> AnyNotIgnored(const fs::path& root, const std::vector<std::string>& paths) {
    for (size_t begin = 0; begin < paths.size(); begin += kCheckIgnoreBatch) {
        const size_t end = std::min(paths.size(), begin + kCheckIgnoreBatch);
        std::vector<std::string> argv = {"git", "-C", root.string(), "check-ignore", "--"};
        argv.insert(argv.end(), paths.begin() + static_cast<std::ptrdiff_t>(begin),
                    paths.begin() + static_cast<std::ptrdiff_t>(end));
        auto out = RunCommand(argv, kQuickTimeout);
        // Exit 0: some of the paths are ignored (one line each, quoted when unusual); 1: none is.
        if (!out || out->timed_out || (out->exit_code != 0 && out->exit_code != 1)) return std::nullopt;
        if (out->exit_code == 1) return true;
        const auto ignored = static_cast<size_t>(std::count(out->out.begin(), out->out.end(), '\n'));
        if (ignored < end - begin) return true;
    }
    return false;
}

std::optional<GitState> ReadGitState(const fs::path& root, const std::string& exclude) {
    std::optional<std::string> head = Head(root);
    if (!head) return std::nullopt;
    GitState state;
    state.commit = *head;
    state.dirty = ReadGitDirty(root, exclude);
    return state;
}

std::optional<std::int64_t> CommitsBetween(const fs::path& root, const std::string& from, const std::string& to) {
    if (!ParseObjectName(from) || !ParseObjectName(to)) return std::nullopt;
    if (from == to) return 0;
    auto out = Git(root, {"rev-list", "--count", from + ".." + to});
    return out ? ParseCount(out->out) : std::nullopt;
}

std::optional<GitDelta> CompareWithHead(const fs::path& root, const std::string& recorded) {
    std::optional<std::string> head = Head(root);
    if (!head) return std::nullopt;
    GitDelta delta;
    delta.head = *head;
    if (*head == recorded) {
        delta.recorded_known = true;
        delta.commits = 0;
        delta.files = 0;
        return delta;
    }
    if (!ParseObjectName(recorded) || !Git(root, {"cat-file", "-e", recorded + "^{commit}"})) return delta;
    delta.recorded_known = true;
    delta.commits = CommitsBetween(root, recorded, *head);
    // Only the files under the root (pathspec "." relative to -C root); renames count once.
    if (auto out = Git(root, {"diff", "--shortstat", "--no-color", "--no-ext-diff", recorded, *head, "--", "."}))
        delta.files = ParseShortstatFiles(out->out);
    return delta;
}

}  // namespace signalhub::index

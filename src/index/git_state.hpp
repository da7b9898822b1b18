#pragma once
// The git commit a tree was indexed at, and how far the tree's HEAD has moved since.
//
// Git is read by running the `git` binary (argv, no shell) with a timeout, not by parsing
// .git ourselves: besides HEAD (which loose refs, packed refs, a worktree's `.git` file,
// `commondir`, symbolic refs and reftable would all have to be followed for), we need
// "is the work tree dirty", "how many commits between A and B" and "how many files differ
// between A and B", which only git itself answers correctly (index, ignore rules,
// submodules, pack files). Git is optional: when it is absent, the root is not in a work
// tree, HEAD is unborn, or a command fails or times out, these functions return nullopt
// and nothing is recorded or reported; never an error.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signalhub::index {

// The state of the git work tree containing a root.
struct GitState {
    std::string commit;         // full object name of HEAD
    // Uncommitted changes under the root; nullopt: unknown. ReadGitState/ReadGitDirty: any tracked or
    // untracked change (git status); IndexTree: tracked changes or an indexed untracked file (ADR-36b).
    std::optional<bool> dirty;
};

// HEAD of the work tree containing `root` (root may be a subdirectory of it) and whether the
// files under root differ from it. `exclude` (relative to root, "" = none) is left out of
// the dirty check: the embedded store's directory inside the tree.
std::optional<GitState> ReadGitState(const std::filesystem::path& root, const std::string& exclude = "");
// The two halves of ReadGitState, for a caller that runs the slow one (status walks the work tree)
// beside its own work: HEAD's object name (nullopt: not a repository, or no commit yet), and
// whether there are uncommitted changes under the root (nullopt: git cannot tell).
std::optional<std::string> ReadGitHead(const std::filesystem::path& root);
std::optional<bool> ReadGitDirty(const std::filesystem::path& root, const std::string& exclude = "");

// The dirty flag without git's own walk of the work tree (IndexTree, ADR-36b). `git status
// --untracked-files=normal` reads every directory to find untracked files, costing about as much as
// the whole no-change index run it accompanied; the index run walks the tree itself anyway. So:
//   ReadGitTracked: whether tracked files under root differ from HEAD (staged or not: `git status
//     --untracked-files=no`), and the paths git tracks under root (`git ls-files`), relative to root;
//   UntrackedCandidates: the scanned files git does not track (a path under a tracked one, i.e.
//     inside a submodule, counts as tracked);
//   AnyNotIgnored: whether git ignores none of some of them (`git check-ignore`: a file our scanner
//     selects may still be ignored by git, e.g. through core.excludesFile).
// dirty = tracked changes, or an indexed file that git neither tracks nor ignores. Untracked files
// the index run does not read (excluded, binary types, too large) do not count.
struct GitTracked {
    bool changed = false;
    std::vector<std::string> paths;
};
std::optional<GitTracked> ReadGitTracked(const std::filesystem::path& root, const std::string& exclude = "");
std::vector<std::string> UntrackedCandidates(const std::vector<std::string>& tracked,
                                             const std::vector<std::string>& scanned);
std::optional<bool> AnyNotIgnored(const std::filesystem::path& root, const std::vector<std::string>& paths);

// How the root's current HEAD relates to a recorded commit.
struct GitDelta {
    std::string head;                      // current HEAD
    bool recorded_known = false;           // the recorded commit exists in this repository
    std::optional<std::int64_t> commits;   // commits reachable from HEAD, not from the recorded commit
    std::optional<std::int64_t> files;     // files under root that differ between the two commits
    bool same() const { return commits.value_or(-1) == 0 && files.value_or(-1) == 0; }
};
// nullopt when the root is not in a work tree (or git is absent). When HEAD equals the
// recorded commit: commits = files = 0. A recorded commit unknown to the repository (a store
// restored next to another clone, or a commit since garbage-collected): recorded_known false,
// counts nullopt.
std::optional<GitDelta> CompareWithHead(const std::filesystem::path& root, const std::string& recorded);

// Commits reachable from `to` and not from `from` (git rev-list --count from..to) in the
// repository containing root; nullopt when git cannot tell (unknown commit, no repository).
std::optional<std::int64_t> CommitsBetween(const std::filesystem::path& root, const std::string& from,
                                           const std::string& to);

// "abc1234" (the first 7 characters; the whole name when shorter).
std::string ShortCommit(std::string_view commit);

// ---- pure helpers (exposed for tests) ----

// The file count of `git diff --shortstat` output (" 3 files changed, 5 insertions(+)"); 0 for
// empty output (no difference); nullopt when it does not read like that.
std::optional<std::int64_t> ParseShortstatFiles(std::string_view text);
// A 40 (SHA-1) or 64 (SHA-256) character lower-case hexadecimal object name, trailing newline allowed.
std::optional<std::string> ParseObjectName(std::string_view text);
// A non-negative decimal count with an optional trailing newline.
std::optional<std::int64_t> ParseCount(std::string_view text);

// The result of RunCommand.
struct CommandOutput {
    int exit_code = -1;      // -1: killed by a signal (or the timeout)
    bool timed_out = false;
    std::string out;         // standard output, at most max_output bytes (the rest is read and dropped)
};
// Runs argv[0] (looked up in PATH) with argv, no shell; stdin and stderr are /dev/null. The
// environment is this process's without GIT_* variables (a GIT_DIR inherited from a hook would
// point git elsewhere), plus LC_ALL=C, GIT_OPTIONAL_LOCKS=0 (a status must not take the index
// lock of a repository someone is working in) and GIT_TERMINAL_PROMPT=0. After `timeout` the
// child is killed. nullopt when it cannot be started (e.g. not installed).
std::optional<CommandOutput> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                        size_t max_output = 1 << 20);

}  // namespace signalhub::index

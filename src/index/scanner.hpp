#pragma once
// Scanner: walks a tree with git-compatible ignore semantics and returns the
// files to index in a deterministic order.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace signalhub::index {

// Gitignore rules of one directory level and below, git semantics: blank
// lines and '#' comments, trailing-space trimming, '\' escapes, '!' negation,
// leading or middle '/' anchors to the file's directory, trailing '/' matches
// directories only, '*', '?', '[...]' (ranges, '!'/'^' negation, [:class:]),
// and '**' in its three positions (git's wildmatch). A file inside an excluded
// directory cannot be re-included (as in git). Matching is case-sensitive.
//
// Precedence: the last matching rule wins, so add files from lowest to highest
// precedence (.git/info/exclude, then the root .gitignore, then deeper ones).
// Rules only apply to paths below their `base_dir`.
//
// Thread safety: const methods may be called concurrently; AddPatterns needs
// exclusive access. Copies are cheap (rules are shared, immutable).
class IgnoreMatcher {
   public:
    // Adds patterns read from a file located at `base_dir` (repo-relative, ""
    // for the root). Later rules take precedence over earlier ones. Accepts
    // LF or CRLF line endings and a leading UTF-8 BOM.
    // `source` names the file for explanations (WhyIgnored), e.g. "src/.gitignore".
    void AddPatterns(std::string_view base_dir, std::string_view file_text, std::string_view source = {});
    // `rel_path` is repo-relative with '/' separators. True when the path, or
    // any directory containing it, is ignored.
    bool IsIgnored(std::string_view rel_path, bool is_dir) const;
    // Like IsIgnored but decides for the entry alone, assuming no directory
    // containing it is ignored: what a walker that never descends into ignored
    // directories needs (cheaper: no ancestor checks).
    bool IsIgnoredEntry(std::string_view rel_path, bool is_dir) const;
    // Why IsIgnoredEntry is true: 'ignored by SOURCE ("PATTERN")'; nullopt when not ignored.
    std::optional<std::string> WhyIgnored(std::string_view rel_path, bool is_dir) const;
    bool empty() const { return rules_.empty(); }

   private:
    struct Rule;
    // The last rule matching the entry (it decides), or nullptr.
    const Rule *Decide(std::string_view rel_path, bool is_dir) const;
    std::vector<std::shared_ptr<const Rule>> rules_;
};

// The gitignore-style patterns applied when ScanOptions::default_excludes is
// set (dependency/build/cache directories, lock files, minified assets).
const std::vector<std::string> &DefaultExcludePatterns();

struct ScanOptions {
    // Files larger than this are reported in `skipped`; <= 0 means no limit.
    std::int64_t max_file_bytes = 1024 * 1024;
    // DefaultExcludePatterns(), applied with the lowest precedence, so a
    // repository's own "!build/" negation can re-include such a directory.
    bool default_excludes = true;
    // Gitignore-style patterns relative to the root. They are the user's explicit
    // wish and are applied on top of every ignore file (a repository's negation
    // cannot re-include what they exclude).
    std::vector<std::string> extra_excludes;
    // false: symlinks are never followed; each is reported in `skipped`.
    // true: symlinks whose target lies outside the root are followed; targets
    // inside the root are skipped as duplicates; directory loops (same device
    // and inode as a directory being walked) are detected and skipped.
    bool follow_symlinks = false;
    // Repo-relative store directory (absolute paths inside the root are
    // accepted too); always excluded. Any other directory that is an embedded
    // Signal Hub store (store::IsEmbeddedStoreDir: an old store, a restored
    // copy, whatever its name) is never entered either and is reported in
    // `skipped` as "<dir>/" with reason "a Signal Hub store".
    std::string store_dir;
    // Also list ignored entries, with the rule that ignores them, in
    // ScanResult::ignored (for `index --dry-run`). Costs nothing otherwise.
    bool report_ignored = false;
};

struct ScannedFile {
    std::string rel_path;  // '/' separated, relative to the root
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string language;
};

struct SkippedFile {
    std::string rel_path;
    std::string reason;  // "too large (2.1 MB > 1 MB)", "unreadable: Permission
                         // denied", "symlink loop", ...
};

struct ScanResult {
    std::vector<ScannedFile> files;  // sorted by rel_path (byte order)
    std::vector<SkippedFile> skipped;
    // Only with ScanOptions::report_ignored: ignored files and directories
    // (directories end in '/', their contents are not listed), reason
    // 'ignored by SOURCE ("PATTERN")' or "the store being written"; sorted.
    std::vector<SkippedFile> ignored;
};

// Walks `root`. Honours .gitignore files at every level, .git/info/exclude,
// .signalhubignore (same syntax, at any level, after the .gitignore of the same
// directory so it wins), and skips every entry named .git. Ignored entries are
// not reported at all; files that are not indexed for another reason are listed
// in `skipped` ("binary file type", "too large (...)", "unreadable: ...",
// "not a regular file", "symlink ...", "symlink loop"). `files` and `skipped`
// are each sorted by rel_path (byte order). Not a snapshot: files changing
// during the walk may be seen in either state. Thread-safe (no shared state).
// NotFound if root does not exist, InvalidArgument if it is not a directory,
// PermissionDenied if the root itself cannot be read; unreadable entries below
// the root are reported in `skipped`, not fatal.
Result<ScanResult> ScanTree(const std::filesystem::path &root, const ScanOptions &options);

// Reads a whole file. NotFound, PermissionDenied or Internal, with a message
// "cannot read PATH: <reason>". Used for ignore files and by the pipeline.
Result<std::string> ReadWholeFile(const std::string &path);

}  // namespace signalhub::index

#pragma once
// Scanner: walks a tree with git-compatible ignore semantics and returns the
// files to index in a deterministic order.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace signalhub::index {

// Gitignore rules of one directory level and below, git semantics: blank
// lines and '#' comments, trailing-space trimming, '\' escapes, '!' negation,
// leading or middle '/' anchors to the file's directory, trailing '/' matches
// directories only, '*', '?', '[...]', and '**' in its three positions. A file
// inside an excluded directory cannot be re-included (as in git).
class IgnoreMatcher {
   public:
    // Adds patterns read from a file located at `base_dir` (repo-relative, ""
    // for the root). Later rules take precedence over earlier ones.
    void AddPatterns(std::string_view base_dir, std::string_view file_text);
    // `rel_path` is repo-relative with '/' separators.
    bool IsIgnored(std::string_view rel_path, bool is_dir) const;

   private:
    struct Rule;
    std::vector<std::shared_ptr<const Rule>> rules_;
};

struct ScanOptions {
    std::int64_t max_file_bytes = 1024 * 1024;
    bool default_excludes = true;             // node_modules, vendor, build dirs, lock files, minified
    std::vector<std::string> extra_excludes;  // gitignore-style patterns relative to the root
    bool follow_symlinks = false;             // when true, loops are detected and skipped
    std::string store_dir;                    // repo-relative store directory, always excluded
};

struct ScannedFile {
    std::string rel_path;  // '/' separated, relative to the root
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string language;
};

struct SkippedFile {
    std::string rel_path;
    std::string reason;  // "too large (2.1 MB > 1 MB)", "unreadable: Permission denied", "symlink loop", ...
};

struct ScanResult {
    std::vector<ScannedFile> files;  // sorted by rel_path (byte order)
    std::vector<SkippedFile> skipped;
};

// Walks `root`. Honours .gitignore files at every level, .git/info/exclude,
// .signalhubignore (same syntax, at any level), and skips .git itself.
// NotFound if root does not exist, InvalidArgument if it is not a directory,
// PermissionDenied if the root itself cannot be read; unreadable entries below
// the root are reported in `skipped`, not fatal.
Result<ScanResult> ScanTree(const std::filesystem::path& root, const ScanOptions& options);

}  // namespace signalhub::index

#include "index/scanner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/language.hpp"
#include "store/embedded/store_layout.hpp"

namespace signalhub::index {

// One parsed line of an ignore file (git's `struct path_pattern`).
struct IgnoreMatcher::Rule {
    std::string base;                 // directory of the ignore file, repo-relative, no trailing '/'
    std::string pattern;              // without the leading '!' and the trailing '/'
    std::size_t no_wildcard_len = 0;  // length of the literal prefix (git's nowildcardlen)
    bool negative = false;            // '!' re-includes
    bool must_be_dir = false;         // trailing '/'
    bool no_dir = false;              // no '/' in the pattern: matched against the basename
    bool ends_with = false;           // no_dir and "*literal": a suffix compare (git's PATTERN_FLAG_ENDSWITH)
    std::string source;               // where the rule comes from, for explanations ("" = unknown)
};

namespace {

// ---------------------------------------------------------------------------
// wildmatch: a faithful port of git's wildmatch.c (without case folding), so
// '*', '?', '[...]' and '**' behave exactly as in git.

enum WildResult { kWmMatch = 0, kWmNoMatch = 1, kWmAbortAll = -1, kWmAbortToStarStar = -2 };

bool IsGlobSpecial(unsigned char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; }

class WildMatcher {
   public:
    WildMatcher(std::string_view pattern, std::string_view text, bool pathname)
        : pattern_(pattern), text_(text), pathname_(pathname) {}

    bool Match() const { return DoWild(0, 0) == kWmMatch; }

   private:
    unsigned char P(std::size_t i) const { return i < pattern_.size() ? static_cast<unsigned char>(pattern_[i]) : 0; }
    unsigned char T(std::size_t i) const { return i < text_.size() ? static_cast<unsigned char>(text_[i]) : 0; }

    static bool ClassMatches(std::string_view name, unsigned char c, bool *known) {
        *known = true;
        const bool upper = c >= 'A' && c <= 'Z';
        const bool lower = c >= 'a' && c <= 'z';
        const bool digit = c >= '0' && c <= '9';
        if (name == "alnum") return upper || lower || digit;
        if (name == "alpha") return upper || lower;
        if (name == "blank") return c == ' ' || c == '\t';
        if (name == "cntrl") return c < 0x20 || c == 0x7f;
        if (name == "digit") return digit;
        if (name == "graph") return c > 0x20 && c < 0x7f;
        if (name == "lower") return lower;
        if (name == "print") return c >= 0x20 && c < 0x7f;
        if (name == "punct") return c > 0x20 && c < 0x7f && !upper && !lower && !digit;
        if (name == "space") return c == ' ' || (c >= '\t' && c <= '\r');
        if (name == "upper") return upper;
        if (name == "xdigit") return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        *known = false;
        return false;
    }

    int DoWild(std::size_t p, std::size_t t) const {
        for (; P(p) != 0; ++t, ++p) {
            unsigned char p_ch = P(p);
            unsigned char t_ch = T(t);
            if (t_ch == 0 && p_ch != '*') return kWmAbortAll;
            bool match_slash = false;
            switch (p_ch) {
                case '\\':
                    p_ch = P(++p);
                    if (t_ch != p_ch) return kWmNoMatch;
                    continue;
                case '?':
                    if (pathname_ && t_ch == '/') return kWmNoMatch;
                    continue;
                case '*': {
                    if (P(++p) == '*') {
                        const bool at_start = p < 2;  // git: prev_p < pattern
                        const bool after_slash = !at_start && P(p - 2) == '/';
                        while (P(++p) == '*') {
                        }
                        if (!pathname_) {
                            match_slash = true;
                        } else if ((at_start || after_slash) &&
                                   (P(p) == 0 || P(p) == '/' || (P(p) == '\\' && P(p + 1) == '/'))) {
                            // "**/" may match nothing: try the rest of the pattern right here.
                            if (P(p) == '/' && DoWild(p + 1, t) == kWmMatch) return kWmMatch;
                            match_slash = true;
                        } else {
                            match_slash = false;
                        }
                    } else {
                        match_slash = !pathname_;
                    }
                    if (P(p) == 0) {
                        // Trailing "**" matches everything; trailing "*" only if no '/'
                        // remains.
                        if (!match_slash && text_.find('/', t) != std::string_view::npos) return kWmNoMatch;
                        return kWmMatch;
                    }
                    if (!match_slash && P(p) == '/') {
                        // A single '*' followed by '/' matches the rest of this path
                        // component.
                        const std::size_t slash = text_.find('/', t);
                        if (slash == std::string_view::npos) return kWmNoMatch;
                        t = slash;
                        break;  // the for loop consumes the '/' in both
                    }
                    while (true) {
                        if (t_ch == 0) break;
                        // Skip ahead to the next occurrence of a literal that follows the
                        // star.
                        if (!IsGlobSpecial(P(p))) {
                            const unsigned char literal = P(p);
                            while ((t_ch = T(t)) != 0 && (match_slash || t_ch != '/')) {
                                if (t_ch == literal) break;
                                ++t;
                            }
                            if (t_ch != literal) return kWmNoMatch;
                        }
                        const int matched = DoWild(p, t);
                        if (matched != kWmNoMatch) {
                            if (!match_slash || matched != kWmAbortToStarStar) return matched;
                        } else if (!match_slash && t_ch == '/') {
                            return kWmAbortToStarStar;
                        }
                        t_ch = T(++t);
                    }
                    return kWmAbortAll;
                }
                case '[': {
                    p_ch = P(++p);
                    if (p_ch == '^') p_ch = '!';
                    const bool negated = p_ch == '!';
                    if (negated) p_ch = P(++p);
                    unsigned char prev_ch = 0;
                    bool matched = false;
                    do {
                        if (p_ch == 0) return kWmAbortAll;
                        if (p_ch == '\\') {
                            p_ch = P(++p);
                            if (p_ch == 0) return kWmAbortAll;
                            if (t_ch == p_ch) matched = true;
                        } else if (p_ch == '-' && prev_ch != 0 && P(p + 1) != 0 && P(p + 1) != ']') {
                            p_ch = P(++p);
                            if (p_ch == '\\') {
                                p_ch = P(++p);
                                if (p_ch == 0) return kWmAbortAll;
                            }
                            if (t_ch <= p_ch && t_ch >= prev_ch) matched = true;
                            p_ch = 0;  // makes prev_ch 0: "a-c-e" is not a chained range
                        } else if (p_ch == '[' && P(p + 1) == ':') {
                            const std::size_t name_start = p + 2;
                            std::size_t q = name_start;
                            while (P(q) != 0 && P(q) != ']') ++q;
                            if (P(q) == 0) return kWmAbortAll;
                            if (q < name_start + 1 || P(q - 1) != ':') {
                                // No ":]": a plain '[' member.
                                p_ch = '[';
                                if (t_ch == p_ch) matched = true;
                                continue;
                            }
                            p = q;
                            bool known = false;
                            if (ClassMatches(pattern_.substr(name_start, q - 1 - name_start), t_ch, &known)) {
                                matched = true;
                            }
                            if (!known) return kWmAbortAll;
                            p_ch = 0;
                        } else if (t_ch == p_ch) {
                            matched = true;
                        }
                    } while (prev_ch = p_ch, (p_ch = P(++p)) != ']');
                    if (matched == negated || (pathname_ && t_ch == '/')) return kWmNoMatch;
                    continue;
                }
                default:
                    if (t_ch != p_ch) return kWmNoMatch;
                    continue;
            }
        }
        return T(t) != 0 ? kWmNoMatch : kWmMatch;
    }

    std::string_view pattern_;
    std::string_view text_;
    bool pathname_;
};

bool WildMatch(std::string_view pattern, std::string_view text, bool pathname) {
    return WildMatcher(pattern, text, pathname).Match();
}

// git's simple_length(): length of the prefix without glob specials.
std::size_t SimpleLength(std::string_view pattern) {
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (IsGlobSpecial(static_cast<unsigned char>(pattern[i]))) return i;
    }
    return pattern.size();
}

// git's trim_trailing_spaces(): unescaped trailing spaces are removed.
std::string_view TrimTrailingSpaces(std::string_view line) {
    std::size_t last_space = std::string_view::npos;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == ' ') {
            if (last_space == std::string_view::npos) last_space = i;
        } else if (c == '\\') {
            ++i;
            if (i >= line.size()) return line;
            last_space = std::string_view::npos;
        } else {
            last_space = std::string_view::npos;
        }
    }
    return last_space == std::string_view::npos ? line : line.substr(0, last_space);
}

std::string_view BaseName(std::string_view path) {
    const std::size_t slash = path.find_last_of('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string NormalizeBase(std::string_view base_dir) {
    while (!base_dir.empty() && base_dir.front() == '/') base_dir.remove_prefix(1);
    while (!base_dir.empty() && base_dir.back() == '/') base_dir.remove_suffix(1);
    if (base_dir == ".") return {};
    return std::string(base_dir);
}

}  // namespace

void IgnoreMatcher::AddPatterns(std::string_view base_dir, std::string_view file_text, std::string_view source) {
    const std::string base = NormalizeBase(base_dir);
    if (file_text.substr(0, 3) == "\xEF\xBB\xBF") file_text.remove_prefix(3);
    while (!file_text.empty()) {
        const std::size_t newline = file_text.find('\n');
        std::string_view line = file_text.substr(0, newline);
        file_text = newline == std::string_view::npos ? std::string_view{} : file_text.substr(newline + 1);
        if (line.empty() || line.front() == '#') continue;
        if (line.back() == '\r') line.remove_suffix(1);
        line = TrimTrailingSpaces(line);
        if (line.empty()) continue;

        auto rule = std::make_shared<Rule>();
        rule->base = base;
        rule->source = std::string(source);
        if (line.front() == '!') {
            rule->negative = true;
            line.remove_prefix(1);
        }
        if (!line.empty() && line.back() == '/') {
            rule->must_be_dir = true;
            line.remove_suffix(1);
        }
        if (line.empty()) continue;
        rule->no_dir = line.find('/') == std::string_view::npos;
        rule->pattern = std::string(line);
        rule->no_wildcard_len = SimpleLength(line);
        rule->ends_with = rule->no_dir && line.size() > 1 && line[0] == '*' &&
                          SimpleLength(line.substr(1)) == line.size() - 1;
        rules_.push_back(std::move(rule));
    }
}

bool IgnoreMatcher::IsIgnoredEntry(std::string_view rel_path, bool is_dir) const {
    const Rule *rule = Decide(rel_path, is_dir);
    return rule != nullptr && !rule->negative;
}

std::optional<std::string> IgnoreMatcher::WhyIgnored(std::string_view rel_path, bool is_dir) const {
    const Rule *rule = Decide(rel_path, is_dir);
    if (rule == nullptr || rule->negative) return std::nullopt;
    std::string pattern = rule->pattern + (rule->must_be_dir ? "/" : "");
    return "ignored by " + (rule->source.empty() ? std::string("an ignore rule") : rule->source) + " (\"" + pattern +
           "\")";
}

const IgnoreMatcher::Rule *IgnoreMatcher::Decide(std::string_view rel_path, bool is_dir) const {
    for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
        const Rule &rule = **it;
        if (rule.must_be_dir && !is_dir) continue;
        // The rule applies only below the directory holding its ignore file.
        std::string_view name = rel_path;
        if (!rule.base.empty()) {
            if (rel_path.size() <= rule.base.size() + 1 || rel_path.compare(0, rule.base.size(), rule.base) != 0 ||
                rel_path[rule.base.size()] != '/') {
                continue;
            }
            name = rel_path.substr(rule.base.size() + 1);
        }
        bool matched = false;
        std::string_view pattern = rule.pattern;
        std::size_t prefix = rule.no_wildcard_len;
        if (rule.no_dir) {
            // git's match_basename().
            const std::string_view base_name = BaseName(name);
            // "*.o" and the like (most rules of a large tree's .gitignore files): a suffix compare, as
            // git does, instead of the wildcard matcher (ADR-32b).
            if (prefix == pattern.size()) {
                matched = base_name == pattern;
            } else if (rule.ends_with) {
                matched = base_name.ends_with(pattern.substr(1));
            } else {
                matched = WildMatch(pattern, base_name, false);
            }
        } else {
            // git's match_pathname(): anchored to the ignore file's directory.
            if (pattern.front() == '/') {
                pattern.remove_prefix(1);
                prefix = prefix == 0 ? 0 : prefix - 1;
            }
            bool done = false;
            if (prefix > 0) {
                if (prefix > name.size() || name.compare(0, prefix, pattern.substr(0, prefix)) != 0) {
                    done = true;
                } else {
                    pattern.remove_prefix(prefix);
                    name.remove_prefix(prefix);
                    if (pattern.empty() && name.empty()) {
                        matched = true;
                        done = true;
                    }
                }
            }
            if (!done) matched = WildMatch(pattern, name, true);
        }
        if (matched) return &rule;
    }
    return nullptr;
}

bool IgnoreMatcher::IsIgnored(std::string_view rel_path, bool is_dir) const {
    if (rel_path.empty() || rules_.empty()) return false;
    // A path inside an ignored directory is ignored whatever later rules say.
    for (std::size_t slash = rel_path.find('/'); slash != std::string_view::npos;
         slash = rel_path.find('/', slash + 1)) {
        if (IsIgnoredEntry(rel_path.substr(0, slash), true)) return true;
    }
    return IsIgnoredEntry(rel_path, is_dir);
}

const std::vector<std::string> &DefaultExcludePatterns() {
    static const std::vector<std::string> kPatterns = {
        "node_modules/",
        "bower_components/",
        "vendor/",
        ".venv/",
        "venv/",
        "__pycache__/",
        ".tox/",
        ".mypy_cache/",
        ".pytest_cache/",
        ".ruff_cache/",
        "target/",
        "dist/",
        "build/",
        "out/",
        ".next/",
        ".gradle/",
        ".idea/",
        ".vscode/",
        "coverage/",
        "*.min.js",
        "*.min.css",
        "*.map",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "Cargo.lock",
        "poetry.lock",
        "go.sum",
    };
    return kPatterns;
}

Result<std::string> ReadWholeFile(const std::string &path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    auto failure = [&path](int err) -> Status {
        std::string message = "cannot read " + path + ": " + std::strerror(err);
        if (err == ENOENT) return NotFound(std::move(message));
        if (err == EACCES || err == EPERM) return PermissionDenied(std::move(message));
        return Internal(std::move(message));
    };
    if (fd < 0) return failure(errno);
    std::string out;
    char buffer[64 * 1024];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            return failure(err);
        }
        if (n == 0) break;
        out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

// Reads an ignore file if it is a regular file (git does not follow symlinked
// in-tree ignore files). Missing or unreadable files contribute no rules.
bool ReadIgnoreFile(const std::string &path, std::string *text) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    auto read = ReadWholeFile(path);
    if (!read.ok()) return false;
    *text = std::move(*read);
    return true;
}

void AddIgnoreFile(IgnoreMatcher *matcher, std::string_view base, const std::string &path, std::string_view source) {
    std::string text;
    if (ReadIgnoreFile(path, &text)) matcher->AddPatterns(base, text, source);
}

std::string TrimLine(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// Path of .git/info/exclude for a repository rooted at `root` (handles a
// ".git" file pointing elsewhere, as in worktrees and submodules).
std::string InfoExcludePath(const std::string &root) {
    const std::string dot_git = root + "/.git";
    struct stat st {};
    if (::stat(dot_git.c_str(), &st) != 0) return {};
    if (S_ISDIR(st.st_mode)) return dot_git + "/info/exclude";
    if (!S_ISREG(st.st_mode)) return {};
    auto read = ReadWholeFile(dot_git);
    if (!read.ok()) return {};
    const std::string text = std::move(*read);
    constexpr std::string_view kPrefix = "gitdir:";
    if (text.rfind(kPrefix, 0) != 0) return {};
    std::string git_dir = TrimLine(text.substr(kPrefix.size()));
    git_dir.erase(0, git_dir.find_first_not_of(' '));
    if (git_dir.empty()) return {};
    if (git_dir.front() != '/') git_dir = root + "/" + git_dir;
    if (auto common_file = ReadWholeFile(git_dir + "/commondir"); common_file.ok()) {
        std::string common = TrimLine(*common_file);
        if (!common.empty()) git_dir = common.front() == '/' ? common : git_dir + "/" + common;
    }
    return git_dir + "/info/exclude";
}

std::string FormatSize(std::int64_t bytes) {
    static constexpr const char *kUnits[] = {"B", "KB", "MB", "GB", "TB"};
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
        value /= 1024.0;
        ++unit;
    }
    char buffer[64];
    if (unit == 0) {
        std::snprintf(buffer, sizeof(buffer), "%lld B", static_cast<long long>(bytes));
    } else {
        std::snprintf(buffer, sizeof(buffer), "%.1f", value);
        std::string number = buffer;
        if (number.size() > 2 && number.compare(number.size() - 2, 2, ".0") == 0) number.resize(number.size() - 2);
        std::snprintf(buffer, sizeof(buffer), "%s %s", number.c_str(), kUnits[unit]);
    }
    return buffer;
}

std::int64_t MtimeNs(const struct stat &st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + static_cast<std::int64_t>(st.st_mtim.tv_nsec);
}

using DevIno = std::pair<dev_t, ino_t>;

class Walker {
   public:
    Walker(const ScanOptions &options, std::string root_abs, std::string store_rel)
        : options_(options), root_abs_(std::move(root_abs)), store_rel_(std::move(store_rel)) {
        for (const std::string &pattern : options_.extra_excludes) extra_.AddPatterns("", pattern, "index.exclude");
    }

    // Walks the root; returns 0 or the errno of opening the root.
    int Run(const IgnoreMatcher &base_matcher, const struct stat &root_st) {
        const int err = WalkDir(root_abs_, "", base_matcher, root_st);
        auto by_path = [](const auto &a, const auto &b) { return a.rel_path < b.rel_path; };
        std::sort(result_.files.begin(), result_.files.end(), by_path);
        std::sort(result_.skipped.begin(), result_.skipped.end(), by_path);
        std::sort(result_.ignored.begin(), result_.ignored.end(), by_path);
        return err;
    }

    ScanResult TakeResult() { return std::move(result_); }

   private:
    void Skip(std::string rel, std::string reason) { result_.skipped.push_back({std::move(rel), std::move(reason)}); }

    // True when the entry is ignored; with ScanOptions::report_ignored, also records why.
    bool Ignored(const IgnoreMatcher &matcher, const std::string &rel, bool is_dir) {
        if (!options_.report_ignored) return matcher.IsIgnoredEntry(rel, is_dir) || extra_.IsIgnoredEntry(rel, is_dir);
        std::optional<std::string> why = extra_.WhyIgnored(rel, is_dir);
        if (!why) why = matcher.WhyIgnored(rel, is_dir);
        if (!why) return false;
        result_.ignored.push_back({is_dir ? rel + "/" : rel, std::move(*why)});
        return true;
    }

    // Canonical path of `abs` and whether it lies inside the root.
    bool ResolvesInsideRoot(const std::string &abs, std::string *target_rel) const {
        char *resolved = ::realpath(abs.c_str(), nullptr);
        if (resolved == nullptr) return false;
        const std::string target = resolved;
        std::free(resolved);
        if (target == root_abs_) {
            *target_rel = ".";
            return true;
        }
        const std::string prefix = root_abs_ == "/" ? "/" : root_abs_ + "/";
        if (target.compare(0, prefix.size(), prefix) != 0) return false;
        *target_rel = target.substr(prefix.size());
        return true;
    }

    int WalkDir(const std::string &abs, const std::string &rel, const IgnoreMatcher &inherited,
                const struct stat &dir_st) {
        DIR *dir = ::opendir(abs.c_str());
        if (dir == nullptr) return errno;
        // The directory stays open while its entries are examined: they are stat'ed and opened
        // relative to it (fstatat/openat), not by their whole path from /, which is most of a
        // no-change re-index's system time on a deep tree (ADR-32b).
        struct DirCloser {
            DIR *d;
            ~DirCloser() { ::closedir(d); }
        } closer{dir};
        const int dfd = ::dirfd(dir);
        std::vector<std::string> names;
        errno = 0;
        while (const dirent *entry = ::readdir(dir)) {
            const std::string_view name = entry->d_name;
            if (name != "." && name != "..") names.emplace_back(name);
        }
        const int read_err = errno;
        if (read_err != 0) return read_err;
        std::sort(names.begin(), names.end());
        auto listed = [&names](std::string_view name) {
            return std::binary_search(names.begin(), names.end(), name,
                                      [](std::string_view a, std::string_view b) { return a < b; });
        };

        // Never index a Signal Hub store, whatever its name (old stores, restored copies). Checked
        // only when the listing holds a store's LOCK or hnsw: IsEmbeddedStoreDir's two lstats by
        // whole path for every directory were a tenth of a no-change run's lookups (ADR-36b).
        if (!rel.empty() && (listed("LOCK") || listed("hnsw")) && store::IsEmbeddedStoreDir(abs)) {
            Skip(rel + "/", "a Signal Hub store");
            return 0;
        }
        const DevIno id{dir_st.st_dev, dir_st.st_ino};
        ancestors_.insert(id);
        visited_dirs_.insert(id);

        // Copy the inherited rules only when this directory adds its own.
        std::string gitignore;
        std::string signalhubignore;
        // Looked for only when the listing has them (one failed lstat fewer per directory).
        const bool has_gitignore = listed(".gitignore") && ReadIgnoreFile(abs + "/.gitignore", &gitignore);
        const bool has_signalhubignore =
            listed(".signalhubignore") && ReadIgnoreFile(abs + "/.signalhubignore", &signalhubignore);
        IgnoreMatcher local;
        if (has_gitignore || has_signalhubignore) {
            local = inherited;
            const std::string dir_prefix = rel.empty() ? "" : rel + "/";
            if (has_gitignore) local.AddPatterns(rel, gitignore, dir_prefix + ".gitignore");
            if (has_signalhubignore) local.AddPatterns(rel, signalhubignore, dir_prefix + ".signalhubignore");
        }
        const IgnoreMatcher &matcher = (has_gitignore || has_signalhubignore) ? local : inherited;

        for (const std::string &name : names) {
            if (name == ".git") continue;
            const std::string child_rel = rel.empty() ? name : rel + "/" + name;
            if (!store_rel_.empty() && child_rel == store_rel_) {
                if (options_.report_ignored) result_.ignored.push_back({child_rel + "/", "the store being written"});
                continue;
            }
            const std::string child_abs = abs == "/" ? "/" + name : abs + "/" + name;
            struct stat st {};
            if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                Skip(child_rel, "unreadable: " + ErrnoText(errno));
                continue;
            }
            if (S_ISDIR(st.st_mode)) {
                if (Ignored(matcher, child_rel, true)) continue;
                EnterDir(child_abs, child_rel, matcher, st, /*via_symlink=*/false);
            } else if (S_ISLNK(st.st_mode)) {
                // git treats a symlink as a non-directory entry.
                if (Ignored(matcher, child_rel, false)) continue;
                HandleSymlink(child_abs, child_rel, matcher);
            } else if (S_ISREG(st.st_mode)) {
                if (Ignored(matcher, child_rel, false)) continue;
                AddFile(dfd, name.c_str(), child_rel, st);
            } else {
                if (Ignored(matcher, child_rel, false)) continue;
                Skip(child_rel, "not a regular file");
            }
        }
        ancestors_.erase(id);
        return 0;
    }

    void EnterDir(const std::string &abs, const std::string &rel, const IgnoreMatcher &matcher, const struct stat &st,
                  bool via_symlink) {
        const DevIno id{st.st_dev, st.st_ino};
        if (ancestors_.count(id) != 0) {
            Skip(rel, via_symlink || followed_links_ > 0 ? "symlink loop" : "directory loop (bind mount of a parent)");
            return;
        }
        if (visited_dirs_.count(id) != 0) {
            Skip(rel, "directory already scanned through another path");
            return;
        }
        if (via_symlink) ++followed_links_;
        const int err = WalkDir(abs, rel, matcher, st);
        if (via_symlink) --followed_links_;
        if (err != 0) Skip(rel, "unreadable directory: " + ErrnoText(err));
    }

    void HandleSymlink(const std::string &abs, const std::string &rel, const IgnoreMatcher &matcher) {
        struct stat target {};
        if (::stat(abs.c_str(), &target) != 0) {
            const int err = errno;
            Skip(rel, err == ELOOP ? std::string("symlink loop") : "broken symlink: " + ErrnoText(err));
            return;
        }
        std::string target_rel;
        const bool inside = ResolvesInsideRoot(abs, &target_rel);
        if (!options_.follow_symlinks) {
            Skip(rel, inside ? "symlink (not followed; target inside the root: " + target_rel + ")"
                             : std::string("symlink (not followed; target outside the root)"));
            return;
        }
        if (S_ISDIR(target.st_mode)) {
            if (ancestors_.count({target.st_dev, target.st_ino}) != 0) {
                Skip(rel, "symlink loop");
                return;
            }
            if (inside) {
                Skip(rel, "symlink to a directory inside the root (duplicate of " + target_rel + ")");
                return;
            }
            if (Ignored(matcher, rel, true)) return;
            EnterDir(abs, rel, matcher, target, /*via_symlink=*/true);
        } else if (S_ISREG(target.st_mode)) {
            if (inside) {
                Skip(rel, "symlink to a file inside the root (duplicate of " + target_rel + ")");
                return;
            }
            AddFile(AT_FDCWD, abs.c_str(), rel, target);
        } else {
            Skip(rel, "not a regular file");
        }
    }

    // `name` is opened relative to the directory `dfd` (AT_FDCWD: `name` is a whole path).
    void AddFile(int dfd, const char *name, const std::string &rel, const struct stat &st) {
        const bool needs_first_line = NeedsShebang(rel);
        std::string language;
        if (!needs_first_line) {
            language = DetectLanguage(rel, {});
            if (language.empty()) {
                Skip(rel, "binary file type");
                return;
            }
        }
        const auto size = static_cast<std::int64_t>(st.st_size);
        if (options_.max_file_bytes > 0 && size > options_.max_file_bytes) {
            Skip(rel, "too large (" + FormatSize(size) + " > " + FormatSize(options_.max_file_bytes) + ")");
            return;
        }
        // Readability: a permission check (faccessat, one path step) when the name alone gives the
        // language; a file it refuses is opened to report open's own error. Files whose first line
        // is needed are opened, which proves it; O_NONBLOCK guards against a file replaced by a FIFO
        // meanwhile. (A file that passes the check but cannot be opened, e.g. an LSM denial, is
        // reported unreadable when it is read, if it changed; ADR-32b.)
        if (!needs_first_line && ::faccessat(dfd, name, R_OK, 0) == 0) {
            result_.files.push_back({rel, size, MtimeNs(st), std::move(language)});
            return;
        }
        const int fd = ::openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            Skip(rel, "unreadable: " + ErrnoText(errno));
            return;
        }
        if (needs_first_line) {
            char head[256];
            ssize_t n = 0;
            do {
                n = ::read(fd, head, sizeof(head));
            } while (n < 0 && errno == EINTR);
            if (n < 0) {
                const int err = errno;
                ::close(fd);
                Skip(rel, "unreadable: " + ErrnoText(err));
                return;
            }
            std::string_view first_line(head, static_cast<std::size_t>(n));
            first_line = first_line.substr(0, first_line.find('\n'));
            language = DetectLanguage(rel, first_line);
        }
        ::close(fd);
        if (language.empty()) {
            Skip(rel, "binary file type");
            return;
        }
        result_.files.push_back({rel, size, MtimeNs(st), std::move(language)});
    }

    const ScanOptions &options_;
    const std::string root_abs_;
    const std::string store_rel_;
    IgnoreMatcher extra_;
    ScanResult result_;
    std::set<DevIno> ancestors_;
    std::set<DevIno> visited_dirs_;
    int followed_links_ = 0;  // directory symlinks being walked through
};

Status RootError(int err, const std::filesystem::path &root) {
    const std::string message = "scan root " + root.string() + ": " + ErrnoText(err);
    switch (err) {
        case ENOENT:
        case ENOTDIR:
            return NotFound(message);
        case EACCES:
        case EPERM:
            return PermissionDenied(message);
        default:
            return InvalidArgument(message);
    }
}

// Store directory as a normalized root-relative path ("" when unset or outside
// the root).
std::string StoreRelative(const std::string &store_dir, const std::filesystem::path &root,
                          const std::string &root_abs) {
    if (store_dir.empty()) return {};
    std::filesystem::path store(store_dir);
    if (store.is_absolute()) {
        std::filesystem::path rel = store.lexically_normal().lexically_relative(root.lexically_normal());
        if (rel.empty() || *rel.begin() == "..") {
            rel = store.lexically_normal().lexically_relative(std::filesystem::path(root_abs));
        }
        if (rel.empty() || *rel.begin() == "..") return {};
        store = rel;
    }
    std::string normal = store.lexically_normal().generic_string();
    while (!normal.empty() && normal.back() == '/') normal.pop_back();
    if (normal == "." || normal.empty() || normal.rfind("..", 0) == 0) return {};
    return normal;
}

}  // namespace

Result<ScanResult> ScanTree(const std::filesystem::path &root, const ScanOptions &options) {
    if (root.empty()) return InvalidArgument("scan root is empty");
    struct stat root_st {};
    if (::stat(root.c_str(), &root_st) != 0) return RootError(errno, root);
    if (!S_ISDIR(root_st.st_mode)) return InvalidArgument("scan root " + root.string() + " is not a directory");
    char *resolved = ::realpath(root.c_str(), nullptr);
    if (resolved == nullptr) return RootError(errno, root);
    std::string root_abs = resolved;
    std::free(resolved);

    IgnoreMatcher base;
    if (options.default_excludes) {
        std::string defaults;
        for (const std::string &pattern : DefaultExcludePatterns()) defaults += pattern + "\n";
        base.AddPatterns("", defaults, "the default excludes (index.default_excludes)");
    }
    const std::string info_exclude = InfoExcludePath(root_abs);
    if (!info_exclude.empty()) AddIgnoreFile(&base, "", info_exclude, ".git/info/exclude");

    Walker walker(options, root_abs, StoreRelative(options.store_dir, root, root_abs));
    const int err = walker.Run(base, root_st);
    if (err != 0) return RootError(err, root);
    return walker.TakeResult();
}

}  // namespace signalhub::index

#include "index/scanner.hpp"

#include "tests/support/unprivileged.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <system_error>
#include <vector>

namespace signalhub::index {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Helpers

// A fresh directory under testing::TempDir(), removed (with permissions
// restored) at the end.
class TempTree {
   public:
    TempTree() {
        std::string templ = testing::TempDir() + "sh_scan_XXXXXX";
        char *made = ::mkdtemp(templ.data());
        if (made == nullptr) {
            ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
            return;
        }
        path_ = made;
        ::chmod(path_.c_str(),
                0755);  // traversable by the unprivileged user in permission tests
    }
    ~TempTree() {
        if (path_.empty()) return;
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(path_, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0755);
        }
        fs::remove_all(path_, ec);
    }
    TempTree(const TempTree &) = delete;
    TempTree &operator=(const TempTree &) = delete;

    const fs::path &path() const { return path_; }

    void Write(const std::string &rel, const std::string &content) const {
        const fs::path file = path_ / rel;
        std::error_code ec;
        fs::create_directories(file.parent_path(), ec);
        ASSERT_FALSE(ec) << ec.message();
        for (fs::path dir = file.parent_path(); dir != path_ && dir.has_relative_path(); dir = dir.parent_path()) {
            ::chmod(dir.c_str(), 0755);
        }
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out << content;
        out.close();
        ASSERT_TRUE(out.good()) << file;
        ::chmod(file.c_str(), 0644);
    }
    void MakeDir(const std::string &rel) const {
        std::error_code ec;
        fs::create_directories(path_ / rel, ec);
        ASSERT_FALSE(ec) << ec.message();
        ::chmod((path_ / rel).c_str(), 0755);
    }
    void Symlink(const std::string &target, const std::string &rel) const {
        std::error_code ec;
        fs::create_directories((path_ / rel).parent_path(), ec);
        ASSERT_EQ(::symlink(target.c_str(), (path_ / rel).c_str()), 0) << std::strerror(errno);
    }

   private:
    fs::path path_;
};

std::vector<std::string> FilePaths(const ScanResult &result) {
    std::vector<std::string> out;
    for (const ScannedFile &file : result.files) out.push_back(file.rel_path);
    return out;
}

std::string ReasonFor(const ScanResult &result, const std::string &rel) {
    for (const SkippedFile &skipped : result.skipped) {
        if (skipped.rel_path == rel) return skipped.reason;
    }
    return "<not skipped>";
}

ScanResult ScanOrDie(const fs::path &root, const ScanOptions &options) {
    Result<ScanResult> result = ScanTree(root, options);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? std::move(result).value() : ScanResult{};
}

ScanOptions NoDefaults() {
    ScanOptions options;
    options.default_excludes = false;
    return options;
}

bool Contains(const std::vector<std::string> &v, const std::string &s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// Runs a shell command, returns its stdout; sets *exit_code.
std::string RunCommand(const std::string &command, int *exit_code) {
    std::string output;
    FILE *pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        *exit_code = -1;
        return output;
    }
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
    const int status = ::pclose(pipe);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return output;
}

// ---------------------------------------------------------------------------
// IgnoreMatcher: one test per gitignore rule.

IgnoreMatcher Matcher(const std::string &text, const std::string &base = "") {
    IgnoreMatcher matcher;
    matcher.AddPatterns(base, text);
    return matcher;
}

TEST(IgnoreMatcher, BlankLinesAndCommentsAreNotPatterns) {
    const IgnoreMatcher m = Matcher("\n# secret.txt\n\n   \n#\n");
    EXPECT_TRUE(m.empty());
    EXPECT_FALSE(m.IsIgnored("secret.txt", false));
    EXPECT_FALSE(m.IsIgnored("# secret.txt", false));
}

TEST(IgnoreMatcher, StarSuffixPatternsMatchBasenameEndings) {
    // "*literal" rules are a suffix compare (ADR-32b); they must still behave like the wildcard form.
    const IgnoreMatcher m = Matcher("*.o\n*.tar.gz\n*~\n!keep.o\n*[ab].x\n");
    EXPECT_TRUE(m.IsIgnored("main.o", false));
    EXPECT_TRUE(m.IsIgnored("src/deep/dir/main.o", false));
    EXPECT_TRUE(m.IsIgnored(".o", false));
    EXPECT_TRUE(m.IsIgnored("build.o", true));
    EXPECT_FALSE(m.IsIgnored("o", false));
    EXPECT_FALSE(m.IsIgnored("main.oo", false));
    EXPECT_TRUE(m.IsIgnored("main.o/inner.c", false));  // inside an ignored directory
    EXPECT_FALSE(m.IsIgnoredEntry("main.o/inner.c", false));
    EXPECT_FALSE(m.IsIgnored("keep.o", false));
    EXPECT_TRUE(m.IsIgnored("a.tar.gz", false));
    EXPECT_FALSE(m.IsIgnored("a.tar.gzip", false));
    EXPECT_FALSE(m.IsIgnored("tar.gz", false));
    EXPECT_TRUE(m.IsIgnored("notes.txt~", false));
    EXPECT_TRUE(m.IsIgnored("b.x", false));
    EXPECT_FALSE(m.IsIgnored("c.x", false));
}

TEST(IgnoreMatcher, EscapedHashIsALiteralPattern) {
    const IgnoreMatcher m = Matcher("\\#notes.txt\n");
    EXPECT_TRUE(m.IsIgnored("#notes.txt", false));
    EXPECT_TRUE(m.IsIgnored("dir/#notes.txt", false));
    EXPECT_FALSE(m.IsIgnored("notes.txt", false));
}

TEST(IgnoreMatcher, TrailingSpacesAreTrimmedUnlessEscaped) {
    const IgnoreMatcher trimmed = Matcher("spaced.txt   \n");
    EXPECT_TRUE(trimmed.IsIgnored("spaced.txt", false));
    EXPECT_FALSE(trimmed.IsIgnored("spaced.txt ", false));

    const IgnoreMatcher escaped = Matcher("kept\\ \n");
    EXPECT_TRUE(escaped.IsIgnored("kept ", false));
    EXPECT_FALSE(escaped.IsIgnored("kept", false));

    // Only the unescaped tail goes: "a\  " keeps one escaped space.
    const IgnoreMatcher mixed = Matcher("a\\   \n");
    EXPECT_TRUE(mixed.IsIgnored("a ", false));
    EXPECT_FALSE(mixed.IsIgnored("a", false));
}

TEST(IgnoreMatcher, CrlfLineEndingsAndBom) {
    const IgnoreMatcher m = Matcher("\xEF\xBB\xBF*.tmp\r\nbuild/\r\n");
    EXPECT_TRUE(m.IsIgnored("x.tmp", false));
    EXPECT_TRUE(m.IsIgnored("build", true));
}

TEST(IgnoreMatcher, NegationReincludesAndLastRuleWins) {
    const IgnoreMatcher m = Matcher("*.log\n!keep.log\n");
    EXPECT_TRUE(m.IsIgnored("debug.log", false));
    EXPECT_FALSE(m.IsIgnored("keep.log", false));
    EXPECT_FALSE(m.IsIgnored("sub/keep.log", false));

    const IgnoreMatcher reversed = Matcher("!keep.log\n*.log\n");
    EXPECT_TRUE(reversed.IsIgnored("keep.log", false));
}

TEST(IgnoreMatcher, EscapedBangIsALiteralPattern) {
    const IgnoreMatcher m = Matcher("\\!important.txt\n");
    EXPECT_TRUE(m.IsIgnored("!important.txt", false));
    EXPECT_FALSE(m.IsIgnored("important.txt", false));
}

TEST(IgnoreMatcher, LeadingSlashAnchorsToTheIgnoreFilesDirectory) {
    const IgnoreMatcher root = Matcher("/todo.txt\n");
    EXPECT_TRUE(root.IsIgnored("todo.txt", false));
    EXPECT_FALSE(root.IsIgnored("sub/todo.txt", false));

    const IgnoreMatcher nested = Matcher("/todo.txt\n", "pkg");
    EXPECT_TRUE(nested.IsIgnored("pkg/todo.txt", false));
    EXPECT_FALSE(nested.IsIgnored("todo.txt", false));
    EXPECT_FALSE(nested.IsIgnored("pkg/sub/todo.txt", false));
}

TEST(IgnoreMatcher, MiddleSlashAnchorsToo) {
    const IgnoreMatcher m = Matcher("doc/frotz\n");
    EXPECT_TRUE(m.IsIgnored("doc/frotz", true));
    EXPECT_TRUE(m.IsIgnored("doc/frotz/file.txt", false));
    EXPECT_FALSE(m.IsIgnored("a/doc/frotz", true));
}

TEST(IgnoreMatcher, NoSlashMatchesAtAnyDepthBelowItsDirectory) {
    const IgnoreMatcher m = Matcher("frotz\n", "lib");
    EXPECT_TRUE(m.IsIgnored("lib/frotz", false));
    EXPECT_TRUE(m.IsIgnored("lib/a/b/frotz", true));
    EXPECT_FALSE(m.IsIgnored("frotz", false));
    EXPECT_FALSE(m.IsIgnored("other/frotz", false));
    EXPECT_FALSE(m.IsIgnored("libfrotz", false));
}

TEST(IgnoreMatcher, TrailingSlashMatchesOnlyDirectories) {
    const IgnoreMatcher m = Matcher("cache/\n");
    EXPECT_TRUE(m.IsIgnored("cache", true));
    EXPECT_TRUE(m.IsIgnored("a/b/cache", true));
    EXPECT_FALSE(m.IsIgnored("cache", false));
    EXPECT_TRUE(m.IsIgnored("cache/data.bin", false));  // inside an ignored directory
}

TEST(IgnoreMatcher, StarAndQuestionMarkDoNotCrossSlashes) {
    const IgnoreMatcher m = Matcher("src/*.c\nq?.md\n");
    EXPECT_TRUE(m.IsIgnored("src/a.c", false));
    EXPECT_FALSE(m.IsIgnored("src/sub/a.c", false));
    EXPECT_TRUE(m.IsIgnored("q1.md", false));
    EXPECT_FALSE(m.IsIgnored("q12.md", false));
    EXPECT_FALSE(m.IsIgnored("q.md", false));

    const IgnoreMatcher q = Matcher("a?b\n");
    EXPECT_FALSE(q.IsIgnored("a/b", false));
}

TEST(IgnoreMatcher, CharacterClasses) {
    const IgnoreMatcher m = Matcher("file[0-9].txt\ndata[!a-c].csv\nlog[^x].txt\nnum[[:digit:]]\nx[]]y\n");
    EXPECT_TRUE(m.IsIgnored("file7.txt", false));
    EXPECT_FALSE(m.IsIgnored("fileA.txt", false));
    EXPECT_TRUE(m.IsIgnored("datad.csv", false));
    EXPECT_FALSE(m.IsIgnored("datab.csv", false));
    EXPECT_TRUE(m.IsIgnored("logy.txt", false));
    EXPECT_FALSE(m.IsIgnored("logx.txt", false));
    EXPECT_TRUE(m.IsIgnored("num4", false));
    EXPECT_FALSE(m.IsIgnored("numa", false));
    EXPECT_TRUE(m.IsIgnored("x]y", false));

    const IgnoreMatcher slash = Matcher("a[/]b\n");
    EXPECT_FALSE(slash.IsIgnored("a/b", false));

    const IgnoreMatcher unterminated = Matcher("bad[abc\n");
    EXPECT_FALSE(unterminated.IsIgnored("bad[abc", false));
    EXPECT_FALSE(unterminated.IsIgnored("bada", false));
}

TEST(IgnoreMatcher, LeadingDoubleStarMatchesInAllDirectories) {
    const IgnoreMatcher m = Matcher("**/foo\n**/bar/baz\n");
    EXPECT_TRUE(m.IsIgnored("foo", false));
    EXPECT_TRUE(m.IsIgnored("a/b/foo", true));
    EXPECT_TRUE(m.IsIgnored("bar/baz", false));
    EXPECT_TRUE(m.IsIgnored("x/bar/baz", false));
    EXPECT_FALSE(m.IsIgnored("x/bar/qux", false));
}

TEST(IgnoreMatcher, TrailingDoubleStarMatchesEverythingInside) {
    const IgnoreMatcher m = Matcher("abc/**\n");
    EXPECT_FALSE(m.IsIgnored("abc", true));  // the directory itself is not matched
    EXPECT_TRUE(m.IsIgnored("abc/x", false));
    EXPECT_TRUE(m.IsIgnored("abc/x/y/z", false));
    EXPECT_FALSE(m.IsIgnored("x/abc/y", false));

    // Since the directory itself is not excluded, a file inside can be
    // re-included.
    const IgnoreMatcher reinclude = Matcher("abc/**\n!abc/keep.txt\n");
    EXPECT_FALSE(reinclude.IsIgnored("abc/keep.txt", false));
    EXPECT_TRUE(reinclude.IsIgnored("abc/other.txt", false));
}

TEST(IgnoreMatcher, MiddleDoubleStarMatchesZeroOrMoreDirectories) {
    const IgnoreMatcher m = Matcher("a/**/b\n");
    EXPECT_TRUE(m.IsIgnored("a/b", false));
    EXPECT_TRUE(m.IsIgnored("a/x/b", false));
    EXPECT_TRUE(m.IsIgnored("a/x/y/b", false));
    EXPECT_FALSE(m.IsIgnored("a/xb", false));
    EXPECT_FALSE(m.IsIgnored("z/a/b", false));
}

TEST(IgnoreMatcher, OtherConsecutiveStarsActLikeOneStar) {
    const IgnoreMatcher m = Matcher("foo**bar\n");
    EXPECT_TRUE(m.IsIgnored("fooXbar", false));
    EXPECT_TRUE(m.IsIgnored("foobar", false));
}

TEST(IgnoreMatcher, ExcludedDirectoryCannotBeReincluded) {
    const IgnoreMatcher m = Matcher("build/\n!build/keep.txt\n");
    EXPECT_TRUE(m.IsIgnored("build", true));
    EXPECT_TRUE(m.IsIgnored("build/keep.txt", false));
    // The entry alone (as a walker that stops at ignored directories asks) is
    // re-included.
    EXPECT_FALSE(m.IsIgnoredEntry("build/keep.txt", false));
}

TEST(IgnoreMatcher, DeeperFilesTakePrecedence) {
    IgnoreMatcher m;
    m.AddPatterns("", "*.log\n");
    m.AddPatterns("sub", "!*.log\n");
    m.AddPatterns("sub/inner", "*.log\n");
    EXPECT_TRUE(m.IsIgnored("a.log", false));
    EXPECT_FALSE(m.IsIgnored("sub/a.log", false));
    EXPECT_FALSE(m.IsIgnored("sub/x/a.log", false));
    EXPECT_TRUE(m.IsIgnored("sub/inner/a.log", false));
    EXPECT_TRUE(m.IsIgnored("subx/a.log", false));  // "sub" rules do not leak into "subx"
}

// ---------------------------------------------------------------------------
// ScanTree versus git itself.

struct GitEnv {
    fs::path home;
    std::string Prefix(const fs::path &repo) const {
        return "cd '" + repo.string() + "' && env GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME='" +
               home.string() + "' XDG_CONFIG_HOME='" + home.string() + "' git -c core.excludesFile= ";
    }
};

std::set<std::string> SplitNul(const std::string &text) {
    std::set<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\0', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) out.insert(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

TEST(ScanTree, MatchesGitOnTrickyIgnoreTree) {
    int code = 0;
    RunCommand("git --version >/dev/null 2>&1", &code);
    if (code != 0) GTEST_SKIP() << "git is not installed; the git comparison cannot run";

    TempTree home;
    TempTree tree;
    const GitEnv git{home.path()};
    RunCommand(git.Prefix(tree.path()) + "init -q . 2>&1", &code);
    ASSERT_EQ(code, 0) << "git init failed";

    tree.Write(".gitignore",
               "# a comment line\n"
               "\\#hash.txt\n"
               "\\!bang.txt\n"
               "*.log\n"
               "!keep.log\n"
               "trailsp\\ \n"
               "spaced.txt   \n"
               "/anchored.txt\n"
               "docs/generated\n"
               "only_dir/\n"
               "**/deep_any\n"
               "logs/**\n"
               "!logs/important.txt\n"
               "!logs/sub/y.txt\n"
               "a/**/z.txt\n"
               "file[0-9].txt\n"
               "data[!a-c].csv\n"
               "q?.md\n"
               "num[[:digit:]].txt\n"
               "dir1/*.c\n"
               "excluded_dir/\n"
               "!excluded_dir/reinclude.txt\n"
               "!public.secret\n"
               "**/cache/\n"
               "!order1.txt\n"
               "order*.txt\n"
               "foo**bar\n");
    tree.Write(".git/info/exclude", "info_excluded.txt\n*.secret\n");
    tree.Write("sub/.gitignore", "!*.log\n/local.txt\ninner/*.tmp\n");
    tree.Write("sub/inner/.gitignore", "*.log\r\n");
    tree.Write("other/.gitignore", "!/docs\n");

    const std::vector<std::string> files = {
        "#hash.txt",
        "hash.txt",
        "!bang.txt",
        "bang.txt",
        "app.log",
        "keep.log",
        "trailsp ",
        "trailsp",
        "spaced.txt",
        "anchored.txt",
        "sub/anchored.txt",
        "docs/generated/api.md",
        "docs/readme.md",
        "other/docs/generated/x.md",
        "only_dir/a.txt",
        "misc/only_dir",
        "misc/only_dir_file.txt",
        "deep_any",
        "x/y/deep_any",
        "x/y/deep_any_not",
        "x/y/z/deep_any/inner.txt",
        "logs/a.txt",
        "logs/important.txt",
        "logs/sub/b.txt",
        "logs/sub/y.txt",
        "a/z.txt",
        "a/b/z.txt",
        "a/b/c/z.txt",
        "a/b/c/y.txt",
        "b/a/z.txt",
        "file1.txt",
        "fileA.txt",
        "file10.txt",
        "datad.csv",
        "dataa.csv",
        "q1.md",
        "q12.md",
        "num7.txt",
        "numx.txt",
        "dir1/a.c",
        "dir1/sub/b.c",
        "excluded_dir/x.txt",
        "excluded_dir/reinclude.txt",
        "public.secret",
        "private.secret",
        "info_excluded.txt",
        "sub/info_excluded.txt",
        "sub/app.log",
        "sub/local.txt",
        "sub/inner/local.txt",
        "sub/inner/x.tmp",
        "sub/inner/deeper/y.tmp",
        "sub/inner/debug.log",
        "sub/inner/deeper/trace.log",
        "cache/a.txt",
        "p/q/cache/b.txt",
        "r/cache",
        "order1.txt",
        "ordex.txt",
        "fooXbar",
        "foo_bar.py",
        "img.png",
        "src/main.cpp",
        "src/util/strings.hpp",
        "a-b.txt",
        "a0.txt",
    };
    for (const std::string &file : files) tree.Write(file, "content of " + file + "\n");

    const std::string listing =
        RunCommand(git.Prefix(tree.path()) + "ls-files -z --others --cached --exclude-standard", &code);
    ASSERT_EQ(code, 0) << "git ls-files failed";
    const std::set<std::string> git_files = SplitNul(listing);
    // Sanity: the fixture exercises both sides.
    ASSERT_TRUE(git_files.count("keep.log") == 1 && git_files.count("app.log") == 0);

    const ScanResult result = ScanOrDie(tree.path(), NoDefaults());
    const std::vector<std::string> scanned_files = FilePaths(result);
    std::set<std::string> scanned(scanned_files.begin(), scanned_files.end());
    for (const SkippedFile &skipped : result.skipped) {
        EXPECT_EQ(skipped.reason, "binary file type") << skipped.rel_path;
        scanned.insert(skipped.rel_path);
    }
    EXPECT_EQ(scanned, git_files);
    EXPECT_EQ(ReasonFor(result, "img.png"), "binary file type");

    // The matcher alone, fed the same ignore files in precedence order, agrees
    // with git per path.
    IgnoreMatcher matcher;
    matcher.AddPatterns("", "info_excluded.txt\n*.secret\n");
    for (const char *ignore_file : {".gitignore", "other/.gitignore", "sub/.gitignore", "sub/inner/.gitignore"}) {
        std::ifstream in(tree.path() / ignore_file, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::string base = fs::path(ignore_file).parent_path().generic_string();
        matcher.AddPatterns(base, text);
    }
    for (const std::string &file : files) {
        EXPECT_EQ(matcher.IsIgnored(file, false), git_files.count(file) == 0) << file;
    }
}

TEST(ScanTree, MatchesGitForEachWildmatchEdgePattern) {
    int code = 0;
    RunCommand("git --version >/dev/null 2>&1", &code);
    if (code != 0) GTEST_SKIP() << "git is not installed; the git comparison cannot run";

    TempTree home;
    TempTree tree;
    const GitEnv git{home.path()};
    RunCommand(git.Prefix(tree.path()) + "init -q . 2>&1", &code);
    ASSERT_EQ(code, 0) << "git init failed";
    for (const char *file :
         {"a/b/c", "a/b/c.txt", "a/c.txt", "a/bc/x", "a/xb", "ab/b/q", "ab/c", "b/c.txt", "b/x/b", "b/b/b.txt",
          "c",     "top.txt",   "x/a/b/z", "[x]",    "a-",   "]",      "x*y",  "xzy",     "abc",   "d/e/f/g.txt"}) {
        tree.Write(file, "x");
    }
    const std::vector<std::string> patterns = {
        "*",           "**",
        "*/",          "/*",
        "/*/",         "**/",
        "a/**",        "**/b",
        "a/**/b",      "a**/b",
        "a/**b",       "**/b/**",
        "a/*",         "a/*/",
        "a/*/c",       "*.txt",
        "/*.txt",      "a/*.txt",
        "[ab]/c*",     "[!a]*",
        "\\[x\\]",     "?",
        "??",          "a?c",
        "*/b/",        "a/b/c",
        "/a/b/",       "**/a/b",
        "a/**/",       "**/*",
        "!*",          "*b*",
        "[[:alpha:]]", "[a-]",
        "[]a]",        "x\\*y",
        "d/**/g.txt",  "**/e/**/*.txt",
        "*/e",         "d/*/f/",
    };
    for (const std::string &pattern : patterns) {
        tree.Write(".gitignore", pattern + "\n");
        const std::string listing =
            RunCommand(git.Prefix(tree.path()) + "ls-files -z --others --exclude-standard", &code);
        ASSERT_EQ(code, 0) << "git ls-files failed for " << pattern;
        const ScanResult result = ScanOrDie(tree.path(), NoDefaults());
        const std::vector<std::string> scanned_files = FilePaths(result);
        EXPECT_EQ(std::set<std::string>(scanned_files.begin(), scanned_files.end()), SplitNul(listing))
            << "pattern: " << pattern;
        EXPECT_TRUE(result.skipped.empty()) << "pattern: " << pattern;
    }
}

// ---------------------------------------------------------------------------
// ScanTree behaviour.

TEST(ScanTree, RootErrors) {
    TempTree tree;
    tree.Write("file.txt", "x");
    Result<ScanResult> missing = ScanTree(tree.path() / "missing", ScanOptions{});
    EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
    Result<ScanResult> not_dir = ScanTree(tree.path() / "file.txt", ScanOptions{});
    EXPECT_EQ(not_dir.status().code(), ErrorCode::kInvalidArgument);
    Result<ScanResult> empty = ScanTree(fs::path(), ScanOptions{});
    EXPECT_EQ(empty.status().code(), ErrorCode::kInvalidArgument);
}

TEST(ScanTree, UnreadableRootIsPermissionDenied) {
    TempTree tree;
    tree.Write("locked/a.txt", "x");
    ASSERT_EQ(::chmod((tree.path() / "locked").c_str(), 0), 0);
    const fs::path locked = tree.path() / "locked";
    const std::string failure = testing_support::RunUnprivileged([&]() -> std::string {
        if (::access(tree.path().c_str(), X_OK) != 0) return "SKIP: temp dir not traversable by the test user";
        Result<ScanResult> result = ScanTree(locked, ScanOptions{});
        if (result.status().code() != ErrorCode::kPermissionDenied) {
            return "expected PERMISSION_DENIED, got " + result.status().ToString();
        }
        return "";
    });
    if (failure.rfind("SKIP:", 0) == 0) GTEST_SKIP() << failure;
    EXPECT_EQ(failure, "");
}

TEST(ScanTree, ReportsSizeMtimeAndLanguage) {
    TempTree tree;
    tree.Write("src/app.py", "print('hi')\n");
    tree.Write("bin/tool", "#!/usr/bin/env node\nconsole.log(1)\n");
    tree.Write("LICENSE", "MIT\n");
    const ScanResult result = ScanOrDie(tree.path(), NoDefaults());
    ASSERT_EQ(FilePaths(result), (std::vector<std::string>{"LICENSE", "bin/tool", "src/app.py"}));
    struct stat st {};
    ASSERT_EQ(::stat((tree.path() / "src/app.py").c_str(), &st), 0);
    const ScannedFile &app = result.files[2];
    EXPECT_EQ(app.size, 12);
    EXPECT_EQ(app.mtime_ns, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec);
    EXPECT_EQ(app.language, "python");
    EXPECT_EQ(result.files[1].language, "javascript");
    EXPECT_EQ(result.files[0].language, "text");
    EXPECT_TRUE(result.skipped.empty());
}

TEST(ScanTree, SizeLimit) {
    TempTree tree;
    tree.Write("small.txt", std::string(1000, 'a'));
    tree.Write("big.txt", std::string(1001, 'a'));
    tree.Write("huge.txt", std::string(2200 * 1024, 'a'));
    ScanOptions options = NoDefaults();
    options.max_file_bytes = 1000;
    ScanResult result = ScanOrDie(tree.path(), options);
    EXPECT_EQ(FilePaths(result), (std::vector<std::string>{"small.txt"}));
    EXPECT_EQ(ReasonFor(result, "big.txt"), "too large (1001 B > 1000 B)");

    options.max_file_bytes = 1024 * 1024;
    result = ScanOrDie(tree.path(), options);
    EXPECT_EQ(FilePaths(result), (std::vector<std::string>{"big.txt", "small.txt"}));
    EXPECT_EQ(ReasonFor(result, "huge.txt"), "too large (2.1 MB > 1 MB)");

    options.max_file_bytes = 0;  // no limit
    result = ScanOrDie(tree.path(), options);
    EXPECT_EQ(result.files.size(), 3U);
}

TEST(ScanTree, UnreadableEntriesAreSkippedNotFatal) {
    TempTree tree;
    tree.Write("ok.txt", "fine");
    tree.Write("secret.txt", "hidden");
    tree.Write("locked_dir/inner.txt", "hidden");
    ASSERT_EQ(::chmod((tree.path() / "secret.txt").c_str(), 0), 0);
    ASSERT_EQ(::chmod((tree.path() / "locked_dir").c_str(), 0), 0);
    const fs::path root = tree.path();
    const std::string failure = testing_support::RunUnprivileged([&]() -> std::string {
        if (::access(root.c_str(), R_OK | X_OK) != 0) return "SKIP: temp dir not readable by the test user";
        Result<ScanResult> result = ScanTree(root, NoDefaults());
        if (!result.ok()) return "scan failed: " + result.status().ToString();
        if (FilePaths(*result) != std::vector<std::string>{"ok.txt"}) return "unexpected files";
        if (ReasonFor(*result, "secret.txt") != "unreadable: Permission denied") {
            return "secret.txt: " + ReasonFor(*result, "secret.txt");
        }
        if (ReasonFor(*result, "locked_dir") != "unreadable directory: Permission denied") {
            return "locked_dir: " + ReasonFor(*result, "locked_dir");
        }
        return "";
    });
    if (failure.rfind("SKIP:", 0) == 0) GTEST_SKIP() << failure;
    EXPECT_EQ(failure, "");
}

TEST(ScanTree, SpecialFilesAreSkippedWithoutBlocking) {
    TempTree tree;
    tree.Write("a.txt", "a");
    ASSERT_EQ(::mkfifo((tree.path() / "pipe").c_str(), 0644), 0) << std::strerror(errno);
    const ScanResult result = ScanOrDie(tree.path(), NoDefaults());
    EXPECT_EQ(FilePaths(result), (std::vector<std::string>{"a.txt"}));
    EXPECT_EQ(ReasonFor(result, "pipe"), "not a regular file");
}

TEST(ScanTree, SymlinksAreNotFollowedByDefault) {
    TempTree outside;
    outside.Write("lib/ext.py", "x = 1\n");
    TempTree tree;
    tree.Write("real/file.py", "y = 2\n");
    tree.Symlink("real/file.py", "link_to_file.py");
    tree.Symlink(outside.path().string() + "/lib", "link_outside");
    tree.Symlink("does/not/exist", "dangling");
    const ScanResult result = ScanOrDie(tree.path(), NoDefaults());
    EXPECT_EQ(FilePaths(result), (std::vector<std::string>{"real/file.py"}));
    EXPECT_EQ(ReasonFor(result, "link_to_file.py"), "symlink (not followed; target inside the root: real/file.py)");
    EXPECT_EQ(ReasonFor(result, "link_outside"), "symlink (not followed; target outside the root)");
    EXPECT_EQ(ReasonFor(result, "dangling").rfind("broken symlink", 0), 0U) << ReasonFor(result, "dangling");
}

TEST(ScanTree, FollowSymlinksTerminatesOnLoops) {
    TempTree outside;
    outside.Write("lib/ext.py", "x = 1\n");
    outside.Symlink(".", "lib/self");  // loop inside the followed directory
    outside.Symlink("..",
                    "lib/parent");  // leads back into lib: a loop through a real directory
    TempTree tree;
    tree.Write("real/file.py", "y = 2\n");
    tree.Symlink("..", "real/up");           // loop to the root
    tree.Symlink("real/file.py", "dup.py");  // in-tree duplicate
    tree.Symlink(outside.path().string() + "/lib", "ext");
    tree.Symlink(outside.path().string() + "/lib", "ext_again");
    tree.Symlink("loop_b", "loop_a");  // symlink cycle without a target
    tree.Symlink("loop_a", "loop_b");
    ScanOptions options = NoDefaults();
    options.follow_symlinks = true;
    const ScanResult result = ScanOrDie(tree.path(), options);
    EXPECT_EQ(FilePaths(result), (std::vector<std::string>{"ext/ext.py", "real/file.py"}));
    EXPECT_EQ(ReasonFor(result, "real/up"), "symlink loop");
    EXPECT_EQ(ReasonFor(result, "ext/self"), "symlink loop");
    EXPECT_EQ(ReasonFor(result, "ext/parent/lib"), "symlink loop");
    EXPECT_EQ(ReasonFor(result, "ext_again"), "directory already scanned through another path");
    EXPECT_EQ(ReasonFor(result, "dup.py"), "symlink to a file inside the root (duplicate of real/file.py)");
    EXPECT_EQ(ReasonFor(result, "loop_a"), "symlink loop");
    EXPECT_EQ(ReasonFor(result, "loop_b"), "symlink loop");
}

TEST(ScanTree, DeterministicByteOrder) {
    TempTree tree;
    for (const char *file : {"b.txt", "a/b.txt", "a-c.txt", "A.txt", "a/a.txt", "a.txt", "_x.txt", "z/y/x.txt"}) {
        tree.Write(file, "x");
    }
    const ScanResult first = ScanOrDie(tree.path(), NoDefaults());
    const std::vector<std::string> expected = {"A.txt",   "_x.txt",  "a-c.txt", "a.txt",
                                               "a/a.txt", "a/b.txt", "b.txt",   "z/y/x.txt"};
    EXPECT_EQ(FilePaths(first), expected);
    const ScanResult second = ScanOrDie(tree.path(), NoDefaults());
    EXPECT_EQ(FilePaths(second), FilePaths(first));
}

TEST(ScanTree, StoreDirAndGitDirAreExcluded) {
    TempTree tree;
    tree.Write("src/a.py", "a");
    tree.Write(".signalhub/index.sqlite3-wal.txt", "x");
    tree.Write("var/store/data.json", "{}");
    tree.Write("var/keep.json", "{}");
    tree.Write(".git/config", "[core]");
    tree.Write("nested/.git/HEAD", "ref");
    ScanOptions options = NoDefaults();
    options.store_dir = ".signalhub/";
    EXPECT_EQ(FilePaths(ScanOrDie(tree.path(), options)),
              (std::vector<std::string>{"src/a.py", "var/keep.json", "var/store/data.json"}));
    options.store_dir = "./var/store";
    EXPECT_EQ(FilePaths(ScanOrDie(tree.path(), options)),
              (std::vector<std::string>{".signalhub/index.sqlite3-wal.txt", "src/a.py", "var/keep.json"}));
    options.store_dir = (tree.path() / "var" / "store").string();  // absolute form
    EXPECT_EQ(FilePaths(ScanOrDie(tree.path(), options)),
              (std::vector<std::string>{".signalhub/index.sqlite3-wal.txt", "src/a.py", "var/keep.json"}));
}

// Issue 20 item 2: stores left in the tree (an old .signal-hub after moving to
// PostgreSQL, a restored copy under any name, a store written by an older build
// without the .gitignore marker) are never scanned, and say so in `skipped`.
TEST(ScanTree, EmbeddedStoresAnywhereAreSkipped) {
    TempTree tree;
    const std::string sqlite_header("SQLite format 3\0rest-of-page", 29);
    tree.Write("src/a.py", "a");
    // An old store: LOCK, hnsw/ sidecar JSON, WAL.
    tree.Write(".signal-hub/LOCK", "pid 1\n");
    tree.Write(".signal-hub/store.db", sqlite_header);
    tree.Write(".signal-hub/store.db-wal", "wal");
    tree.Write(".signal-hub/hnsw/1.json", "{}");
    // The runbook's restored copy (no LOCK: never opened by a writer since the copy).
    tree.Write(".signal-hub-restored/store.db", sqlite_header);
    tree.Write(".signal-hub-restored/hnsw/1.json", "{}");
    // A store under an arbitrary name, deeper in the tree, without a database yet.
    tree.Write("tools/backup-2026/LOCK", "");
    tree.MakeDir("tools/backup-2026/hnsw");
    // Look-alikes that are not stores stay indexed.
    tree.Write("data/store.db.json", "{}");
    tree.Write("lib/hnsw/index.py", "x = 1");
    tree.Write("fake/store.db", "not sqlite");
    tree.Write("fake/hnsw/notes.md", "# notes");
    const ScanResult result = ScanOrDie(tree.path(), NoDefaults());
    EXPECT_EQ(FilePaths(result),
              (std::vector<std::string>{"data/store.db.json", "fake/hnsw/notes.md", "lib/hnsw/index.py", "src/a.py"}));
    EXPECT_EQ(ReasonFor(result, ".signal-hub/"), "a Signal Hub store");
    EXPECT_EQ(ReasonFor(result, ".signal-hub-restored/"), "a Signal Hub store");
    EXPECT_EQ(ReasonFor(result, "tools/backup-2026/"), "a Signal Hub store");
}

TEST(ScanTree, ReportIgnoredNamesTheRuleAndItsFile) {
    TempTree tree;
    tree.Write(".gitignore", "build/\n*.log\n");
    tree.Write("pkg/.signalhubignore", "gen_*.go\n");
    tree.Write("build/out.py", "x");
    tree.Write("app.log", "x");
    tree.Write("pkg/gen_a.go", "package pkg");
    tree.Write("pkg/a.go", "package pkg");
    tree.Write("node_modules/x/index.js", "x");
    tree.Write("skip/me.py", "x");
    ScanOptions options;
    options.extra_excludes = {"skip/"};
    options.report_ignored = true;
    const ScanResult result = ScanOrDie(tree.path(), options);
    EXPECT_EQ(FilePaths(result), (std::vector<std::string>{".gitignore", "pkg/.signalhubignore", "pkg/a.go"}));
    std::vector<std::string> ignored;
    for (const SkippedFile &f : result.ignored) ignored.push_back(f.rel_path + ": " + f.reason);
    EXPECT_EQ(ignored, (std::vector<std::string>{
                           "app.log: ignored by .gitignore (\"*.log\")",
                           "build/: ignored by .gitignore (\"build/\")",
                           "node_modules/: ignored by the default excludes (index.default_excludes) (\"node_modules/\")",
                           "pkg/gen_a.go: ignored by pkg/.signalhubignore (\"gen_*.go\")",
                           "skip/: ignored by index.exclude (\"skip/\")",
                       }));
    options.report_ignored = false;
    EXPECT_TRUE(ScanOrDie(tree.path(), options).ignored.empty());
}

TEST(ScanTree, SignalhubIgnoreIsHonouredAndWinsOverGitignore) {
    TempTree tree;
    tree.Write(".gitignore", "*.gen.go\n");
    tree.Write(".signalhubignore", "fixtures/\n!keep.gen.go\n");
    tree.Write("pkg/.signalhubignore", "*.pb.go\n");
    tree.Write("keep.gen.go", "package a");
    tree.Write("drop.gen.go", "package a");
    tree.Write("fixtures/big.json", "{}");
    tree.Write("pkg/api.pb.go", "package pkg");
    tree.Write("pkg/api.go", "package pkg");
    tree.Write("api.pb.go", "package a");
    const ScanResult result = ScanOrDie(tree.path(), NoDefaults());
    EXPECT_EQ(FilePaths(result), (std::vector<std::string>{".gitignore", ".signalhubignore", "api.pb.go", "keep.gen.go",
                                                           "pkg/.signalhubignore", "pkg/api.go"}));
}

TEST(ScanTree, DefaultExcludes) {
    TempTree tree;
    for (const char *file : {"src/app.js",
                             "src/app.min.js",
                             "src/app.js.map",
                             "styles/site.min.css",
                             "node_modules/left-pad/index.js",
                             "web/node_modules/x/y.js",
                             "vendor/lib.go",
                             "third_party/lib/lib.c",
                             ".venv/lib/site.py",
                             "pkg/__pycache__/m.py",
                             "target/debug/out.rs",
                             "dist/bundle.js",
                             "build/gen.cpp",
                             "out/x.txt",
                             ".idea/workspace.xml",
                             ".vscode/settings.json",
                             "coverage/lcov.txt",
                             "package-lock.json",
                             "yarn.lock",
                             "pnpm-lock.yaml",
                             "Cargo.lock",
                             "poetry.lock",
                             "go.sum",
                             "go.mod",
                             "package.json"}) {
        tree.Write(file, "x");
    }
    ScanOptions options;  // default_excludes = true
    EXPECT_EQ(FilePaths(ScanOrDie(tree.path(), options)),
              (std::vector<std::string>{"go.mod", "package.json", "src/app.js", "third_party/lib/lib.c"}));

    // A repository's own negation re-includes a default-excluded directory.
    tree.Write(".gitignore", "!build/\n");
    const std::vector<std::string> with_build = FilePaths(ScanOrDie(tree.path(), options));
    EXPECT_TRUE(Contains(with_build, "build/gen.cpp"));
    EXPECT_FALSE(Contains(with_build, "dist/bundle.js"));

    const ScanResult all = ScanOrDie(tree.path(), NoDefaults());
    EXPECT_EQ(all.files.size(), 26U);  // 25 files + .gitignore
}

TEST(ScanTree, ExtraExcludesCannotBeReincludedByTheRepository) {
    TempTree tree;
    tree.Write(".gitignore", "!*.md\n");
    tree.Write("README.md", "# hi");
    tree.Write("docs/guide.md", "# guide");
    tree.Write("docs/conf.py", "x");
    tree.Write("tests/data/a.txt", "x");
    tree.Write("src/tests/data/b.txt", "x");
    ScanOptions options = NoDefaults();
    options.extra_excludes = {"*.md", "/tests/data/"};
    EXPECT_EQ(FilePaths(ScanOrDie(tree.path(), options)),
              (std::vector<std::string>{".gitignore", "docs/conf.py", "src/tests/data/b.txt"}));
}

TEST(ScanTree, InfoExcludeThroughGitFile) {
    // A worktree/submodule-style ".git" file pointing at the real git directory.
    TempTree gitdir;
    gitdir.Write("info/exclude", "local-only.txt\n");
    TempTree tree;
    tree.Write(".git", "gitdir: " + gitdir.path().string() + "\n");
    tree.Write("local-only.txt", "x");
    tree.Write("shared.txt", "x");
    EXPECT_EQ(FilePaths(ScanOrDie(tree.path(), NoDefaults())), (std::vector<std::string>{"shared.txt"}));
}

}  // namespace
}  // namespace signalhub::index

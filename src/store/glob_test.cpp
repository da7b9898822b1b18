#include <gtest/gtest.h>

#include "store/vector_store.hpp"

namespace signalhub::store {
namespace {

TEST(GlobMatch, BasenamePatternMatchesAnywhere) {
    EXPECT_TRUE(GlobMatch("*.py", "a.py"));
    EXPECT_TRUE(GlobMatch("*.py", "src/x/y/a.py"));
    EXPECT_FALSE(GlobMatch("*.py", "src/a.pyc"));
    EXPECT_FALSE(GlobMatch("*.py", "src.py/a.txt"));
    EXPECT_TRUE(GlobMatch("main.cpp", "src/cli/main.cpp"));
    EXPECT_FALSE(GlobMatch("main.cpp", "src/cli/main.cpp.bak"));
}

TEST(GlobMatch, DoubleStarMatchesZeroOrMoreDirectories) {
    EXPECT_TRUE(GlobMatch("src/**/*.py", "src/a.py"));
    EXPECT_TRUE(GlobMatch("src/**/*.py", "src/x/a.py"));
    EXPECT_TRUE(GlobMatch("src/**/*.py", "src/x/y/a.py"));
    EXPECT_FALSE(GlobMatch("src/**/*.py", "lib/src/a.py"));
    EXPECT_FALSE(GlobMatch("src/**/*.py", "src/x/a.js"));
    EXPECT_TRUE(GlobMatch("**/test_*.py", "test_a.py"));
    EXPECT_TRUE(GlobMatch("**/test_*.py", "a/b/test_a.py"));
    EXPECT_TRUE(GlobMatch("src/**", "src/a/b/c.txt"));
}

TEST(GlobMatch, SingleStarDoesNotCrossSlash) {
    EXPECT_TRUE(GlobMatch("src/*.py", "src/a.py"));
    EXPECT_FALSE(GlobMatch("src/*.py", "src/x/a.py"));
    EXPECT_TRUE(GlobMatch("src/*/a.py", "src/x/a.py"));
    EXPECT_FALSE(GlobMatch("src/*/a.py", "src/a.py"));
}

TEST(GlobMatch, QuestionMarkAndClasses) {
    EXPECT_TRUE(GlobMatch("src/?.py", "src/a.py"));
    EXPECT_FALSE(GlobMatch("src/?.py", "src/ab.py"));
    EXPECT_FALSE(GlobMatch("a?b", "a/b"));
    EXPECT_TRUE(GlobMatch("*.[ch]", "x/y.c"));
    EXPECT_TRUE(GlobMatch("*.[ch]", "x/y.h"));
    EXPECT_FALSE(GlobMatch("*.[ch]", "x/y.o"));
    EXPECT_TRUE(GlobMatch("*.[!ch]", "x/y.o"));
    EXPECT_FALSE(GlobMatch("*.[!ch]", "x/y.c"));
    EXPECT_TRUE(GlobMatch("file[0-9].txt", "file7.txt"));
    EXPECT_FALSE(GlobMatch("file[0-9].txt", "filex.txt"));
    EXPECT_TRUE(GlobMatch("[]]x", "]x"));
    EXPECT_TRUE(GlobMatch("a[b", "a[b"));  // unterminated class is literal
}

TEST(GlobMatch, AnchoringAndDirectoryPatterns) {
    EXPECT_TRUE(GlobMatch("/src/a.py", "src/a.py"));
    EXPECT_TRUE(GlobMatch("./src/a.py", "src/a.py"));
    EXPECT_FALSE(GlobMatch("src/a.py", "lib/src/a.py"));
    EXPECT_TRUE(GlobMatch("src/", "src/deep/x.go"));
    EXPECT_FALSE(GlobMatch("src/", "lib/x.go"));
    EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(GlobMatch, PathologicalPatternTerminates) {
    std::string path(200, 'a');
    EXPECT_FALSE(GlobMatch("**a**a**a**a**a**a**a**b", path));
    EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*b", path));
}

TEST(Filter, MatchesLanguageAndPathTogether) {
    Metadata m{{"file_path", std::string("src/x/a.py")}, {"language", std::string("python")}};
    Filter f;
    EXPECT_TRUE(f.Matches(m));
    f.language = "python";
    EXPECT_TRUE(f.Matches(m));
    f.path_glob = "src/**/*.py";
    EXPECT_TRUE(f.Matches(m));
    f.language = "go";
    EXPECT_FALSE(f.Matches(m));
    f.language.reset();
    f.path_glob = "*.go";
    EXPECT_FALSE(f.Matches(m));
}

TEST(Filter, RequiresStringMetadata) {
    Metadata m{{"file_path", std::int64_t{3}}, {"language", true}};
    Filter f;
    f.language = "python";
    EXPECT_FALSE(f.Matches(m));
    Filter g;
    g.path_glob = "*";
    EXPECT_FALSE(g.Matches(m));
    EXPECT_FALSE(g.Matches(Metadata{}));
}

}  // namespace
}  // namespace signalhub::store

#include "index/git_state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace signalhub::index {
namespace {
namespace fs = std::filesystem;

TEST(GitStateParse, Shortstat) {
    EXPECT_EQ(ParseShortstatFiles(""), 0);
    EXPECT_EQ(ParseShortstatFiles("\n"), 0);
    EXPECT_EQ(ParseShortstatFiles(" 1 file changed, 2 insertions(+)\n"), 1);
    EXPECT_EQ(ParseShortstatFiles(" 12 files changed, 3 insertions(+), 4 deletions(-)\n"), 12);
    EXPECT_EQ(ParseShortstatFiles("fatal: bad revision"), std::nullopt);
    EXPECT_EQ(ParseShortstatFiles(" 3 insertions(+)"), std::nullopt);
}

TEST(GitStateParse, ObjectNameAndCount) {
    const std::string sha1(40, 'a');
    EXPECT_EQ(ParseObjectName(sha1 + "\n"), sha1);
    EXPECT_EQ(ParseObjectName(std::string(64, '0')), std::string(64, '0'));
    EXPECT_EQ(ParseObjectName(std::string(39, 'a')), std::nullopt);
    EXPECT_EQ(ParseObjectName(std::string(40, 'A')), std::nullopt);
    EXPECT_EQ(ParseObjectName("HEAD"), std::nullopt);
    EXPECT_EQ(ParseCount("7\n"), 7);
    EXPECT_EQ(ParseCount("0"), 0);
    EXPECT_EQ(ParseCount(""), std::nullopt);
    EXPECT_EQ(ParseCount("-1"), std::nullopt);
    EXPECT_EQ(ParseCount("3 x"), std::nullopt);
    EXPECT_EQ(ShortCommit(sha1), "aaaaaaa");
    EXPECT_EQ(ShortCommit("abc"), "abc");
}

TEST(RunCommandTest, OutputExitCodeMissingBinaryAndTimeout) {
    auto echo = RunCommand({"sh", "-c", "printf hello; exit 3"}, std::chrono::seconds(10));
    ASSERT_TRUE(echo.has_value());
    EXPECT_EQ(echo->out, "hello");
    EXPECT_EQ(echo->exit_code, 3);
    EXPECT_FALSE(echo->timed_out);
    auto capped = RunCommand({"sh", "-c", "printf 0123456789"}, std::chrono::seconds(10), 4);
    ASSERT_TRUE(capped.has_value());
    EXPECT_EQ(capped->out, "0123");
    EXPECT_EQ(capped->exit_code, 0);
    EXPECT_FALSE(RunCommand({"signal-hub-no-such-binary-xyz"}, std::chrono::seconds(10)).has_value());
    // A child that never ends is killed at the deadline (its stdout stays open).
    auto slow = RunCommand({"sleep", "30"}, std::chrono::milliseconds(200));
    ASSERT_TRUE(slow.has_value());
    EXPECT_TRUE(slow->timed_out);
    EXPECT_EQ(slow->exit_code, -1);
    // GIT_DIR inherited from the caller does not reach the child.
    ::setenv("GIT_DIR", "/nonexistent", 1);
    auto env = RunCommand({"sh", "-c", "printf \"${GIT_DIR:-unset} $LC_ALL\""}, std::chrono::seconds(10));
    ::unsetenv("GIT_DIR");
    ASSERT_TRUE(env.has_value());
    EXPECT_EQ(env->out, "unset C");
}

class GitStateTest : public ::testing::Test {
   protected:
    void SetUp() override {
        if (!RunCommand({"git", "--version"}, std::chrono::seconds(10))) GTEST_SKIP() << "git is not installed";
        dir_ = fs::path(::testing::TempDir()) /
               ("git_state_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "sub");
        Git({"init", "-q"});
    }
    void TearDown() override { fs::remove_all(dir_); }
    void Write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
    std::string Git(std::vector<std::string> args) {
        std::vector<std::string> argv = {"git", "-C", dir_.string(), "-c", "user.name=t", "-c", "user.email=t@t"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto out = RunCommand(argv, std::chrono::seconds(30));
        EXPECT_TRUE(out && out->exit_code == 0) << "git " << args[0];
        return out ? out->out : "";
    }
    std::string Commit(const std::string& message) {
        Git({"add", "-A"});
        Git({"commit", "-q", "-m", message});
        return *ParseObjectName(Git({"rev-parse", "HEAD"}));
    }
    fs::path dir_;
};

TEST_F(GitStateTest, NotAWorkTreeOrNoCommitYet) {
    // An unborn HEAD (no commit yet) records nothing.
    EXPECT_FALSE(ReadGitState(dir_).has_value());
    EXPECT_FALSE(CompareWithHead(dir_, std::string(40, 'a')).has_value());
    const fs::path plain = dir_.parent_path() / (dir_.filename().string() + "_plain");
    fs::create_directories(plain);
    EXPECT_FALSE(ReadGitState(plain).has_value());
    fs::remove_all(plain);
}

TEST_F(GitStateTest, HeadDirtyAndDelta) {
    Write("a.txt", "one\n");
    Write("sub/b.txt", "two\n");
    const std::string first = Commit("first");
    auto state = ReadGitState(dir_);
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state->commit, first);
    EXPECT_EQ(state->dirty, false);
    // Untracked files count as changes, except under the excluded store directory.
    fs::create_directories(dir_ / ".signal-hub");
    Write(".signal-hub/store.db", "x");
    EXPECT_EQ(ReadGitState(dir_, ".signal-hub")->dirty, false);
    EXPECT_EQ(ReadGitState(dir_)->dirty, true);
    fs::remove_all(dir_ / ".signal-hub");
    Write("a.txt", "changed\n");
    EXPECT_EQ(ReadGitState(dir_)->dirty, true);

    auto same = CompareWithHead(dir_, first);
    ASSERT_TRUE(same.has_value());
    EXPECT_TRUE(same->same());
    Write("sub/c.txt", "three\n");
    const std::string second = Commit("second");  // a.txt modified, sub/c.txt added
    Write("sub/b.txt", "two, changed\n");
    Commit("third");
    auto delta = CompareWithHead(dir_, first);
    ASSERT_TRUE(delta.has_value());
    EXPECT_TRUE(delta->recorded_known);
    EXPECT_EQ(delta->commits, 2);
    EXPECT_EQ(delta->files, 3);
    // From a subdirectory: files under it only; commits of the whole repository.
    auto sub = CompareWithHead(dir_ / "sub", first);
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->commits, 2);
    EXPECT_EQ(sub->files, 2);
    EXPECT_EQ(ReadGitState(dir_ / "sub")->commit, delta->head);
    // A commit this repository does not have.
    auto unknown = CompareWithHead(dir_, std::string(40, 'b'));
    ASSERT_TRUE(unknown.has_value());
    EXPECT_FALSE(unknown->recorded_known);
    EXPECT_FALSE(unknown->commits.has_value());
    EXPECT_FALSE(unknown->same());
    (void)second;
}


TEST(GitStateParse, UntrackedCandidates) {
    const std::vector<std::string> tracked = {"a.c", "lib/b.c", "vendor/sub"};  // vendor/sub: a submodule
    EXPECT_EQ(UntrackedCandidates(tracked, {"a.c", "lib/b.c", "vendor/sub/x.c", "new.c", "lib/c.c", "vendor/y.c"}),
              (std::vector<std::string>{"new.c", "lib/c.c", "vendor/y.c"}));
    EXPECT_TRUE(UntrackedCandidates(tracked, {}).empty());
    EXPECT_EQ(UntrackedCandidates({}, {"a.c"}), std::vector<std::string>{"a.c"});
}

TEST_F(GitStateTest, TrackedChangesAndUntrackedFilesGitDoesNotIgnore) {
    Write("a.txt", "one\n");
    Write("sub/b.txt", "two\n");
    Write(".gitignore", "*.log\n");
    Commit("first");
    auto tracked = ReadGitTracked(dir_);
    ASSERT_TRUE(tracked.has_value());
    EXPECT_FALSE(tracked->changed);
    EXPECT_EQ(tracked->paths, (std::vector<std::string>{".gitignore", "a.txt", "sub/b.txt"}));
    // From a subdirectory: paths relative to it, changes under it only.
    Write("a.txt", "changed\n");
    auto sub = ReadGitTracked(dir_ / "sub");
    ASSERT_TRUE(sub.has_value());
    EXPECT_FALSE(sub->changed);
    EXPECT_EQ(sub->paths, std::vector<std::string>{"b.txt"});
    EXPECT_TRUE(ReadGitTracked(dir_)->changed);
    // Staged (and no longer in the work tree) counts too.
    Git({"checkout", "-q", "--", "a.txt"});
    EXPECT_FALSE(ReadGitTracked(dir_)->changed);
    Git({"rm", "-q", "--cached", "a.txt"});
    EXPECT_TRUE(ReadGitTracked(dir_)->changed);
    Git({"reset", "-q"});
    EXPECT_FALSE(ReadGitTracked(dir_)->changed);
    // Untracked: ignored by git, or not.
    Write("x.log", "log\n");
    Write("new.txt", "new\n");
    Write("odd name *.txt", "odd\n");
    EXPECT_EQ(AnyNotIgnored(dir_, {"x.log"}), false);
    EXPECT_EQ(AnyNotIgnored(dir_, {"x.log", "new.txt"}), true);
    EXPECT_EQ(AnyNotIgnored(dir_, {"odd name *.txt"}), true);
    EXPECT_EQ(AnyNotIgnored(dir_, {}), false);
    // More paths than one call takes, all ignored.
    std::vector<std::string> logs;
    for (int i = 0; i < 600; ++i) logs.push_back("l" + std::to_string(i) + ".log");
    EXPECT_EQ(AnyNotIgnored(dir_, logs), false);
    logs.push_back("new.txt");
    EXPECT_EQ(AnyNotIgnored(dir_, logs), true);
    // Outside a work tree git cannot tell.
    const fs::path plain = dir_.parent_path() / (dir_.filename().string() + "_plain");
    fs::create_directories(plain);
    EXPECT_FALSE(ReadGitTracked(plain).has_value());
    EXPECT_FALSE(AnyNotIgnored(plain, {"a"}).has_value());
    fs::remove_all(plain);
}

}  // namespace
}  // namespace signalhub::index

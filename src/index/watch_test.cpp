#include "index/watch.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>

#include "store/registry.hpp"

namespace signalhub::index {
namespace {
namespace fs = std::filesystem;

// Generous bound for one expected outcome; tests wait on pass reports, never on time.
constexpr auto kPatience = std::chrono::seconds(120);

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

class WatchTest : public ::testing::Test {
   protected:
    void SetUp() override {
        std::string tmpl = (fs::path(::testing::TempDir()) / "watch_XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        base_ = tmpl;
        root_ = base_ / "tree";
        store_dir_ = base_ / "store";
        Write(root_ / "a.py", "def alpha():\n    return 1\n");
        Write(root_ / "src/b.go", "package b\n\nfunc Gamma() int {\n\treturn 3\n}\n");
        Write(root_ / "README.md", "# Title\n\nSome text.\n");
        config::EmbeddingConfig ec;
        ec.dimension = 64;
        auto embedder = embed::CreateEmbedder(ec);
        ASSERT_TRUE(embedder.ok()) << embedder.status().ToString();
        embedder_ = std::move(*embedder);
    }
    void TearDown() override {
        watcher_.reset();
        store_.reset();
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    void OpenStore() {
        auto store = store::OpenStore(store_dir_.string(), store::OpenOptions{});
        ASSERT_TRUE(store.ok()) << store.status().ToString();
        store_ = std::move(*store);
    }

    WatchOptions Options() {
        WatchOptions o;
        o.index.root = root_;
        o.index.collection = "c";
        o.index.store_dir = store_dir_;
        o.index.config.batch_size = 4;
        o.index.threads = 2;
        o.debounce = std::chrono::milliseconds(50);
        return o;
    }

    void StartWatcher(WatchOptions options) {
        auto watcher = Watcher::Start(*store_, *embedder_, std::move(options), [this](const WatchPass& pass) {
            std::lock_guard lock(mu_);
            passes_.push_back({pass.trigger, pass.result.ok() ? Status::Ok() : pass.result.status(),
                               pass.watched_dirs, pass.unwatched_dirs, pass.coverage_note});
            cv_.notify_all();
        });
        ASSERT_TRUE(watcher.ok()) << watcher.status().ToString();
        watcher_ = std::move(*watcher);
    }

    // Waits until `done()` holds, re-checking after every reported pass.
    bool WaitFor(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + kPatience;
        std::unique_lock lock(mu_);
        while (true) {
            const size_t seen = passes_.size();
            lock.unlock();
            if (done()) return true;
            lock.lock();
            if (!cv_.wait_until(lock, deadline, [&] { return passes_.size() > seen; })) {
                lock.unlock();
                return done();
            }
        }
    }

    size_t Passes() {
        std::lock_guard lock(mu_);
        return passes_.size();
    }

    std::set<std::string> Files(store::VectorStore& store) {
        std::set<std::string> out;
        auto files = store.ListFiles("c");
        if (!files.ok()) return out;
        for (const auto& f : *files) out.insert(f.path);
        return out;
    }

    // file_path of the best lexical hit for `word`, "" when none.
    std::string Lexical(store::VectorStore& store, const std::string& word) {
        auto hits = store.LexicalSearch("c", word, store::SearchOptions{.k = 1});
        if (!hits.ok() || hits->empty()) return "";
        return GetString((*hits)[0].record.metadata, meta::kFilePath).value_or("");
    }

    struct Reported {
        WatchPass::Trigger trigger;
        Status status;
        size_t watched = 0;
        size_t unwatched = 0;
        std::string note;
    };

    fs::path base_, root_, store_dir_;
    std::unique_ptr<embed::Embedder> embedder_;
    std::unique_ptr<store::VectorStore> store_;
    std::unique_ptr<Watcher> watcher_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Reported> passes_;
};

TEST_F(WatchTest, IndexesEditsNewDirectoriesAndDeletions) {
    OpenStore();
    ASSERT_TRUE(IndexTree(*store_, *embedder_, Options().index).ok());
    StartWatcher(Options());
    ASSERT_TRUE(WaitFor([&] { return Passes() >= 1; }));
    {
        std::lock_guard lock(mu_);
        EXPECT_EQ(passes_[0].trigger, WatchPass::Trigger::kStart);
        EXPECT_TRUE(passes_[0].status.ok()) << passes_[0].status.ToString();
    }
    EXPECT_EQ(Lexical(*store_, "zebra"), "");

    Write(root_ / "a.py", "def alpha_zebra():\n    return 'striped'\n");
    EXPECT_TRUE(WaitFor([&] { return Lexical(*store_, "zebra") == "a.py"; }));

    Write(root_ / "pkg/deep/c.py", "def giraffe_neck():\n    return 'long'\n");
    EXPECT_TRUE(WaitFor([&] { return Files(*store_).contains("pkg/deep/c.py"); }));
    EXPECT_EQ(Lexical(*store_, "giraffe"), "pkg/deep/c.py");
    // A file added later in the new directory is seen through its own watch.
    Write(root_ / "pkg/deep/d.py", "def okapi_stripes():\n    return 'shy'\n");
    EXPECT_TRUE(WaitFor([&] { return Lexical(*store_, "okapi") == "pkg/deep/d.py"; }));
    auto watched = watcher_->WatchedDirectories();
    EXPECT_TRUE(std::find(watched.begin(), watched.end(), "pkg/deep") != watched.end());

    fs::remove(root_ / "src/b.go");
    EXPECT_TRUE(WaitFor([&] { return !Files(*store_).contains("src/b.go"); }));
    EXPECT_EQ(Lexical(*store_, "Gamma"), "");

    // Another process's view (a read-only open) sees the same committed state.
    auto reader = store::OpenStore(store_dir_.string(), store::OpenOptions{.read_only = true});
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ(Files(**reader), Files(*store_));
    EXPECT_EQ(Files(**reader), (std::set<std::string>{"README.md", "a.py", "pkg/deep/c.py", "pkg/deep/d.py"}));
    EXPECT_EQ(Lexical(**reader, "zebra"), "a.py");
    EXPECT_EQ(Lexical(**reader, "okapi"), "pkg/deep/d.py");
    EXPECT_EQ(Lexical(**reader, "Gamma"), "");

    watcher_->Stop();
    std::lock_guard lock(mu_);
    for (const auto& p : passes_) EXPECT_TRUE(p.status.ok()) << TriggerName(p.trigger) << ": " << p.status.ToString();
}

TEST_F(WatchTest, WatchesWhatTheScannerIndexesAndNothingElse) {
    store_dir_ = root_ / ".signal-hub";  // the store inside the tree, as by default
    OpenStore();
    fs::create_directories(root_ / ".git/objects/ab");
    Write(root_ / ".git/HEAD", "ref: refs/heads/main\n");
    Write(root_ / "node_modules/lib/index.js", "module.exports = 1;\n");  // default excludes
    Write(root_ / ".gitignore", "generated/\n");
    Write(root_ / "generated/out.py", "def emu_generated():\n    pass\n");
    Write(root_ / "src/inner/e.py", "def e():\n    pass\n");
    auto options = Options();
    options.index.store_dir = store_dir_;
    StartWatcher(options);
    EXPECT_EQ(watcher_->WatchedDirectories(), (std::vector<std::string>{"", "src", "src/inner"}));
    ASSERT_TRUE(WaitFor([&] { return Files(*store_).contains("src/inner/e.py"); }));
    EXPECT_FALSE(Files(*store_).contains("generated/out.py"));

    // Un-ignoring a directory watches and indexes it.
    Write(root_ / ".gitignore", "# nothing ignored\n");
    EXPECT_TRUE(WaitFor([&] { return Files(*store_).contains("generated/out.py"); }));
    EXPECT_EQ(watcher_->WatchedDirectories(), (std::vector<std::string>{"", "generated", "src", "src/inner"}));
    Write(root_ / "generated/more.py", "def wombat_more():\n    pass\n");
    EXPECT_TRUE(WaitFor([&] { return Lexical(*store_, "wombat") == "generated/more.py"; }));
}

TEST_F(WatchTest, DirectoriesBeyondTheWatchLimitArePolled) {
    OpenStore();
    auto options = Options();
    options.max_watches = 1;  // the root only
    options.poll_interval = std::chrono::milliseconds(100);
    StartWatcher(options);
    EXPECT_EQ(watcher_->WatchedDirectories(), std::vector<std::string>{""});
    ASSERT_TRUE(WaitFor([&] { return Passes() >= 1; }));
    {
        std::lock_guard lock(mu_);
        EXPECT_EQ(passes_[0].watched, 1u);
        EXPECT_EQ(passes_[0].unwatched, 1u);  // src
        EXPECT_NE(passes_[0].note.find("max_watches"), std::string::npos) << passes_[0].note;
    }
    // src/ has no watch: only the periodic pass can find this file.
    Write(root_ / "src/new.py", "def narwhal_tusk():\n    return 1\n");
    EXPECT_TRUE(WaitFor([&] { return Lexical(*store_, "narwhal") == "src/new.py"; }));
    std::lock_guard lock(mu_);
    EXPECT_TRUE(std::any_of(passes_.begin(), passes_.end(),
                            [](const Reported& p) { return p.trigger == WatchPass::Trigger::kPoll; }));
}

TEST_F(WatchTest, StopCancelsAPassInProgress) {
    OpenStore();
    for (int i = 0; i < 40; ++i) {
        Write(root_ / ("many/f" + std::to_string(i) + ".py"), "def f" + std::to_string(i) + "():\n    pass\n");
    }
    std::atomic<Watcher*> watcher{nullptr};
    std::mutex m;
    std::condition_variable cv;
    bool in_pass = false;
    auto options = Options();
    options.index.config.batch_size = 1;  // a commit per file: many cancellation points
    options.index.threads = 1;
    options.index.on_progress = [&](const IndexProgress& p) {
        if (p.phase != IndexProgress::Phase::kIndexing || p.files_done < 1) return;
        std::unique_lock lock(m);
        in_pass = true;
        cv.notify_all();
        // Hold the pass here until Stop() was called.
        const auto deadline = std::chrono::steady_clock::now() + kPatience;
        while (true) {
            Watcher* w = watcher.load();
            if ((w != nullptr && w->stopping()) || std::chrono::steady_clock::now() > deadline) break;
            cv.wait_for(lock, std::chrono::milliseconds(5));
        }
    };
    StartWatcher(options);  // the initial pass indexes the 43 files
    // on_progress refers to this test's locals: the thread must end before they do.
    struct StopAtExit {
        std::unique_ptr<Watcher>& w;
        ~StopAtExit() {
            if (w) w->Stop();
        }
    } stop_at_exit{watcher_};
    watcher.store(watcher_.get());
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, kPatience, [&] { return in_pass; }));
    }
    watcher_->Stop();
    EXPECT_TRUE(watcher_->stopping());
    {
        std::lock_guard lock(mu_);
        ASSERT_EQ(passes_.size(), 1u);
        EXPECT_EQ(passes_[0].status.code(), ErrorCode::kCancelled) << passes_[0].status.ToString();
    }
    const size_t indexed = Files(*store_).size();
    EXPECT_GE(indexed, 1u);
    EXPECT_LT(indexed, 43u);
    watcher_->Stop();  // idempotent
    // What the cancelled pass committed is kept; an index run completes it.
    ASSERT_TRUE(IndexTree(*store_, *embedder_, Options().index).ok());
    EXPECT_EQ(Files(*store_).size(), 43u);
}

TEST_F(WatchTest, StartRefusesBadRoots) {
    OpenStore();
    auto options = Options();
    options.index.root = base_ / "absent";
    EXPECT_EQ(Watcher::Start(*store_, *embedder_, options, nullptr).status().code(), ErrorCode::kNotFound);
    options.index.root = root_ / "a.py";
    EXPECT_EQ(Watcher::Start(*store_, *embedder_, options, nullptr).status().code(), ErrorCode::kInvalidArgument);
    options = Options();
    options.index.collection.clear();
    EXPECT_EQ(Watcher::Start(*store_, *embedder_, options, nullptr).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace signalhub::index

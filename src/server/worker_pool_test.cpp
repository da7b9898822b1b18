#include "server/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <functional>
#include <mutex>
#include <thread>

namespace signalhub::server {
namespace {

// Blocks the tasks it is given until Release().
class Gate {
   public:
    void Wait() {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return open_; });
    }
    void Release() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            open_ = true;
        }
        cv_.notify_all();
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

// Waits until the pool has `n` tasks queued or running.
void WaitPending(const WorkerPool& pool, std::size_t n) {
    while (pool.pending() != n) std::this_thread::yield();
}

TEST(WorkerPool, TryPostIdleTakesTasksOnlyWhileAThreadIsIdle) {
    WorkerPool pool(2);
    Gate gate;
    std::atomic<int> ran{0};
    // The threads may not be waiting yet right after construction: wait until one takes a task.
    std::promise<void> started;
    while (!pool.TryPostIdle([&] {
        started.set_value();
        gate.Wait();
        ++ran;
    })) {
        std::this_thread::yield();
    }
    started.get_future().wait();
    // One thread busy, one idle (eventually waiting): a second task is taken.
    while (!pool.TryPostIdle([&] {
        gate.Wait();
        ++ran;
    })) {
        std::this_thread::yield();
    }
    WaitPending(pool, 2);
    // Both busy: declined, and the declined task never runs.
    EXPECT_FALSE(pool.TryPostIdle([&] { ran += 100; }));
    // Post still queues behind them.
    EXPECT_TRUE(pool.Post([&] { ++ran; }));
    gate.Release();
    WaitPending(pool, 0);
    EXPECT_EQ(ran.load(), 3);
}

TEST(WorkerPool, IdleExecutorOutlivesThePool) {
    std::function<bool(std::function<void()>)> run;
    std::atomic<int> ran{0};
    {
        WorkerPool pool(1);
        run = pool.IdleExecutor();
        std::promise<void> done;
        while (!run([&] {
            ++ran;
            done.set_value();
        })) {
            std::this_thread::yield();
        }
        done.get_future().wait();
    }
    EXPECT_FALSE(run([&] { ++ran; }));  // the pool is shut down: declined, never run
    EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace signalhub::server

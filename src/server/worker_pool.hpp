#pragma once
// A fixed pool of threads that run blocking work (MCP tool handlers, readiness
// checks) away from the I/O threads. Tasks run in FIFO order.
//
// Thread safety: every method may be called from any thread.
// Shutdown: tasks already posted still run; if some have not finished by the
// deadline, their threads are detached (abandoned) so shutdown never hangs on
// a stuck handler. A task must therefore own (shared_ptr) or outlive-check
// everything it touches after the deadline.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace signalhub::server {

class WorkerPool {
   public:
    explicit WorkerPool(int threads);
    // Shutdown(now) if not done yet.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues a task; false (task dropped) once Shutdown has begun.
    bool Post(std::function<void()> task);

    // Queues a task only when a thread is idle now (waiting, with no task
    // queued ahead for it), so that it starts at once; false (task not taken)
    // otherwise or once Shutdown has begun. For optional parallel work (the
    // halves of one hybrid search, ADR-34a): the caller runs it itself on false.
    bool TryPostIdle(std::function<void()> task);

    // TryPostIdle as a function that stays safe to call after the pool is
    // gone (it then returns false): for a search::Searcher helper.
    std::function<bool(std::function<void()>)> IdleExecutor() const;

    // Stops taking tasks, lets queued and running ones finish until
    // `deadline`, joins the threads. Returns how many tasks were abandoned:
    // still running at the deadline (their threads are detached) or queued and
    // never started (dropped). Idempotent: later calls return 0.
    std::size_t Shutdown(std::chrono::steady_clock::time_point deadline);

    // Tasks queued or running now.
    std::size_t pending() const;

   private:
    struct State;
    static void Loop(const std::shared_ptr<State>& state, std::size_t index);
    static bool PostIfIdle(State& state, std::function<void()>& task);

    std::shared_ptr<State> state_;
    std::vector<std::thread> threads_;
};

}  // namespace signalhub::server

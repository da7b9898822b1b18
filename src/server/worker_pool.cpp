#include "server/worker_pool.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

namespace signalhub::server {

struct WorkerPool::State {
    mutable std::mutex mu;
    std::condition_variable work_cv;  // a task was queued, or stopping
    std::condition_variable done_cv;  // a thread exited
    std::deque<std::function<void()>> tasks;
    bool stopping = false;  // no new tasks
    bool abandon = false;   // threads exit after their current task, queue dropped
    std::size_t running = 0;
    std::size_t waiting = 0;  // threads waiting for a task
    std::vector<bool> exited;  // by thread index
};

WorkerPool::WorkerPool(int threads) : state_(std::make_shared<State>()) {
    const std::size_t n = threads < 1 ? 1 : static_cast<std::size_t>(threads);
    state_->exited.assign(n, false);
    threads_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        // Each thread holds the state, so a detached (abandoned) thread never
        // touches freed memory.
        threads_.emplace_back([state = state_, i] { Loop(state, i); });
    }
}

WorkerPool::~WorkerPool() { (void)Shutdown(std::chrono::steady_clock::now()); }

bool WorkerPool::Post(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(state_->mu);
        if (state_->stopping) return false;
        state_->tasks.push_back(std::move(task));
    }
    state_->work_cv.notify_one();
    return true;
}

bool WorkerPool::PostIfIdle(State& state, std::function<void()>& task) {
    {
        std::lock_guard<std::mutex> lock(state.mu);
        if (state.stopping || state.waiting <= state.tasks.size()) return false;
        state.tasks.push_back(std::move(task));
    }
    state.work_cv.notify_one();
    return true;
}

bool WorkerPool::TryPostIdle(std::function<void()> task) { return PostIfIdle(*state_, task); }

std::function<bool(std::function<void()>)> WorkerPool::IdleExecutor() const {
    return [state = state_](std::function<void()> task) { return PostIfIdle(*state, task); };
}

std::size_t WorkerPool::pending() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->tasks.size() + state_->running;
}

std::size_t WorkerPool::Shutdown(std::chrono::steady_clock::time_point deadline) {
    if (threads_.empty()) return 0;
    std::deque<std::function<void()>> dropped;  // destroyed outside the lock
    std::size_t abandoned = 0;
    std::vector<bool> exited;
    {
        std::unique_lock<std::mutex> lock(state_->mu);
        state_->stopping = true;
        state_->work_cv.notify_all();
        auto all_exited = [&] {
            for (bool e : state_->exited)
                if (!e) return false;
            return true;
        };
        state_->done_cv.wait_until(lock, deadline, all_exited);
        if (!all_exited()) {
            state_->abandon = true;
            abandoned = state_->running + state_->tasks.size();
            dropped.swap(state_->tasks);
            state_->work_cv.notify_all();
        }
        exited = state_->exited;
    }
    for (std::size_t i = 0; i < threads_.size(); ++i) {
        if (exited[i]) {
            threads_[i].join();
        } else {
            threads_[i].detach();
        }
    }
    threads_.clear();
    return abandoned;
}

void WorkerPool::Loop(const std::shared_ptr<State>& state, std::size_t index) {
    std::unique_lock<std::mutex> lock(state->mu);
    for (;;) {
        ++state->waiting;
        state->work_cv.wait(lock, [&] { return state->abandon || state->stopping || !state->tasks.empty(); });
        --state->waiting;
        if (state->abandon || state->tasks.empty()) break;  // empty here means stopping
        std::function<void()> task = std::move(state->tasks.front());
        state->tasks.pop_front();
        ++state->running;
        lock.unlock();
        try {
            task();  // tasks report their own errors; this only keeps a stray exception from killing the process
        } catch (...) {
        }
        task = nullptr;  // release what the task captured before reporting done
        lock.lock();
        --state->running;
    }
    state->exited[index] = true;
    state->done_cv.notify_all();
}

}  // namespace signalhub::server

#pragma once
// WriterLock: the embedded store's DIR/LOCK, held by its one writer.
//
// flock(LOCK_EX) on DIR/LOCK for the writer's lifetime; the OS releases it when
// the process dies (even by kill -9), so a stale lock never blocks. The file
// says who holds it, for the message another writer gets:
//
//   12345                                   <- pid (first line, as in older versions)
//   command: signal-hub serve --watch       <- OpenOptions::holder, else this process's command line
//   since: 2026-12-07T03:30:00Z
//
// The lock file is only read for the message; the flock alone decides.

#include <string>

#include "core/status.hpp"

namespace signalhub::store {

class WriterLock {
   public:
    WriterLock() = default;
    WriterLock(WriterLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    WriterLock& operator=(WriterLock&& other) noexcept;
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;
    ~WriterLock();  // closing the descriptor releases the flock

    // Takes DIR/LOCK. FailedPrecondition when another process holds it, naming
    // the holder (pid, command, since when) and what to do: a server that
    // re-indexes by itself (`serve --watch`) is stopped or left to do the work,
    // anything else is waited for. `holder` describes this process for the
    // next one ("" = its command line from /proc/self/cmdline).
    static Result<WriterLock> Acquire(const std::string& dir, const std::string& holder);

    // The message for a lock held by `content` (the LOCK file's text); exposed for tests.
    static std::string HeldMessage(const std::string& dir, const std::string& content);

   private:
    int fd_ = -1;
};

}  // namespace signalhub::store

#pragma once
// The MCP sessions of the Streamable HTTP transport: one mcp::Session per
// client, found by the Mcp-Session-Id header. Ids carry 128 bits from
// OpenSSL's RAND_bytes (32 lowercase hex digits). A session expires after
// idle_ttl without requests (never while a request of it is running); an
// expired, deleted or unknown id is simply not found. Sessions may have open
// server-to-client streams (GET /mcp) that end with the session.
//
// Thread safety: every method may be called from any thread. Time comes from
// the injected Clock.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/status.hpp"
#include "mcp/server.hpp"

namespace signalhub::server {

// A server-to-client stream of one session (an open GET /mcp SSE response).
class SessionStream {
   public:
    virtual ~SessionStream() = default;
    // Ends the stream. Thread-safe, may be called more than once, must not block.
    virtual void EndStream() = 0;
};

class McpSessions {
   public:
    struct Entry {
        Entry(std::string session_id, const mcp::Server& server) : id(std::move(session_id)), session(server) {}
        const std::string id;
        mcp::Session session;
        // The API key id that opened the session ("" without authentication).
        // Set once by the creator before the id is handed out; only that key
        // may use the session afterwards (McpEndpoint).
        std::string owner;

       private:
        friend class McpSessions;
        // Guarded by McpSessions::mu_.
        std::chrono::steady_clock::time_point last_used;
        int busy = 0;
        std::vector<std::weak_ptr<SessionStream>> streams;
    };

    // Borrows `server` and `clock`; both must outlive this object.
    McpSessions(const mcp::Server& server, std::size_t max_sessions, std::chrono::nanoseconds idle_ttl,
                const Clock& clock);
    ~McpSessions();
    McpSessions(const McpSessions&) = delete;
    McpSessions& operator=(const McpSessions&) = delete;

    // Opens a session with a fresh id, busy until Release. ResourceExhausted
    // when max_sessions are open; Internal when the random generator fails.
    Result<std::shared_ptr<Entry>> Create();
    // Forgets a session that Create opened but that never became usable (its
    // initialize failed). Not counted as deleted.
    void Discard(const std::shared_ptr<Entry>& entry);
    // The live session with this id, busy until Release; nullptr when unknown,
    // deleted or expired.
    std::shared_ptr<Entry> Acquire(std::string_view id);
    // Ends one Acquire/Create; the idle clock restarts.
    void Release(const std::shared_ptr<Entry>& entry);
    // Ends a session and its streams (DELETE /mcp). False when not found.
    bool Remove(std::string_view id);
    // Attaches an open stream to a live session. False when not found.
    bool AttachStream(std::string_view id, std::weak_ptr<SessionStream> stream);
    // Ends the sessions idle for longer than idle_ttl, with their streams.
    // Returns how many expired.
    std::size_t ExpireIdle();

    const mcp::Server& server() const { return server_; }
    std::size_t active() const;
    std::uint64_t created() const;
    std::uint64_t expired() const;
    std::uint64_t deleted() const;

   private:
    bool IdleTooLong(const Entry& e, std::chrono::steady_clock::time_point now) const;
    // Removes `it` (mu_ held) and moves its streams to `streams`.
    void EraseLocked(std::unordered_map<std::string, std::shared_ptr<Entry>>::iterator it,
                     std::vector<std::weak_ptr<SessionStream>>& streams);
    static void EndStreams(const std::vector<std::weak_ptr<SessionStream>>& streams);

    const mcp::Server& server_;
    const std::size_t max_sessions_;
    const std::chrono::nanoseconds idle_ttl_;
    const Clock& clock_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Entry>> sessions_;
    std::uint64_t created_ = 0;
    std::uint64_t expired_ = 0;
    std::uint64_t deleted_ = 0;
};

// 32 lowercase hex digits from 16 bytes of RAND_bytes. Internal on failure.
Result<std::string> NewSessionId();

}  // namespace signalhub::server

#include "server/mcp_sessions.hpp"

#include <openssl/rand.h>

#include <array>

namespace signalhub::server {

Result<std::string> NewSessionId() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        return Internal("cannot create a session id: the random generator failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    id.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
        id.push_back(kHex[b >> 4]);
        id.push_back(kHex[b & 0xF]);
    }
    return id;
}

McpSessions::McpSessions(const mcp::Server& server, std::size_t max_sessions, std::chrono::nanoseconds idle_ttl,
                         const Clock& clock)
    : server_(server), max_sessions_(max_sessions), idle_ttl_(idle_ttl), clock_(clock) {}

McpSessions::~McpSessions() = default;

Result<std::shared_ptr<McpSessions::Entry>> McpSessions::Create() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (sessions_.size() >= max_sessions_)
            return ResourceExhausted("too many MCP sessions open (" + std::to_string(max_sessions_) + ")");
    }
    SH_ASSIGN_OR_RETURN(std::string id, NewSessionId());
    auto entry = std::make_shared<Entry>(id, server_);
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_.size() >= max_sessions_)
        return ResourceExhausted("too many MCP sessions open (" + std::to_string(max_sessions_) + ")");
    if (!sessions_.emplace(id, entry).second) return Internal("session id collision");  // 2^-128: a broken generator
    entry->last_used = clock_.Now();
    entry->busy = 1;
    ++created_;
    return entry;
}

void McpSessions::Discard(const std::shared_ptr<Entry>& entry) {
    std::vector<std::weak_ptr<SessionStream>> streams;
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = sessions_.find(entry->id);
        if (it == sessions_.end() || it->second != entry) return;
        EraseLocked(it, streams);
        --created_;
    }
    EndStreams(streams);
}

bool McpSessions::IdleTooLong(const Entry& e, std::chrono::steady_clock::time_point now) const {
    return e.busy == 0 && now - e.last_used > idle_ttl_;
}

void McpSessions::EraseLocked(std::unordered_map<std::string, std::shared_ptr<Entry>>::iterator it,
                              std::vector<std::weak_ptr<SessionStream>>& streams) {
    auto& s = it->second->streams;
    streams.insert(streams.end(), s.begin(), s.end());
    s.clear();
    sessions_.erase(it);
}

void McpSessions::EndStreams(const std::vector<std::weak_ptr<SessionStream>>& streams) {
    for (const auto& w : streams) {
        if (auto s = w.lock()) s->EndStream();
    }
}

std::shared_ptr<McpSessions::Entry> McpSessions::Acquire(std::string_view id) {
    std::vector<std::weak_ptr<SessionStream>> streams;
    std::shared_ptr<Entry> found;
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = sessions_.find(std::string(id));
        if (it == sessions_.end()) return nullptr;
        if (IdleTooLong(*it->second, clock_.Now())) {  // expired before the sweep saw it
            EraseLocked(it, streams);
            ++expired_;
        } else {
            found = it->second;
            ++found->busy;
        }
    }
    EndStreams(streams);
    return found;
}

void McpSessions::Release(const std::shared_ptr<Entry>& entry) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entry->busy > 0) --entry->busy;
    entry->last_used = clock_.Now();
}

bool McpSessions::Remove(std::string_view id) {
    std::vector<std::weak_ptr<SessionStream>> streams;
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = sessions_.find(std::string(id));
        if (it == sessions_.end()) return false;
        EraseLocked(it, streams);
        ++deleted_;
    }
    EndStreams(streams);
    return true;
}

bool McpSessions::AttachStream(std::string_view id, std::weak_ptr<SessionStream> stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(std::string(id));
    if (it == sessions_.end() || IdleTooLong(*it->second, clock_.Now())) return false;
    auto& streams = it->second->streams;
    std::erase_if(streams, [](const std::weak_ptr<SessionStream>& w) { return w.expired(); });
    streams.push_back(std::move(stream));
    return true;
}

std::size_t McpSessions::ExpireIdle() {
    std::vector<std::weak_ptr<SessionStream>> streams;
    std::size_t n = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        const auto now = clock_.Now();
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            auto next = std::next(it);
            if (IdleTooLong(*it->second, now)) {
                EraseLocked(it, streams);
                ++n;
            }
            it = next;
        }
        expired_ += n;
    }
    EndStreams(streams);
    return n;
}

std::size_t McpSessions::active() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_.size();
}

std::uint64_t McpSessions::created() const {
    std::lock_guard<std::mutex> lock(mu_);
    return created_;
}

std::uint64_t McpSessions::expired() const {
    std::lock_guard<std::mutex> lock(mu_);
    return expired_;
}

std::uint64_t McpSessions::deleted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deleted_;
}

}  // namespace signalhub::server

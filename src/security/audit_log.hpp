#pragma once
// AuditLog: security events as JSON lines (security.audit_log), for the
// operator and for compliance (docs/production/security/compliance.md).
//
// One line per event: {"time": "2026-11-30T10:00:00Z", "event": "...", ...}
// with the fields the caller sets (who: key_id, key_name, actor; what: event,
// reason, tool, collection, method, path; from where: remote; which HTTP
// request: request_id, its X-Request-Id). A secret is
// never a field: callers pass key ids and names, not keys.
//
// Events: auth_failure (401), forbidden (403), rate_limited (429),
// key_created, key_revoked, key_rotated, keys_reloaded.
//
// Thread safety: Write may be called from several threads; each event is one
// write(2) of one whole line (O_APPEND), so lines from several processes
// sharing the file do not interleave. A failed write is counted, never
// thrown, and never fails the request being audited.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/status.hpp"

namespace signalhub::security {

struct AuditEvent {
    std::string event;                          // e.g. "auth_failure"
    std::map<std::string, std::string> fields;  // who / what / from where; empty values are left out
};

class AuditLog {
   public:
    // "-" = standard error; otherwise the file is opened for appending and
    // created with mode 0600. Unavailable naming the path when it cannot be.
    // `clock` must outlive the log.
    static Result<std::unique_ptr<AuditLog>> Open(const std::string& destination, const Clock& clock);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    void Write(const AuditEvent& event);
    // Events that could not be written.
    std::uint64_t write_failures() const { return failures_.load(); }

   private:
    AuditLog(int fd, bool owned, const Clock& clock) : fd_(fd), owned_(owned), clock_(clock) {}
    int fd_;
    bool owned_;
    const Clock& clock_;
    std::atomic<std::uint64_t> failures_{0};
};

}  // namespace signalhub::security

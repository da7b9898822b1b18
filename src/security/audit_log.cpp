#include "security/audit_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

namespace signalhub::security {

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& destination, const Clock& clock) {
    if (destination == "-") return std::unique_ptr<AuditLog>(new AuditLog(STDERR_FILENO, false, clock));
    const int fd = ::open(destination.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return Unavailable("cannot open the audit log " + destination + ": " + std::strerror(errno) +
                           " (security.audit_log)");
    }
    return std::unique_ptr<AuditLog>(new AuditLog(fd, true, clock));
}

AuditLog::~AuditLog() {
    if (owned_) ::close(fd_);
}

void AuditLog::Write(const AuditEvent& event) {
    nlohmann::json line = {{"time", FormatIso8601Utc(clock_.UnixSeconds())}, {"event", event.event}};
    for (const auto& [name, value] : event.fields) {
        if (!value.empty()) line[name] = value;
    }
    // Replace invalid UTF-8 (a header value, say) instead of throwing.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            failures_.fetch_add(1);
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace signalhub::security

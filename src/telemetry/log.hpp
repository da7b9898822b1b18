#pragma once
// Structured logging (monitoring.logging): one record per line, as JSON for
// log shippers or as text for people. docs/production/monitoring/logging.md
// describes the format; this header is its contract.
//
//   telemetry::Info("serving over MCP Streamable HTTP", {{"url", url}, {"workers", 4}});
//
// JSON (format json), keys in this order, then the record's fields:
//   {"ts":"2026-11-30T12:00:00.123Z","level":"info","msg":"serving ...","url":"http://...","workers":4}
// Text (format text):
//   2026-11-30T12:00:00.123Z INFO serving ... url=http://... workers=4
//
// Guarantees:
//  - A record is exactly one line: newlines and control characters in the
//    message or in values are escaped (JSON escapes; text quotes the value).
//  - A record is written with one write(2) call, under the logger's mutex:
//    records from several threads never interleave (nor, with O_APPEND files
//    and lines shorter than PIPE_BUF on pipes, records of several processes).
//  - Credentials in URLs (user:password@, ?password=, ?token=) are masked in
//    the message and in string values, and the value of a field whose name
//    says it holds a secret (password, secret, token, pepper, authorization,
//    api_key, cookie) is replaced by "***". Callers still pass key ids, never
//    keys, and never document contents at info level.
//  - String values longer than kMaxValueBytes are cut (marked "...").
//  - Writing never throws and never fails the caller: a failed write is
//    counted (write_failures()).
//
// Thread safety: every Logger method and the free functions below may be
// called from any thread.

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.hpp"

namespace signalhub::telemetry {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// "debug", "info", "warn", "error" (case-insensitive; "warning" = warn).
std::optional<LogLevel> ParseLogLevel(std::string_view name);
// "json", "text" (case-insensitive).
std::optional<LogFormat> ParseLogFormat(std::string_view name);
// "debug", "info", "warn", "error".
std::string_view LogLevelName(LogLevel level);

// One structured field: a name and a string, integer, floating-point or
// boolean value. Brace-initialisable: {"status", 200}, {"route", "/mcp"}.
struct LogField {
    using Value = std::variant<std::string, std::int64_t, double, bool>;

    LogField(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
    LogField(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
    LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
    LogField(std::string_view k, bool v) : key(k), value(v) {}
    template <std::integral T>
    requires(!std::same_as<T, bool>) LogField(std::string_view k, T v) : key(k), value(static_cast<std::int64_t>(v)) {}
    template <std::floating_point T>
    LogField(std::string_view k, T v) : key(k), value(static_cast<double>(v)) {}

    std::string key;
    Value value;
};

// String values longer than this are cut.
inline constexpr std::size_t kMaxValueBytes = 4096;

// The whole record as one line ending in '\n', redacted and escaped as
// described above. Pure: the logger's formatter, exposed for tests.
std::string FormatRecord(LogFormat format, std::chrono::system_clock::time_point time, LogLevel level,
                         std::string_view message, std::span<const LogField> fields);

// "2026-11-30T12:00:00.123Z": RFC 3339, UTC, milliseconds.
std::string FormatTimestamp(std::chrono::system_clock::time_point time);

struct LogOptions {
    LogLevel level = LogLevel::kInfo;
    LogFormat format = LogFormat::kText;
    // "stdout", "stderr", or a file path (opened O_APPEND, created 0640).
    std::string output = "stderr";
};

class Logger {
   public:
    using TimeSource = std::function<std::chrono::system_clock::time_point()>;

    // Opens options.output. InvalidArgument for an empty output; Unavailable
    // naming the path when the file cannot be opened.
    static Result<std::unique_ptr<Logger>> Open(const LogOptions& options);
    // Writes to `fd` (not owned; it must stay open while the logger lives),
    // with timestamps from `now` (default: the system clock). For tests.
    Logger(int fd, LogLevel level, LogFormat format, TimeSource now = {});
    ~Logger();
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    bool Enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }
    LogLevel level() const { return level_.load(std::memory_order_relaxed); }
    void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
    LogFormat format() const { return format_; }
    // "stdout", "stderr", "fd", or the file path.
    const std::string& output() const { return output_; }

    // Writes the record when `level` passes the threshold.
    void Log(LogLevel level, std::string_view message, std::span<const LogField> fields = {});
    void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
        Log(level, message, std::span<const LogField>(fields.begin(), fields.size()));
    }
    // Writes the record whatever the threshold (start-up lines that scripts
    // depend on, such as the listening address with --port 0).
    void Write(LogLevel level, std::string_view message, std::span<const LogField> fields = {});

    // File output: opens the path again (after logrotate moved the file away);
    // the old descriptor is closed once the new one is open. A no-op for
    // stdout, stderr and descriptors. Unavailable when the file cannot be opened
    // (the logger keeps writing to the old one).
    Status Reopen();

    // Records that could not be written.
    std::uint64_t write_failures() const { return failures_.load(); }

   private:
    Logger(int fd, bool owned, std::string output, LogLevel level, LogFormat format, TimeSource now);
    void WriteLine(const std::string& line);

    std::mutex mu_;  // guards fd_ (Reopen) and serialises writes
    int fd_;
    bool owned_;
    std::string output_;
    std::atomic<LogLevel> level_;
    LogFormat format_;
    TimeSource now_;
    std::atomic<std::uint64_t> failures_{0};
};

// ---------------------------------------------------------------------------
// The process-wide logger. Until SetLogger, it is text, info, standard error.

// Replaces the process-wide logger (records being written by other threads
// finish on the old one).
void SetLogger(std::shared_ptr<Logger> logger);
// The current process-wide logger (never null).
std::shared_ptr<Logger> CurrentLogger();
// Opens a logger for `options` and makes it the process-wide one.
Status ConfigureLogging(const LogOptions& options);

inline bool LogEnabled(LogLevel level) { return CurrentLogger()->Enabled(level); }
void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
void Log(LogLevel level, std::string_view message, std::span<const LogField> fields);
inline void Debug(std::string_view message, std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kDebug, message, fields);
}
inline void Info(std::string_view message, std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kInfo, message, fields);
}
inline void Warn(std::string_view message, std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kWarn, message, fields);
}
inline void Error(std::string_view message, std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kError, message, fields);
}
// Logger::Write on the process-wide logger: INFO whatever the threshold.
void Announce(std::string_view message, std::initializer_list<LogField> fields = {});

// ---------------------------------------------------------------------------
// The access log: one record per HTTP request.

struct RequestLogFields {
    std::string request_id;                 // AcceptRequestId / NewRequestId
    std::optional<std::string> trace_id{};  // W3C trace id, when tracing is on
    std::optional<std::string> key_id{};    // the API key's id (never the key)
    std::string remote{};                   // client address
    std::string method{};                   // GET, POST, DELETE
    std::string route{};                    // /mcp, /health, /ready (the route, not the raw target)
    int status = 0;                         // HTTP status sent
    double latency_ms = 0;                  // from the request read to the response written
    std::int64_t bytes = 0;                 // response body bytes
};

// The level of a request's record: info below 500, warn for 503 (overload,
// draining, not ready), error for other 5xx.
LogLevel RequestLogLevel(int status);
// The access record's fields, in their order: request_id, trace_id, key_id
// (both only when set), remote, method, route, status, latency_ms, bytes.
std::vector<LogField> RequestFields(const RequestLogFields& request);
// Logs the record "request" with RequestFields at RequestLogLevel.
void LogRequest(Logger& logger, const RequestLogFields& request);
void LogRequest(const RequestLogFields& request);  // on the process-wide logger

// ---------------------------------------------------------------------------
// Request ids.

// 32 lower-case hex digits (16 random bytes from OpenSSL's RAND_bytes).
std::string NewRequestId();
// `incoming` (an X-Request-Id header) when it is 1 to 128 characters of
// [A-Za-z0-9._:-]; otherwise a new id (NewRequestId).
std::string AcceptRequestId(std::string_view incoming);

// ---------------------------------------------------------------------------
// Redaction.

// "postgresql://hub:***@db:5432/hub": the URL with any password masked (in
// the user-info part and in password= or token= query parameters).
std::string RedactUrl(std::string_view url);
// Free text with RedactUrl applied to every URL in it (a URL runs from its
// scheme to the next space, quote or bracket).
std::string RedactText(std::string_view text);
// True for a field name that says its value is a secret.
bool IsSecretFieldName(std::string_view key);

}  // namespace signalhub::telemetry

#include "telemetry/log.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

namespace signalhub::telemetry {
namespace {

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// `s` cut to kMaxValueBytes (at a UTF-8 character boundary), marked "...".
std::string_view Capped(std::string_view s, bool& cut) {
    cut = s.size() > kMaxValueBytes;
    if (!cut) return s;
    std::size_t end = kMaxValueBytes;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    return s.substr(0, end);
}

// The text a record shows for a message or a string value: redacted and capped.
std::string Clean(std::string_view s) {
    bool cut = false;
    std::string out = RedactText(Capped(s, cut));
    if (cut) out += "...";
    return out;
}

// Field names are made of [A-Za-z0-9_.-]; anything else becomes '_'.
std::string CleanKey(std::string_view key) {
    std::string out = key.empty() ? std::string("_") : std::string(key);
    for (char& c : out) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (!std::isalnum(u) && c != '_' && c != '.' && c != '-') c = '_';
    }
    return out;
}

std::string UpperLevel(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug:
            return "DEBUG";
        case LogLevel::kInfo:
            return "INFO";
        case LogLevel::kWarn:
            return "WARN";
        case LogLevel::kError:
            return "ERROR";
    }
    return "INFO";
}

std::string FormatDouble(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) return "NaN";
    return std::string(buf, end);
}

// Text format: control characters (and, in quoted values, '"' and '\') escaped.
void AppendEscaped(std::string& out, std::string_view s, bool quoted) {
    for (char c : s) {
        const unsigned char u = static_cast<unsigned char>(c);
        switch (c) {
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            case '"':
            case '\\':
                if (quoted) out += '\\';
                out += c;
                continue;
            default:
                break;
        }
        if (u < 0x20 || u == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", u);
            out += hex;
        } else {
            out += c;
        }
    }
}

bool NeedsQuotes(std::string_view s) {
    if (s.empty()) return true;
    for (char c : s) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '"' || c == '=' || c == '\\') return true;
    }
    return false;
}

std::string ShownString(const LogField& field) {
    const std::string& value = std::get<std::string>(field.value);
    if (IsSecretFieldName(field.key) && !value.empty()) return "***";
    return Clean(value);
}

std::string FormatText(std::chrono::system_clock::time_point time, LogLevel level, std::string_view message,
                       std::span<const LogField> fields) {
    std::string out = FormatTimestamp(time);
    out += ' ';
    out += UpperLevel(level);
    out += ' ';
    AppendEscaped(out, Clean(message), false);
    for (const LogField& field : fields) {
        out += ' ';
        out += CleanKey(field.key);
        out += '=';
        if (std::holds_alternative<std::string>(field.value)) {
            const std::string shown = ShownString(field);
            if (NeedsQuotes(shown)) {
                out += '"';
                AppendEscaped(out, shown, true);
                out += '"';
            } else {
                out += shown;
            }
        } else if (const auto* i = std::get_if<std::int64_t>(&field.value)) {
            out += std::to_string(*i);
        } else if (const auto* d = std::get_if<double>(&field.value)) {
            out += FormatDouble(*d);
        } else {
            out += std::get<bool>(field.value) ? "true" : "false";
        }
    }
    out += '\n';
    return out;
}

std::string FormatJson(std::chrono::system_clock::time_point time, LogLevel level, std::string_view message,
                       std::span<const LogField> fields) {
    nlohmann::ordered_json line;
    line["ts"] = FormatTimestamp(time);
    line["level"] = std::string(LogLevelName(level));
    line["msg"] = Clean(message);
    for (const LogField& field : fields) {
        std::string key = CleanKey(field.key);
        if (key == "ts" || key == "level" || key == "msg") key = "_" + key;  // never hide the record's own keys
        if (std::holds_alternative<std::string>(field.value)) {
            line[key] = ShownString(field);
        } else if (const auto* i = std::get_if<std::int64_t>(&field.value)) {
            line[key] = *i;
        } else if (const auto* d = std::get_if<double>(&field.value)) {
            line[key] = *d;  // NaN and infinities become null
        } else {
            line[key] = std::get<bool>(field.value);
        }
    }
    // dump escapes control characters (one line); invalid UTF-8 is replaced, not thrown.
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

struct Global {
    std::mutex mu;
    std::shared_ptr<Logger> logger;
};

Global& TheGlobal() {
    static Global* global = [] {
        auto* g = new Global();  // never destroyed: threads may log during static destruction
        g->logger = std::shared_ptr<Logger>(std::move(*Logger::Open(LogOptions{})));  // stderr: cannot fail
        return g;
    }();
    return *global;
}

bool IsRequestIdChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-';
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
    const std::string n = Lower(name);
    if (n == "debug") return LogLevel::kDebug;
    if (n == "info") return LogLevel::kInfo;
    if (n == "warn" || n == "warning") return LogLevel::kWarn;
    if (n == "error") return LogLevel::kError;
    return std::nullopt;
}

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
    const std::string n = Lower(name);
    if (n == "json") return LogFormat::kJson;
    if (n == "text") return LogFormat::kText;
    return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug:
            return "debug";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kWarn:
            return "warn";
        case LogLevel::kError:
            return "error";
    }
    return "info";
}

std::string FormatTimestamp(std::chrono::system_clock::time_point time) {
    const auto ms = std::chrono::floor<std::chrono::milliseconds>(time).time_since_epoch().count();
    const std::int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    const int millis = static_cast<int>(ms - seconds * 1000);
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];  // room for any int values: GCC -O0 with sanitizers warns of truncation otherwise
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

std::string FormatRecord(LogFormat format, std::chrono::system_clock::time_point time, LogLevel level,
                         std::string_view message, std::span<const LogField> fields) {
    return format == LogFormat::kJson ? FormatJson(time, level, message, fields)
                                      : FormatText(time, level, message, fields);
}

// ---------------------------------------------------------------------------
// Logger

Logger::Logger(int fd, LogLevel level, LogFormat format, TimeSource now)
    : Logger(fd, false, "fd", level, format, std::move(now)) {}

Logger::Logger(int fd, bool owned, std::string output, LogLevel level, LogFormat format, TimeSource now)
    : fd_(fd), owned_(owned), output_(std::move(output)), level_(level), format_(format), now_(std::move(now)) {
    if (!now_) now_ = [] { return std::chrono::system_clock::now(); };
}

Logger::~Logger() {
    if (owned_) ::close(fd_);
}

namespace {
int OpenLogFile(const std::string& path) {
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}
}  // namespace

Result<std::unique_ptr<Logger>> Logger::Open(const LogOptions& options) {
    if (options.output == "stdout") {
        return std::unique_ptr<Logger>(
            new Logger(STDOUT_FILENO, false, "stdout", options.level, options.format, TimeSource()));
    }
    if (options.output == "stderr") {
        return std::unique_ptr<Logger>(
            new Logger(STDERR_FILENO, false, "stderr", options.level, options.format, TimeSource()));
    }
    if (options.output.empty()) {
        return InvalidArgument("monitoring.logging.output is empty: use stdout, stderr or a file path");
    }
    const int fd = OpenLogFile(options.output);
    if (fd < 0) {
        return Unavailable("cannot open the log file " + options.output + ": " + std::strerror(errno) +
                           " (monitoring.logging.output)");
    }
    return std::unique_ptr<Logger>(new Logger(fd, true, options.output, options.level, options.format, TimeSource()));
}

void Logger::Log(LogLevel level, std::string_view message, std::span<const LogField> fields) {
    if (!Enabled(level)) return;
    Write(level, message, fields);
}

void Logger::Write(LogLevel level, std::string_view message, std::span<const LogField> fields) {
    std::string line;
    try {
        line = FormatRecord(format_, now_(), level, message, fields);
    } catch (const std::exception&) {  // only allocation can throw here
        failures_.fetch_add(1);
        return;
    }
    WriteLine(line);
}

void Logger::WriteLine(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            failures_.fetch_add(1);
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

Status Logger::Reopen() {
    if (!owned_) return Status::Ok();
    const int fd = OpenLogFile(output_);
    if (fd < 0) {
        return Unavailable("cannot reopen the log file " + output_ + ": " + std::strerror(errno) +
                           " (monitoring.logging.output); still writing to the previous one");
    }
    int old = -1;
    {
        std::lock_guard<std::mutex> lock(mu_);
        old = fd_;
        fd_ = fd;
    }
    ::close(old);
    return Status::Ok();
}

// ---------------------------------------------------------------------------
// Process-wide logger

void SetLogger(std::shared_ptr<Logger> logger) {
    if (!logger) return;
    Global& g = TheGlobal();
    std::lock_guard<std::mutex> lock(g.mu);
    g.logger = std::move(logger);
}

std::shared_ptr<Logger> CurrentLogger() {
    Global& g = TheGlobal();
    std::lock_guard<std::mutex> lock(g.mu);
    return g.logger;
}

Status ConfigureLogging(const LogOptions& options) {
    SH_ASSIGN_OR_RETURN(std::unique_ptr<Logger> logger, Logger::Open(options));
    SetLogger(std::shared_ptr<Logger>(std::move(logger)));
    return Status::Ok();
}

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
    Log(level, message, std::span<const LogField>(fields.begin(), fields.size()));
}

void Log(LogLevel level, std::string_view message, std::span<const LogField> fields) {
    CurrentLogger()->Log(level, message, fields);
}

void Announce(std::string_view message, std::initializer_list<LogField> fields) {
    CurrentLogger()->Write(LogLevel::kInfo, message, std::span<const LogField>(fields.begin(), fields.size()));
}

// ---------------------------------------------------------------------------
// Access log

LogLevel RequestLogLevel(int status) {
    if (status < 500) return LogLevel::kInfo;
    return status == 503 ? LogLevel::kWarn : LogLevel::kError;
}

std::vector<LogField> RequestFields(const RequestLogFields& r) {
    std::vector<LogField> fields;
    fields.reserve(9);
    fields.emplace_back("request_id", r.request_id);
    if (r.trace_id) fields.emplace_back("trace_id", *r.trace_id);
    if (r.key_id) fields.emplace_back("key_id", *r.key_id);
    fields.emplace_back("remote", r.remote);
    fields.emplace_back("method", r.method);
    fields.emplace_back("route", r.route);
    fields.emplace_back("status", r.status);
    fields.emplace_back("latency_ms", std::round(r.latency_ms * 1000.0) / 1000.0);  // microsecond resolution
    fields.emplace_back("bytes", r.bytes);
    return fields;
}

void LogRequest(Logger& logger, const RequestLogFields& request) {
    const LogLevel level = RequestLogLevel(request.status);
    if (!logger.Enabled(level)) return;
    const std::vector<LogField> fields = RequestFields(request);
    logger.Log(level, "request", fields);
}

void LogRequest(const RequestLogFields& request) { LogRequest(*CurrentLogger(), request); }

// ---------------------------------------------------------------------------
// Request ids

std::string NewRequestId() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        // OpenSSL's generator failed (it does not without entropy): the kernel's.
        std::random_device device;
        for (unsigned char& b : bytes) b = static_cast<unsigned char>(device());
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    id.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
        id += kHex[b >> 4];
        id += kHex[b & 0x0f];
    }
    return id;
}

std::string AcceptRequestId(std::string_view incoming) {
    if (incoming.empty() || incoming.size() > 128) return NewRequestId();
    for (char c : incoming) {
        if (!IsRequestIdChar(c)) return NewRequestId();
    }
    return std::string(incoming);
}

// ---------------------------------------------------------------------------
// Redaction

std::string RedactUrl(std::string_view url) {
    const size_t scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    const size_t auth_begin = scheme + 3;
    const size_t auth_end = url.find_first_of("/?#", auth_begin);
    const std::string_view authority =
        url.substr(auth_begin, auth_end == std::string_view::npos ? std::string_view::npos : auth_end - auth_begin);
    const size_t at = authority.rfind('@');
    std::string out(url);
    if (at != std::string_view::npos) {
        const size_t colon = authority.substr(0, at).find(':');
        if (colon != std::string_view::npos) out.replace(auth_begin + colon + 1, at - colon - 1, "***");
    }
    // A secret given as a query parameter.
    const size_t query = out.find('?');
    if (query != std::string::npos) {
        size_t pos = query + 1;
        while (pos < out.size()) {
            size_t end = out.find('&', pos);
            if (end == std::string::npos) end = out.size();
            for (const std::string_view key : {"password=", "token="}) {  // libpq's password, Chroma's token
                if (out.compare(pos, key.size(), key) != 0) continue;
                out.replace(pos + key.size(), end - pos - key.size(), "***");
                end = out.find('&', pos);
                if (end == std::string::npos) end = out.size();
            }
            pos = end + 1;
        }
    }
    return out;
}

std::string RedactText(std::string_view text) {
    if (text.find("://") == std::string_view::npos) return std::string(text);
    auto is_scheme_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    };
    auto ends_url = [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`';
    };
    std::string out;
    out.reserve(text.size());
    std::size_t done = 0;  // text[0, done) is in `out`
    std::size_t search = 0;
    while (true) {
        const std::size_t sep = text.find("://", search);
        if (sep == std::string_view::npos) break;
        std::size_t begin = sep;
        while (begin > done && is_scheme_char(text[begin - 1])) --begin;
        std::size_t end = sep + 3;
        while (end < text.size() && !ends_url(text[end])) ++end;
        out.append(text.substr(done, begin - done));
        out += RedactUrl(text.substr(begin, end - begin));
        done = end;
        search = end;
        if (search >= text.size()) break;
    }
    out.append(text.substr(done));
    return out;
}

bool IsSecretFieldName(std::string_view key) {
    const std::string k = Lower(key);
    // The last word of the name: "db_password" -> "password", "x-api-key" -> "api-key".
    static const std::array<std::string_view, 13> kSecretEndings = {
        "password", "passwd", "secret",      "token",  "pepper",     "authorization", "api_key",
        "api-key",  "apikey", "credentials", "cookie", "set-cookie", "private_key"};
    for (std::string_view ending : kSecretEndings) {
        if (k.size() < ending.size() || k.compare(k.size() - ending.size(), ending.size(), ending) != 0) continue;
        if (k.size() == ending.size()) return true;
        const char before = k[k.size() - ending.size() - 1];
        if (before == '_' || before == '-' || before == '.') return true;
    }
    return false;
}

}  // namespace signalhub::telemetry

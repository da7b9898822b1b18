// signal-hub doctor: the report (text, JSON) and the support bundle (ops/doctor.hpp).
//
// The bundle is one JSON document rather than a tar archive: it needs no new dependency
// (libarchive-dev), a support engineer reads it with jq, and the test that proves no secret
// is in it searches exactly the bytes that are sent.
#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/clock.hpp"
#include "net/http_client.hpp"
#include "net/redis_client.hpp"
#include "ops/doctor.hpp"
#include "telemetry/log.hpp"

namespace signalhub::ops {

namespace {

using nlohmann::json;

// Secrets shorter than this are not scrubbed from free text (they would match everywhere);
// the configuration's own secret fields are redacted by name whatever their length.
constexpr size_t kMinScrubbedSecret = 4;

// The password of scheme://user:PASSWORD@host..., percent-decoded and raw.
void UrlPasswords(const std::string& url, std::vector<std::string>& out) {
    const size_t scheme = url.find("://");
    if (scheme == std::string::npos) return;
    const size_t at = url.find('@', scheme + 3);
    if (at != std::string::npos) {
        const std::string userinfo = url.substr(scheme + 3, at - scheme - 3);
        const size_t colon = userinfo.find(':');
        if (colon != std::string::npos) out.push_back(userinfo.substr(colon + 1));
    }
    for (const char* key : {"password=", "token="}) {
        size_t p = url.find(key);
        while (p != std::string::npos) {
            if (p > 0 && (url[p - 1] == '?' || url[p - 1] == '&')) {
                const size_t start = p + std::string(key).size();
                const size_t end = url.find('&', start);
                out.push_back(url.substr(start, end == std::string::npos ? std::string::npos : end - start));
            }
            p = url.find(key, p + 1);
        }
    }
    if (url.starts_with("redis://") || url.starts_with("rediss://")) {
        Result<redis::RedisUrl> redis = redis::ParseRedisUrl(url);
        if (redis.ok() && !redis->password.empty()) out.push_back(redis->password);
    }
}

std::string Trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string ReplaceAll(std::string text, const std::string& secret) {
    if (secret.size() < kMinScrubbedSecret) return text;
    size_t p = text.find(secret);
    while (p != std::string::npos) {
        text.replace(p, secret.size(), "***");
        p = text.find(secret, p + 3);
    }
    return text;
}

void Scrub(json& value, const std::vector<std::string>& secrets) {
    if (value.is_string()) {
        std::string s = value.get<std::string>();
        for (const std::string& secret : secrets) s = ReplaceAll(std::move(s), secret);
        value = telemetry::RedactText(s);
    } else if (value.is_array() || value.is_object()) {
        for (auto& item : value) Scrub(item, secrets);
    }
}

void RedactNode(YAML::Node node) {
    if (node.IsMap()) {
        for (auto it = node.begin(); it != node.end(); ++it) {
            const std::string key = it->first.IsScalar() ? it->first.as<std::string>() : "";
            if (telemetry::IsSecretFieldName(key) && !it->second.IsNull()) {
                it->second = "***";
            } else {
                RedactNode(it->second);
            }
        }
    } else if (node.IsSequence()) {
        for (auto item : node) RedactNode(item);
    } else if (node.IsScalar()) {
        const std::string text = node.as<std::string>();
        const std::string redacted = telemetry::RedactText(text);
        if (redacted != text) node = redacted;
    }
}

// The last `n` lines of `path` (reads at most its last MiB).
std::vector<std::string> TailLines(const std::string& path, int n) {
    std::vector<std::string> lines;
    std::ifstream in(path, std::ios::binary);
    if (!in) return lines;
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff start = std::max<std::streamoff>(0, size - (1 << 20));
    in.seekg(start);
    std::string line;
    if (start > 0) std::getline(in, line);  // a partial first line
    while (std::getline(in, line)) {
        lines.push_back(line);
        if (static_cast<int>(lines.size()) > n) lines.erase(lines.begin());
    }
    return lines;
}

json MetricsSnapshot(const config::MetricsConfig& metrics, const DoctorOptions& options) {
    if (!metrics.enabled || metrics.port == 0) return nullptr;
    std::string host = metrics.host;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    const std::string url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                            std::to_string(metrics.port) + metrics.path;
    Result<net::HttpUrl> parsed = net::ParseHttpUrl(url);
    if (!parsed.ok()) return json{{"url", url}, {"error", parsed.status().message()}};
    net::HttpClient client(*parsed, std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000)));
    Result<net::HttpResponse> r = client.Request("GET", parsed->Target(""), {}, "");
    if (!r.ok()) return json{{"url", url}, {"error", r.status().message() + " (is `signal-hub serve` running?)"}};
    if (r->status != 200) return json{{"url", url}, {"error", "HTTP " + std::to_string(r->status)}};
    return json{{"url", url}, {"text", r->body}};
}

json EffectiveSettings(const config::Config& c) {
    return json{
        {"database", {{"type", c.database.type}, {"url", telemetry::RedactUrl(c.database.url)}}},
        {"store_path", c.store.path},
        {"embedding", {{"provider", c.embedding.provider}, {"model", c.embedding.model}, {"base_url", c.embedding.base_url}}},
        {"tls", {{"enabled", c.security.tls.enabled}, {"cert_file", c.security.tls.cert_file}}},
        {"api_keys", {{"enabled", c.security.api_keys.enabled}, {"storage", c.security.api_keys.storage}}},
        {"rate_limiting",
         {{"enabled", c.security.rate_limiting.enabled},
          {"backend", c.security.rate_limiting.backend},
          {"redis_url", telemetry::RedactUrl(c.security.rate_limiting.redis_url)}}},
        {"caching",
         {{"enabled", c.performance.caching.enabled},
          {"backend", c.performance.caching.backend},
          {"redis_url", telemetry::RedactUrl(c.performance.caching.redis_url)}}},
        {"logging", {{"output", c.monitoring.logging.output}, {"format", c.monitoring.logging.format}}},
        {"metrics", {{"enabled", c.monitoring.metrics.enabled}, {"host", c.monitoring.metrics.host}, {"port", c.monitoring.metrics.port}}},
    };
}

json FindingsArray(const std::vector<Finding>& findings) {
    json list = json::array();
    for (const Finding& f : findings) {
        list.push_back({{"name", f.name},
                        {"status", FindingStatusName(f.status)},
                        {"detail", f.detail},
                        {"fix", f.fix},
                        {"doc", f.doc}});
    }
    return list;
}

}  // namespace

DoctorSummary Summarize(const std::vector<Finding>& findings) {
    DoctorSummary s;
    for (const Finding& f : findings) {
        (f.status == FindingStatus::kOk ? s.ok : f.status == FindingStatus::kWarn ? s.warn : s.fail) += 1;
    }
    return s;
}

std::string FormatFindings(const std::vector<Finding>& findings, const std::string& config_source) {
    std::string out = "doctor of " + config_source + "\n";
    for (const Finding& f : findings) {
        char line[96];
        std::snprintf(line, sizeof line, "  %-4s  %-24s ", f.status == FindingStatus::kOk     ? "OK"
                                                           : f.status == FindingStatus::kWarn ? "WARN"
                                                                                              : "FAIL",
                      f.name.c_str());
        out += line + f.detail + "\n";
        if (f.status != FindingStatus::kOk) {
            out += "        fix: " + f.fix + "\n";
            if (!f.doc.empty()) out += "        see: " + f.doc + "\n";
        }
    }
    const DoctorSummary s = Summarize(findings);
    out += std::to_string(s.ok) + " ok, " + std::to_string(s.warn) + " warnings, " + std::to_string(s.fail) + " failed\n";
    return out;
}

std::string FindingsJson(const std::vector<Finding>& findings, const std::string& config_source) {
    const DoctorSummary s = Summarize(findings);
    return json{{"config", config_source}, {"ok", s.ok}, {"warn", s.warn}, {"fail", s.fail}, {"findings", FindingsArray(findings)}}
        .dump();
}

std::vector<std::string> KnownSecrets(const config::Config& c, const config::EnvLookup& env) {
    std::vector<std::string> out;
    for (const std::string* url : {&c.database.url, &c.security.api_keys.database_url, &c.security.rate_limiting.redis_url,
                                   &c.performance.caching.redis_url, &c.security.api_keys.vault_url,
                                   &c.embedding.base_url, &c.monitoring.tracing.jaeger_endpoint}) {
        UrlPasswords(*url, out);
    }
    auto from_env = [&](const std::string& name) {
        if (name.empty() || !env) return;
        if (std::optional<std::string> v = env(name); v && !v->empty()) out.push_back(*v);
    };
    from_env(c.security.api_keys.pepper_env);
    from_env(c.embedding.api_key_env);
    from_env(c.security.api_keys.vault_token_env);
    if (!c.security.api_keys.pepper_file.empty()) {
        std::ifstream in(c.security.api_keys.pepper_file, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        if (!text.str().empty()) {
            out.push_back(text.str());
            out.push_back(Trimmed(text.str()));
        }
    }
    std::vector<std::string> unique;
    for (std::string& s : out) {
        if (!s.empty() && std::find(unique.begin(), unique.end(), s) == unique.end()) unique.push_back(std::move(s));
    }
    // Longest first, so that a secret containing another is replaced whole.
    std::sort(unique.begin(), unique.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return unique;
}

std::string RedactConfigText(const std::string& yaml_text) {
    if (yaml_text.empty()) return "";
    try {
        YAML::Node root = YAML::Load(yaml_text);
        RedactNode(root);
        YAML::Emitter emitter;
        emitter << root;
        return std::string(emitter.c_str()) + "\n";
    } catch (const std::exception& e) {
        return std::string("# the configuration file does not parse as YAML (") + e.what() + "); its text is left out\n";
    }
}

Status WriteSupportBundle(const std::string& path, const BundleInputs& in, const config::EnvLookup& env,
                          const DoctorOptions& options) {
    struct utsname uts{};
    ::uname(&uts);
    json bundle = {
        {"bundle_format", 1},
        {"created", FormatIso8601Utc(Clock::Real().UnixSeconds())},
        {"versions",
         {{"signal_hub", in.version},
          {"sqlite", sqlite3_libversion()},
          {"libpq", PQlibVersion()},
          {"openssl", OpenSSL_version(OPENSSL_VERSION)},
          {"system", std::string(uts.sysname) + " " + uts.release + " " + uts.machine}}},
        {"config", {{"source", in.config_source}, {"text", RedactConfigText(in.raw_config)}}},
        {"doctor", {{"ok", Summarize(in.findings).ok}, {"warn", Summarize(in.findings).warn},
                    {"fail", Summarize(in.findings).fail}, {"findings", FindingsArray(in.findings)}}},
        {"log", nullptr},
        {"metrics", nullptr},
    };
    std::vector<std::string> secrets;
    if (in.config) {
        const config::Config& c = *in.config;
        bundle["config"]["effective"] = EffectiveSettings(c);
        secrets = KnownSecrets(c, env);
        const std::string& log = c.monitoring.logging.output;
        if (log != "stdout" && log != "stderr" && !log.empty()) {
            bundle["log"] = {{"file", log}, {"lines", TailLines(log, in.log_lines)}};
        }
        bundle["metrics"] = MetricsSnapshot(c.monitoring.metrics, options);
    }
    Scrub(bundle, secrets);
    std::string text = bundle.dump(2) + "\n";
    for (const std::string& secret : secrets) text = ReplaceAll(std::move(text), secret);

    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Internal("cannot write the support bundle " + tmp + ": " + std::strerror(errno));
    size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string error = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            return Internal("cannot write the support bundle " + tmp + ": " + error);
        }
        written += static_cast<size_t>(n);
    }
    if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string error = std::strerror(errno);
        ::unlink(tmp.c_str());
        return Internal("cannot write the support bundle " + path + ": " + error);
    }
    return Status::Ok();
}

}  // namespace signalhub::ops

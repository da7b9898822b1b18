#include "security/vault_key_store.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "net/http_client.hpp"
#include "security/key_document.hpp"
#include "security/key_rules.hpp"

namespace signalhub::security {
namespace {

using nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::string_view kCasMismatch = "check-and-set parameter did not match the current version";

// Mount and path: Vault path segments we put into the URL as they are.
Status CheckVaultPath(std::string& value, const char* option) {
    while (!value.empty() && value.front() == '/') value.erase(value.begin());
    while (!value.empty() && value.back() == '/') value.pop_back();
    if (value.empty()) return InvalidArgument(std::string(option) + " is empty");
    for (char c : value) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.' || c == '/';
        if (!ok) return InvalidArgument(std::string(option) + " '" + value + "' may only hold letters, digits, '-', '_', '.' and '/'");
    }
    if (value.find("//") != std::string::npos || value == ".." || value.starts_with("../") ||
        value.find("/../") != std::string::npos || value.ends_with("/..")) {
        return InvalidArgument(std::string(option) + " '" + value + "' is not a plain Vault path");
    }
    return Status::Ok();
}

std::string Trim(std::string s) {
    const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!s.empty() && space(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t start = 0;
    while (start < s.size() && space(static_cast<unsigned char>(s[start]))) ++start;
    return s.substr(start);
}

// Vault's {"errors":[...]} joined with "; " (empty when there are none).
std::string VaultErrors(const std::string& body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return "";
    auto it = j.find("errors");
    if (it == j.end() || !it->is_array()) return "";
    std::string out;
    for (const json& e : *it) {
        if (!e.is_string()) continue;
        if (!out.empty()) out += "; ";
        out += e.get<std::string>();
    }
    return out;
}

}  // namespace

struct VaultKeyStore::Impl {
    struct Doc {
        std::vector<ApiKeyRecord> records;
        std::int64_t version = 0;  // KV v2 version the records come from (0: no secret yet)
        SteadyTime fetched{};
    };
    struct WriteOutcome {
        Status status;
        bool cas_conflict = false;
        std::int64_t version = 0;
    };

    Impl(VaultKeyStoreOptions o, net::HttpUrl u, KeyHasher h, const Clock& c)
        : options(std::move(o)), url(std::move(u)), hasher(std::move(h)), clock(c),
          http(std::make_unique<net::HttpClient>(url, options.timeout)) {
        secret_target = url.Target("/v1/" + options.mount + "/data/" + options.path);
        where = "Vault at " + url.HostHeader() + " (secret " + options.mount + "/data/" + options.path + ")";
        ttl = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(options.cache_ttl));
    }

    // ---- HTTP ------------------------------------------------------------------------------

    // Never lets the token or the JWT into a message (Vault does not echo them, a proxy might).
    std::string Redact(std::string text) const {
        for (const std::string* secret : {&token, &last_jwt}) {
            if (secret->size() < 8) continue;
            for (std::size_t at = text.find(*secret); at != std::string::npos; at = text.find(*secret, at)) {
                text.replace(at, secret->size(), "[redacted]");
            }
        }
        return text;
    }

    Status VaultError(const net::HttpResponse& r, std::string_view what) const {
        std::string errors = VaultErrors(r.body);
        std::string text = where + ": " + std::string(what) + ": HTTP " + std::to_string(r.status);
        if (!errors.empty()) text += " (" + errors + ")";
        text = Redact(std::move(text));
        switch (r.status) {
            case 400:
                return InvalidArgument(text);
            case 401:
            case 403:
                return PermissionDenied(text + "; check that the Vault token is valid and that its policy grants "
                                               "read, create and update on " +
                                        options.mount + "/data/" + options.path +
                                        (options.vault_namespace.empty() ? "" : " in namespace " + options.vault_namespace));
            case 404:
                return NotFound(text + "; is a KV version 2 secrets engine mounted at '" + options.mount + "'?");
            case 412:
                return Unavailable(text + " (a standby node has not caught up yet; retry)");
            case 429:
                return ResourceExhausted(text);
            case 503:
                return Unavailable(text + " (Vault is sealed, in standby or under maintenance)");
            default:
                break;
        }
        if (r.status >= 500) return Unavailable(text);
        return InvalidArgument(text);
    }

    Result<net::HttpResponse> Send(std::string_view method, const std::string& target, const std::string& body,
                                   bool with_token) {
        std::vector<net::HttpHeader> headers;
        headers.push_back({"X-Vault-Request", "true"});
        if (with_token) headers.push_back({"X-Vault-Token", token});
        if (!options.vault_namespace.empty()) headers.push_back({"X-Vault-Namespace", options.vault_namespace});
        if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
        auto r = http->Request(method, target, headers, body);
        if (!r.ok()) return Status(r.status().code(), Redact(where + ": " + r.status().message()));
        return r;
    }

    // A request with the store's token; Kubernetes auth logs in again once on 403.
    Result<net::HttpResponse> Call(std::string_view method, const std::string& target, const std::string& body) {
        SH_RETURN_IF_ERROR(EnsureToken());
        SH_ASSIGN_OR_RETURN(net::HttpResponse r, Send(method, target, body, /*with_token=*/true));
        if (r.status == 403 && options.auth == "kubernetes") {
            SH_RETURN_IF_ERROR(Login());
            SH_ASSIGN_OR_RETURN(r, Send(method, target, body, /*with_token=*/true));
        }
        return r;
    }

    // ---- Vault auth ------------------------------------------------------------------------

    Status AdoptAuth(const net::HttpResponse& r, std::string_view what) {
        json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
        const json* auth = j.is_object() && j.contains("auth") ? &j["auth"] : nullptr;
        if (auth == nullptr || !auth->is_object() || !auth->contains("client_token") ||
            !(*auth)["client_token"].is_string()) {
            return Unavailable(where + ": " + std::string(what) + ": the answer has no auth.client_token");
        }
        token = (*auth)["client_token"].get<std::string>();
        lease_seconds = auth->value("lease_duration", std::int64_t{0});
        renewable = auth->value("renewable", false);
        token_obtained = clock.Now();
        return Status::Ok();
    }

    Status Login() {
        const std::string what = "logging in with Kubernetes role '" + options.role + "'";
        std::ifstream in(options.jwt_file);
        if (!in) {
            return FailedPrecondition(where + ": " + what + ": cannot read the service-account token file " +
                                      options.jwt_file + " (vault_jwt_file)");
        }
        std::stringstream ss;
        ss << in.rdbuf();
        last_jwt = Trim(ss.str());
        if (last_jwt.empty()) {
            return FailedPrecondition(where + ": " + what + ": the service-account token file " + options.jwt_file +
                                      " is empty");
        }
        token.clear();
        const std::string body = json{{"role", options.role}, {"jwt", last_jwt}}.dump();
        SH_ASSIGN_OR_RETURN(net::HttpResponse r,
                            Send("POST", url.Target("/v1/auth/" + options.kubernetes_mount + "/login"), body,
                                 /*with_token=*/false));
        if (r.status != 200) return VaultError(r, what);
        SH_RETURN_IF_ERROR(AdoptAuth(r, what));
        ++stats.logins;
        return Status::Ok();
    }

    Status Renew() {
        SH_ASSIGN_OR_RETURN(net::HttpResponse r,
                            Send("POST", url.Target("/v1/auth/token/renew-self"), "{}", /*with_token=*/true));
        if (r.status != 200) return VaultError(r, "renewing the Vault token");
        SH_RETURN_IF_ERROR(AdoptAuth(r, "renewing the Vault token"));
        ++stats.renewals;
        return Status::Ok();
    }

    Status EnsureToken() {
        if (options.auth != "kubernetes") return Status::Ok();
        if (token.empty()) return Login();
        if (lease_seconds <= 0) return Status::Ok();  // a token without a lease does not expire
        const auto elapsed = clock.Now() - token_obtained;
        const auto lease = std::chrono::seconds(lease_seconds);
        if (elapsed >= lease) return Login();
        if (elapsed >= lease * 2 / 3) {
            if (renewable && Renew().ok()) return Status::Ok();
            return Login();
        }
        return Status::Ok();
    }

    // ---- the secret --------------------------------------------------------------------------

    Status Fetch() {
        SH_ASSIGN_OR_RETURN(net::HttpResponse r, Call("GET", secret_target, ""));
        ++stats.reads;
        Doc doc;
        doc.fetched = clock.Now();
        if (r.status == 404) {
            // {"errors":[]}: no such secret (yet). A deleted latest version still names its version,
            // which the next check-and-set write must quote.
            json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
            if (!VaultErrors(r.body).empty()) return VaultError(r, "reading the key secret");
            if (j.is_object() && j.contains("data") && j["data"].is_object() && j["data"].contains("metadata") &&
                j["data"]["metadata"].is_object()) {
                doc.version = j["data"]["metadata"].value("version", std::int64_t{0});
            }
            cache = std::move(doc);
            return Status::Ok();
        }
        if (r.status != 200) return VaultError(r, "reading the key secret");
        json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object() || !j.contains("data") || !j["data"].is_object() || !j["data"].contains("metadata") ||
            !j["data"]["metadata"].is_object()) {
            return Unavailable(where + ": the answer to reading the key secret is not a KV version 2 response "
                                       "(is the mount KV version 1?)");
        }
        const json& data = j["data"];
        doc.version = data["metadata"].value("version", std::int64_t{0});
        if (data.contains("data") && data["data"].is_object()) {
            auto records = ParseKeyDocument(data["data"].dump(), hasher.fingerprint());
            if (!records.ok()) {
                const Status& s = records.status();
                const ErrorCode code = s.code() == ErrorCode::kFailedPrecondition ? s.code() : ErrorCode::kDataLoss;
                return Status(code, where + " version " + std::to_string(doc.version) +
                                        " is not a usable signal-hub key document: " + s.message());
            }
            doc.records = std::move(records).value();
        }
        cache = std::move(doc);
        return Status::Ok();
    }

    WriteOutcome Write(const std::vector<ApiKeyRecord>& records, std::int64_t cas) {
        WriteOutcome out;
        json body = json::object();
        body["options"] = json{{"cas", cas}};
        body["data"] = json::parse(SerializeKeyDocument(records, hasher.fingerprint()));
        auto r = Call("POST", secret_target, body.dump());
        if (!r.ok()) {
            out.status = r.status();
            return out;
        }
        if (r->status == 400 && VaultErrors(r->body).find(kCasMismatch) != std::string::npos) {
            out.cas_conflict = true;
            out.status = Aborted(where + ": " + std::string(kCasMismatch));
            return out;
        }
        if (r->status != 200 && r->status != 204) {
            out.status = VaultError(*r, "writing the key secret");
            return out;
        }
        json j = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
        if (j.is_object() && j.contains("data") && j["data"].is_object()) {
            out.version = j["data"].value("version", std::int64_t{0});
        }
        if (out.version <= 0) out.version = cas + 1;
        ++stats.writes;
        return out;
    }

    void MergeUsage(std::vector<ApiKeyRecord>& records) const {
        for (ApiKeyRecord& r : records) {
            auto it = pending_usage.find(r.id);
            if (it != pending_usage.end()) r.last_used = std::max(r.last_used.value_or(0), it->second);
        }
    }

    // Applies `change` to the document and writes it with check-and-set; see the header.
    Status MutateLocked(const std::function<Status(std::vector<ApiKeyRecord>&)>& change) {
        bool fresh = false;
        if (!cache) {
            SH_RETURN_IF_ERROR(Fetch());
            fresh = true;
        }
        for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
            std::vector<ApiKeyRecord> records = cache->records;
            MergeUsage(records);
            Status applied = change(records);
            if (!applied.ok()) {
                if (fresh) return applied;
                SH_RETURN_IF_ERROR(Fetch());  // the cache may be behind another writer: decide on fresh data
                fresh = true;
                continue;
            }
            WriteOutcome w = Write(records, cache->version);
            if (w.status.ok()) {
                cache = Doc{std::move(records), w.version, clock.Now()};
                pending_usage.clear();
                last_usage_write = clock.UnixSeconds();
                return Status::Ok();
            }
            if (!w.cas_conflict) return w.status;
            ++stats.cas_conflicts;
            SH_RETURN_IF_ERROR(Fetch());
            fresh = true;
        }
        return Aborted(where + ": gave up after " + std::to_string(kMaxCasAttempts) +
                       " check-and-set conflicts (many concurrent writers); retry");
    }

    const VaultKeyStoreOptions options;
    const net::HttpUrl url;
    const KeyHasher hasher;
    const Clock& clock;
    std::unique_ptr<net::HttpClient> http;
    std::string secret_target;
    std::string where;
    std::chrono::nanoseconds ttl{0};

    mutable std::mutex mu;
    std::string token;
    std::string last_jwt;
    std::int64_t lease_seconds = 0;
    bool renewable = false;
    SteadyTime token_obtained{};
    std::optional<Doc> cache;
    std::optional<SteadyTime> last_miss_refresh;
    std::unordered_map<std::string, std::int64_t> pending_usage;  // id -> last_used not yet written
    std::int64_t last_usage_write = 0;
    Stats stats;
};

VaultKeyStore::VaultKeyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VaultKeyStore::~VaultKeyStore() = default;

Result<std::unique_ptr<VaultKeyStore>> VaultKeyStore::Open(VaultKeyStoreOptions options, KeyHasher hasher,
                                                           const Clock& clock) {
    if (options.url.empty()) return InvalidArgument("vault_url is required for the vault API key store");
    auto url = net::ParseHttpUrl(options.url);
    if (!url.ok()) return url.status().WithContext("vault_url");
    SH_RETURN_IF_ERROR(CheckVaultPath(options.mount, "vault_mount"));
    SH_RETURN_IF_ERROR(CheckVaultPath(options.path, "vault_path"));
    SH_RETURN_IF_ERROR(CheckVaultPath(options.kubernetes_mount, "the Kubernetes auth mount"));
    if (!std::isfinite(options.cache_ttl) || options.cache_ttl < 0) {
        return InvalidArgument("cache_ttl must be a number of seconds >= 0");
    }
    if (options.usage_write_interval < 0) return InvalidArgument("usage_write_interval cannot be negative");
    if (options.timeout.count() <= 0) return InvalidArgument("the Vault request timeout must be positive");
    if (options.auth == "token") {
        if (options.token.empty()) {
            const char* env = std::getenv("VAULT_TOKEN");
            if (env != nullptr) options.token = Trim(env);
        }
        if (options.token.empty()) {
            return InvalidArgument("vault_token is empty and VAULT_TOKEN is not set (vault_auth: token needs one)");
        }
    } else if (options.auth == "kubernetes") {
        if (options.role.empty()) return InvalidArgument("vault_role is required for vault_auth: kubernetes");
        if (options.jwt_file.empty()) return InvalidArgument("vault_jwt_file is required for vault_auth: kubernetes");
    } else {
        return InvalidArgument("vault_auth must be 'token' or 'kubernetes', not '" + options.auth + "'");
    }
    if (!options.ca_file.empty() && !url->tls) {
        return InvalidArgument("vault_ca_file is set but vault_url is not https://");
    }
    const std::string initial_token = options.auth == "token" ? options.token : "";
    auto impl = std::make_unique<Impl>(std::move(options), std::move(url).value(), std::move(hasher), clock);
    if (!impl->options.ca_file.empty()) SH_RETURN_IF_ERROR(impl->http->SetCaFile(impl->options.ca_file));
    {
        std::lock_guard lock(impl->mu);
        impl->token = initial_token;
        impl->last_usage_write = clock.UnixSeconds();
        SH_RETURN_IF_ERROR(impl->Fetch());
    }
    return std::unique_ptr<VaultKeyStore>(new VaultKeyStore(std::move(impl)));
}

Result<IssuedKey> VaultKeyStore::Create(const CreateKeyRequest& request) {
    SH_RETURN_IF_ERROR(ValidateCreateRequest(request));
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    std::optional<IssuedKey> issued;
    SH_RETURN_IF_ERROR(m.MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(issued, CreateKeyIn(records, request, m.hasher, m.clock.UnixSeconds()));
        return Status::Ok();
    }));
    return std::move(*issued);
}

Result<std::vector<ApiKeyRecord>> VaultKeyStore::List() {
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    SH_RETURN_IF_ERROR(m.Fetch());
    std::vector<ApiKeyRecord> out = m.cache->records;
    m.MergeUsage(out);
    SortForListing(out);
    return out;
}

Result<ApiKeyRecord> VaultKeyStore::Revoke(std::string_view id) {
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    std::optional<ApiKeyRecord> revoked;
    SH_RETURN_IF_ERROR(m.MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(revoked, RevokeKeyIn(records, id, m.clock.UnixSeconds()));
        return Status::Ok();
    }));
    return std::move(*revoked);
}

Result<IssuedKey> VaultKeyStore::Rotate(std::string_view id, std::int64_t grace_seconds) {
    if (grace_seconds < 0) return InvalidArgument("the rotation grace period cannot be negative");
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    std::optional<IssuedKey> issued;
    SH_RETURN_IF_ERROR(m.MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(issued, RotateKeyIn(records, id, grace_seconds, m.hasher, m.clock.UnixSeconds()));
        return Status::Ok();
    }));
    return std::move(*issued);
}

Result<ApiKeyRecord> VaultKeyStore::SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) {
    if (limit) SH_RETURN_IF_ERROR(ValidateKeyRateLimit(*limit));
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    std::optional<ApiKeyRecord> changed;
    SH_RETURN_IF_ERROR(m.MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(changed, SetRateLimitIn(records, id, limit));
        return Status::Ok();
    }));
    return std::move(*changed);
}

Result<AuthenticatedKey> VaultKeyStore::Authenticate(std::string_view presented_key, AuthFailure* failure) {
    if (failure != nullptr) *failure = AuthFailure::kNone;
    auto parsed = ParseApiKey(presented_key);
    if (!parsed.ok()) return CheckKeyIn({}, presented_key, impl_->hasher, 0, failure);  // no lock, no Vault
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    const SteadyTime steady_now = m.clock.Now();
    bool refreshed = false;
    if (!m.cache || steady_now - m.cache->fetched >= m.ttl) {
        SH_RETURN_IF_ERROR(m.Fetch());
        refreshed = true;
    }
    const std::int64_t now = m.clock.UnixSeconds();
    AuthFailure reason = AuthFailure::kNone;
    auto checked = CheckKeyIn(m.cache->records, presented_key, m.hasher, now, &reason);
    // An id the cache does not know (created elsewhere) or a secret it does not match (rotated
    // elsewhere): read the secret again before refusing — at most once per second per store,
    // whatever callers present, so unknown keys cannot make it hammer Vault.
    if (!checked.ok() && (reason == AuthFailure::kUnknownKey || reason == AuthFailure::kWrongSecret) &&
        !refreshed && (!m.last_miss_refresh || steady_now - *m.last_miss_refresh >= std::chrono::seconds(1))) {
        m.last_miss_refresh = steady_now;
        SH_RETURN_IF_ERROR(m.Fetch());
        checked = CheckKeyIn(m.cache->records, presented_key, m.hasher, now, &reason);
    }
    if (failure != nullptr) *failure = reason;
    if (!checked.ok()) return checked.status();
    AuthenticatedKey authenticated = std::move(checked).value();
    m.pending_usage[authenticated.record.id] = now;
    authenticated.record.last_used = now;
    if (now - m.last_usage_write >= m.options.usage_write_interval) {
        // Best effort, at most once per interval even when it fails (retried with the next change
        // or interval; the times stay in memory meanwhile).
        m.last_usage_write = now;
        Status flushed = m.MutateLocked([](std::vector<ApiKeyRecord>&) { return Status::Ok(); });
        (void)flushed;
    }
    return authenticated;
}

Status VaultKeyStore::FlushUsage() {
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    if (m.pending_usage.empty()) return Status::Ok();
    return m.MutateLocked([](std::vector<ApiKeyRecord>&) { return Status::Ok(); });
}

VaultKeyStore::Stats VaultKeyStore::stats() const {
    std::lock_guard lock(impl_->mu);
    return impl_->stats;
}

}  // namespace signalhub::security

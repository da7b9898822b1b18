// signal-hub keys create|list|revoke|rotate|set-rate-limit: API key administration on the
// store security.api_keys configures (the same --config as serve). Secrets are
// printed once, alone on the last line of stdout; every change goes to the
// audit log.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/security_setup.hpp"
#include "core/clock.hpp"
#include "security/api_key.hpp"
#include "store/vector_store.hpp"

namespace signalhub::cli {

namespace {

using security::ApiKeyRecord;

// "90d", "12h", "30m", "45s" or plain seconds -> seconds (> 0).
Result<std::int64_t> ParseDuration(const std::string& text, const std::string& option) {
    const std::string bad = option + ": expected a duration such as 90d, 12h, 30m or 3600 (seconds), got '" + text + "'";
    if (text.empty()) return InvalidArgument(bad);
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == 0 || digits > 9) return InvalidArgument(bad);
    const std::int64_t n = std::stoll(text.substr(0, digits));
    const std::string unit = text.substr(digits);
    std::int64_t factor = 0;
    if (unit.empty() || unit == "s") factor = 1;
    else if (unit == "m") factor = 60;
    else if (unit == "h") factor = 3600;
    else if (unit == "d") factor = 86400;
    else return InvalidArgument(bad);
    return n * factor;
}

std::vector<std::string> SplitList(const std::string& csv) {
    std::vector<std::string> out;
    std::string item;
    auto flush = [&] {
        std::size_t b = 0, e = item.size();
        while (b < e && std::isspace(static_cast<unsigned char>(item[b]))) ++b;
        while (e > b && std::isspace(static_cast<unsigned char>(item[e - 1]))) --e;
        out.push_back(item.substr(b, e - b));
        item.clear();
    };
    for (char c : csv) {
        if (c == ',') flush();
        else item += c;
    }
    flush();
    return out;
}

std::string ScopesText(const ApiKeyRecord& r) {
    std::string s;
    for (security::Scope scope : r.scopes) s += (s.empty() ? "" : ",") + std::string(security::ScopeName(scope));
    return s;
}

std::string CollectionsText(const ApiKeyRecord& r) {
    if (r.collections.empty()) return "all";
    std::string s;
    for (const std::string& c : r.collections) s += (s.empty() ? "" : ",") + c;
    return s;
}

// "5/s:20" (per-key rate limit) or "scope" (the limit of the key's broadest scope applies).
std::string RateLimitText(const ApiKeyRecord& r) {
    if (!r.rate_limit) return "scope";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g/s:%d", r.rate_limit->requests_per_second, r.rate_limit->burst);
    return buf;
}

std::string State(const ApiKeyRecord& r, std::int64_t now) {
    if (r.revoked) return "revoked";
    if (r.expires && *r.expires <= now) return "expired";
    if (r.previous_valid_until && *r.previous_valid_until > now) return "rotating";
    return "active";
}

std::string Time(const std::optional<std::int64_t>& t, const char* none) {
    return t ? FormatIso8601Utc(*t) : std::string(none);
}

std::string Actor() {
    const char* user = std::getenv("USER");
    char host[256] = {0};
    ::gethostname(host, sizeof(host) - 1);
    return std::string(user && *user ? user : ("uid " + std::to_string(::getuid())).c_str()) + "@" + host;
}

struct KeysContext {
    config::Config config;
    OpenedKeyStore keys;
    std::unique_ptr<security::AuditLog> audit;
};

Result<KeysContext> Open(const GlobalOptions& global) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    std::optional<std::filesystem::path> store_dir;
    if (cfg.security.api_keys.storage == "file" && cfg.security.api_keys.file.empty()) {
        SH_ASSIGN_OR_RETURN(StoreLocation location, FindStore(global, cfg));
        store_dir = location.dir;
    }
    SH_ASSIGN_OR_RETURN(OpenedKeyStore keys, OpenApiKeyStore(cfg, store_dir, Clock::Real()));
    SH_ASSIGN_OR_RETURN(auto audit, OpenAuditLog(cfg, Clock::Real()));
    return KeysContext{std::move(cfg), std::move(keys), std::move(audit)};
}

void Audit(KeysContext& ctx, const std::string& event, const ApiKeyRecord& r) {
    ctx.audit->Write({event,
                      {{"key_id", r.id}, {"key_name", r.name}, {"scopes", ScopesText(r)},
                       {"collections", CollectionsText(r)}, {"rate_limit", RateLimitText(r)},
                       {"actor", Actor()}, {"remote", "cli"},
                       {"storage", ctx.keys.description}}});
}

// The key named by `ref`: an id, or the name of a key that is not revoked.
Result<ApiKeyRecord> FindKey(security::KeyStore& store, const std::string& ref) {
    SH_ASSIGN_OR_RETURN(auto all, store.List());
    for (const ApiKeyRecord& r : all) {
        if (r.id == ref) return r;
    }
    for (const ApiKeyRecord& r : all) {
        if (r.name == ref && !r.revoked) return r;
    }
    // Only revoked keys carry that name (the latest one is named): "already revoked", not "no such key".
    const ApiKeyRecord* revoked = nullptr;
    for (const ApiKeyRecord& r : all) {
        if (r.name == ref && (revoked == nullptr || *r.revoked > *revoked->revoked)) revoked = &r;
    }
    if (revoked != nullptr) {
        return FailedPrecondition("API key " + revoked->id + " ('" + ref + "') was already revoked at " +
                                  FormatIso8601Utc(*revoked->revoked) +
                                  "; no active key has that name (see `signal-hub keys list`)");
    }
    return NotFound("no API key with id or name '" + ref + "' (see `signal-hub keys list`)");
}

void PrintSecret(const std::string& key) {
    std::fflush(stdout);
    if (::isatty(STDOUT_FILENO)) std::fprintf(stderr, "store this key now; it is not shown again:\n");
    std::printf("%s\n", key.c_str());
}

struct CreateArgs {
    std::string name;
    std::string scopes = "search";
    std::string collections;
    std::string expires;
    std::string rate_limit;
    bool allow_missing_collections = false;
};

// --collections names collections of the configured store: a typo would give a key that reads nothing.
// NotFound listing the store's collections; the store's own error when it cannot be opened.
Status CheckCollectionsExist(const GlobalOptions& global, const config::Config& cfg,
                             const std::vector<std::string>& wanted) {
    const std::string opt_out =
        "pass --allow-missing-collections to create the key for collections you will index later";
    Result<ReadableStore> opened = OpenStoreForReading(global, cfg);
    if (!opened.ok()) {
        return Status(opened.status().code(), "--collections: cannot open the store to check that the collections "
                                              "exist: " + opened.status().message() + "; " + opt_out);
    }
    Result<std::vector<CollectionInfo>> listed = opened->store->ListCollections();
    if (!listed.ok()) {
        return Status(listed.status().code(), "--collections: cannot list the collections of the store " +
                                                  opened->location.display + ": " + listed.status().message() +
                                                  "; " + opt_out);
    }
    std::string missing;
    for (const std::string& name : wanted) {
        bool found = false;
        for (const CollectionInfo& c : *listed) found = found || c.spec.name == name;
        if (!found) missing += (missing.empty() ? "'" : ", '") + name + "'";
    }
    if (missing.empty()) return Status::Ok();
    std::string existing;
    for (const CollectionInfo& c : *listed) existing += (existing.empty() ? "" : ", ") + c.spec.name;
    return NotFound("--collections: no collection " + missing + " in the store " + opened->location.display +
                    " (it has: " + (existing.empty() ? std::string("none yet") : existing) +
                    "; see `signal-hub status`); check the name, or " + opt_out);
}

Status RunCreate(const GlobalOptions& global, const CreateArgs& args) {
    security::CreateKeyRequest request;
    request.name = args.name;
    SH_ASSIGN_OR_RETURN(request.scopes, security::ParseScopeList(args.scopes));
    if (!args.collections.empty()) {
        request.collections = SplitList(args.collections);
        for (const std::string& c : request.collections) {
            if (c.empty()) return InvalidArgument("--collections: empty collection name in '" + args.collections + "'");
        }
    }
    if (!args.expires.empty() && args.expires != "never") {
        SH_ASSIGN_OR_RETURN(std::int64_t ttl, ParseDuration(args.expires, "--expires"));
        request.ttl_seconds = ttl;
    }
    if (!args.rate_limit.empty()) {
        Result<security::KeyRateLimit> limit = security::ParseKeyRateLimit(args.rate_limit);
        if (!limit.ok()) return InvalidArgument("--rate-limit: " + limit.status().message());
        request.rate_limit = *limit;
    }
    SH_ASSIGN_OR_RETURN(KeysContext ctx, Open(global));
    if (!request.collections.empty() && !args.allow_missing_collections) {
        SH_RETURN_IF_ERROR(CheckCollectionsExist(global, ctx.config, request.collections));
    }
    SH_ASSIGN_OR_RETURN(security::IssuedKey issued, ctx.keys.store->Create(request));
    Audit(ctx, "key_created", issued.record);
    const ApiKeyRecord& r = issued.record;
    if (!global.quiet) {
        std::printf("created API key %s (name %s, scopes %s, collections %s, expires %s, rate limit %s) in %s\n",
                    r.id.c_str(), r.name.c_str(), ScopesText(r).c_str(), CollectionsText(r).c_str(),
                    Time(r.expires, "never").c_str(), RateLimitText(r).c_str(), ctx.keys.description.c_str());
    }
    PrintSecret(issued.key);
    return Status::Ok();
}

Status RunList(const GlobalOptions& global, bool json) {
    SH_ASSIGN_OR_RETURN(KeysContext ctx, Open(global));
    SH_ASSIGN_OR_RETURN(auto all, ctx.keys.store->List());
    const std::int64_t now = Clock::Real().UnixSeconds();
    if (json) {
        nlohmann::json list = nlohmann::json::array();
        for (const ApiKeyRecord& r : all) {
            nlohmann::json scopes = nlohmann::json::array();
            for (security::Scope s : r.scopes) scopes.push_back(std::string(security::ScopeName(s)));
            auto t = [](const std::optional<std::int64_t>& v) {
                return v ? nlohmann::json(FormatIso8601Utc(*v)) : nlohmann::json(nullptr);
            };
            nlohmann::json limit = nullptr;
            if (r.rate_limit) {
                limit = {{"requests_per_second", r.rate_limit->requests_per_second}, {"burst", r.rate_limit->burst}};
            }
            list.push_back({{"id", r.id}, {"name", r.name}, {"scopes", scopes}, {"collections", r.collections},
                            {"rate_limit", limit},
                            {"state", State(r, now)}, {"created", FormatIso8601Utc(r.created)},
                            {"expires", t(r.expires)}, {"last_used", t(r.last_used)}, {"revoked", t(r.revoked)},
                            {"previous_valid_until", t(r.previous_valid_until)}});
        }
        std::printf("%s\n", nlohmann::json{{"storage", ctx.keys.description}, {"keys", list}}.dump().c_str());
        return Status::Ok();
    }
    if (all.empty()) {
        std::printf("no API keys in %s; create one with `signal-hub keys create --name NAME --scopes search`\n",
                    ctx.keys.description.c_str());
        return Status::Ok();
    }
    std::printf("%-16s  %-20s  %-19s  %-14s  %-12s  %-8s  %-20s  %-20s  %s\n", "ID", "NAME", "SCOPES", "COLLECTIONS",
                "RATE LIMIT", "STATE", "CREATED", "EXPIRES", "LAST USED");
    for (const ApiKeyRecord& r : all) {
        std::printf("%-16s  %-20s  %-19s  %-14s  %-12s  %-8s  %-20s  %-20s  %s\n", r.id.c_str(), r.name.c_str(),
                    ScopesText(r).c_str(), CollectionsText(r).c_str(), RateLimitText(r).c_str(), State(r, now).c_str(),
                    FormatIso8601Utc(r.created).c_str(), Time(r.expires, "never").c_str(),
                    Time(r.last_used, "never").c_str());
    }
    return Status::Ok();
}

Status RunRevoke(const GlobalOptions& global, const std::string& ref) {
    SH_ASSIGN_OR_RETURN(KeysContext ctx, Open(global));
    SH_ASSIGN_OR_RETURN(ApiKeyRecord found, FindKey(*ctx.keys.store, ref));
    SH_ASSIGN_OR_RETURN(ApiKeyRecord r, ctx.keys.store->Revoke(found.id));
    Audit(ctx, "key_revoked", r);
    if (!global.quiet) std::printf("revoked API key %s (%s)\n", r.id.c_str(), r.name.c_str());
    return Status::Ok();
}

Status RunRotate(const GlobalOptions& global, const std::string& ref, const std::string& grace_text) {
    SH_ASSIGN_OR_RETURN(KeysContext ctx, Open(global));
    std::int64_t grace = static_cast<std::int64_t>(ctx.config.security.api_keys.rotation_grace);
    if (!grace_text.empty()) {
        if (grace_text == "0") {
            grace = 0;
        } else {
            SH_ASSIGN_OR_RETURN(grace, ParseDuration(grace_text, "--grace"));
        }
    }
    SH_ASSIGN_OR_RETURN(ApiKeyRecord found, FindKey(*ctx.keys.store, ref));
    SH_ASSIGN_OR_RETURN(security::IssuedKey issued, ctx.keys.store->Rotate(found.id, grace));
    Audit(ctx, "key_rotated", issued.record);
    if (!global.quiet) {
        std::printf("rotated API key %s (%s); the previous key works until %s\n", issued.record.id.c_str(),
                    issued.record.name.c_str(), Time(issued.record.previous_valid_until, "now (no grace)").c_str());
    }
    PrintSecret(issued.key);
    return Status::Ok();
}

Status RunSetRateLimit(const GlobalOptions& global, const std::string& ref, const std::string& text) {
    std::optional<security::KeyRateLimit> limit;
    if (text != "scope") {
        Result<security::KeyRateLimit> parsed = security::ParseKeyRateLimit(text);
        if (!parsed.ok()) return InvalidArgument(parsed.status().message() + ", or 'scope' to use the scope's limit");
        limit = *parsed;
    }
    SH_ASSIGN_OR_RETURN(KeysContext ctx, Open(global));
    SH_ASSIGN_OR_RETURN(ApiKeyRecord found, FindKey(*ctx.keys.store, ref));
    SH_ASSIGN_OR_RETURN(ApiKeyRecord r, ctx.keys.store->SetRateLimit(found.id, limit));
    Audit(ctx, "key_rate_limit_set", r);
    if (!global.quiet) {
        std::printf("API key %s (%s): rate limit %s\n", r.id.c_str(), r.name.c_str(),
                    r.rate_limit ? security::FormatKeyRateLimit(*r.rate_limit).c_str()
                                 : "of its broadest scope (security.rate_limiting.limits)");
    }
    return Status::Ok();
}

}  // namespace

void AddKeysCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto* keys = app.add_subcommand(
        "keys",
        "Manage API keys for `serve --transport http` (security.api_keys): create, list, revoke, rotate. Takes the "
        "same --config as serve; keys are stored only as keyed hashes (HMAC-SHA256 with the pepper)");
    keys->require_subcommand(1);

    auto create = std::make_shared<CreateArgs>();
    auto* c = keys->add_subcommand("create", "Create a key; prints its secret once, alone on the last line of stdout");
    c->add_option("--name", create->name, "Who or what the key is for (unique among active keys)")->required();
    c->add_option("--scopes", create->scopes,
                  "Comma-separated: search (MCP tools), index (writes), admin (key and admin operations)")
        ->default_str("search");
    c->add_option("--collections", create->collections,
                  "Comma-separated collections the key may read (default: all); each must exist in the store");
    c->add_flag("--allow-missing-collections", create->allow_missing_collections,
                "Accept --collections that the store does not hold (yet): for keys created before indexing");
    c->add_option("--expires", create->expires, "Lifetime: 90d, 12h, 30m, seconds, or never (default: never)");
    c->add_option("--rate-limit", create->rate_limit,
                  "This key's own limit, RPS or RPS:BURST (e.g. 5:20); default: the limit of its broadest scope "
                  "(security.rate_limiting.limits)");
    c->callback([&global, &exit_code, create] { exit_code = Finish(RunCreate(global, *create)); });

    auto json = std::make_shared<bool>(false);
    auto* l = keys->add_subcommand("list", "List keys (never secrets): scopes, collections, state, created, "
                                           "expires, last used");
    l->add_flag("--json", *json, "Print JSON: {\"storage\": ..., \"keys\": [...]}");
    l->callback([&global, &exit_code, json] { exit_code = Finish(RunList(global, *json)); });

    auto revoke_ref = std::make_shared<std::string>();
    auto* r = keys->add_subcommand("revoke", "Revoke a key at once (a running server refuses it from its next reload "
                                             "of the key file, which it checks on every request)");
    r->add_option("KEY", *revoke_ref, "The key's id or name")->required();
    r->callback([&global, &exit_code, revoke_ref] { exit_code = Finish(RunRevoke(global, *revoke_ref)); });

    auto rotate_ref = std::make_shared<std::string>();
    auto grace = std::make_shared<std::string>();
    auto* o = keys->add_subcommand("rotate", "Give a key a new secret (printed once, last line); the old one keeps "
                                             "working for the grace period");
    o->add_option("KEY", *rotate_ref, "The key's id or name")->required();
    o->add_option("--grace", *grace,
                  "How long the old secret keeps working: 24h, 30m, 0 (default: security.api_keys.rotation_grace)");
    o->callback([&global, &exit_code, rotate_ref, grace] { exit_code = Finish(RunRotate(global, *rotate_ref, *grace)); });

    auto limit_ref = std::make_shared<std::string>();
    auto limit_text = std::make_shared<std::string>();
    auto* sl = keys->add_subcommand("set-rate-limit", "Set a key's own rate limit, or go back to its scope's limit; a "
                                                      "running server applies it from its next key reload");
    sl->add_option("KEY", *limit_ref, "The key's id or name")->required();
    sl->add_option("LIMIT", *limit_text, "RPS or RPS:BURST (e.g. 5:20), or 'scope'")->required();
    sl->callback([&global, &exit_code, limit_ref, limit_text] {
        exit_code = Finish(RunSetRateLimit(global, *limit_ref, *limit_text));
    });
}

}  // namespace signalhub::cli

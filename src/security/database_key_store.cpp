#include "security/database_key_store.hpp"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <utility>

#include "db/postgres/pg_client.hpp"
#include "security/key_rules.hpp"

namespace signalhub::security {
namespace {

using db::pg::PgConn;
using db::pg::PgParams;
using db::pg::PgPool;
using db::pg::PgResult;
using db::pg::PgUrl;

// Rolls back unless committed (nothing outlives the transaction: PgBouncer-safe).
using Txn = db::pg::PgTxn;

// A PostgreSQL array literal ({"a","b\"c"}) for a $n::text[] parameter in text format.
std::string TextArrayLiteral(const std::vector<std::string>& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += '"';
        for (char c : values[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

std::vector<std::string> ScopeNames(const std::vector<Scope>& scopes) {
    std::vector<std::string> out;
    for (Scope s : scopes) out.emplace_back(ScopeName(s));
    return out;
}

Result<std::vector<std::string>> JsonStringArray(std::string_view text, const char* field) {
    nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) return DataLoss(std::string(field) + " is not an array");
    std::vector<std::string> out;
    for (const auto& v : j) {
        if (!v.is_string()) return DataLoss(std::string(field) + " holds a non-string");
        out.push_back(v.get<std::string>());
    }
    return out;
}

constexpr const char* kColumns =
    "id, name, array_to_json(scopes)::text, array_to_json(collections)::text, created, expires, revoked, "
    "last_used, hash, previous_hash, previous_valid_until, rate_limit_rps, rate_limit_burst";

std::optional<std::int64_t> OptionalInt8(const PgResult& r, int row, int col) {
    if (r.IsNull(row, col)) return std::nullopt;
    return r.Int8(row, col);
}

Result<ApiKeyRecord> RowToRecord(const PgResult& r, int row) {
    ApiKeyRecord k;
    k.id = r.String(row, 0);
    k.name = r.String(row, 1);
    SH_ASSIGN_OR_RETURN(std::vector<std::string> scopes, JsonStringArray(r.Bytes(row, 2), "scopes"));
    for (const std::string& s : scopes) {
        auto scope = ParseScope(s);
        if (!scope.ok()) return DataLoss("API key " + k.id + ": " + scope.status().message());
        k.scopes.push_back(*scope);
    }
    std::sort(k.scopes.begin(), k.scopes.end());
    k.scopes.erase(std::unique(k.scopes.begin(), k.scopes.end()), k.scopes.end());
    SH_ASSIGN_OR_RETURN(k.collections, JsonStringArray(r.Bytes(row, 3), "collections"));
    k.created = r.Int8(row, 4);
    k.expires = OptionalInt8(r, row, 5);
    k.revoked = OptionalInt8(r, row, 6);
    k.last_used = OptionalInt8(r, row, 7);
    k.hash = r.String(row, 8);
    if (!r.IsNull(row, 9)) k.previous_hash = r.String(row, 9);
    k.previous_valid_until = OptionalInt8(r, row, 10);
    if (!r.IsNull(row, 11)) {
        KeyRateLimit limit;
        limit.requests_per_second = r.Float8(row, 11);
        limit.burst = r.Int4(row, 12);
        k.rate_limit = limit;
    }
    return k;
}

PgParams& OptionalInt8Param(PgParams& p, const std::optional<std::int64_t>& v) { return v ? p.Int8(*v) : p.Null(); }

// Two parameters: requests per second and burst, both NULL without a per-key limit.
PgParams& RateLimitParams(PgParams& p, const std::optional<KeyRateLimit>& limit) {
    return limit ? p.Float8(limit->requests_per_second).Int4(limit->burst) : p.Null().Null();
}

}  // namespace

struct DatabaseKeyStore::Impl {
    Impl(PgUrl url, KeyHasher h, const Clock& c, DatabaseKeyStoreOptions o)
        : pool(std::move(url)), hasher(std::move(h)), clock(c), options(o) {
        const std::string schema = db::pg::QuoteIdent(pool.url().schema);
        keys = schema + ".signal_hub_api_keys";
        meta = schema + ".signal_hub_api_key_meta";
        migrations = schema + ".signal_hub_api_key_migrations";
        schema_ident = schema;
    }

    std::string Where() const {
        return "PostgreSQL at " + pool.url().endpoint + " (database " + pool.url().database + ", schema " +
               pool.url().schema + ")";
    }

    // Runs `fn` with a pooled connection; retries once on a new connection when a reused one
    // turned out to be broken before anything was committed (PgPool::Run, the store's rule too).
    template <typename F>
    auto Run(F&& fn) -> decltype(fn(std::declval<PgConn&>())) {
        return pool.Run(std::forward<F>(fn));
    }

    Status Migrate(PgConn& c) {
        Txn txn(c);
        SH_RETURN_IF_ERROR(txn.Begin("BEGIN; SET LOCAL client_min_messages = warning"));
        // Concurrent first opens (several replicas starting at once) wait for each other.
        SH_RETURN_IF_ERROR(c.Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                   PgParams().Text("signal-hub api key migrations"))
                               .status());
        SH_ASSIGN_OR_RETURN(PgResult ns, c.Query("SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                                 PgParams().Text(pool.url().schema)));
        if (ns.rows() == 0) SH_RETURN_IF_ERROR(c.Exec("CREATE SCHEMA " + schema_ident));
        SH_RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS " + migrations +
                                  "(version integer PRIMARY KEY, description text NOT NULL, "
                                  "applied_at timestamptz NOT NULL DEFAULT now())"));
        SH_ASSIGN_OR_RETURN(PgResult v, c.Query("SELECT coalesce(max(version), 0)::int8 FROM " + migrations));
        const std::int64_t version = v.Int8(0, 0);
        if (version > kSchemaVersion) {
            return FailedPrecondition("the API key table in " + Where() + " is version " + std::to_string(version) +
                                      ", newer than this build's " + std::to_string(kSchemaVersion) +
                                      "; upgrade signal-hub");
        }
        if (version < 1) {
            SH_RETURN_IF_ERROR(c.Exec(
                "CREATE TABLE " + meta + "(key text PRIMARY KEY, value text NOT NULL);"
                "CREATE TABLE " + keys + "("
                "  id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),"
                "  name text NOT NULL CHECK (name <> ''),"
                "  scopes text[] NOT NULL CHECK (cardinality(scopes) > 0),"
                "  collections text[] NOT NULL DEFAULT '{}',"
                "  created bigint NOT NULL,"
                "  expires bigint,"
                "  revoked bigint,"
                "  last_used bigint,"
                "  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),"
                "  previous_hash text CHECK (previous_hash ~ '^[0-9a-f]{64}$'),"
                "  previous_valid_until bigint,"
                "  CHECK ((previous_hash IS NULL) = (previous_valid_until IS NULL)));"
                "CREATE UNIQUE INDEX signal_hub_api_keys_active_name ON " + keys + "(name) WHERE revoked IS NULL;"
                "INSERT INTO " + migrations + "(version, description) VALUES "
                "(1, 'API keys: signal_hub_api_keys, signal_hub_api_key_meta')"));
        }
        if (version < 2) {
            SH_RETURN_IF_ERROR(c.Exec(
                "ALTER TABLE " + keys + " ADD COLUMN rate_limit_rps double precision CHECK (rate_limit_rps > 0),"
                "  ADD COLUMN rate_limit_burst integer CHECK (rate_limit_burst >= 1),"
                "  ADD CHECK ((rate_limit_rps IS NULL) = (rate_limit_burst IS NULL));"
                "INSERT INTO " + migrations + "(version, description) VALUES (2, 'API keys: per-key rate limits')"));
        }
        // The pepper: the first store to open the table records its fingerprint; a replica
        // with another pepper fails loudly instead of refusing every key.
        SH_ASSIGN_OR_RETURN(PgResult fp, c.Query("SELECT value FROM " + meta + " WHERE key = 'pepper_fingerprint'"));
        if (fp.rows() == 0) {
            SH_RETURN_IF_ERROR(c.Query("INSERT INTO " + meta + "(key, value) VALUES ('pepper_fingerprint', $1)",
                                       PgParams().Text(hasher.fingerprint()))
                                   .status());
        } else if (fp.String(0, 0) != hasher.fingerprint()) {
            return FailedPrecondition("the API keys in " + Where() + " were hashed with another pepper (fingerprint " +
                                      fp.String(0, 0) + ", this server's is " + hasher.fingerprint() +
                                      "); its keys cannot be verified");
        }
        return txn.Commit();
    }

    // The row of `id` (nullopt when there is none); `for_update` locks it until the transaction ends.
    Result<std::optional<ApiKeyRecord>> Select(PgConn& c, std::string_view id, bool for_update) {
        SH_ASSIGN_OR_RETURN(PgResult r, c.Query(std::string("SELECT ") + kColumns + " FROM " + keys + " WHERE id = $1" +
                                                    (for_update ? " FOR UPDATE" : ""),
                                                PgParams().Text(id)));
        if (r.rows() == 0) return std::optional<ApiKeyRecord>();
        SH_ASSIGN_OR_RETURN(ApiKeyRecord record, RowToRecord(r, 0));
        return std::optional<ApiKeyRecord>(std::move(record));
    }

    // Applies `rule` to the locked row of `id` and writes the changed columns back.
    template <typename Rule, typename Out>
    Status Mutate(std::string_view id, Rule&& rule, std::optional<Out>& out) {
        return Run([&](PgConn& c) -> Status {
            Txn txn(c);
            SH_RETURN_IF_ERROR(txn.Begin());
            SH_ASSIGN_OR_RETURN(std::optional<ApiKeyRecord> row, Select(c, id, /*for_update=*/true));
            std::vector<ApiKeyRecord> records;
            if (row) records.push_back(std::move(*row));
            SH_ASSIGN_OR_RETURN(Out result, rule(records));
            const ApiKeyRecord& r = records.front();
            PgParams p;
            p.Text(r.id);
            OptionalInt8Param(p, r.revoked);
            p.Text(r.hash);
            if (r.previous_hash) {
                p.Text(*r.previous_hash);
            } else {
                p.Null();
            }
            OptionalInt8Param(p, r.previous_valid_until);
            RateLimitParams(p, r.rate_limit);
            SH_RETURN_IF_ERROR(c.Query("UPDATE " + keys +
                                           " SET revoked = $2, hash = $3, previous_hash = $4, "
                                           "previous_valid_until = $5, rate_limit_rps = $6, rate_limit_burst = $7 "
                                           "WHERE id = $1",
                                       p)
                                   .status());
            SH_RETURN_IF_ERROR(txn.Commit());
            out = std::move(result);
            return Status::Ok();
        });
    }

    void NoteUsage(const ApiKeyRecord& r, std::int64_t now) {
        {
            std::lock_guard lock(usage_mu);
            auto it = usage_written.find(r.id);
            if (it != usage_written.end() && now - it->second < options.usage_write_interval && now >= it->second) {
                return;
            }
        }
        if (r.last_used && now - *r.last_used < options.usage_write_interval && now >= *r.last_used) {
            std::lock_guard lock(usage_mu);
            usage_written[r.id] = *r.last_used;
            return;
        }
        // One statement (its own transaction); the condition makes concurrent replicas write once.
        Status s = Run([&](PgConn& c) -> Status {
            return c.Query("UPDATE " + keys +
                               " SET last_used = $2::int8 WHERE id = $1 AND (last_used IS NULL OR last_used <= $2::int8 - $3::int8)",
                           PgParams().Text(r.id).Int8(now).Int8(options.usage_write_interval))
                .status();
        });
        if (s.ok()) {
            std::lock_guard lock(usage_mu);
            usage_written[r.id] = now;
        }
    }

    PgPool pool;
    const KeyHasher hasher;
    const Clock& clock;
    const DatabaseKeyStoreOptions options;
    std::string schema_ident, keys, meta, migrations;

    std::mutex usage_mu;
    std::unordered_map<std::string, std::int64_t> usage_written;  // id -> last_used this store wrote
};

DatabaseKeyStore::DatabaseKeyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DatabaseKeyStore::~DatabaseKeyStore() = default;

std::optional<PoolStats> DatabaseKeyStore::pool_stats() const { return impl_->pool.Stats(); }

Result<std::unique_ptr<DatabaseKeyStore>> DatabaseKeyStore::Open(const std::string& url, KeyHasher hasher,
                                                                 const Clock& clock, DatabaseKeyStoreOptions options) {
    if (url.empty()) return InvalidArgument("empty PostgreSQL URL for the API key store");
    if (options.usage_write_interval < 0) return InvalidArgument("usage_write_interval cannot be negative");
    SH_ASSIGN_OR_RETURN(PgUrl parsed, db::pg::ParsePgUrl(url));
    auto impl = std::make_unique<Impl>(std::move(parsed), std::move(hasher), clock, options);
    Status migrated = impl->Run([&](PgConn& c) { return impl->Migrate(c); });
    if (!migrated.ok()) return migrated.WithContext("opening the API key table");
    return std::unique_ptr<DatabaseKeyStore>(new DatabaseKeyStore(std::move(impl)));
}

Result<IssuedKey> DatabaseKeyStore::Create(const CreateKeyRequest& request) {
    SH_RETURN_IF_ERROR(ValidateCreateRequest(request));
    Impl& m = *impl_;
    const std::int64_t now = m.clock.UnixSeconds();
    // A fresh id can collide with an existing one (2^-64 per key): then draw again.
    for (int attempt = 0; attempt < 4; ++attempt) {
        std::vector<ApiKeyRecord> none;
        SH_ASSIGN_OR_RETURN(IssuedKey issued, CreateKeyIn(none, request, m.hasher, now));
        const ApiKeyRecord& r = issued.record;
        std::optional<std::string> conflict;  // id of the live key holding the name
        bool inserted = false;
        Status s = m.Run([&](PgConn& c) -> Status {
            Txn txn(c);
            SH_RETURN_IF_ERROR(txn.Begin());
            PgParams p;
            p.Text(r.id).Text(r.name).Text(TextArrayLiteral(ScopeNames(r.scopes))).Text(TextArrayLiteral(r.collections));
            p.Int8(r.created);
            OptionalInt8Param(p, r.expires);
            p.Text(r.hash);
            RateLimitParams(p, r.rate_limit);
            // Any unique violation (the id, or the name among keys not revoked) inserts nothing;
            // a concurrent insert of the same name waits for the other transaction to finish.
            SH_ASSIGN_OR_RETURN(PgResult ins,
                                c.Query("INSERT INTO " + m.keys +
                                            "(id, name, scopes, collections, created, expires, hash, "
                                            "rate_limit_rps, rate_limit_burst) "
                                            "VALUES ($1, $2, $3::text[], $4::text[], $5, $6, $7, $8, $9) "
                                            "ON CONFLICT DO NOTHING RETURNING id",
                                        p));
            inserted = ins.rows() == 1;
            if (!inserted) {
                SH_ASSIGN_OR_RETURN(PgResult holder,
                                    c.Query("SELECT id FROM " + m.keys + " WHERE name = $1 AND revoked IS NULL",
                                            PgParams().Text(r.name)));
                if (holder.rows() > 0) conflict = holder.String(0, 0);
                return Status::Ok();  // rolled back: nothing was written
            }
            return txn.Commit();
        });
        SH_RETURN_IF_ERROR(s);
        if (inserted) return issued;
        if (conflict) return AlreadyExists("an API key named '" + request.name + "' exists (id " + *conflict + ")");
        // Neither the name nor (now) a live holder: an id collision, or the holder was revoked meanwhile.
    }
    return Aborted("could not insert the API key after 4 attempts (id collisions or concurrent revocations)");
}

Result<std::vector<ApiKeyRecord>> DatabaseKeyStore::List() {
    Impl& m = *impl_;
    return m.Run([&](PgConn& c) -> Result<std::vector<ApiKeyRecord>> {
        SH_ASSIGN_OR_RETURN(PgResult r, c.Query(std::string("SELECT ") + kColumns + " FROM " + m.keys +
                                                " ORDER BY created, id"));
        std::vector<ApiKeyRecord> out;
        out.reserve(static_cast<size_t>(r.rows()));
        for (int i = 0; i < r.rows(); ++i) {
            SH_ASSIGN_OR_RETURN(ApiKeyRecord record, RowToRecord(r, i));
            out.push_back(std::move(record));
        }
        return out;
    });
}

Result<ApiKeyRecord> DatabaseKeyStore::Revoke(std::string_view id) {
    Impl& m = *impl_;
    std::optional<ApiKeyRecord> out;
    SH_RETURN_IF_ERROR(m.Mutate(
        id, [&](std::vector<ApiKeyRecord>& records) { return RevokeKeyIn(records, id, m.clock.UnixSeconds()); }, out));
    return std::move(*out);
}

Result<IssuedKey> DatabaseKeyStore::Rotate(std::string_view id, std::int64_t grace_seconds) {
    if (grace_seconds < 0) return InvalidArgument("the rotation grace period cannot be negative");
    Impl& m = *impl_;
    std::optional<IssuedKey> out;
    SH_RETURN_IF_ERROR(m.Mutate(
        id,
        [&](std::vector<ApiKeyRecord>& records) {
            return RotateKeyIn(records, id, grace_seconds, m.hasher, m.clock.UnixSeconds());
        },
        out));
    return std::move(*out);
}

Result<ApiKeyRecord> DatabaseKeyStore::SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) {
    if (limit) SH_RETURN_IF_ERROR(ValidateKeyRateLimit(*limit));
    Impl& m = *impl_;
    std::optional<ApiKeyRecord> out;
    SH_RETURN_IF_ERROR(
        m.Mutate(id, [&](std::vector<ApiKeyRecord>& records) { return SetRateLimitIn(records, id, limit); }, out));
    return std::move(*out);
}

Result<AuthenticatedKey> DatabaseKeyStore::Authenticate(std::string_view presented_key, AuthFailure* failure) {
    if (failure != nullptr) *failure = AuthFailure::kNone;
    auto parsed = ParseApiKey(presented_key);
    if (!parsed.ok()) return CheckKeyIn({}, presented_key, impl_->hasher, 0, failure);
    Impl& m = *impl_;
    SH_ASSIGN_OR_RETURN(std::optional<ApiKeyRecord> row,
                        m.Run([&](PgConn& c) { return m.Select(c, parsed->id, /*for_update=*/false); }));
    std::vector<ApiKeyRecord> records;
    if (row) records.push_back(std::move(*row));
    const std::int64_t now = m.clock.UnixSeconds();
    SH_ASSIGN_OR_RETURN(AuthenticatedKey authenticated, CheckKeyIn(records, presented_key, m.hasher, now, failure));
    m.NoteUsage(records.front(), now);
    authenticated.record.last_used = now;
    return authenticated;
}

}  // namespace signalhub::security

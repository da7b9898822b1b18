// signal-hub doctor: the checks (ops/doctor.hpp). Output and the support bundle: doctor_report.cpp.
#include "ops/doctor.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/statvfs.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/record.hpp"
#include "embed/embedder.hpp"
#include "index/pipeline.hpp"
#include "net/http_client.hpp"
#include "net/redis_client.hpp"
#include "store/embedded/embedded_store.hpp"
#include "db/postgres/pg_client.hpp"
#include "store/pgvector/pgvector_store.hpp"
#include "store/vector_store.hpp"

namespace signalhub::ops {

namespace fs = std::filesystem;

namespace {

const std::string kGuide = "docs/production/operations/troubleshooting.md#";

// A detail is one line: libpq's and OpenSSL's multi-line messages are joined with single spaces.
std::string OneLine(const std::string& text) {
    std::string out;
    for (char c : text) {
        const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
        if (space && (out.empty() || out.back() == ' ')) continue;
        out += space ? ' ' : c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

Finding Ok(std::string name, const std::string& detail) {
    return {std::move(name), FindingStatus::kOk, OneLine(detail), "", ""};
}
Finding Problem(FindingStatus status, std::string name, const std::string& detail, std::string fix,
                const std::string& anchor) {
    return {std::move(name), status, OneLine(detail), std::move(fix), kGuide + anchor};
}

std::string Seconds(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", s);
    return text;
}

std::string Mib(std::int64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

// ---- git ------------------------------------------------------------------------------------

std::string ReadFirstLine(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The commit HEAD of the repository at `root` names ("" when `root` is no git work tree or
// HEAD cannot be resolved): .git/HEAD, a loose ref or packed-refs.
std::string GitHead(const fs::path& root, std::string& branch) {
    std::error_code ec;
    const fs::path git = root / ".git";
    if (!fs::is_directory(git, ec)) return "";
    const std::string head = ReadFirstLine(git / "HEAD");
    if (!head.starts_with("ref: ")) return head.size() >= 40 ? head.substr(0, 40) : "";
    const std::string ref = head.substr(5);
    branch = ref.starts_with("refs/heads/") ? ref.substr(11) : ref;
    const std::string loose = ReadFirstLine(git / ref);
    if (loose.size() >= 40) return loose.substr(0, 40);
    std::ifstream packed(git / "packed-refs");
    std::string line;
    while (std::getline(packed, line)) {
        if (line.size() > 41 && line.compare(41, std::string::npos, ref) == 0) return line.substr(0, 40);
    }
    return "";
}

// ---- store ----------------------------------------------------------------------------------

// Embedded store: the graph of `info` against its SQLite records. Opening the graph happens on
// the first vector search; the store's counters tell whether it was loaded from its file (and
// how many logged changes were replayed onto it) or had to be rebuilt from SQLite.
Finding CheckEmbeddedGraph(store::EmbeddedStore& s, const CollectionInfo& info) {
    const std::string name = "index:" + info.spec.name;
    if (info.records == 0) return Ok(name, "empty collection, no graph needed");
    Result<std::string> graph = s.HnswPath(info.spec.name);
    if (!graph.ok()) return Problem(FindingStatus::kFail, name, graph.status().message(), "run `signal-hub index`", "stale-hnsw-graph");
    std::error_code ec;
    const bool file_present = fs::exists(*graph, ec);
    const store::EmbeddedStore::Stats before = s.stats();
    std::vector<float> query(static_cast<size_t>(info.spec.dimension), 1.0f);
    store::SearchOptions search;
    search.k = 1;
    Result<std::vector<store::Hit>> hits = s.VectorSearch(info.spec.name, query, search);
    if (!hits.ok()) {
        return Problem(FindingStatus::kFail, name, "a vector search failed: " + hits.status().message(),
                       "run `signal-hub index` on the collection's root; if it keeps failing, drop and re-index it",
                       "stale-hnsw-graph");
    }
    const store::EmbeddedStore::Stats after = s.stats();
    const std::string fix = "run `signal-hub index " + (CollectionRoot(info).empty() ? std::string("ROOT") : CollectionRoot(info)) +
                            "` (or restart `serve --watch`): a writer saves the graph when it closes";
    if (after.hnsw_rebuilds > before.hnsw_rebuilds) {
        return Problem(FindingStatus::kWarn, name,
                       file_present ? "the HNSW graph " + *graph + " is stale or damaged (it does not match the " +
                                          std::to_string(info.records) + " records in SQLite); every open rebuilds it"
                                    : "the HNSW graph " + *graph + " is missing; every open rebuilds it from the " +
                                          std::to_string(info.records) + " records in SQLite",
                       fix, "stale-hnsw-graph");
    }
    const std::int64_t replayed = after.replayed_changes - before.replayed_changes;
    if (replayed > 0) {
        return Ok(name, "HNSW graph loaded and " + std::to_string(replayed) +
                            " logged changes replayed (a writer has not saved it yet), " +
                            std::to_string(info.records) + " records");
    }
    return Ok(name, "HNSW graph matches the " + std::to_string(info.records) + " records");
}

// Records vs files: every record an index run wrote belongs to one file state.
Finding CheckRecordsVsFiles(store::VectorStore& s, const CollectionInfo& info) {
    const std::string name = "files:" + info.spec.name;
    Result<std::vector<store::FileState>> files = s.ListFiles(info.spec.name);
    if (!files.ok()) {
        return Problem(FindingStatus::kFail, name, "cannot list the files: " + files.status().message(),
                       "check the store (see the store finding)", "store-unreachable");
    }
    if (files->empty()) {
        return Ok(name, std::to_string(info.records) + " records, no file states (imported, or not indexed from a tree)");
    }
    std::int64_t owned = 0;
    for (const store::FileState& f : *files) owned += static_cast<std::int64_t>(f.record_ids.size());
    if (owned != info.records) {
        const std::string root = CollectionRoot(info).empty() ? "ROOT" : CollectionRoot(info);
        return Problem(FindingStatus::kWarn, name,
                       std::to_string(files->size()) + " files own " + std::to_string(owned) + " records, the collection holds " +
                           std::to_string(info.records),
                       "run `signal-hub index " + root + "` (an interrupted run finishes); if they still differ, re-index "
                       "with `signal-hub collections delete " + info.spec.name + " --yes` then `signal-hub index " + root + "`",
                       "records-and-files-disagree");
    }
    return Ok(name, std::to_string(files->size()) + " files own the " + std::to_string(info.records) + " records");
}

Finding CheckFreshness(store::VectorStore& s, const CollectionInfo& info, const config::IndexConfig& index_config,
                       const std::optional<fs::path>& store_dir) {
    const std::string name = "freshness:" + info.spec.name;
    const std::string root = CollectionRoot(info);
    std::error_code ec;
    if (root.empty()) return Ok(name, "no tree root recorded (imported collection): nothing to compare");
    if (!fs::is_directory(root, ec)) return Ok(name, "the root " + root + " is not a directory on this machine: not compared");
    index::IndexOptions options;
    options.root = root;
    options.collection = info.spec.name;
    options.store_dir = store_dir.value_or(fs::path());
    options.config = index_config;
    Result<index::TreeChanges> changes = index::CompareTree(s, options);
    std::string branch;
    const std::string head = GitHead(root, branch);
    const std::string git = head.empty() ? "" : " (git HEAD " + head.substr(0, 12) + (branch.empty() ? "" : " on " + branch) + ")";
    if (!changes.ok()) {
        return Problem(FindingStatus::kWarn, name, "cannot compare " + root + ": " + changes.status().message(),
                       "check that the root is readable", "index-out-of-date");
    }
    const std::int64_t total = changes->files_new + changes->files_modified + changes->files_deleted;
    if (total > 0) {
        char detail[256];
        std::snprintf(detail, sizeof detail, "%lld files changed since the last index run (%lld new, %lld modified, %lld deleted)",
                      static_cast<long long>(total), static_cast<long long>(changes->files_new),
                      static_cast<long long>(changes->files_modified), static_cast<long long>(changes->files_deleted));
        return Problem(FindingStatus::kWarn, name, detail + git,
                       "run `signal-hub index " + root + "` (or keep `serve --watch` running)", "index-out-of-date");
    }
    if (IndexIncomplete(info)) {
        return Problem(FindingStatus::kWarn, name, "an index run was interrupted (or is running now)" + git,
                       "run `signal-hub index " + root + "` to finish it", "index-out-of-date");
    }
    return Ok(name, "up to date with " + root + git);
}

void CheckCollections(store::VectorStore& s, store::EmbeddedStore* embedded, const config::Config& config,
                      const DoctorTarget& target, std::vector<Finding>& out) {
    Result<std::vector<CollectionInfo>> collections = s.ListCollections();
    if (!collections.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "collections", collections.status().message(),
                              "check the store (see the store finding)", "store-unreachable"));
        return;
    }
    if (collections->empty()) {
        out.push_back(Problem(FindingStatus::kWarn, "collections", "the store holds no collection",
                              "run `signal-hub index PATH`", "index-out-of-date"));
        return;
    }
    for (const CollectionInfo& info : *collections) {
        if (embedded) out.push_back(CheckEmbeddedGraph(*embedded, info));
        out.push_back(CheckRecordsVsFiles(s, info));
        out.push_back(CheckFreshness(s, info, config.index, target.store_dir));
    }
}

void CheckPostgres(const config::Config& config, const DoctorTarget& target, const DoctorOptions& options,
                   std::vector<Finding>& out) {
    Result<db::pg::PgUrl> url = db::pg::ParsePgUrl(target.store_url);
    if (!url.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "store", url.status().message(), "correct database.url",
                              "store-unreachable"));
        return;
    }
    bool has_timeout = false;
    for (const auto& [key, value] : url->libpq_params) has_timeout = has_timeout || key == "connect_timeout";
    if (!has_timeout) {
        url->libpq_params.emplace_back("connect_timeout",
                                       std::to_string(std::max(1, static_cast<int>(std::ceil(options.timeout_seconds)))));
    }
    Result<std::unique_ptr<db::pg::PgConn>> conn = db::pg::PgConn::Connect(*url);
    if (!conn.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "store", conn.status().message(),
                              "start PostgreSQL or correct database.url (host, port, user, password, sslmode); "
                              "check with `pg_isready -h HOST -p PORT`",
                              "store-unreachable"));
        return;
    }
    db::pg::PgConn& c = **conn;
    out.push_back(Ok("store", "PostgreSQL at " + url->endpoint + " (database " + url->database + ") answers"));

    // pgvector.
    Result<db::pg::PgResult> ext = c.Query("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
    if (!ext.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "pgvector", ext.status().message(), "check the database user's rights",
                              "pgvector-too-old"));
    } else if (ext->rows() == 0) {
        out.push_back(Problem(FindingStatus::kWarn, "pgvector", "the pgvector extension is not enabled in " + url->database,
                              "a superuser runs `CREATE EXTENSION vector;` in that database (or the first `signal-hub "
                              "index` does, with the right)",
                              "pgvector-too-old"));
    } else {
        const std::string version = ext->String(0, 0);
        if (PgvectorVersionSupported(version)) {
            out.push_back(Ok("pgvector", "pgvector " + version));
        } else {
            out.push_back(Problem(FindingStatus::kFail, "pgvector",
                                  "pgvector " + version + " is older than " + std::to_string(store::kMinPgvectorMajor) +
                                      "." + std::to_string(store::kMinPgvectorMinor) + ", the oldest signal-hub supports",
                                  "install pgvector 0.8 or newer on the server, then run `ALTER EXTENSION vector UPDATE;`",
                                  "pgvector-too-old"));
        }
    }

    // Schema version.
    const std::string migrations = db::pg::QuoteIdent(url->schema) + ".signal_hub_schema_migrations";
    Result<db::pg::PgResult> exists = c.Query("SELECT to_regclass($1) IS NOT NULL",
                                                  db::pg::PgParams().Text(migrations));
    if (exists.ok() && exists->rows() == 1 && exists->Bytes(0, 0) == std::string_view("\x01", 1)) {
        Result<db::pg::PgResult> v = c.Query("SELECT coalesce(max(version), 0)::int8 FROM " + migrations);
        if (!v.ok()) {
            out.push_back(Problem(FindingStatus::kFail, "schema", v.status().message(), "check the database user's rights",
                                  "schema-version"));
        } else if (const std::int64_t version = v->Int8(0, 0); version == store::PgVectorStore::kSchemaVersion) {
            out.push_back(Ok("schema", "schema version " + std::to_string(version) + " in schema " + url->schema));
        } else {
            out.push_back(Problem(
                FindingStatus::kFail, "schema",
                "schema version " + std::to_string(version) + ", this build uses " +
                    std::to_string(store::PgVectorStore::kSchemaVersion),
                version > store::PgVectorStore::kSchemaVersion
                    ? "upgrade signal-hub to the release that wrote this schema (docs/production/operations/updates.md)"
                    : "run `signal-hub index` (a writer migrates the schema) or `signal-hub migrate init-db`",
                "schema-version"));
        }
    } else if (exists.ok()) {
        out.push_back(Problem(FindingStatus::kWarn, "schema", "no signal-hub schema in schema " + url->schema + " yet",
                              "run `signal-hub index PATH` (it creates the schema)", "schema-version"));
    } else {
        out.push_back(Problem(FindingStatus::kFail, "schema", exists.status().message(), "check the database user's rights",
                              "schema-version"));
    }

    // Clock skew: the server's clock against the midpoint of the round trip.
    const auto t0 = std::chrono::system_clock::now();
    Result<db::pg::PgResult> now = c.Query("SELECT extract(epoch FROM clock_timestamp())::float8");
    const auto t1 = std::chrono::system_clock::now();
    if (now.ok() && now->rows() == 1) {
        const double local =
            std::chrono::duration<double>((t0 + (t1 - t0) / 2).time_since_epoch()).count();
        const double skew = now->Float8(0, 0) - local;
        const std::string detail = "the database clock is " + Seconds(std::fabs(skew)) + (skew >= 0 ? " ahead" : " behind") +
                                   " (bound " + Seconds(options.clock_skew_warn_seconds) + ")";
        if (std::fabs(skew) > options.clock_skew_warn_seconds) {
            out.push_back(Problem(FindingStatus::kWarn, "clock_skew", detail,
                                  "synchronise both clocks with NTP (chrony, systemd-timesyncd); key expiry, rotation grace "
                                  "and \"last indexed\" compare times",
                                  "clock-skew"));
        } else {
            out.push_back(Ok("clock_skew", detail));
        }
    }
    (void)config;
}

void CheckChroma(const config::Config& config, const DoctorOptions& options, std::vector<Finding>& out) {
    std::string base = config.database.url;
    if (base.starts_with("chroma+")) base = base.substr(7);
    Result<net::HttpUrl> url = net::ParseHttpUrl(base);
    if (!url.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "chroma", url.status().message(), "correct database.url",
                              "chromadb-unreachable"));
        return;
    }
    net::HttpClient client(*url, std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000)));
    Result<net::HttpResponse> beat = client.Request("GET", url->Target("/api/v2/heartbeat"), {}, "");
    if (!beat.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "chroma", "ChromaDB at " + url->HostHeader() + ": " + beat.status().message(),
                              "start ChromaDB or correct database.url", "chromadb-unreachable"));
    } else if (beat->status != 200) {
        out.push_back(Problem(FindingStatus::kFail, "chroma",
                              "ChromaDB at " + url->HostHeader() + " answered the heartbeat with HTTP " +
                                  std::to_string(beat->status),
                              "check the ChromaDB server's log; signal-hub needs the v2 API (ChromaDB 0.6 or newer)",
                              "chromadb-unreachable"));
    } else {
        out.push_back(Ok("chroma", "ChromaDB at " + url->HostHeader() + " answers the heartbeat"));
    }
}

// ---- TLS ------------------------------------------------------------------------------------

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::vector<X509Ptr> ReadCertificates(const std::string& path) {
    std::vector<X509Ptr> certs;
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) return certs;
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
    ERR_clear_error();
    return certs;
}

}  // namespace

const char* FindingStatusName(FindingStatus status) {
    switch (status) {
        case FindingStatus::kOk: return "ok";
        case FindingStatus::kWarn: return "warn";
        case FindingStatus::kFail: return "fail";
    }
    return "fail";
}

const std::vector<DoctorCheckInfo>& DoctorChecks() {
    static const std::vector<DoctorCheckInfo> kChecks = {
        {"config", "the configuration loads and validates"},
        {"store", "the store opens (embedded) or answers (PostgreSQL, ChromaDB)"},
        {"schema", "the store's schema version is this build's"},
        {"pgvector", "PostgreSQL: the pgvector extension is 0.8 or newer"},
        {"clock_skew", "PostgreSQL: the database clock is within 5 s of this machine's"},
        {"chroma", "ChromaDB: the heartbeat answers"},
        {"index:NAME", "embedded: the HNSW graph matches the SQLite records (not missing or stale)"},
        {"files:NAME", "the records belong to the indexed files"},
        {"freshness:NAME", "files changed in the root since the last index run (and its git HEAD)"},
        {"disk:WHAT", "free space where the store and the log file live"},
        {"tls_*", "security.tls: certificate and key readable and matching, expiry, chain"},
        {"redis:WHAT", "rate limiting / caching Redis answers PING"},
        {"vault", "API keys in Vault: sys/health answers"},
        {"embeddings", "embedding.provider openai: one tiny embedding request succeeds"},
    };
    return kChecks;
}

Finding CheckConfiguration(const Result<config::Config>& loaded) {
    if (!loaded.ok()) {
        return Problem(FindingStatus::kFail, "config", loaded.status().message(),
                       "correct the setting the message names (docs/configuration.md), then run `signal-hub doctor` again",
                       "config-does-not-load");
    }
    return Ok("config", loaded->source == "defaults" ? std::string("defaults (no configuration file)") : loaded->source +
                                                                                                        " loads and validates");
}

bool PgvectorVersionSupported(const std::string& version) { return store::PgvectorVersionSupported(version); }

std::vector<Finding> CheckStore(const config::Config& config, const DoctorTarget& target, const DoctorOptions& options,
                                const Clock& /*clock*/) {
    std::vector<Finding> out;
    if (target.store_dir) {
        std::error_code ec;
        if (!fs::exists(*target.store_dir / "store.db", ec)) {
            out.push_back(Problem(FindingStatus::kFail, "store", "no Signal Hub store at " + target.store_dir->string(),
                                  "run `signal-hub index PATH` to create it, or point store.path / --store at it",
                                  "store-unreachable"));
            return out;
        }
        Result<std::unique_ptr<store::EmbeddedStore>> s =
            store::EmbeddedStore::Open(target.store_dir->string(), store::OpenOptions{.read_only = true});
        if (!s.ok()) {
            out.push_back(Problem(FindingStatus::kFail, "store", s.status().message(),
                                  "see the message; a damaged store.db is restored from a backup or re-indexed",
                                  "store-unreachable"));
            return out;
        }
        out.push_back(Ok("store", "embedded store " + target.store_dir->string() + " opens"));
        const Status health = (*s)->CheckHealth();
        if (health.ok()) {
            out.push_back(Ok("schema", "schema version " + std::to_string(store::EmbeddedStore::kSchemaVersion)));
        } else {
            out.push_back(Problem(FindingStatus::kFail, "schema", health.message(),
                                  "use the signal-hub release that wrote the store, or re-index", "schema-version"));
        }
        CheckCollections(**s, s->get(), config, target, out);
        return out;
    }
    if (config.database.type == "postgresql") {
        CheckPostgres(config, target, options, out);
        if (!out.empty() && out.front().status == FindingStatus::kFail) return out;
    } else if (config.database.type == "chromadb") {
        CheckChroma(config, options, out);
        if (!out.empty() && out.front().status == FindingStatus::kFail) return out;
    }
    Result<std::unique_ptr<store::VectorStore>> s = store::OpenStore(target.store_url, store::OpenOptions{.read_only = true});
    if (!s.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "store_open", s.status().message(),
                              "see the message (schema, pgvector and connection findings above)", "store-unreachable"));
        return out;
    }
    CheckCollections(**s, nullptr, config, target, out);
    return out;
}

FindingStatus DiskVerdict(std::int64_t available, std::int64_t total, const DoctorOptions& o) {
    const double share = total > 0 ? static_cast<double>(available) / static_cast<double>(total) : 0;
    if (share < o.disk_fail_fraction || available < o.disk_fail_bytes) return FindingStatus::kFail;
    if (share < o.disk_warn_fraction || available < o.disk_warn_bytes) return FindingStatus::kWarn;
    return FindingStatus::kOk;
}

Finding CheckDiskHeadroom(const std::string& what, const fs::path& path, const DoctorOptions& options) {
    const std::string name = "disk:" + what;
    fs::path p = path.empty() ? fs::path(".") : path;
    std::error_code ec;
    while (!fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
    struct statvfs st{};
    if (::statvfs(p.c_str(), &st) != 0) {
        return Problem(FindingStatus::kWarn, name, "cannot read the free space of " + p.string(),
                       "check that the path exists and is readable", "disk-full");
    }
    const auto available = static_cast<std::int64_t>(st.f_bavail) * static_cast<std::int64_t>(st.f_frsize);
    const auto total = static_cast<std::int64_t>(st.f_blocks) * static_cast<std::int64_t>(st.f_frsize);
    const FindingStatus verdict = DiskVerdict(available, total, options);
    char share[32];
    std::snprintf(share, sizeof share, "%.1f %%", total > 0 ? 100.0 * static_cast<double>(available) / static_cast<double>(total) : 0.0);
    const std::string detail = Mib(available) + " of " + Mib(total) + " available (" + share + ") on the filesystem of " + p.string();
    if (verdict == FindingStatus::kOk) return Ok(name, detail);
    return Problem(verdict, name, detail,
                   "free space or grow the volume holding " + p.string() +
                       " (SQLite needs room for its WAL, a re-index for a second copy of the HNSW graph)",
                   "disk-full");
}

std::vector<Finding> CheckTlsCertificates(const config::TlsConfig& tls, const DoctorOptions& options, const Clock& clock) {
    std::vector<Finding> out;
    if (!tls.enabled) return out;
    std::vector<X509Ptr> chain = ReadCertificates(tls.cert_file);
    if (chain.empty()) {
        out.push_back(Problem(FindingStatus::kFail, "tls_certificate", "cannot read a PEM certificate from " + tls.cert_file,
                              "point security.tls.cert_file at the server's PEM certificate (chain)", "certificate-expired"));
        return out;
    }
    X509* leaf = chain.front().get();
    out.push_back(Ok("tls_certificate", tls.cert_file + " holds " + std::to_string(chain.size()) + " certificate(s)"));

    std::unique_ptr<BIO, BioFree> key_bio(BIO_new_file(tls.key_file.c_str(), "r"));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                                                    : nullptr);
    ERR_clear_error();
    if (!key) {
        out.push_back(Problem(FindingStatus::kFail, "tls_key", "cannot read a PEM private key from " + tls.key_file,
                              "point security.tls.key_file at the certificate's unencrypted PEM private key",
                              "certificate-key-mismatch"));
    } else if (X509_check_private_key(leaf, key.get()) != 1) {
        ERR_clear_error();
        out.push_back(Problem(FindingStatus::kFail, "tls_key", tls.key_file + " is not the private key of " + tls.cert_file,
                              "install the key that belongs to the certificate (compare `openssl x509 -noout -pubkey` "
                              "with `openssl pkey -pubout`)",
                              "certificate-key-mismatch"));
    } else {
        out.push_back(Ok("tls_key", tls.key_file + " matches the certificate"));
    }

    int days = 0, seconds = 0;
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> now(ASN1_TIME_set(nullptr, clock.UnixSeconds()), ASN1_TIME_free);
    if (now && ASN1_TIME_diff(&days, &seconds, now.get(), X509_get0_notAfter(leaf)) == 1) {
        const bool expired = days < 0 || seconds < 0 || (days == 0 && seconds == 0);
        if (expired) {
            out.push_back(Problem(FindingStatus::kFail, "tls_expiry", tls.cert_file + " has expired",
                                  "renew the certificate (cert-manager, ACME, your CA) and replace the file; serve reloads "
                                  "it within security.tls.reload_interval",
                                  "certificate-expired"));
        } else if (days < options.certificate_warn_days) {
            out.push_back(Problem(FindingStatus::kWarn, "tls_expiry",
                                  tls.cert_file + " expires in " + std::to_string(days) + (days == 1 ? " day" : " days"),
                                  "renew the certificate now (cert-manager, ACME, your CA); serve reloads the replaced "
                                  "file by itself",
                                  "certificate-expired"));
        } else {
            out.push_back(Ok("tls_expiry", tls.cert_file + " is valid for " + std::to_string(days) + " more days"));
        }
    }

    // Chain: the leaf must chain to a trusted root through the intermediates in the file. Trusted:
    // the system store, security.tls.client_ca_file when given (a private CA), and a
    // self-signed certificate in the file. Time is the expiry finding's business.
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> trust(X509_STORE_new(), X509_STORE_free);
    X509_STORE_set_default_paths(trust.get());
    std::string anchors = "the system trust store";
    if (!tls.client_ca_file.empty()) {
        for (X509Ptr& ca : ReadCertificates(tls.client_ca_file)) X509_STORE_add_cert(trust.get(), ca.get());
        anchors += " and " + tls.client_ca_file;
    }
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    for (size_t i = 0; i < chain.size(); ++i) {
        X509* c = chain[i].get();
        if (X509_check_issued(c, c) == X509_V_OK) {
            X509_STORE_add_cert(trust.get(), c);
        } else if (i > 0) {
            sk_X509_push(untrusted, c);
        }
    }
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), trust.get(), leaf, untrusted);
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
    const int verified = X509_verify_cert(ctx.get());
    const int error = X509_STORE_CTX_get_error(ctx.get());
    sk_X509_free(untrusted);
    ERR_clear_error();
    if (verified == 1) {
        out.push_back(Ok("tls_chain", "the certificate chains to " + anchors));
    } else {
        out.push_back(Problem(tls.client_ca_file.empty() ? FindingStatus::kWarn : FindingStatus::kFail, "tls_chain",
                              std::string("the certificate does not verify against ") + anchors + ": " +
                                  X509_verify_cert_error_string(error),
                              "append the intermediate certificates to " + tls.cert_file +
                                  " (leaf first), or check that the CA that issued it is the one clients trust",
                              "certificate-chain"));
    }
    return out;
}

std::vector<Finding> CheckRedis(const config::Config& config, const DoctorOptions& options) {
    std::vector<Finding> out;
    struct Use {
        const char* what;
        std::string url;
        redis::TlsOptions tls;
    };
    std::vector<Use> uses;
    const auto& rl = config.security.rate_limiting;
    if (rl.enabled && rl.backend == "redis") {
        uses.push_back({"rate_limiting", rl.redis_url, {rl.redis_tls_ca_file, rl.redis_tls_cert_file, rl.redis_tls_key_file}});
    }
    const auto& cc = config.performance.caching;
    if (cc.enabled && cc.backend == "redis") {
        uses.push_back({"caching", cc.redis_url, {cc.redis_tls_ca_file, cc.redis_tls_cert_file, cc.redis_tls_key_file}});
    }
    for (const Use& use : uses) {
        const std::string name = std::string("redis:") + use.what;
        Result<redis::PoolOptions> pool_options = redis::MakePoolOptions(use.url, use.tls, options.timeout_seconds, 1, 0);
        Result<std::unique_ptr<redis::RedisPool>> pool =
            pool_options.ok() ? redis::RedisPool::Create(*pool_options) : Result<std::unique_ptr<redis::RedisPool>>(pool_options.status());
        if (!pool.ok()) {
            out.push_back(Problem(FindingStatus::kFail, name, pool.status().message(), "correct the Redis URL and TLS files",
                                  "redis-unreachable"));
            continue;
        }
        const std::string display = (*pool)->options().url.Display();
        Result<redis::Reply> pong = (*pool)->Command({"PING"});
        if (!pong.ok()) {
            out.push_back(Problem(FindingStatus::kFail, name, pong.status().message(),
                                  "start Redis or correct the URL (host, port, password, rediss:// for TLS); check with "
                                  "`redis-cli -u URL ping`",
                                  "redis-unreachable"));
        } else if (pong->IsError()) {
            out.push_back(Problem(FindingStatus::kFail, name, display + " answered PING with " + pong->str,
                                  "check the Redis user's ACL (it needs PING, EVALSHA, GET, SET)", "redis-unreachable"));
        } else {
            out.push_back(Ok(name, display + " answers PING"));
        }
    }
    return out;
}

std::vector<Finding> CheckVault(const config::Config& config, const DoctorOptions& options) {
    std::vector<Finding> out;
    const auto& keys = config.security.api_keys;
    if (!keys.enabled || keys.storage != "vault") return out;
    Result<net::HttpUrl> url = net::ParseHttpUrl(keys.vault_url);
    if (!url.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "vault", url.status().message(), "correct security.api_keys.vault_url",
                              "vault-unreachable"));
        return out;
    }
    net::HttpClient client(*url, std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000)));
    if (!keys.vault_ca_file.empty()) {
        if (Status s = client.SetCaFile(keys.vault_ca_file); !s.ok()) {
            out.push_back(Problem(FindingStatus::kFail, "vault", s.message(), "correct security.api_keys.vault_ca_file",
                                  "vault-unreachable"));
            return out;
        }
    }
    std::vector<net::HttpHeader> headers;
    if (!keys.vault_namespace.empty()) headers.push_back({"X-Vault-Namespace", keys.vault_namespace});
    Result<net::HttpResponse> r = client.Request("GET", url->Target("/v1/sys/health"), headers, "");
    const std::string where = "Vault at " + url->HostHeader();
    if (!r.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "vault", where + ": " + r.status().message(),
                              "start Vault or correct security.api_keys.vault_url / vault_ca_file", "vault-unreachable"));
    } else if (r->status == 200 || r->status == 429 || r->status == 472 || r->status == 473) {
        out.push_back(Ok("vault", where + " is initialised and unsealed (HTTP " + std::to_string(r->status) + ")"));
    } else {
        const std::string state = r->status == 503 ? "sealed" : r->status == 501 ? "not initialised" : "unhealthy";
        out.push_back(Problem(FindingStatus::kFail, "vault", where + " is " + state + " (sys/health HTTP " + std::to_string(r->status) + ")",
                              r->status == 503 ? "unseal Vault (`vault operator unseal`)" : "initialise Vault (`vault operator init`)",
                              "vault-unreachable"));
    }
    return out;
}

std::vector<Finding> CheckEmbeddings(const config::Config& config) {
    std::vector<Finding> out;
    if (config.embedding.provider != "openai") return out;
    Result<std::unique_ptr<embed::Embedder>> embedder = embed::CreateEmbedder(config.embedding);
    if (!embedder.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "embeddings", embedder.status().message(),
                              "set the API key variable embedding.api_key_env names, or correct embedding.*",
                              "embeddings-endpoint"));
        return out;
    }
    const std::vector<std::string> texts = {"signal-hub doctor"};
    Result<std::vector<std::vector<float>>> v = (*embedder)->Embed(texts, embed::Purpose::kQuery);
    if (!v.ok()) {
        out.push_back(Problem(FindingStatus::kFail, "embeddings", v.status().message(),
                              "check embedding.base_url, the model name and the API key", "embeddings-endpoint"));
    } else if (v->size() != 1 || static_cast<int>(v->front().size()) != (*embedder)->dimension()) {
        out.push_back(Problem(FindingStatus::kFail, "embeddings", "the endpoint answered with a vector of the wrong size",
                              "set embedding.dimension to the model's", "embeddings-endpoint"));
    } else {
        out.push_back(Ok("embeddings", config.embedding.base_url + " embeds with " + (*embedder)->model() + " (" +
                                           std::to_string((*embedder)->dimension()) + " dimensions)"));
    }
    return out;
}

std::vector<Finding> RunDoctor(const Result<config::Config>& loaded, const DoctorTarget& target,
                               const DoctorOptions& options, const Clock& clock) {
    std::vector<Finding> out;
    out.push_back(CheckConfiguration(loaded));
    if (!loaded.ok()) return out;
    const config::Config& config = *loaded;
    auto append = [&out](std::vector<Finding> more) {
        for (Finding& f : more) out.push_back(std::move(f));
    };
    append(CheckStore(config, target, options, clock));
    if (target.store_dir) out.push_back(CheckDiskHeadroom("store", *target.store_dir, options));
    const std::string& log = config.monitoring.logging.output;
    if (log != "stdout" && log != "stderr" && !log.empty()) {
        out.push_back(CheckDiskHeadroom("log_file", fs::path(log).parent_path(), options));
    }
    append(CheckTlsCertificates(config.security.tls, options, clock));
    append(CheckRedis(config, options));
    append(CheckVault(config, options));
    append(CheckEmbeddings(config));
    return out;
}

}  // namespace signalhub::ops

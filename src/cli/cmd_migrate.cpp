// signal-hub migrate: export | init-db | import | verify | drop. Parsing only; the work is in
// ops/migrate.hpp (one library call per subcommand).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cli/commands.hpp"
#include "ops/backup_metrics.hpp"
#include "ops/migrate.hpp"

namespace signalhub::cli {
namespace {

struct MigrateArgs {
    std::optional<std::string> database, store, chroma_url;
    std::optional<std::string> source;
    std::vector<std::string> collections;
    bool all = false;
    std::string output, input;
    std::optional<std::string> metrics_file;
    std::optional<std::string> against;
    size_t batch_size = 1000;
    size_t memory_budget_mb = 512;  // import: records kept from the validation pass for the load (ADR-33)
    size_t sample = 100;
    double min_recall = 0.95;
    bool json = false, yes = false, no_resume = false, keep_index = false, force = false;
    std::string bookkeeping = "auto";  // import into ChromaDB: auto, on, off (ADR-25)
};

void AddConnectionOptions(CLI::App* cmd, MigrateArgs& a) {
    cmd->add_option("--database", a.database,
                    "PostgreSQL URL postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME] (default: $DATABASE_URL, "
                    "else database.url when database.type is postgresql)");
    cmd->add_option("--store", a.store, "Embedded store directory (e.g. ./.signal-hub)");
    cmd->add_option("--chroma-url", a.chroma_url,
                    "ChromaDB server http(s)://HOST:PORT[?tenant=T&database=D] (default: $CHROMA_URL, else database.url "
                    "when database.type is chromadb); token from $CHROMA_TOKEN or ?token=");
}

std::optional<std::string> EnvVar(const char* name) {
    if (const char* env = std::getenv(name); env != nullptr && *env != '\0') return std::string(env);
    return std::nullopt;
}

// The connections of a migrate subcommand, each from its option, else its environment variable,
// else the configuration's database when it is of that kind (database.url with its pool and HNSW
// keys, DatabaseUrl, as every other command opens it). The configuration is read at most once,
// and only when an option and its variable are both missing.
struct MigrateConnections {
    ops::Connections resolved;
    std::optional<std::string> configured_chroma;  // database.url when database.type is chromadb
};

Result<MigrateConnections> ConnectionsOf(const MigrateArgs& a, const GlobalOptions& global) {
    MigrateConnections m;
    ops::Connections& c = m.resolved;
    c.database_url = a.database ? a.database : EnvVar("DATABASE_URL");
    c.chroma_url = a.chroma_url ? a.chroma_url : EnvVar("CHROMA_URL");
    c.store_path = a.store ? a.store : global.store;
    if (!c.database_url || !c.chroma_url) {
        SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
        if (cfg.database.type == "postgresql" && !c.database_url) c.database_url = DatabaseUrl(cfg.database);
        if (cfg.database.type == "chromadb") m.configured_chroma = DatabaseUrl(cfg.database);
        if (!c.chroma_url) c.chroma_url = m.configured_chroma;
    }
    return m;
}

// The target of import / verify --against / drop: the one of --store, --database, --chroma-url given;
// with none, $DATABASE_URL, else the configured database (postgresql or chromadb). $CHROMA_URL is
// only the default of --source chromadb, never an implicit target.
Result<std::string> TargetUrl(const MigrateArgs& a, const GlobalOptions& global, const MigrateConnections& m) {
    const auto store = a.store ? a.store : global.store;
    const int given = (store ? 1 : 0) + (a.database ? 1 : 0) + (a.chroma_url ? 1 : 0);
    if (given > 1) return InvalidArgument("give one target: --database URL, --chroma-url URL or --store PATH");
    const ops::Connections& c = m.resolved;
    if (store) return ops::StoreUrlFor(ops::SourceKind::kEmbedded, c);
    if (a.chroma_url) return ops::StoreUrlFor(ops::SourceKind::kChromadb, c);
    if (c.database_url) return ops::StoreUrlFor(ops::SourceKind::kPostgresql, c);
    if (m.configured_chroma) {
        return ops::StoreUrlFor(ops::SourceKind::kChromadb, {std::nullopt, std::nullopt, m.configured_chroma});
    }
    return InvalidArgument(
        "no target: give --database URL (or set DATABASE_URL), --chroma-url URL or --store PATH");
}
Result<std::string> TargetUrl(const MigrateArgs& a, const GlobalOptions& global) {
    SH_ASSIGN_OR_RETURN(MigrateConnections m, ConnectionsOf(a, global));
    return TargetUrl(a, global, m);
}

// --source embedded without --store: the embedded store found as `search` finds it (store.path, in the
// working directory or its nearest parent; an absolute store.path as is), whatever database.type says.
Status DiscoverEmbeddedStore(const GlobalOptions& global, ops::Connections& c, bool quiet) {
    if (c.store_path) return Status::Ok();
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    cfg.database.type = "embedded";
    auto found = FindStore(global, cfg);
    if (!found.ok()) {
        return found.status().WithContext("--source embedded without --store (give --store PATH, the store directory)");
    }
    c.store_path = found->url;
    if (!quiet) std::fprintf(stderr, "source: embedded store %s\n", found->display.c_str());
    return Status::Ok();
}

// Progress on stderr: a redrawn bar on a terminal; otherwise (a log file, a pipe) a plain line every few
// seconds and one at the end of each phase, without bar or carriage return.
class ProgressPrinter {
   public:
    explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}
    ~ProgressPrinter() { Done(); }
    ProgressPrinter(const ProgressPrinter&) = delete;
    ProgressPrinter& operator=(const ProgressPrinter&) = delete;
    ops::ProgressFn Fn() {
        return [this](const ops::Progress& p) { Show(p); };
    }
    void Done() {
        if (drawn_) std::fprintf(stderr, "\n");
        drawn_ = false;
    }

   private:
    void Show(const ops::Progress& p) {
        if (quiet_) return;
        const auto now = std::chrono::steady_clock::now();
        if (p.phase != phase_ || p.collection != collection_) {
            Done();
            phase_ = p.phase;
            collection_ = p.collection;
            phase_start_ = now;
            last_ = {};
        }
        const bool finished = p.total > 0 && p.done >= p.total;
        if (!finished && now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000))) return;
        last_ = now;
        const double secs = std::chrono::duration<double>(now - phase_start_).count();
        const double rate = secs > 0 ? static_cast<double>(p.done) / secs : 0;
        char line[300];
        if (p.total > 0 && !tty_) {
            std::snprintf(line, sizeof line, "%s %s: %lld/%lld records (%.0f%%), %.0f/s", p.phase.c_str(),
                          p.collection.c_str(), static_cast<long long>(p.done), static_cast<long long>(p.total),
                          std::min(100.0, 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total)), rate);
        } else if (p.total > 0) {
            const double frac = std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.total));
            const int width = 24, filled = static_cast<int>(frac * width);
            std::string bar(static_cast<size_t>(filled), '#');
            bar.append(static_cast<size_t>(width - filled), '.');
            std::snprintf(line, sizeof line, "%s %s [%s] %3.0f%%  %lld/%lld records  %.0f/s", p.phase.c_str(),
                          p.collection.c_str(), bar.c_str(), frac * 100, static_cast<long long>(p.done),
                          static_cast<long long>(p.total), rate);
        } else {
            std::snprintf(line, sizeof line, "%s %s: %lld records, %.0f/s", p.phase.c_str(), p.collection.c_str(),
                          static_cast<long long>(p.done), rate);
        }
        if (tty_) {
            std::fprintf(stderr, "\r\033[K%s", line);
            drawn_ = true;
        } else {
            std::fprintf(stderr, "%s\n", line);
        }
    }
    bool quiet_, tty_;
    bool drawn_ = false;
    std::string phase_, collection_;
    std::chrono::steady_clock::time_point phase_start_{}, last_{};
};

Status RunExport(const MigrateArgs& a, const GlobalOptions& global) {
    if (!a.source) return InvalidArgument("export needs --source embedded|postgresql|chromadb");
    SH_ASSIGN_OR_RETURN(ops::SourceKind kind, ops::ParseSourceKind(*a.source));
    if (a.all && !a.collections.empty()) return InvalidArgument("export takes --collection NAME or --all, not both");
    ops::ExportOptions o;
    o.source = kind;
    SH_ASSIGN_OR_RETURN(MigrateConnections conns, ConnectionsOf(a, global));
    if (kind == ops::SourceKind::kEmbedded) SH_RETURN_IF_ERROR(DiscoverEmbeddedStore(global, conns.resolved, global.quiet));
    if (kind == ops::SourceKind::kChromadb && !conns.resolved.chroma_url) {
        return InvalidArgument(
            "--source chromadb: no ChromaDB server named. Give --chroma-url http://HOST:PORT, set CHROMA_URL, or "
            "configure database.type: chromadb with database.url in the configuration (--config FILE or "
            "SIGNAL_HUB_CONFIG)");
    }
    SH_ASSIGN_OR_RETURN(o.source_url, ops::StoreUrlFor(kind, conns.resolved));
    o.collections = a.collections;
    o.output = a.output;
    o.overwrite = a.force;
    if (a.collections.empty() && !a.all && !global.quiet) {
        std::fprintf(stderr, "no --collection given: exporting every collection of the %s source\n",
                     std::string(ops::SourceKindName(kind)).c_str());
    }
    ProgressPrinter progress(global.quiet);
    o.progress = progress.Fn();
    SH_ASSIGN_OR_RETURN(ops::ExportSummary s, ops::ExportCollections(o));
    progress.Done();
    if (a.metrics_file) {
        SH_RETURN_IF_ERROR(ops::WriteBackupMetrics(*a.metrics_file, kind, s, std::chrono::system_clock::now()));
    }
    for (const auto& w : s.warnings) std::fprintf(stderr, "signal-hub: warning: %s\n", w.c_str());
    if (!global.quiet) {
        for (const auto& c : s.collections) {
            std::fprintf(stderr, "exported collection %s: %lld records\n", c.collection.c_str(),
                         static_cast<long long>(c.records));
        }
        std::fprintf(stderr, "wrote %lld records (%s) to %s in %s\n", static_cast<long long>(s.records),
                     FormatBytes(static_cast<double>(s.bytes)).c_str(), a.output == "-" ? "stdout" : a.output.c_str(),
                     FormatDuration(s.seconds).c_str());
    }
    return Status::Ok();
}

Status RunInitDb(const MigrateArgs& a, const GlobalOptions& global) {
    SH_ASSIGN_OR_RETURN(MigrateConnections m, ConnectionsOf(a, global));
    const ops::Connections& conns = m.resolved;
    if (!conns.database_url) {
        return InvalidArgument("init-db needs --database URL (or DATABASE_URL, or database.url with database.type "
                               "postgresql)");
    }
    SH_ASSIGN_OR_RETURN(std::string db, ops::StoreUrlFor(ops::SourceKind::kPostgresql, conns));
    SH_ASSIGN_OR_RETURN(ops::InitDbResult r, ops::InitDatabase(db));
    if (!global.quiet) {
        switch (r.action) {
            case ops::InitDbResult::Action::kCreated:
                std::fprintf(stderr, "created database schema v%d\n", r.version);
                break;
            case ops::InitDbResult::Action::kUpgraded:
                std::fprintf(stderr, "upgraded database schema to v%d\n", r.version);
                break;
            case ops::InitDbResult::Action::kCurrent:
                std::fprintf(stderr, "database schema v%d is current; nothing to do\n", r.version);
                break;
        }
    }
    return Status::Ok();
}

Status RunImport(const MigrateArgs& a, const GlobalOptions& global) {
    ops::ImportOptions o;
    o.input = a.input;
    SH_ASSIGN_OR_RETURN(o.target_url, TargetUrl(a, global));
    o.batch_size = a.batch_size;
    o.resume = !a.no_resume;
    o.index_after = !a.keep_index;
    o.memory_budget_bytes = a.memory_budget_mb << 20;
    if (a.bookkeeping != "auto") o.chroma_bookkeeping = a.bookkeeping == "on";
    ProgressPrinter progress(global.quiet);
    o.progress = progress.Fn();
    SH_ASSIGN_OR_RETURN(ops::ImportSummary s, ops::ImportExport(o));
    progress.Done();
    for (const auto& c : s.collections) {
        std::printf("imported collection %s: %lld records in file, %lld written, %lld already imported (checkpoint); "
                    "load %.2fs, index build %.2fs\n",
                    c.collection.c_str(), static_cast<long long>(c.records), static_cast<long long>(c.imported),
                    static_cast<long long>(c.skipped), c.load_seconds, c.index_seconds);
    }
    std::printf("import finished in %.2fs (validation %.2fs; %s)\n", s.seconds, s.validate_seconds,
                s.single_read ? "loaded from the validated records in memory"
                              : "the file was read again to load (over --memory-budget)");
    return Status::Ok();
}

int RunVerify(const MigrateArgs& a, const GlobalOptions& global) {
    ops::VerifyOptions o;
    o.collection = a.collections.empty() ? std::nullopt : std::optional<std::string>(a.collections.front());
    o.sample = a.sample;
    o.min_recall = a.min_recall;
    if (a.against && a.source) {
        return Fail(InvalidArgument("verify compares with --input FILE (--against FILE) or --source KIND, not both"));
    }
    auto connections = ConnectionsOf(a, global);
    if (!connections.ok()) return Fail(connections.status());
    const ops::Connections& conns = connections->resolved;
    if (!a.source) {
        // With a file: the target against the file; without: against what its imports recorded.
        o.against_file = a.against;
        auto target = TargetUrl(a, global, *connections);
        if (!target.ok()) return Fail(target.status());
        o.target_url = *target;
    } else {
        auto kind = ops::ParseSourceKind(*a.source);
        if (!kind.ok()) return Fail(kind.status());
        ops::Connections source_conns = conns;
        if (*kind == ops::SourceKind::kEmbedded) {
            if (Status found = DiscoverEmbeddedStore(global, source_conns, global.quiet || a.json); !found.ok()) {
                return Fail(found);
            }
        }
        auto source = ops::StoreUrlFor(*kind, source_conns);
        if (!source.ok()) return Fail(source.status());
        o.source_url = *source;
        // The target: the one connection given on the command line besides the source's; without
        // one, PostgreSQL ($DATABASE_URL or the configuration) unless it is the source.
        std::vector<ops::SourceKind> given;
        if (*kind != ops::SourceKind::kEmbedded && (a.store || global.store)) given.push_back(ops::SourceKind::kEmbedded);
        if (*kind != ops::SourceKind::kPostgresql && a.database) given.push_back(ops::SourceKind::kPostgresql);
        if (*kind != ops::SourceKind::kChromadb && a.chroma_url) given.push_back(ops::SourceKind::kChromadb);
        Result<std::string> target = InvalidArgument("give the store to check: --database URL, --chroma-url URL or --store PATH");
        if (given.size() > 1) {
            target = InvalidArgument("give one store to check besides the source: --database, --chroma-url or --store");
        } else if (given.size() == 1) {
            target = ops::StoreUrlFor(given.front(), conns);
        } else if (*kind != ops::SourceKind::kPostgresql && conns.database_url) {
            target = ops::StoreUrlFor(ops::SourceKind::kPostgresql, conns);
        }
        if (!target.ok()) return Fail(target.status().WithContext("verify target"));
        o.target_url = *target;
    }
    ProgressPrinter progress(global.quiet || a.json);
    o.progress = progress.Fn();
    auto report = ops::VerifyMigration(o);
    progress.Done();
    if (!report.ok()) return Fail(report.status());
    if (a.json) {
        std::printf("%s\n", ops::VerifyReportJson(*report).c_str());
    } else {
        std::printf("%s", ops::VerifyReportText(*report).c_str());
    }
    return report->ok() ? 0 : ExitCodeFor(ErrorCode::kDataLoss);
}

Status RunDrop(const MigrateArgs& a, const GlobalOptions& global) {
    if (a.collections.size() != 1) return InvalidArgument("drop needs exactly one --collection NAME");
    SH_ASSIGN_OR_RETURN(std::string target, TargetUrl(a, global));
    SH_ASSIGN_OR_RETURN(std::int64_t records, ops::DropMigratedCollection(target, a.collections.front(), a.yes));
    if (!global.quiet) {
        std::fprintf(stderr, "dropped collection %s (%lld records)\n", a.collections.front().c_str(),
                     static_cast<long long>(records));
    }
    return Status::Ok();
}

}  // namespace

void AddMigrateCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto* migrate = app.add_subcommand(
        "migrate",
        "Move collections between stores (embedded, PostgreSQL + pgvector, ChromaDB) through a versioned JSON Lines "
        "export, and verify the result");
    migrate->require_subcommand(1);
    migrate->fallthrough();
    migrate->footer(
        "Typical move to PostgreSQL:\n"
        "  signal-hub migrate export --source embedded --store .signal-hub --all --output dump.jsonl.zst\n"
        "  signal-hub migrate init-db --database $DATABASE_URL\n"
        "  signal-hub migrate import --input dump.jsonl.zst --database $DATABASE_URL\n"
        "  signal-hub migrate verify --database $DATABASE_URL --against dump.jsonl.zst\n"
        "Format: docs/production/database-migration/export-format.md");

    auto args = std::make_shared<MigrateArgs>();

    auto* exp = migrate->add_subcommand("export", "Write collections of a store to an export file (streaming)");
    AddConnectionOptions(exp, *args);
    exp->add_option("--source", args->source, "Store to read: embedded (--store; default: found like `search` finds it), postgresql "
                    "(--database), chromadb (--chroma-url)")
        ->required()
        ->check(CLI::IsMember({"embedded", "postgresql", "chromadb"}));
    exp->add_option("--collection", args->collections,
                    "Collection to export (repeatable; default: every collection of the source, as --all)");
    exp->add_flag("--all", args->all, "Export every collection (the default when no --collection is given)");
    exp->add_option("--output", args->output,
                    "Output file: JSON Lines; zstd-compressed when it ends in .zst; - for stdout. Written to FILE.partial "
                    "and renamed when complete")
        ->required();
    exp->add_flag("--force", args->force,
                  "Replace an existing output file (without it, an existing file is refused with exit 4; either way "
                  "the old file stays until the new one is complete)");
    exp->add_option("--metrics-file", args->metrics_file,
                    "After a successful export, write the backup metrics (signal_hub_backup_*: when, records, bytes) "
                    "to this file, atomically, for node_exporter's textfile collector or a Pushgateway; a failed "
                    "export leaves it as it was");
    exp->footer(
        "All chosen collections go into one file (one header/records/trailer block each), records in id order.\n"
        "Stop writers first: pages are read one by one, not from one snapshot (a count that changed is reported).\n"
        "Scheduled with --metrics-file, an export is a monitored backup: docs/production/monitoring/metrics.md.");
    exp->callback([&global, &exit_code, args] { exit_code = Finish(RunExport(*args, global)); });

    auto* init = migrate->add_subcommand(
        "init-db", "Create or upgrade the signal-hub schema in PostgreSQL (idempotent; needs CREATE EXTENSION vector "
                   "or a superuser to have run it)");
    AddConnectionOptions(init, *args);
    init->callback([&global, &exit_code, args] { exit_code = Finish(RunInitDb(*args, global)); });

    auto* imp = migrate->add_subcommand(
        "import",
        "Load an export file into PostgreSQL (COPY BINARY batches, resumable, idempotent) or an embedded store");
    AddConnectionOptions(imp, *args);
    imp->add_option("--input", args->input, "Export file (.zst: compressed)")->required();
    imp->add_option("--batch-size", args->batch_size, "Records per transaction (default 1000)")
        ->check(CLI::Range(1, 1000000));
    imp->add_option("--memory-budget", args->memory_budget_mb,
                    "MiB of decoded records the validation pass may keep for the load (default 512): a file whose "
                    "records fit is read and decoded once; a larger one is read again to load, in batches. "
                    "0 always reads twice")
        ->check(CLI::Range(0, 1 << 20));
    imp->add_flag("--no-resume", args->no_resume,
                  "Ignore the checkpoint of an earlier run of this file and rewrite every record (still no duplicates)");
    imp->add_flag("--keep-index", args->keep_index,
                  "PostgreSQL: keep the indexes (HNSW, GIN on the lexemes, language) during the load of an empty "
                  "collection (default: drop them and build them once at the end, which is several times faster)");
    imp->add_option("--bookkeeping", args->bookkeeping,
                    "ChromaDB: whether to write Signal Hub's bookkeeping (<name>.sh-files and signal-hub-meta collections, "
                    "signal_hub:* metadata keys, bit-exact cosine vectors). auto (default): off when every collection "
                    "of the file came from a Chroma collection Signal Hub did not create (a rollback: they come back "
                    "exactly as your applications had them), else on. on: for a Chroma store Signal Hub indexes into")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    imp->footer(
        "The file is validated completely (header, trailer, counts, checksums) before anything is written.\n"
        "Target: --database URL (default $DATABASE_URL) or --store PATH. A collection that exists with another\n"
        "dimension, metric or model is refused. PostgreSQL imports record a checkpoint per file and collection in\n"
        "the same transaction as each batch: after a crash, run the same command again to continue.\n"
        "Into ChromaDB (--chroma-url), collections that came from your own Chroma get back their records,\n"
        "documents, metadata and Chroma collection metadata and configuration, nothing else (--bookkeeping);\n"
        "Chroma re-rounds cosine vectors by a few ulps.");
    imp->callback([&global, &exit_code, args] { exit_code = Finish(RunImport(*args, global)); });

    auto* ver = migrate->add_subcommand(
        "verify", "Compare a target store with an export file, a source store or (PostgreSQL, neither given) what "
                  "its imports recorded: counts, per-record checksums and nearest-neighbour recall");
    AddConnectionOptions(ver, *args);
    ver->add_option("--against,--input", args->against,
                    "Export file to compare with (default, for a PostgreSQL target: what `migrate import` recorded "
                    "in it, see below)");
    ver->add_option("--source", args->source,
                    "Source store instead of a file: embedded, postgresql or chromadb; the target is the other "
                    "connection given (default: PostgreSQL from $DATABASE_URL or the configuration)")
        ->check(CLI::IsMember({"embedded", "postgresql", "chromadb"}));
    ver->add_option("--collection", args->collections, "Only this collection (default: every collection of the source)");
    ver->add_option("--sample", args->sample, "Sampled nearest-neighbour queries per collection (default 100)");
    ver->add_option("--min-recall", args->min_recall, "Fail when recall@10 is below this (default 0.95)")
        ->check(CLI::Range(0.0, 1.0));
    ver->add_flag("--json", args->json, "Print the report as JSON");
    ver->footer(
        "Without --input and --source (`migrate verify --database URL`): the database is compared with what its\n"
        "imports recorded in it (each collection's imported record ids and per-record checksums, and which file\n"
        "the last import read); recall is the HNSW search against an exact search over its own records. A database\n"
        "without a recorded import is refused (exit 4): pass --input FILE.\n"
        "Every mode also reports the target's record counter against the records it holds (a warning).\n"
        "Exit 0 when every collection matches (0 missing, 0 extra, 0 different, recall >= minimum); 7 (data loss)\n"
        "otherwise; other codes for errors (see `signal-hub --help`).");
    ver->callback([&global, &exit_code, args] { exit_code = RunVerify(*args, global); });

    auto* drop = migrate->add_subcommand("drop", "Drop a collection from a target store (asks for --yes)");
    AddConnectionOptions(drop, *args);
    drop->add_option("--collection", args->collections, "Collection to drop")->required();
    drop->add_flag("--yes", args->yes,
                   "Confirm: delete the collection's records, files and index (without it: says how many records it "
                   "would delete, exit 2)");
    drop->callback([&global, &exit_code, args] { exit_code = Finish(RunDrop(*args, global)); });
}

}  // namespace signalhub::cli

// signal-hub backup: create | list | verify | restore. Parsing and printing only; the work is in
// ops/backup.hpp. Guide: docs/production/operations/backup-restore.md.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/security_setup.hpp"
#include "ops/backup.hpp"
#include "ops/backup_postgres.hpp"
#include "ops/backup_drill.hpp"
#include "ops/backup_metrics.hpp"

namespace signalhub::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct BackupArgs {
    std::optional<std::string> store;
    std::optional<std::string> database;  // PostgreSQL URL
    std::string archive;
    std::string dir;
    std::optional<std::string> metrics_file;
    std::optional<std::string> files_dir;
    std::optional<std::string> scratch;
    size_t samples = 3;
    std::optional<size_t> keep;  // create: retention (ARCHIVE a directory)
    bool force = false, json = false, no_config = false;
};

Json SummaryJson(const ops::BackupManifest& m) {
    Json cols = Json::array();
    for (const auto& c : m.collections) cols.push_back({{"name", c.name}, {"records", c.records}, {"hnsw", c.hnsw}});
    return {{"created", ops::FormatUtc(m.created_unix)},
            {"source", m.source_kind},
            {"location", m.source_location},
            {"host", m.host},
            {"data_version", m.data_version},
            {"records", m.TotalRecords()},
            {"collections", cols},
            {"files", m.files.size()}};
}

std::string CollectionsText(const ops::BackupManifest& m) {
    std::string out;
    for (const auto& c : m.collections) {
        if (!out.empty()) out += ", ";
        out += c.name + " " + std::to_string(c.records);
    }
    return out.empty() ? "no collections" : out;
}

std::string ArchivePath(const std::string& archive) {
    std::error_code ec;
    if (!fs::is_directory(archive, ec)) return archive;
    const auto now = std::chrono::system_clock::now();
    std::string stamp = ops::FormatUtc(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
    std::erase(stamp, '-');
    std::erase(stamp, ':');
    return (fs::path(archive) / ("signal-hub-" + stamp + ".tar.zst")).string();
}

// After `backup create`, either store: the metrics file (--metrics-file), notes, and the summary (JSON
// on stdout, or one line on stderr). PostgreSQL archives also name their schema version.
Status ReportCreated(const BackupArgs& a, const GlobalOptions& global, const ops::BackupCreateSummary& s,
                     const std::string& output, ops::SourceKind kind, const std::string& source) {
    const bool postgres = kind == ops::SourceKind::kPostgresql;
    if (a.metrics_file) {
        ops::ExportSummary metrics;
        for (const auto& c : s.manifest.collections) metrics.collections.push_back({c.name, c.records});
        metrics.records = s.manifest.TotalRecords();
        metrics.bytes = s.archive_bytes;
        metrics.seconds = s.seconds;
        SH_RETURN_IF_ERROR(ops::WriteBackupMetrics(*a.metrics_file, kind, metrics, std::chrono::system_clock::now()));
    }
    for (const auto& n : s.notes) std::fprintf(stderr, "signal-hub: note: %s\n", n.c_str());
    std::vector<std::string> pruned;
    if (a.keep) {
        auto removed = ops::PruneBackups(a.archive, *a.keep, output);
        if (!removed.ok()) return removed.status().WithContext("backup create: the archive " + output + " was written");
        pruned = std::move(*removed);
        for (const auto& p : pruned) std::fprintf(stderr, "removed %s (--keep %zu)\n", p.c_str(), *a.keep);
    }
    if (a.json) {
        Json j = SummaryJson(s.manifest);
        if (a.keep) j["removed"] = pruned;
        if (postgres) j["schema_version"] = s.manifest.schema_version;
        j["archive"] = output;
        j["bytes"] = s.archive_bytes;
        j["seconds"] = s.seconds;
        std::printf("%s\n", j.dump(2).c_str());
    } else if (!global.quiet) {
        const std::string versions =
            (postgres ? "schema version " + std::to_string(s.manifest.schema_version) + ", " : std::string()) +
            "data version " + std::to_string(s.manifest.data_version);
        std::fprintf(stderr, "backed up %s (%lld records: %s; %s) to %s (%s) in %s\n", source.c_str(),
                     static_cast<long long>(s.manifest.TotalRecords()), CollectionsText(s.manifest).c_str(),
                     versions.c_str(), output.c_str(), FormatBytes(static_cast<double>(s.archive_bytes)).c_str(),
                     FormatDuration(s.seconds).c_str());
    }
    return Status::Ok();
}

// PostgreSQL (--database URL, or database.type postgresql): one REPEATABLE READ READ ONLY snapshot.
Status RunCreatePostgres(const BackupArgs& a, const GlobalOptions& global, const config::Config& cfg) {
    ops::PgBackupCreateOptions o;
    o.database_url = a.database ? *a.database : DatabaseUrl(cfg.database);
    if (o.database_url.empty()) return InvalidArgument("backup create: give --database postgresql://USER@HOST:PORT/DB");
    o.output = ArchivePath(a.archive);
    o.overwrite = a.force;
    SH_ASSIGN_OR_RETURN(ops::BackupCreateSummary s, ops::CreatePostgresBackup(o));
    return ReportCreated(a, global, s, o.output, ops::SourceKind::kPostgresql, s.manifest.source_location);
}

Status RunRestorePostgres(const BackupArgs& a, const GlobalOptions& global) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    ops::PgBackupRestoreOptions o;
    o.archive = a.archive;
    o.database_url = *a.database;
    o.force = a.force;
    // The key tables are created by the configured key store opened against the target (its pepper).
    o.prepare_key_tables = [cfg, url = *a.database]() -> Status {
        config::Config target = cfg;
        target.database.type = "postgresql";
        target.database.url = url;
        target.security.api_keys.storage = "database";
        target.security.api_keys.database_url.clear();
        SH_ASSIGN_OR_RETURN(OpenedKeyStore opened, OpenApiKeyStore(target, std::nullopt, Clock::Real()));
        return Status::Ok();
    };
    SH_ASSIGN_OR_RETURN(ops::PgBackupRestoreSummary s, ops::RestorePostgresBackup(o));
    for (const auto& n : s.notes) std::fprintf(stderr, "signal-hub: note: %s\n", n.c_str());
    for (const auto& c : s.counts) {
        std::printf("restored collection %s: %lld records (manifest: %lld)\n", c.collection.c_str(),
                    static_cast<long long>(c.restored), static_cast<long long>(c.expected));
    }
    std::printf("restored %lld API key(s)\n", static_cast<long long>(s.api_keys));
    std::printf("restored %s into %s (schema version %d) in %s\n", a.archive.c_str(),
                ops::RedactDatabaseUrl(o.database_url).c_str(), s.manifest.schema_version,
                FormatDuration(s.seconds).c_str());
    return Status::Ok();
}

Status RunCreate(const BackupArgs& a, const GlobalOptions& global) {
    std::error_code dir_ec;
    if (a.keep && !fs::is_directory(a.archive, dir_ec)) {
        return InvalidArgument("backup create --keep: ARCHIVE must be an existing directory (the archives to keep are "
                               "the newest of it), got " + a.archive);
    }
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    ops::BackupCreateOptions o;
    // The store: --store, else found as `search` finds it (store.path in the working directory or a parent).
    GlobalOptions where = global;
    if (a.store) where.store = a.store;
    if (a.database || (!where.store && cfg.database.type == "postgresql")) return RunCreatePostgres(a, global, cfg);
    if (!where.store && cfg.database.type != "embedded") {
        return FailedPrecondition("backup create backs up the embedded store or PostgreSQL; database.type is " +
                                  cfg.database.type + " (use `migrate export`, docs/production/operations/backup-restore.md)");
    }
    config::Config embedded = cfg;
    embedded.database.type = "embedded";
    auto found = FindStore(where, embedded);
    if (!found.ok()) return found.status().WithContext("backup create (give --store PATH, the store directory)");
    if (!found->dir) return InvalidArgument("backup create: --store must be an embedded store directory, not " + found->display);
    o.store_dir = found->dir->string();
    o.output = ArchivePath(a.archive);
    std::error_code ec;
    o.overwrite = a.force;
    if (!a.no_config && cfg.source != "defaults" && !cfg.source.empty()) o.config_file = cfg.source;
    if (cfg.security.api_keys.storage == "file") {
        auto path = ApiKeyFilePath(cfg.security.api_keys, *found->dir);
        // Included when it exists; a missing one is worth a note only when keys are switched on.
        if (path.ok() && (cfg.security.api_keys.enabled || fs::exists(*path, ec))) o.api_keys_file = *path;
    }
    SH_ASSIGN_OR_RETURN(ops::BackupCreateSummary s, ops::CreateEmbeddedBackup(o));
    return ReportCreated(a, global, s, o.output, ops::SourceKind::kEmbedded, found->display);
}

Status RunList(const BackupArgs& a) {
    SH_ASSIGN_OR_RETURN(std::vector<ops::BackupListEntry> entries, ops::ListBackups(a.dir));
    if (a.json) {
        Json arr = Json::array();
        for (const auto& e : entries) {
            Json j = e.manifest ? SummaryJson(*e.manifest) : Json{{"error", e.error}};
            j["archive"] = e.path;
            j["bytes"] = e.bytes;
            arr.push_back(std::move(j));
        }
        std::printf("%s\n", arr.dump(2).c_str());
        return Status::Ok();
    }
    if (entries.empty()) std::printf("no backups (*.tar.zst) in %s\n", a.dir.c_str());
    for (const auto& e : entries) {
        if (e.manifest) {
            std::printf("%s  %s  %8s  %lld records (%s)  from %s\n", ops::FormatUtc(e.manifest->created_unix).c_str(),
                        e.path.c_str(), FormatBytes(static_cast<double>(e.bytes)).c_str(),
                        static_cast<long long>(e.manifest->TotalRecords()), CollectionsText(*e.manifest).c_str(),
                        e.manifest->source_location.c_str());
        } else {
            std::printf("%-20s  %s  unreadable: %s\n", "?", e.path.c_str(), e.error.c_str());
        }
    }
    return Status::Ok();
}

Status RunVerify(const BackupArgs& a, const GlobalOptions& global) {
    SH_ASSIGN_OR_RETURN(ops::BackupManifest m, ops::VerifyBackup(a.archive));
    if (a.json) {
        Json j = SummaryJson(m);
        j["archive"] = a.archive;
        j["ok"] = true;
        std::printf("%s\n", j.dump(2).c_str());
    } else if (!global.quiet) {
        std::printf("%s: OK — %zu files match their sha256; %lld records (%s), created %s from %s\n", a.archive.c_str(),
                    m.files.size(), static_cast<long long>(m.TotalRecords()), CollectionsText(m).c_str(),
                    ops::FormatUtc(m.created_unix).c_str(), m.source_location.c_str());
    }
    return Status::Ok();
}

Status RunRestore(const BackupArgs& a, const GlobalOptions& global) {
    if (a.database) return RunRestorePostgres(a, global);
    ops::BackupRestoreOptions o;
    o.archive = a.archive;
    const auto store = a.store ? a.store : global.store;
    if (!store) {
        return InvalidArgument("restore needs --store PATH (the directory to restore an embedded store into) or "
                               "--database URL (an empty PostgreSQL database)");
    }
    o.store_dir = *store;
    o.force = a.force;
    o.files_dir = a.files_dir;
    SH_ASSIGN_OR_RETURN(ops::BackupRestoreSummary s, ops::RestoreEmbeddedBackup(o));
    for (const auto& n : s.notes) std::fprintf(stderr, "signal-hub: note: %s\n", n.c_str());
    for (const auto& c : s.counts) {
        std::printf("restored collection %s: %lld records (manifest: %lld)\n", c.collection.c_str(),
                    static_cast<long long>(c.restored), static_cast<long long>(c.expected));
    }
    for (const auto& w : s.written) std::printf("wrote %s\n", w.c_str());
    std::printf("restored %s into %s in %s\n", a.archive.c_str(), o.store_dir.c_str(), FormatDuration(s.seconds).c_str());
    return Status::Ok();
}

Json DrillJson(const ops::BackupDrillReport& r, const Status& failure) {
    Json queries = Json::array();
    for (const auto& q : r.queries) {
        queries.push_back({{"collection", q.collection}, {"kind", q.kind}, {"text", q.text}, {"record", q.record_id},
                           {"rank", q.rank}, {"passed", q.passed}});
    }
    Json counts = Json::array();
    for (const auto& c : r.counts) counts.push_back({{"collection", c.collection}, {"expected", c.expected}, {"restored", c.restored}});
    Json j = {{"ok", failure.ok() && r.ok()},
              {"archive", r.archive},
              {"records_restored", r.records_restored},
              {"collections", counts},
              {"restore_seconds", r.restore_seconds},
              {"verify_seconds", r.verify_seconds},
              {"query_seconds", r.query_seconds},
              {"seconds", r.seconds},
              {"consistent", r.consistent},
              {"min_recall", r.min_recall},
              {"queries", r.queries.size()},
              {"queries_passed", r.queries_passed},
              {"query_results", queries},
              {"notes", r.notes}};
    if (!failure.ok()) j["error"] = failure.ToString();
    return j;
}

Status RunDrill(const BackupArgs& a, const GlobalOptions& global) {
    ops::BackupDrillOptions o;
    o.dir = a.dir;
    o.scratch_parent = a.scratch;
    o.samples = a.samples;
    const auto t0 = std::chrono::steady_clock::now();
    auto drilled = ops::RunBackupDrill(o);
    ops::BackupDrillReport report;
    Status failure = Status::Ok();
    if (drilled.ok()) {
        report = std::move(*drilled);
        if (!report.ok()) {
            failure = DataLoss("restore drill of " + report.archive + " failed: " + std::to_string(report.queries_passed) +
                               " of " + std::to_string(report.queries.size()) + " queries passed" +
                               (report.consistent ? "" : ", consistency check failed") + "\n" + report.FailureText());
        }
    } else {
        failure = drilled.status();
        report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (a.metrics_file) {
        ops::DrillMetrics m;
        m.success = failure.ok();
        m.records = report.records_restored;
        m.queries = static_cast<std::int64_t>(report.queries.size());
        m.queries_passed = static_cast<std::int64_t>(report.queries_passed);
        m.seconds = report.seconds;
        m.restore_seconds = report.restore_seconds;
        m.finished = std::chrono::system_clock::now();
        m.last_success_unix = ops::ReadDrillLastSuccess(*a.metrics_file);
        // The label names the drilled archive's store, also when the drill failed before restoring it.
        std::string kind = report.manifest.source_kind;
        if (!drilled.ok()) {  // the report holds no manifest: the newest archive's, if it can be read
            auto entries = ops::ListBackups(a.dir);
            if (entries.ok() && !entries->empty() && entries->front().manifest) kind = entries->front().manifest->source_kind;
        }
        const auto source = kind == "postgresql" ? ops::SourceKind::kPostgresql : ops::SourceKind::kEmbedded;
        Status written = ops::WriteDrillMetrics(*a.metrics_file, source, m);
        if (!written.ok()) {
            if (!failure.ok()) std::fprintf(stderr, "signal-hub: %s\n", written.ToString().c_str());
            else failure = written;
        }
    }
    for (const auto& n : report.notes) std::fprintf(stderr, "signal-hub: note: %s\n", n.c_str());
    if (a.json) {
        std::printf("%s\n", DrillJson(report, failure).dump(2).c_str());
    } else if (drilled.ok() && !global.quiet) {
        for (const auto& c : report.counts) {
            std::printf("restored collection %s: %lld records (manifest: %lld)\n", c.collection.c_str(),
                        static_cast<long long>(c.restored), static_cast<long long>(c.expected));
        }
        std::printf("consistency: %s (lowest recall@10 %.3f)\n", report.consistent ? "OK" : "FAILED", report.min_recall);
        std::printf("queries: %zu of %zu passed\n", report.queries_passed, report.queries.size());
        std::printf("drill of %s: %s — restored %lld records in %s, %zu/%zu queries passed, %s in all\n",
                    report.archive.c_str(), failure.ok() ? "PASSED" : "FAILED",
                    static_cast<long long>(report.records_restored), FormatDuration(report.restore_seconds).c_str(),
                    report.queries_passed, report.queries.size(), FormatDuration(report.seconds).c_str());
    }
    return failure;
}

}  // namespace

void AddBackupCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto* backup = app.add_subcommand(
        "backup", "Back up the embedded store (with its API-key file and configuration) or a PostgreSQL store (with "
                  "its API-key table, from one snapshot) into one verified archive, "
                  "list and verify archives, restore one");
    backup->require_subcommand(1);
    backup->fallthrough();
    backup->footer(
        "  signal-hub backup create /var/backups/signal-hub --store .signal-hub\n"
        "  signal-hub backup list /var/backups/signal-hub\n"
        "  signal-hub backup verify /var/backups/signal-hub/signal-hub-20261207T165000Z.tar.zst\n"
        "  signal-hub backup restore /var/backups/signal-hub/signal-hub-20261207T165000Z.tar.zst --store /srv/restored\n"
        "  signal-hub backup create /var/backups/signal-hub --database postgresql://hub@db:5432/hub\n"
        "  signal-hub backup restore /var/backups/signal-hub/signal-hub-20261207T165000Z.tar.zst --database postgresql://hub@db2:5432/hub\n"
        "  signal-hub backup drill /var/backups/signal-hub\n"
        "Guide: docs/production/operations/backup-restore.md");
    auto args = std::make_shared<BackupArgs>();

    auto* create = backup->add_subcommand(
        "create", "Write a consistent snapshot of the store (safe while `index` or `serve --watch` writes) to ARCHIVE");
    create->add_option("archive", args->archive,
                       "Archive to write (NAME.tar.zst), or an existing directory to write "
                       "signal-hub-<UTC time>.tar.zst into. Written to ARCHIVE.partial and renamed when complete")
        ->required();
    create->add_option("--store", args->store,
                       "Embedded store directory (default: found like `search` finds it: store.path in the working "
                       "directory or a parent)");
    create->add_option("--database", args->database,
                       "Back up this PostgreSQL store (postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME]; "
                       "default when database.type is postgresql: database.url): every collection and the API-key "
                       "table from one REPEATABLE READ READ ONLY transaction")
        ->excludes("--store");
    create->add_flag("--force", args->force, "Replace an existing ARCHIVE (without it: exit 4)");
    create->add_option("--keep", args->keep,
                       "Retention: after a successful backup into the directory ARCHIVE, remove its oldest archives "
                       "so that the newest N remain (ordered as `backup list`; files whose manifest cannot be read "
                       "are never removed)")
        ->check(CLI::Range(1, 100000));
    create->add_flag("--no-config", args->no_config, "Leave the configuration file (--config) out of the archive");
    create->add_option("--metrics-file", args->metrics_file,
                       "After a successful backup, write the backup metrics (signal_hub_backup_*: when, records, "
                       "bytes, duration) to this file, atomically, for node_exporter's textfile collector; a failed "
                       "backup leaves it as it was");
    create->add_flag("--json", args->json, "Print the summary as JSON on stdout");
    create->footer(
        "The archive (tar + zstd) holds manifest.json (format version, time, source, per-collection record counts,\n"
        "data version, size and sha256 of every file), store/store.db (SQLite's online backup of one read\n"
        "transaction), store/hnsw/* (each graph checked against that snapshot; one that is not is left out and\n"
        "rebuilt on restore), the configuration file and the API-key file (security.api_keys file storage).");
    create->callback([&global, &exit_code, args] { exit_code = Finish(RunCreate(*args, global)); });

    auto* list = backup->add_subcommand("list", "List the backup archives (*.tar.zst) in DIR, newest first");
    list->add_option("dir", args->dir, "Directory holding archives")->required();
    list->add_flag("--json", args->json, "Print JSON");
    list->callback([&exit_code, args] { exit_code = Finish(RunList(*args)); });

    auto* verify = backup->add_subcommand(
        "verify", "Read a whole archive and check every file against the manifest's size and sha256");
    verify->add_option("archive", args->archive, "Archive to check")->required();
    verify->add_flag("--json", args->json, "Print the summary as JSON on stdout");
    verify->footer("Exit 0: intact; 7: damaged or tampered (the message names the file); 3: no such archive.");
    verify->callback([&global, &exit_code, args] { exit_code = Finish(RunVerify(*args, global)); });

    auto* restore = backup->add_subcommand(
        "restore", "Restore an archive into a store directory (verified first; swapped in only after its record "
                   "counts match the manifest)");
    restore->add_option("archive", args->archive, "Archive to restore")->required();
    restore->add_option("--store", args->store, "Directory to restore the store into (created; must be empty or absent)");
    restore->add_option("--database", args->database,
                        "Restore a PostgreSQL backup into this database (must hold no signal-hub collection and no "
                        "API key; the schema is created as `migrate init-db` does)")
        ->excludes("--store");
    restore->add_flag("--force", args->force,
                      "Replace a non-empty target (refused while a writer such as `serve --watch` holds it); the old "
                      "content is removed only after the restored store passed its checks");
    restore->add_option("--files-dir", args->files_dir,
                        "Also write the archived configuration file (and an API-key file that lived outside the "
                        "store) into this directory");
    restore->footer(
        "Exit 0: restored; 4: target not empty (give --force) or locked; 7: archive damaged (nothing written) or\n"
        "the restored store holds fewer records than the manifest (embedded: target unchanged; PostgreSQL: the\n"
        "database holds the partial restore, do not use it).\n"
        "PostgreSQL: --force drops the archived collections that exist in the target and replaces archived key ids.");
    restore->callback([&global, &exit_code, args] { exit_code = Finish(RunRestore(*args, global)); });

    auto* drill = backup->add_subcommand(
        "drill", "Restore drill: restore the newest archive of DIR into a scratch directory, check it and query it");
    drill->add_option("dir", args->dir, "Directory holding archives (*.tar.zst); the newest one is drilled")->required();
    drill->add_option("--metrics-file", args->metrics_file,
                      "Write the drill metrics (signal_hub_backup_drill_*: result, when, records, queries, durations) "
                      "to this file after every drill, passed or failed, atomically, for node_exporter's textfile "
                      "collector. Use a file of its own, not the one of `backup create --metrics-file`");
    drill->add_option("--scratch", args->scratch,
                      "Directory to make the scratch directory in (default: $TMPDIR or /tmp); needs room for the "
                      "restored store");
    drill->add_option("--samples", args->samples, "Records per collection the queries are built from (2 queries each)")
        ->check(CLI::Range(1, 1000));
    drill->add_flag("--json", args->json, "Print the drill report as JSON on stdout (also when it fails)");
    drill->footer(
        "Steps: the archive is checked against its manifest and restored (as `backup restore`) into a fresh\n"
        "temporary directory, removed afterwards (a PostgreSQL archive: its records are loaded into a scratch\n"
        "embedded store; no database is needed or touched); the restored record counts must match the manifest;\n"
        "every record is read back and each HNSW graph's recall@10 against an exact search must be >= 0.95\n"
        "(`migrate verify`); then, per collection, records picked by a fixed seed from the store's own content\n"
        "are searched for by their embedding and, within their file, by their symbol (or their 8 longest\n"
        "words): each must come back in the top 10 (a tie with equal scores counts, with a note).\n"
        "Exit 0: passed; 3: DIR missing or without archives; 7: damaged archive, wrong counts, failed\n"
        "consistency check or query.");
    drill->callback([&global, &exit_code, args] { exit_code = Finish(RunDrill(*args, global)); });
}

}  // namespace signalhub::cli

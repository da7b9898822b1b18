// signal-hub doctor: what is wrong with this installation and what to do (ops/doctor.hpp).
// Exit 0 when nothing fails (warnings allowed), 1 when a check fails, 2 when the
// configuration does not load (the report still says why).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "ops/doctor.hpp"

namespace signalhub::cli {

namespace {

struct DoctorFlags {
    bool json = false;
    std::string bundle;
    ops::DoctorOptions options;
};

std::string ReadText(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Where the store is; when there is none yet, the embedded store's configured directory (the
// store finding then says so).
ops::DoctorTarget TargetFor(const GlobalOptions& global, const config::Config& cfg) {
    Result<StoreLocation> found = FindStore(global, cfg);
    if (found.ok()) return {found->url, found->dir, found->display};
    std::filesystem::path dir = global.store.value_or(cfg.store.path);
    std::error_code ec;
    if (dir.is_relative()) dir = std::filesystem::current_path(ec) / dir;
    return {dir.string(), dir, dir.string()};
}

int RunDoctor(const GlobalOptions& global, const DoctorFlags& flags) {
    const Result<config::Config> loaded = LoadConfiguration(global);
    const std::string source = loaded.ok() ? loaded->source : global.config_path.value_or("defaults");
    ops::DoctorTarget target;
    if (loaded.ok()) target = TargetFor(global, *loaded);
    const std::vector<ops::Finding> findings = ops::RunDoctor(loaded, target, flags.options, Clock::Real());
    if (flags.json) {
        std::printf("%s\n", ops::FindingsJson(findings, source).c_str());
    } else {
        std::fputs(ops::FormatFindings(findings, source).c_str(), stdout);
    }
    if (!flags.bundle.empty()) {
        ops::BundleInputs inputs;
        inputs.config_source = source;
        if (global.config_path) inputs.raw_config = ReadText(*global.config_path);
        inputs.config = loaded.ok() ? &*loaded : nullptr;
        inputs.findings = findings;
        inputs.version = kVersionText;
        const Status written = ops::WriteSupportBundle(flags.bundle, inputs, config::ProcessEnv(), flags.options);
        if (!written.ok()) return Fail(written);
        std::fprintf(stderr, "support bundle written to %s (secrets redacted; review it before you send it)\n",
                     flags.bundle.c_str());
    }
    if (!loaded.ok()) return 2;  // bad configuration, whatever the reason (docs/cli.md)
    return ops::Summarize(findings).fail == 0 ? 0 : kExitPartial;
}

}  // namespace

void AddDoctorCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto flags = std::make_shared<DoctorFlags>();
    auto* cmd = app.add_subcommand(
        "doctor",
        "Diagnose this installation: configuration, store and schema, pgvector, index health (HNSW graph, records "
        "vs files), freshness, disk headroom, TLS certificates, Redis, Vault, the embeddings endpoint, ChromaDB, "
        "clock skew. Every finding is OK, WARN or FAIL; warnings and failures say what to do and link their "
        "entry in docs/production/operations/troubleshooting.md. Exits 0 when nothing fails, 1 when a check "
        "fails, 2 when the configuration does not load");
    std::string checks = "Checks:\n";
    for (const ops::DoctorCheckInfo& c : ops::DoctorChecks()) {
        char line[200];
        std::snprintf(line, sizeof line, "  %-16s %s\n", c.name, c.what);
        checks += line;
    }
    cmd->footer(checks +
                "Thresholds: disk FAIL below 5% or 100 MiB free, WARN below 15% or 1 GiB; certificate FAIL when expired, "
                "WARN within 14 days; clock skew WARN above 5 s. Network checks time out after --timeout seconds.");
    cmd->add_flag("--json", flags->json,
                  "Print JSON: {config, ok, warn, fail, findings: [{name, status, detail, fix, doc}]}");
    cmd->add_option("--bundle", flags->bundle,
                    "Also write a support bundle to this file (JSON, mode 0600): versions, the configuration with "
                    "secrets redacted, the findings, the log file's last lines, a metrics snapshot");
    cmd->add_option("--timeout", flags->options.timeout_seconds, "Seconds each network check may take")
        ->check(CLI::Range(0.1, 300.0))
        ->capture_default_str();
    cmd->callback([&global, &exit_code, flags] { exit_code = RunDoctor(global, *flags); });
}

}  // namespace signalhub::cli

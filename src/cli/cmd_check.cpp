// signal-hub check production: the production checklist as code
// (ops/production_check.hpp); every item PASS or FAIL with its fix, exit 1 on
// any failure.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "ops/production_check.hpp"

namespace signalhub::cli {

namespace {

Status RunCheckProduction(const GlobalOptions& global, const ops::ProductionCheckOptions& options, bool json,
                          int& exit_code) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    std::string raw;
    if (cfg.source != "defaults") {
        std::ifstream in(cfg.source);
        std::ostringstream text;
        text << in.rdbuf();
        raw = text.str();
    }
    const std::vector<ops::CheckItem> items =
        ops::CheckProduction(cfg, raw, options, config::ProcessEnv(), Clock::Real());
    int failed = 0;
    for (const ops::CheckItem& item : items) failed += item.passed ? 0 : 1;
    if (json) {
        nlohmann::json list = nlohmann::json::array();
        for (const ops::CheckItem& item : items) {
            list.push_back({{"name", item.name}, {"passed", item.passed}, {"detail", item.detail}, {"fix", item.fix}});
        }
        std::printf("%s\n", nlohmann::json{{"config", cfg.source},
                                           {"replicas", options.replicas},
                                           {"passed", static_cast<int>(items.size()) - failed},
                                           {"failed", failed},
                                           {"checks", list}}
                                .dump()
                                .c_str());
    } else {
        std::printf("production check of %s (%d replica%s)\n", cfg.source.c_str(), options.replicas,
                    options.replicas == 1 ? "" : "s");
        for (const ops::CheckItem& item : items) {
            std::printf("  %s  %-20s %s\n", item.passed ? "PASS" : "FAIL", item.name.c_str(), item.detail.c_str());
            if (!item.passed) std::printf("        fix: %s\n", item.fix.c_str());
        }
        std::printf("%d passed, %d failed\n", static_cast<int>(items.size()) - failed, failed);
    }
    exit_code = failed == 0 ? 0 : kExitPartial;
    return Status::Ok();
}

}  // namespace

void AddCheckCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto* check = app.add_subcommand("check", "Check a deployment's configuration");
    check->require_subcommand(1);
    auto options = std::make_shared<ops::ProductionCheckOptions>();
    auto json = std::make_shared<bool>(false);
    auto* production = check->add_subcommand(
        "production",
        "The production checklist as code: TLS, certificate and key files, API keys and their storage, rate "
        "limiting (shared when replicas > 1), PostgreSQL, no inline secrets or default passwords, browser origins, "
        "metrics and JSON logs. Prints PASS/FAIL with a fix for each; exits 1 when anything fails "
        "(docs/production/security/hardening-checklist.md)");
    std::string items = "Items:\n";
    for (const ops::CheckItemInfo& item : ops::ProductionCheckItems()) {
        char line[160];
        std::snprintf(line, sizeof line, "  %-20s %s\n", item.name, item.what);
        items += line;
    }
    production->footer(items + "With TLS off the certificate items, with API keys off the key items are not reported.");
    production->add_option("--replicas", options->replicas, "How many replicas the deployment runs")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    production->add_option("--certificate-min-days", options->certificate_min_days,
                           "Fail when the TLS certificate expires within this many days")
        ->check(CLI::Range(0, 3650))
        ->capture_default_str();
    production->add_flag("--json", *json, "Print JSON: {config, replicas, passed, failed, checks: [{name, passed, detail, fix}]}");
    production->callback([&global, &exit_code, options, json] {
        int code = 0;
        const Status s = RunCheckProduction(global, *options, *json, code);
        exit_code = s.ok() ? code : Fail(s);
    });
}

}  // namespace signalhub::cli

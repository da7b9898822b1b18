#include "cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/usage.hpp"

namespace signalhub::cli {

int Run(int argc, char** argv) {
    CLI::App app{"signal-hub: index a source tree and search it (semantic + lexical code search)", "signal-hub"};
    app.set_version_flag("--version", kVersionText);
    app.require_subcommand(1);
    GlobalOptions global;
    auto* config_opt = app.add_option("--config", global.config_path,
                                      "YAML configuration file (default: $SIGNAL_HUB_CONFIG, else built-in defaults)");
    config_opt->envname("SIGNAL_HUB_CONFIG");
    app.add_option("--store", global.store,
                   "Store: a directory (default: <root>/.signal-hub, found like .git), a postgresql:// URL or a "
                   "chroma+http(s):// URL (default with database.type postgresql or chromadb: database.url)");
    app.add_flag("-q,--quiet", global.quiet, "Print only results and errors");
    app.add_flag("--no-color", global.no_color, "Never colour output (also: NO_COLOR=1)");
    app.footer(
        "Exit codes: 0 ok, 1 partial (some files unreadable), 2 bad input or config, 3 not found,\n"
        "4 conflicting state (store locked, model mismatch), 5 permission denied, 6 unavailable,\n"
        "7 data loss detected, 70 internal error, 130 interrupted. See docs/cli.md.");
    app.fallthrough();

    int exit_code = 0;
    AddIndexCommand(app, global, exit_code);
    AddSearchCommand(app, global, exit_code);
    AddStatusCommand(app, global, exit_code);
    AddCollectionsCommand(app, global, exit_code);
    AddServeCommand(app, global, exit_code);
    AddMigrateCommand(app, global, exit_code);
    AddKeysCommand(app, global, exit_code);
    AddCheckCommand(app, global, exit_code);
    AddHealthcheckCommand(app, global, exit_code);
    AddDoctorCommand(app, global, exit_code);
    AddBackupCommand(app, global, exit_code);
    if (argc <= 1) {  // plain `signal-hub`: what it can do (docs/cli.md)
        std::fputs(app.help().c_str(), stdout);
        return 0;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() != 0) {
            if (auto message = CommandError(app, std::vector<std::string>(argv + 1, argv + argc), e)) {
                std::fprintf(stderr, "signal-hub: error: %s\n", message->c_str());
                return 2;
            }
        }
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    return exit_code;
}

}  // namespace signalhub::cli

#pragma once

#include <CLI/CLI.hpp>

#include "cli/common.hpp"

namespace signalhub::cli {

// Exit code of a command that did its work but not all of it (e.g. index with
// unreadable files). Error exit codes come from ExitCodeFor() (core/status.hpp).
inline constexpr int kExitPartial = 1;

// What --version prints (and `doctor --bundle` records).
inline constexpr const char* kVersionText = "signal-hub 0.1.0";

void AddIndexCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddSearchCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddStatusCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddServeCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddMigrateCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddKeysCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddCheckCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddCollectionsCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddHealthcheckCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddDoctorCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddBackupCommand(CLI::App& app, GlobalOptions& global, int& exit_code);

}  // namespace signalhub::cli

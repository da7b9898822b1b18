#pragma once
// Usage errors CLI11 words poorly: a missing or misspelt command.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace signalhub::cli {

// For a command line that failed to parse (`args`: argv without the program
// name): when a word stands where a command of `app` (or of one of its
// commands, like `migrate export`) belongs but names none, "unknown command
// 'serch'; did you mean 'search'?" (or the list of commands when none is
// close); when the command is missing and `error` (CLI11's) says so, "a
// command is required: index, search, ...". nullopt for every other error
// (CLI11's message stands).
std::optional<std::string> CommandError(const CLI::App& app, const std::vector<std::string>& args,
                                        const CLI::ParseError& error);

}  // namespace signalhub::cli

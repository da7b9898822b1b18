#include "cli/usage.hpp"

#include <string_view>

#include "core/suggest.hpp"

namespace signalhub::cli {
namespace {

// `app`'s commands (hidden ones left out), in the order they were added.
std::vector<std::string> CommandNames(const CLI::App& app) {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); })) {
        names.push_back(sub->get_name());
    }
    return names;
}

std::string Joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// The option `name` (without "=value") of `app` or, since options fall
// through, of one of its parents.
const CLI::Option* FindOption(const CLI::App* app, const std::string& name) {
    for (; app != nullptr; app = app->get_parent()) {
        if (const CLI::Option* opt = app->get_option_no_throw(name)) return opt;
    }
    return nullptr;
}

// "migrate export": the words that lead from the program to `app`.
std::string PathOf(const CLI::App* app) {
    std::string path;
    for (; app != nullptr && app->get_parent() != nullptr; app = app->get_parent()) {
        path = app->get_name() + (path.empty() ? "" : " " + path);
    }
    return path;
}

}  // namespace

std::optional<std::string> CommandError(const CLI::App& app, const std::vector<std::string>& args,
                                        const CLI::ParseError& error) {
    const CLI::App* at = &app;  // the deepest command named so far
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& word = args[i];
        if (word == "--") return std::nullopt;
        if (word.size() > 1 && word[0] == '-') {
            // An option: skip its value when it takes one and it is not attached ("--store=x", "-k5").
            const bool long_name = word.rfind("--", 0) == 0;
            const std::string name = long_name ? word.substr(0, word.find('=')) : word.substr(0, 2);
            const bool attached = long_name ? word.find('=') != std::string::npos : word.size() > 2;
            const CLI::Option* opt = FindOption(at, name);
            if (opt != nullptr && opt->get_items_expected_min() > 0 && !attached) ++i;
            continue;
        }
        const std::vector<std::string> commands = CommandNames(*at);
        if (commands.empty()) return std::nullopt;  // a positional argument of a command
        const CLI::App* next = nullptr;
        for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
            if (sub->check_name(word)) next = sub;
        }
        if (next != nullptr) {
            at = next;
            continue;
        }
        const std::string prefix = PathOf(at).empty() ? "" : PathOf(at) + " ";
        std::string message = "unknown command '" + prefix + word + "'";
        if (std::optional<std::string> nearest = Suggest(word, commands)) {
            return message + "; did you mean '" + prefix + *nearest + "'?";
        }
        return message + "; the " + (prefix.empty() ? "" : prefix) + "commands are " + Joined(commands) +
               " (signal-hub " + prefix + "--help)";
    }
    const std::vector<std::string> commands = CommandNames(*at);
    if (commands.empty() || std::string_view(error.what()).find("subcommand") == std::string_view::npos)
        return std::nullopt;
    const std::string path = PathOf(at);
    return (path.empty() ? std::string("a command is required: ") : path + " needs a command: ") + Joined(commands) +
           " (signal-hub " + (path.empty() ? "" : path + " ") + "--help)";
}

}  // namespace signalhub::cli

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "embed/embedder.hpp"
#include "mcp/stdio_transport.hpp"
#include "mcp/tools.hpp"
#include "search/searcher.hpp"

namespace signalhub::cli {
namespace {

Status RunServe(const GlobalOptions& global) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    SH_ASSIGN_OR_RETURN(ReadableStore readable, OpenStoreForReading(global, cfg));
    SH_ASSIGN_OR_RETURN(auto embedder, embed::CreateEmbedder(cfg.embedding));
    search::Searcher searcher(*readable.store, *embedder, cfg.search);
    mcp::Server server(mcp::ServerInfo{
        .instructions = "Code search over the repository indexed in " + readable.dir.string() +
                        ". Use search_code to find functions, classes and other code by description or identifier; "
                        "index_status to see what is indexed."});
    mcp::AddCodeSearchTools(server, *readable.store, searcher);
    if (!global.quiet) std::fprintf(stderr, "signal-hub: serving %s over MCP stdio\n", readable.dir.c_str());
    return mcp::ServeStdio(server, std::cin, std::cout);
}

}  // namespace

void AddServeCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto transport = std::make_shared<std::string>("stdio");
    auto* cmd = app.add_subcommand("serve", "Serve code search to AI assistants over the Model Context Protocol");
    cmd->add_option("--transport", *transport, "MCP transport: stdio (the assistant starts signal-hub as a child process)")
        ->check(CLI::IsMember({"stdio"}))
        ->capture_default_str();
    cmd->footer("stdout carries only protocol messages; logs go to stderr. Exits when stdin closes.\n"
                "Tools: search_code, index_status. See docs/mcp.md.");
    // The callback owns the option storage (CLI11 writes into it while parsing).
    cmd->callback([&global, &exit_code, transport] {
        (void)transport;  // only "stdio" passes the option check
        exit_code = Finish(RunServe(global));
    });
}

}  // namespace signalhub::cli

// libFuzzer target: one MCP session (mcp::Session::HandleMessage) with the six
// real code-search tools over an in-memory store (fuzz/code_search_fixture).
// Each input is one JSON-RPC message or batch, sent to a fresh session that
// has already been initialized, so inputs reach tools/call directly. The
// reply, when there is one, must be valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/code_search_fixture.hpp"
#include "mcp/server.hpp"

using signalhub::mcp::Session;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)signalhub::fuzz::CodeSearchServer();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Session session(signalhub::fuzz::CodeSearchServer());
    (void)session.HandleMessage(
        R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
        R"("capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}})");
    (void)session.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    const std::string_view message(reinterpret_cast<const char*>(data), size);
    const std::optional<std::string> reply = session.HandleMessage(message);
    if (reply && nlohmann::json::accept(*reply) == false) std::abort();  // a reply must be JSON
    return 0;
}

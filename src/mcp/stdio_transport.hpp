#pragma once
// MCP stdio transport: newline-delimited JSON-RPC messages on an input
// stream, replies on an output stream (nothing else may be written to it;
// logs go to stderr). One client, so one Session; messages are handled in
// order, one at a time. Returns at end of input.

#include <istream>
#include <ostream>

#include "core/status.hpp"
#include "mcp/server.hpp"

namespace signalhub::mcp {

// Unavailable when the output or the input fails.
Status ServeStdio(const Server& server, std::istream& in, std::ostream& out);

}  // namespace signalhub::mcp

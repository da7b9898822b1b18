#pragma once
// The MCP server the fuzz targets drive: the six real code-search tools
// (mcp/tools.hpp) over an in-memory store holding a few indexed files (a
// Python package and a C++ class), built once per process. The indexed tree
// is written to a temporary directory, indexed and removed again; its path
// stays the tools' root, so absolute paths under it are accepted lexically.

#include "mcp/server.hpp"

namespace signalhub::fuzz {

// Built on first use; lives until the process ends. Aborts (the fuzzer
// reports it) when the fixture cannot be built.
const mcp::Server& CodeSearchServer();

// The root the tools were given ("/tmp/signal-hub-fuzz-XXXXXX").
const std::string& CodeSearchRoot();

}  // namespace signalhub::fuzz

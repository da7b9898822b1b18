#pragma once
// The Signal Hub tools served over MCP. Each borrows the store and searcher
// (they must outlive the Server).

#include "mcp/server.hpp"
#include "search/searcher.hpp"
#include "store/vector_store.hpp"

namespace signalhub::mcp {

// search_code: hybrid / vector / lexical code search with filters.
// index_status: collections, record counts, model, dimension, last indexed.
void AddCodeSearchTools(Server& server, store::VectorStore& store, const search::Searcher& searcher);

}  // namespace signalhub::mcp

#pragma once
// The Signal Hub tools served over MCP:
//   search_code      hybrid / vector / lexical code search with filters
//   index_status     collections, record counts, model, dimension, last indexed, freshness
//   find_similar     code most similar to a snippet (vector search), optionally leaving one file out
//   get_context      a token-bounded context for a task (search/context.hpp)
//   explain_code     a function, class or line range of a file with its enclosing definitions and its uses
//   find_references  where a symbol is defined and where its name is used (whole-word, via the lexical index)
//
// Ownership: the tools borrow the store and searcher of the ToolContext; both
// must be non-null and outlive the Server. The tools never read the source
// tree: code comes from the indexed chunks, so answers reflect the last index.
// Errors: bad arguments are InvalidArgument (JSON-RPC -32602); an unindexed
// file or unknown symbol is NotFound (a tool result with isError = true).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "index/pipeline.hpp"
#include "mcp/server.hpp"
#include "search/searcher.hpp"
#include "store/vector_store.hpp"

namespace signalhub::mcp {

struct ToolContext {
    store::VectorStore* store = nullptr;         // borrowed; the store the searcher searches
    const search::Searcher* searcher = nullptr;  // borrowed
    // The indexed tree's root, if known. Tools taking a path accept a
    // repo-relative path, or an absolute one only when it lies under `root`.
    std::optional<std::filesystem::path> root{};
    // Freshness (index_status): when set, index_status compares this tree
    // (root, collection, store_dir and index config, as `index` would scan it)
    // with the collection's stored file states: files new, modified and
    // deleted since the last index. One scan per index_status call.
    std::optional<index::IndexOptions> tree{};
    // serve --watch is keeping the index in step with the tree.
    bool watching = false;
    const Clock* clock = nullptr;  // age of the index; null = Clock::Real()
};

// Registers all six tools. Call during the Server's set-up. The handlers keep
// no state between calls and may run concurrently (Server's contract) when the
// store and searcher are thread-safe.
void AddCodeSearchTools(Server& server, const ToolContext& context);

// The same with the indexed root unknown (absolute paths are refused).
void AddCodeSearchTools(Server& server, store::VectorStore& store, const search::Searcher& searcher);

// A tool's path argument as the repo-relative, '/'-separated path the index
// stores: "./src//a.py" -> "src/a.py"; "/root/src/a.py" -> "src/a.py" when
// root is "/root". InvalidArgument naming the path when it is empty, escapes
// the root ("../x", "a/../../x"), is absolute while root is unknown, or is
// absolute outside root. Purely lexical (no filesystem access).
Result<std::string> NormalizeRepoPath(std::string_view path, const std::optional<std::filesystem::path>& root);

}  // namespace signalhub::mcp

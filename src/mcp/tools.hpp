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

#include <cstddef>
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

// Argument limits, each refused with JSON-RPC -32602 naming the argument.
// Strings are counted in Unicode characters and must not contain NUL.
// query, task_description:
inline constexpr std::size_t kMaxQueryChars = 4096;
// code_snippet:
inline constexpr std::size_t kMaxSnippetChars = 16384;
// file_path, current_file, exclude_file, each of related_files, file_pattern:
inline constexpr std::size_t kMaxPathChars = 1024;
// every other string: symbol, function_name, class_name, language, collection, mode:
inline constexpr std::size_t kMaxNameChars = 256;
// Paths must stay inside the repository (no escaping '..', absolute only
// under a known root); file_pattern must be relative and free of '..'
// segments. Numbers: limit 1..100 (search_code, find_similar), 1..500
// (find_references); max_tokens 100..100000 (get_context); line_range
// 1..100000000; related_files at most 20; min_similarity 0..1.

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

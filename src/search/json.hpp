#pragma once
// The JSON shapes of search results and collection listings, shared by the
// CLI (--json) and the MCP tools (structuredContent) so that both say the same.

#include <nlohmann/json.hpp>
#include <vector>

#include "core/record.hpp"
#include "search/searcher.hpp"

namespace signalhub::search {

// {"query", "mode", "results": [{id, collection, file_path, start_line, end_line, language, symbol, kind, score, text}]}
nlohmann::json ToJson(const SearchResponse& response);

// [{name, records, model, dimension, metric, bytes, last_indexed (ISO-8601 UTC or null)}]
nlohmann::json CollectionsToJson(const std::vector<CollectionInfo>& collections);

}  // namespace signalhub::search

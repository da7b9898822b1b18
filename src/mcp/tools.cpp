#include "mcp/tools.hpp"

#include "core/clock.hpp"
#include "search/json.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace signalhub::mcp {
namespace {

using Json = nlohmann::json;

// Rejects arguments that are not in `allowed` (a typo must not be ignored).
Status CheckKnown(const Json& args, const std::set<std::string>& allowed) {
    for (const auto& [key, value] : args.items()) {
        if (!allowed.count(key)) return InvalidArgument("unknown argument '" + key + "'");
    }
    return Status::Ok();
}

Result<std::optional<std::string>> OptString(const Json& args, const char* key) {
    if (!args.contains(key) || args[key].is_null()) return std::optional<std::string>();
    if (!args[key].is_string()) return InvalidArgument(std::string(key) + " must be a string");
    return std::optional<std::string>(args[key].get<std::string>());
}

constexpr const char* kSearchInput = R"json({
  "type": "object",
  "properties": {
    "query": {"type": "string", "minLength": 1, "description": "What to look for: words, identifiers or a description"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "language": {"type": "string", "description": "Only results in this language (python, cpp, go, ...)"},
    "file_pattern": {"type": "string", "description": "Only files matching this glob, e.g. src/**/*.py"},
    "min_score": {"type": "number", "description": "Drop results scoring below this"},
    "collection": {"type": "string", "description": "Only this collection (default: all)"},
    "mode": {"type": "string", "enum": ["hybrid", "vector", "lexical"], "default": "hybrid"}
  },
  "required": ["query"],
  "additionalProperties": false
})json";

constexpr const char* kSearchOutput = R"json({
  "type": "object",
  "properties": {
    "query": {"type": "string"},
    "mode": {"type": "string"},
    "results": {"type": "array", "items": {
      "type": "object",
      "properties": {
        "id": {"type": "string"}, "collection": {"type": "string"}, "file_path": {"type": "string"},
        "start_line": {"type": "integer"}, "end_line": {"type": "integer"}, "language": {"type": "string"},
        "symbol": {"type": "string"}, "kind": {"type": "string"}, "score": {"type": "number"},
        "text": {"type": "string"}
      },
      "required": ["id", "file_path", "start_line", "end_line", "symbol", "kind", "score", "text"]
    }}
  },
  "required": ["query", "mode", "results"]
})json";

constexpr const char* kStatusInput = R"json({"type": "object", "properties": {}, "additionalProperties": false})json";

constexpr const char* kStatusOutput = R"json({
  "type": "object",
  "properties": {
    "collections": {"type": "array", "items": {
      "type": "object",
      "properties": {
        "name": {"type": "string"}, "records": {"type": "integer"}, "model": {"type": "string"},
        "dimension": {"type": "integer"}, "metric": {"type": "string"}, "bytes": {"type": "integer"},
        "last_indexed": {"type": ["string", "null"]}
      },
      "required": ["name", "records", "model", "dimension", "metric", "last_indexed"]
    }}
  },
  "required": ["collections"]
})json";

Result<ToolResult> SearchCode(const search::Searcher& searcher, const Json& args) {
    SH_RETURN_IF_ERROR(
        CheckKnown(args, {"query", "limit", "language", "file_pattern", "min_score", "collection", "mode"}));
    search::SearchRequest request;
    if (!args.contains("query") || !args["query"].is_string() || args["query"].get<std::string>().empty())
        return InvalidArgument("query (a non-empty string) is required");
    request.query = args["query"];
    if (args.contains("limit")) {
        if (!args["limit"].is_number_integer() || args["limit"].get<std::int64_t>() < 1 ||
            args["limit"].get<std::int64_t>() > 100)
            return InvalidArgument("limit must be an integer from 1 to 100");
        request.k = args["limit"].get<size_t>();
    }
    if (args.contains("min_score")) {
        if (!args["min_score"].is_number()) return InvalidArgument("min_score must be a number");
        request.min_score = args["min_score"];
    }
    SH_ASSIGN_OR_RETURN(auto mode, OptString(args, "mode"));
    if (mode) {
        SH_ASSIGN_OR_RETURN(request.mode, search::ParseMode(*mode));
    }
    SH_ASSIGN_OR_RETURN(request.filter.language, OptString(args, "language"));
    SH_ASSIGN_OR_RETURN(request.filter.path_glob, OptString(args, "file_pattern"));
    SH_ASSIGN_OR_RETURN(auto collection, OptString(args, "collection"));
    request.collection = collection.value_or("");

    SH_ASSIGN_OR_RETURN(search::SearchResponse response, searcher.Search(request));
    std::string text;
    for (const auto& r : response.results) {
        text += r.file_path + ":" + std::to_string(r.start_line) + "-" + std::to_string(r.end_line) + "  " +
                (r.symbol.empty() ? r.kind : r.symbol) + "\n" + r.text;
        if (!r.text.empty() && r.text.back() != '\n') text += "\n";
        text += "\n";
    }
    if (response.results.empty()) text = "No results for \"" + request.query + "\".";
    return ToolResult{std::move(text), search::ToJson(response)};
}

Result<ToolResult> IndexStatus(store::VectorStore& store, const Json& args) {
    SH_RETURN_IF_ERROR(CheckKnown(args, {}));
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, store.ListCollections());
    std::string text;
    for (const auto& c : collections) {
        text += c.spec.name + ": " + std::to_string(c.records) + " records, " + c.spec.model + " (" +
                std::to_string(c.spec.dimension) + " dimensions), last indexed " +
                (c.last_indexed_unix ? FormatIso8601Utc(*c.last_indexed_unix) : std::string("never")) + "\n";
    }
    if (collections.empty()) text = "No collections: run `signal-hub index` first.";
    return ToolResult{std::move(text), Json{{"collections", search::CollectionsToJson(collections)}}};
}

}  // namespace

void AddCodeSearchTools(Server& server, store::VectorStore& store, const search::Searcher& searcher) {
    server.AddTool({.name = "search_code",
                    .title = "Search code",
                    .description = "Search the indexed codebase: hybrid semantic + lexical (BM25) search over "
                                   "functions, classes and other chunks. Returns file paths, line ranges, symbols "
                                   "and the code.",
                    .input_schema = Json::parse(kSearchInput),
                    .output_schema = Json::parse(kSearchOutput),
                    .handler = [&searcher](const Json& args) { return SearchCode(searcher, args); }});
    server.AddTool({.name = "index_status",
                    .title = "Index status",
                    .description = "The indexed collections: record counts, embedding model, dimension, metric, "
                                   "size and when each was last indexed.",
                    .input_schema = Json::parse(kStatusInput),
                    .output_schema = Json::parse(kStatusOutput),
                    .handler = [&store](const Json& args) { return IndexStatus(store, args); }});
}

}  // namespace signalhub::mcp

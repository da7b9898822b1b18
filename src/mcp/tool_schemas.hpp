#pragma once
// The JSON Schemas of the code-search tools (tools.cpp): each tool's inputSchema and outputSchema as
// MCP's tools/list publishes them.

#include <nlohmann/json.hpp>

namespace signalhub::mcp::schemas {

inline constexpr const char* kSearchInput = R"json({
  "type": "object",
  "properties": {
    "query": {"type": "string", "minLength": 1, "description": "What to look for: words, identifiers or a description"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "language": {"type": "string", "description": "Only results in this language: python, cpp, go, ... (any case; aliases such as golang, py, c++ and file extensions work too)"},
    "file_pattern": {"type": "string", "description": "Only files matching this glob, e.g. src/**/*.py"},
    "min_score": {"type": "number", "description": "Drop results scoring below this"},
    "collection": {"type": "string", "description": "Only this collection (default: all)"},
    "mode": {"type": "string", "enum": ["hybrid", "vector", "lexical"], "default": "hybrid"}
  },
  "required": ["query"],
  "additionalProperties": false
})json";

inline constexpr const char* kResultItem = R"json({
  "type": "object",
  "properties": {
    "id": {"type": "string"}, "collection": {"type": "string"}, "file_path": {"type": "string"},
    "start_line": {"type": "integer"}, "end_line": {"type": "integer"}, "language": {"type": "string"},
    "symbol": {"type": "string"}, "kind": {"type": "string"}, "score": {"type": "number"},
    "text": {"type": "string"}
  },
  "required": ["id", "file_path", "start_line", "end_line", "symbol", "kind", "score", "text"]
})json";

inline constexpr const char* kStatusInput = R"json({"type": "object", "properties": {}, "additionalProperties": false})json";

inline constexpr const char* kStatusOutput = R"json({
  "type": "object",
  "properties": {
    "collections": {"type": "array", "items": {
      "type": "object",
      "properties": {
        "name": {"type": "string"}, "records": {"type": "integer"}, "model": {"type": "string"},
        "dimension": {"type": "integer"}, "metric": {"type": "string"}, "bytes": {"type": "integer"},
        "last_indexed": {"type": ["string", "null"]},
        "age_seconds": {"type": ["integer", "null"], "description": "Seconds since last_indexed"},
        "imported_at": {"type": ["string", "null"], "description": "When migrate import wrote the collection"},
        "incomplete": {"type": "boolean",
          "description": "An index run started and did not finish: the index may lack files until it runs again"},
        "tree": {"type": ["object", "null"],
          "description": "For the collection of the served tree: how the tree differs from the index now",
          "properties": {
            "root": {"type": "string"}, "files_scanned": {"type": "integer"},
            "files_new": {"type": "integer"}, "files_modified": {"type": "integer"},
            "files_deleted": {"type": "integer"}, "up_to_date": {"type": "boolean"}
          },
          "required": ["root", "files_scanned", "files_new", "files_modified", "files_deleted", "up_to_date"]
        }
      },
      "required": ["name", "records", "model", "dimension", "metric", "last_indexed", "age_seconds", "tree"]
    }},
    "watching": {"type": "boolean", "description": "The server re-indexes changes as they happen (serve --watch)"}
  },
  "required": ["collections", "watching"]
})json";

inline constexpr const char* kSimilarInput = R"json({
  "type": "object",
  "properties": {
    "code_snippet": {"type": "string", "minLength": 1, "description": "The code to find look-alikes of"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "min_similarity": {"type": "number", "minimum": 0, "maximum": 1,
      "description": "Drop results whose cosine similarity to the snippet is below this"},
    "language": {"type": "string", "description": "Only results in this language: python, cpp, go, ... (any case; aliases such as golang, py, c++ and file extensions work too)"},
    "exclude_file": {"type": "string",
      "description": "Repo-relative path whose chunks are left out, e.g. the file the snippet comes from"},
    "collection": {"type": "string", "description": "Only this collection (default: all)"}
  },
  "required": ["code_snippet"],
  "additionalProperties": false
})json";

inline constexpr const char* kContextInput = R"json({
  "type": "object",
  "properties": {
    "task_description": {"type": "string", "minLength": 1,
      "description": "What you are about to do, in words and identifiers"},
    "current_file": {"type": "string",
      "description": "Repo-relative path of the file you are working on; its code is preferred"},
    "related_files": {"type": "array", "items": {"type": "string"}, "maxItems": 20,
      "description": "Repo-relative paths of other files known to matter; preferred after current_file"},
    "max_tokens": {"type": "integer", "minimum": 100, "maximum": 100000, "default": 4000,
      "description": "Budget for the code returned, in tokens estimated as ceil(characters / 4)"},
    "collection": {"type": "string", "description": "Only this collection (default: all)"}
  },
  "required": ["task_description"],
  "additionalProperties": false
})json";

inline constexpr const char* kContextOutput = R"json({
  "type": "object",
  "properties": {
    "task_description": {"type": "string"},
    "max_tokens": {"type": "integer"},
    "tokens_used": {"type": "integer",
      "description": "Tokens of the excerpts' text, estimated as ceil(characters / 4)"},
    "files": {"type": "array", "items": {
      "type": "object",
      "properties": {
        "collection": {"type": "string"}, "file_path": {"type": "string"}, "language": {"type": "string"},
        "excerpts": {"type": "array", "items": {
          "type": "object",
          "properties": {
            "start_line": {"type": "integer"}, "end_line": {"type": "integer"},
            "symbols": {"type": "array", "items": {"type": "string"}},
            "tokens": {"type": "integer"}, "text": {"type": "string"}
          },
          "required": ["start_line", "end_line", "symbols", "tokens", "text"]
        }}
      },
      "required": ["collection", "file_path", "language", "excerpts"]
    }},
    "omitted": {"type": "array", "items": {
      "type": "object",
      "properties": {
        "collection": {"type": "string"}, "file_path": {"type": "string"}, "start_line": {"type": "integer"},
        "end_line": {"type": "integer"}, "symbol": {"type": "string"}, "kind": {"type": "string"},
        "reason": {"type": "string"}, "tokens": {"type": "integer"}
      },
      "required": ["file_path", "start_line", "end_line", "symbol", "kind", "reason", "tokens"]
    }},
    "unindexed_files": {"type": "array", "items": {"type": "string"},
      "description": "current_file / related_files with no indexed code"}
  },
  "required": ["task_description", "max_tokens", "tokens_used", "files", "omitted", "unindexed_files"]
})json";

inline constexpr const char* kExplainInput = R"json({
  "type": "object",
  "properties": {
    "file_path": {"type": "string", "minLength": 1,
      "description": "Repo-relative path of the file (an absolute path only under the indexed root)"},
    "function_name": {"type": "string",
      "description": "One of function_name, class_name, line_range. A function or method, bare or qualified (Cart::add_item)"},
    "class_name": {"type": "string",
      "description": "A class, struct, interface, enum, trait, impl or namespace/module, bare or qualified"},
    "line_range": {
      "type": "object",
      "description": "Lines start..end (1-based, inclusive) of the file",
      "properties": {"start": {"type": "integer", "minimum": 1}, "end": {"type": "integer", "minimum": 1}},
      "required": ["start", "end"],
      "additionalProperties": false
    },
    "collection": {"type": "string", "description": "The collection holding the file (needed only when several do)"}
  },
  "required": ["file_path"],
  "additionalProperties": false
})json";

inline constexpr const char* kLocationItem = R"json({
  "type": "object",
  "properties": {
    "collection": {"type": "string"}, "file_path": {"type": "string"}, "line": {"type": "integer"},
    "text": {"type": "string", "description": "The line, trimmed"},
    "symbol": {"type": "string",
      "description": "The innermost indexed definition holding the line (empty at top level)"}
  },
  "required": ["collection", "file_path", "line", "text", "symbol"]
})json";

inline constexpr const char* kExplainOutput = R"json({
  "type": "object",
  "properties": {
    "collection": {"type": "string"}, "file_path": {"type": "string"}, "language": {"type": "string"},
    "code": {"type": "array", "items": {
      "type": "object",
      "properties": {"start_line": {"type": "integer"}, "end_line": {"type": "integer"}, "text": {"type": "string"}},
      "required": ["start_line", "end_line", "text"]
    }},
    "definitions": {"type": "array", "items": {
      "type": "object",
      "properties": {
        "symbol": {"type": "string"}, "kind": {"type": "string"}, "start_line": {"type": "integer"},
        "end_line": {"type": "integer"}, "line": {"type": "integer", "description": "The declaring line"},
        "enclosing": {"type": "array", "description": "Enclosing definitions, outermost first", "items": {
          "type": "object",
          "properties": {
            "symbol": {"type": "string"}, "kind": {"type": "string"}, "file_path": {"type": "string"},
            "start_line": {"type": "integer"}, "end_line": {"type": "integer"}, "line": {"type": "integer"},
            "text": {"type": "string", "description": "The declaring line, trimmed"}
          },
          "required": ["symbol", "kind", "file_path", "start_line", "end_line", "line", "text"]
        }},
        "usages": {"type": "array", "items": LOCATION},
        "usages_truncated": {"type": "boolean"}
      },
      "required": ["symbol", "kind", "start_line", "end_line", "line", "enclosing", "usages", "usages_truncated"]
    }}
  },
  "required": ["collection", "file_path", "language", "code", "definitions"]
})json";

inline constexpr const char* kReferencesInput = R"json({
  "type": "object",
  "properties": {
    "symbol": {"type": "string", "minLength": 1,
      "description": "An identifier, bare (add_item) or qualified (Cart.add_item, ns::Cart)"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50,
      "description": "Most locations returned (definitions first)"},
    "language": {"type": "string", "description": "Only files in this language (any case; aliases such as golang or c++ work too)"},
    "collection": {"type": "string", "description": "Only this collection (default: all)"}
  },
  "required": ["symbol"],
  "additionalProperties": false
})json";

inline constexpr const char* kReferencesOutput = R"json({
  "type": "object",
  "properties": {
    "symbol": {"type": "string"},
    "definitions": {"type": "array", "items": {
      "type": "object",
      "properties": {
        "collection": {"type": "string"}, "file_path": {"type": "string"}, "line": {"type": "integer"},
        "start_line": {"type": "integer"}, "end_line": {"type": "integer"}, "symbol": {"type": "string"},
        "kind": {"type": "string"}, "language": {"type": "string"}, "text": {"type": "string"}
      },
      "required": ["collection", "file_path", "line", "start_line", "end_line", "symbol", "kind", "text"]
    }},
    "references": {"type": "array", "items": LOCATION},
    "truncated": {"type": "boolean", "description": "More locations exist than were returned"}
  },
  "required": ["symbol", "definitions", "references", "truncated"]
})json";

// Output schema of a list of search results under "results" (items: kResultItem).
nlohmann::json ResultsSchema();

// Parses a schema whose text holds the placeholder LOCATION for kLocationItem.
nlohmann::json SchemaWithLocations(const char* text);

}  // namespace signalhub::mcp::schemas

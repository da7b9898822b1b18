#pragma once
// Chunkers: split a file into retrieval units.

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace signalhub::index {

struct Chunk {
    std::string text;     // exact source lines start_line..end_line
    int start_line = 0;   // 1-based, inclusive
    int end_line = 0;     // 1-based, inclusive
    std::string symbol;   // "parse_url", "HttpClient.send"; "" for windows
    std::string kind;     // function, method, class, struct, interface, enum, impl, trait, module,
                          // section (markdown), window (fallback), preamble (top-level code between definitions)
    std::string parent;   // enclosing symbol ("HttpClient" for a method), "" at top level
    int part = 0;         // 0 for a whole unit; 1..n for pieces of a split one
};

// Chunks `content` of a file in `language` (see language.hpp). Uses a
// tree-sitter grammar for python, javascript, typescript, tsx, c, cpp, go,
// rust and java; headings for markdown; line windows otherwise. Never throws;
// a file that fails to parse falls back to line windows. Chunks cover every
// non-blank line of the file at least once, in order of start_line.
std::vector<Chunk> ChunkFile(std::string_view language, std::string_view content, const config::ChunkConfig& options);

// Languages with a tree-sitter grammar compiled in.
std::vector<std::string> GrammarLanguages();

}  // namespace signalhub::index

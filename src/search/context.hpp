#pragma once
// Context assembly: turns ranked search results into a coherent, token-bounded
// context for a task (definitions first, the files the caller is working on
// boosted, excerpts grouped by file with overlapping or adjacent line ranges
// merged), and the small pure text helpers the code-understanding MCP tools
// share (line reconstruction, whole-word occurrences, definition lines).
//
// Everything here is pure: no store, no I/O, deterministic for a given input.
// Thread safety: free functions over values; safe from any thread.
//
// Chunks are assumed to be as the indexer writes them (index/chunk): `text`
// holds the exact source lines start_line..end_line joined by '\n' without a
// final newline, and the chunks of a file cover every non-blank line. Input
// whose text has more or fewer lines than its range claims is tolerated: the
// text wins and the range is adjusted to it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.hpp"
#include "search/searcher.hpp"

namespace signalhub::search {

// Token estimate used for every budget: ceil(bytes / 4) (about right for code
// with common BPE tokenizers; no tokenizer is shipped).
size_t EstimateTokens(std::string_view text);

// True for chunk kinds that are definitions: function, method, class, struct,
// interface, enum, trait, impl, module. False for preamble, window, section
// and anything unknown.
bool IsDefinitionKind(std::string_view kind);

// The SearchResult view of a stored record (metadata keys from core/record.hpp).
SearchResult ResultFromRecord(std::string collection, const Record& record, double score);

// ---------------------------------------------------------------------------
// Context assembly.

struct ContextRequest {
    std::optional<std::string> current_file{};  // repo-relative path; its chunks come first within a class
    std::vector<std::string> related_files{};   // repo-relative paths; boosted after current_file
    size_t max_tokens = 4000;                   // budget for the excerpts' text (EstimateTokens)
};

struct ContextExcerpt {
    int start_line = 0;  // 1-based, inclusive
    int end_line = 0;
    std::vector<std::string> symbols{};  // symbols of the chunks inside this excerpt, in line order, no duplicates
    std::string text{};                  // the source lines start_line..end_line
    size_t tokens = 0;                   // EstimateTokens(text)
};

struct ContextFile {
    std::string collection{};
    std::string file_path{};
    std::string language{};
    std::vector<ContextExcerpt> excerpts{};  // by start_line, disjoint and not adjacent
};

struct ContextOmission {
    std::string collection{};
    std::string file_path{};
    int start_line = 0;
    int end_line = 0;
    std::string symbol{};
    std::string kind{};
    std::string reason{};  // "over budget"
    size_t tokens = 0;     // what including it would have cost on its own
};

struct Context {
    std::vector<ContextFile> files{};        // in order of their best-placed chunk
    std::vector<ContextOmission> omitted{};  // in priority order
    size_t tokens_used = 0;                  // sum of the excerpts' tokens, <= max_tokens
    size_t max_tokens = 0;
};

// Assembles a context from `ranked` (best first; results with the same
// collection and id after the first are ignored). Priority: definitions before
// other chunks; then chunks of current_file, then of related_files, then the
// rest; then the input rank. Chunks are taken greedily in priority order while
// the merged excerpts fit in max_tokens; a chunk lying inside an excerpt
// already taken costs nothing (its symbol is listed); one that does not fit is
// omitted with reason "over budget" and smaller ones after it may still fit.
Context AssembleContext(std::vector<SearchResult> ranked, const ContextRequest& request);

// ---------------------------------------------------------------------------
// Line helpers.

struct LineSpan {
    int start_line = 0;  // 1-based, inclusive
    int end_line = 0;
    std::string text{};  // exactly end_line - start_line + 1 lines joined by '\n'
};

// Splits text into lines at '\n' ("" is one empty line; no final newline is assumed).
std::vector<std::string_view> SplitLines(std::string_view text);

// Merges pieces of one file: sorted by start line, pieces that overlap or are
// adjacent (next start <= previous end + 1) become one span whose lines come
// from the pieces covering them. A piece's end_line is taken from its text.
std::vector<LineSpan> MergeLineSpans(std::vector<LineSpan> pieces);

// Lines first..last of a file rebuilt from its chunks; lines no chunk covers
// are empty (the indexer's chunks cover every non-blank line). Requires
// first <= last.
std::string ReconstructLines(const std::vector<SearchResult>& chunks, int first, int last);

// True for [A-Za-z0-9_$].
bool IsIdentifierChar(char c);

// 0-based indexes of the lines of `text` in which `word` occurs as a whole
// identifier (not preceded or followed by an identifier character).
std::vector<int> WholeWordLines(std::string_view text, std::string_view word);

// The line (1-based, in the file) of `chunk` that declares `name`: the first
// line holding `name` as a whole word that is not a comment or decorator line
// (leading '#', '//', '/*', '*', '@'); chunk.start_line when there is none.
int DefinitionLine(const SearchResult& chunk, std::string_view name);

// The last component of a qualified symbol ("Cart.add_item", "ns::Cart::add"
// -> "add_item", "add").
std::string LastComponent(std::string_view symbol);

// True when `symbol` (as the indexer writes it, '.'-qualified) is `wanted` or
// ends with "." + wanted; `wanted` may use "::" as separator.
bool SymbolMatches(std::string_view symbol, std::string_view wanted);

// `text` cut to at most `max_bytes` without splitting a UTF-8 sequence; "..." appended when cut.
std::string Abbreviate(std::string_view text, size_t max_bytes);

}  // namespace signalhub::search

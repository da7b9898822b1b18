#pragma once
// Internals shared by the chunkers (not part of the module interface).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace signalhub::index::chunk_detail {

// Line index over a file's bytes. Lines end at '\n'; a final '\n' does not
// start another line. Rows are 0-based here; Chunk lines are 1-based.
class Lines {
public:
    explicit Lines(std::string_view content);

    int Count() const { return static_cast<int>(starts_.size()); }
    std::string_view Content() const { return content_; }
    // Row `row` without its '\n'.
    std::string_view Line(int row) const;
    // True when the row holds only whitespace.
    bool Blank(int row) const;
    // Bytes of rows first..last, newlines included.
    std::size_t Bytes(int first, int last) const;
    // Exact text of rows first..last without the last row's line ending.
    std::string Text(int first, int last) const;
    int ClampRow(long row) const;

private:
    std::string_view content_;
    std::vector<std::size_t> starts_;
};

// Limits with nonsensical values replaced by the nearest sane ones.
struct Limits {
    int max_lines = 120;
    int overlap_lines = 10;
    int window_lines = 60;
    std::size_t max_chars = 6000;
};
Limits MakeLimits(const config::ChunkConfig& options);

// A chunk before its text is cut: rows are 0-based and inclusive.
struct Span {
    int first = 0;
    int last = 0;
    std::string symbol;
    std::string kind;
    std::string parent;
    int part = 0;
};

// True when rows first..last exceed max_lines or max_chars.
bool Oversized(const Lines& lines, int first, int last, std::size_t max_lines, std::size_t max_chars);

// Cuts rows first..last into pieces of at most `max_lines` lines and (unless a
// single line is longer) `max_chars` bytes; consecutive pieces share
// min(overlap, piece_lines / 2) lines, so every call makes progress.
std::vector<std::pair<int, int>> SplitRows(const Lines& lines, int first, int last, int max_lines, int overlap,
                                           std::size_t max_chars);

// Emits rows first..last as one span (part 0) when within limits, else as
// pieces numbered 1..n. Each span copies symbol/kind/parent from `proto`.
void EmitSized(const Lines& lines, int first, int last, const Span& proto, const Limits& limits,
               std::vector<Span>& out);

// Line windows over the non-blank extent of the file (kind "window").
std::vector<Span> WindowSpans(const Lines& lines, const Limits& limits);

// Markdown sections split at ATX headings, outside fenced code blocks.
std::vector<Span> MarkdownSpans(const Lines& lines, const Limits& limits);

// tree-sitter chunking; nullopt when `language` has no grammar or the parser
// produced no tree (the caller then falls back to windows).
std::optional<std::vector<Span>> TreeSpans(std::string_view language, const Lines& lines, const Limits& limits);

// Names of the compiled-in grammars.
std::vector<std::string> TreeLanguages();

}  // namespace signalhub::index::chunk_detail

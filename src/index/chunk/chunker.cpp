#include "index/chunk/chunker.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "index/chunk/chunk_internal.hpp"

namespace signalhub::index {
namespace chunk_detail {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\n'; }

}  // namespace

Lines::Lines(std::string_view content) : content_(content) {
    if (content_.empty()) {
        return;
    }
    starts_.push_back(0);
    for (std::size_t i = 0; i < content_.size(); ++i) {
        if (content_[i] == '\n' && i + 1 < content_.size()) {
            starts_.push_back(i + 1);
        }
    }
}

std::string_view Lines::Line(int row) const {
    const auto r = static_cast<std::size_t>(row);
    const std::size_t begin = starts_[r];
    std::size_t end = r + 1 < starts_.size() ? starts_[r + 1] : content_.size();
    if (end > begin && content_[end - 1] == '\n') {
        --end;
    }
    return content_.substr(begin, end - begin);
}

bool Lines::Blank(int row) const {
    const std::string_view line = Line(row);
    return std::all_of(line.begin(), line.end(), IsSpace);
}

std::size_t Lines::Bytes(int first, int last) const {
    const std::size_t begin = starts_[static_cast<std::size_t>(first)];
    const auto next = static_cast<std::size_t>(last) + 1;
    const std::size_t end = next < starts_.size() ? starts_[next] : content_.size();
    return end - begin;
}

std::string Lines::Text(int first, int last) const {
    const std::size_t begin = starts_[static_cast<std::size_t>(first)];
    std::size_t end = begin + Bytes(first, last);
    if (end > begin && content_[end - 1] == '\n') {
        --end;
        if (end > begin && content_[end - 1] == '\r') {
            --end;
        }
    }
    return std::string(content_.substr(begin, end - begin));
}

int Lines::ClampRow(long row) const {
    if (row < 0) {
        return 0;
    }
    const long max_row = static_cast<long>(starts_.size()) - 1;
    return static_cast<int>(std::min(row, max_row));
}

Limits MakeLimits(const config::ChunkConfig& options) {
    Limits limits;
    limits.max_lines = std::max(1, options.max_lines);
    limits.overlap_lines = std::clamp(options.overlap_lines, 0, limits.max_lines - 1);
    limits.window_lines = std::max(1, options.window_lines);
    limits.max_chars = static_cast<std::size_t>(std::max<std::int64_t>(1, options.max_chars));
    return limits;
}

bool Oversized(const Lines& lines, int first, int last, std::size_t max_lines, std::size_t max_chars) {
    return static_cast<std::size_t>(last - first + 1) > max_lines || lines.Bytes(first, last) > max_chars;
}

std::vector<std::pair<int, int>> SplitRows(const Lines& lines, int first, int last, int max_lines, int overlap,
                                           std::size_t max_chars) {
    std::vector<std::pair<int, int>> pieces;
    int start = first;
    while (true) {
        int end = start;
        std::size_t bytes = lines.Bytes(start, start);
        while (end < last && end - start + 1 < max_lines) {
            const std::size_t next = lines.Bytes(end + 1, end + 1);
            if (bytes + next > max_chars) {
                break;
            }
            bytes += next;
            ++end;
        }
        pieces.emplace_back(start, end);
        if (end >= last) {
            break;
        }
        const int length = end - start + 1;
        start = end + 1 - std::min(overlap, length / 2);
    }
    return pieces;
}

void EmitSized(const Lines& lines, int first, int last, const Span& proto, const Limits& limits,
               std::vector<Span>& out) {
    if (!Oversized(lines, first, last, static_cast<std::size_t>(limits.max_lines), limits.max_chars)) {
        Span span = proto;
        span.first = first;
        span.last = last;
        span.part = 0;
        out.push_back(std::move(span));
        return;
    }
    const auto pieces = SplitRows(lines, first, last, limits.max_lines, limits.overlap_lines, limits.max_chars);
    int part = pieces.size() > 1 ? 1 : 0;
    for (const auto& [a, b] : pieces) {
        Span span = proto;
        span.first = a;
        span.last = b;
        span.part = part == 0 ? 0 : part++;
        out.push_back(std::move(span));
    }
}

std::vector<Span> WindowSpans(const Lines& lines, const Limits& limits) {
    std::vector<Span> spans;
    int first = 0;
    int last = lines.Count() - 1;
    while (first <= last && lines.Blank(first)) {
        ++first;
    }
    while (last >= first && lines.Blank(last)) {
        --last;
    }
    if (first > last) {
        return spans;
    }
    const int overlap = std::min(limits.overlap_lines, limits.window_lines - 1);
    const auto pieces = SplitRows(lines, first, last, limits.window_lines, overlap, limits.max_chars);
    int part = pieces.size() > 1 ? 1 : 0;
    for (const auto& [a, b] : pieces) {
        int piece_first = a;
        int piece_last = b;
        while (piece_first < piece_last && lines.Blank(piece_first)) {
            ++piece_first;
        }
        while (piece_last > piece_first && lines.Blank(piece_last)) {
            --piece_last;
        }
        Span span;
        span.first = piece_first;
        span.last = piece_last;
        span.kind = "window";
        span.part = part == 0 ? 0 : part++;
        spans.push_back(std::move(span));
    }
    return spans;
}

namespace {

// Leading indentation of at most three spaces, as CommonMark allows for
// headings and fences; npos when the line is indented further (code block).
std::size_t MarkdownIndent(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && line[i] == ' ') {
        ++i;
    }
    return i <= 3 ? i : std::string_view::npos;
}

struct Fence {
    char ch = 0;
    std::size_t length = 0;
};

// An opening/closing code fence: ``` or ~~~ (three or more).
std::optional<Fence> ParseFence(std::string_view line) {
    const std::size_t indent = MarkdownIndent(line);
    if (indent == std::string_view::npos || indent >= line.size()) {
        return std::nullopt;
    }
    const char ch = line[indent];
    if (ch != '`' && ch != '~') {
        return std::nullopt;
    }
    std::size_t end = indent;
    while (end < line.size() && line[end] == ch) {
        ++end;
    }
    if (end - indent < 3) {
        return std::nullopt;
    }
    // A backtick fence's info string may not contain backticks.
    if (ch == '`' && line.substr(end).find('`') != std::string_view::npos) {
        return std::nullopt;
    }
    return Fence{ch, end - indent};
}

bool ClosesFence(std::string_view line, const Fence& open) {
    const std::size_t indent = MarkdownIndent(line);
    if (indent == std::string_view::npos) {
        return false;
    }
    std::size_t end = indent;
    while (end < line.size() && line[end] == open.ch) {
        ++end;
    }
    if (end - indent < open.length) {
        return false;
    }
    return std::all_of(line.begin() + static_cast<std::ptrdiff_t>(end), line.end(), IsSpace);
}

struct Heading {
    int level = 0;
    std::string text;
};

std::string_view TrimSpace(std::string_view s) {
    while (!s.empty() && IsSpace(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && IsSpace(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// ATX heading: up to three spaces, 1-6 '#', then whitespace or end of line.
std::optional<Heading> ParseHeading(std::string_view line) {
    const std::size_t indent = MarkdownIndent(line);
    if (indent == std::string_view::npos) {
        return std::nullopt;
    }
    std::size_t i = indent;
    while (i < line.size() && line[i] == '#') {
        ++i;
    }
    const std::size_t level = i - indent;
    if (level < 1 || level > 6) {
        return std::nullopt;
    }
    if (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
        return std::nullopt;
    }
    std::string_view text = TrimSpace(line.substr(i));
    // Optional closing sequence: spaces then only '#'.
    std::size_t hashes = text.size();
    while (hashes > 0 && text[hashes - 1] == '#') {
        --hashes;
    }
    if (hashes == 0) {
        text = {};
    } else if (hashes < text.size() && (text[hashes - 1] == ' ' || text[hashes - 1] == '\t')) {
        text = TrimSpace(text.substr(0, hashes));
    }
    return Heading{static_cast<int>(level), std::string(text)};
}

}  // namespace

std::vector<Span> MarkdownSpans(const Lines& lines, const Limits& limits) {
    struct Section {
        int first = 0;
        int level = 0;  // 0: text before the first heading
        std::string title;
        std::string parent;
    };
    std::vector<Section> sections;
    sections.push_back(Section{});
    std::vector<Heading> stack;  // enclosing headings, strictly increasing levels
    std::optional<Fence> fence;
    for (int row = 0; row < lines.Count(); ++row) {
        const std::string_view line = lines.Line(row);
        if (fence) {
            if (ClosesFence(line, *fence)) {
                fence.reset();
            }
            continue;
        }
        if (auto open = ParseFence(line)) {
            fence = open;
            continue;
        }
        auto heading = ParseHeading(line);
        if (!heading) {
            continue;
        }
        while (!stack.empty() && stack.back().level >= heading->level) {
            stack.pop_back();
        }
        Section section;
        section.first = row;
        section.level = heading->level;
        section.title = heading->text;
        section.parent = stack.empty() ? std::string() : stack.back().text;
        sections.push_back(std::move(section));
        stack.push_back(std::move(*heading));
    }

    std::vector<Span> spans;
    for (std::size_t i = 0; i < sections.size(); ++i) {
        int first = sections[i].first;
        int last = i + 1 < sections.size() ? sections[i + 1].first - 1 : lines.Count() - 1;
        while (first <= last && lines.Blank(first)) {
            ++first;
        }
        while (last >= first && lines.Blank(last)) {
            --last;
        }
        if (first > last) {
            continue;
        }
        Span proto;
        proto.symbol = sections[i].title;
        proto.kind = sections[i].level == 0 ? "preamble" : "section";
        proto.parent = sections[i].parent;
        EmitSized(lines, first, last, proto, limits, spans);
    }
    return spans;
}

}  // namespace chunk_detail

namespace {

std::vector<Chunk> ToChunks(const chunk_detail::Lines& lines, std::vector<chunk_detail::Span> spans) {
    std::stable_sort(spans.begin(), spans.end(), [](const chunk_detail::Span& a, const chunk_detail::Span& b) {
        if (a.first != b.first) {
            return a.first < b.first;
        }
        return a.last > b.last;
    });
    std::vector<Chunk> chunks;
    chunks.reserve(spans.size());
    for (auto& span : spans) {
        Chunk chunk;
        chunk.text = lines.Text(span.first, span.last);
        chunk.start_line = span.first + 1;
        chunk.end_line = span.last + 1;
        chunk.symbol = std::move(span.symbol);
        chunk.kind = std::move(span.kind);
        chunk.parent = std::move(span.parent);
        chunk.part = span.part;
        chunks.push_back(std::move(chunk));
    }
    return chunks;
}

bool AllBlank(std::string_view content) {
    return std::all_of(content.begin(), content.end(), [](char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
    });
}

}  // namespace

std::vector<Chunk> ChunkFile(std::string_view language, std::string_view content, const config::ChunkConfig& options) {
    if (AllBlank(content)) {
        return {};
    }
    try {
        const chunk_detail::Lines lines(content);
        const chunk_detail::Limits limits = chunk_detail::MakeLimits(options);
        try {
            if (language == "markdown") {
                return ToChunks(lines, chunk_detail::MarkdownSpans(lines, limits));
            }
            if (auto spans = chunk_detail::TreeSpans(language, lines, limits)) {
                return ToChunks(lines, std::move(*spans));
            }
        } catch (const std::exception&) {
            // Out of memory on a huge or pathological file: fall through to
            // the simplest chunker.
        }
        return ToChunks(lines, chunk_detail::WindowSpans(lines, limits));
    } catch (const std::exception&) {
        return {};
    }
}

std::vector<std::string> GrammarLanguages() { return chunk_detail::TreeLanguages(); }

}  // namespace signalhub::index

#include "search/context.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

namespace signalhub::search {

size_t EstimateTokens(std::string_view text) { return (text.size() + 3) / 4; }

bool IsDefinitionKind(std::string_view kind) {
    static const std::set<std::string_view> kDefinitionKinds = {"function", "method", "class", "struct", "interface",
                                                                "enum",     "trait",  "impl",  "module"};
    return kDefinitionKinds.count(kind) > 0;
}

SearchResult ResultFromRecord(std::string collection, const Record& record, double score) {
    SearchResult out;
    out.id = record.id;
    out.collection = std::move(collection);
    out.file_path = GetString(record.metadata, meta::kFilePath).value_or("");
    out.start_line = static_cast<int>(GetInt(record.metadata, meta::kStartLine).value_or(0));
    out.end_line = static_cast<int>(GetInt(record.metadata, meta::kEndLine).value_or(0));
    out.language = GetString(record.metadata, meta::kLanguage).value_or("");
    out.symbol = GetString(record.metadata, meta::kSymbol).value_or("");
    out.kind = GetString(record.metadata, meta::kKind).value_or("");
    out.score = score;
    out.text = record.document.value_or("");
    out.has_text = record.document.has_value();
    return out;
}

// ---------------------------------------------------------------------------
// Line helpers.

std::vector<std::string_view> SplitLines(std::string_view text) {
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    std::vector<std::string_view> lines;
    size_t begin = 0;
    while (true) {
        const size_t nl = text.find('\n', begin);
        if (nl == std::string_view::npos) {
            lines.push_back(text.substr(begin));
            break;
        }
        lines.push_back(text.substr(begin, nl - begin));
        begin = nl + 1;
    }
    return lines;
}

namespace {

std::string JoinLines(const std::vector<std::string>& lines) {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) out += '\n';
        out += lines[i];
    }
    return out;
}

}  // namespace

std::vector<LineSpan> MergeLineSpans(std::vector<LineSpan> pieces) {
    struct Piece {
        int start;
        std::vector<std::string> lines;
        int End() const { return start + static_cast<int>(lines.size()) - 1; }
    };
    std::vector<Piece> sorted;
    sorted.reserve(pieces.size());
    for (auto& p : pieces) {
        Piece piece{p.start_line, {}};
        for (std::string_view line : SplitLines(p.text)) piece.lines.emplace_back(line);
        sorted.push_back(std::move(piece));
    }
    std::stable_sort(sorted.begin(), sorted.end(), [](const Piece& a, const Piece& b) {
        return a.start != b.start ? a.start < b.start : a.End() > b.End();
    });
    std::vector<LineSpan> out;
    std::optional<Piece> current;
    auto flush = [&] {
        if (current) out.push_back(LineSpan{current->start, current->End(), JoinLines(current->lines)});
    };
    for (auto& piece : sorted) {
        if (current && static_cast<std::int64_t>(piece.start) <= static_cast<std::int64_t>(current->End()) + 1) {
            const int end = current->End();
            if (piece.End() > end) {
                const size_t skip = static_cast<size_t>(end + 1 - piece.start);
                current->lines.insert(current->lines.end(), piece.lines.begin() + static_cast<std::ptrdiff_t>(skip),
                                      piece.lines.end());
            }
            continue;
        }
        flush();
        current = std::move(piece);
    }
    flush();
    return out;
}

std::string ReconstructLines(const std::vector<SearchResult>& chunks, int first, int last) {
    if (last < first) return {};
    const size_t count = static_cast<size_t>(last - first) + 1;
    std::vector<std::string> lines(count);
    std::vector<bool> filled(count, false);
    for (const auto& chunk : chunks) {
        const auto chunk_lines = SplitLines(chunk.text);
        for (size_t i = 0; i < chunk_lines.size(); ++i) {
            const std::int64_t line = static_cast<std::int64_t>(chunk.start_line) + static_cast<std::int64_t>(i);
            if (line < first || line > last) continue;
            const size_t slot = static_cast<size_t>(line - first);
            if (filled[slot]) continue;
            lines[slot] = std::string(chunk_lines[i]);
            filled[slot] = true;
        }
    }
    return JoinLines(lines);
}

bool IsIdentifierChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

namespace {

bool HasWholeWord(std::string_view line, std::string_view word) {
    if (word.empty()) return false;
    for (size_t pos = line.find(word); pos != std::string_view::npos; pos = line.find(word, pos + 1)) {
        const bool left_ok = pos == 0 || !IsIdentifierChar(line[pos - 1]);
        const size_t after = pos + word.size();
        const bool right_ok = after >= line.size() || !IsIdentifierChar(line[after]);
        if (left_ok && right_ok) return true;
    }
    return false;
}

bool IsCommentOrDecorator(std::string_view line) {
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) return false;
    const std::string_view rest = line.substr(first);
    return rest.starts_with('#') || rest.starts_with("//") || rest.starts_with("/*") || rest.starts_with('*') ||
           rest.starts_with('@');
}

std::string Normalized(std::string_view symbol) {
    std::string out;
    out.reserve(symbol.size());
    for (size_t i = 0; i < symbol.size(); ++i) {
        if (symbol[i] == ':' && i + 1 < symbol.size() && symbol[i + 1] == ':') {
            out += '.';
            ++i;
        } else {
            out += symbol[i];
        }
    }
    while (!out.empty() && out.front() == '.') out.erase(out.begin());
    return out;
}

}  // namespace

std::vector<int> WholeWordLines(std::string_view text, std::string_view word) {
    std::vector<int> out;
    const auto lines = SplitLines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
        if (HasWholeWord(lines[i], word)) out.push_back(static_cast<int>(i));
    }
    return out;
}

int DefinitionLine(const SearchResult& chunk, std::string_view name) {
    const auto lines = SplitLines(chunk.text);
    for (size_t i = 0; i < lines.size(); ++i) {
        if (!IsCommentOrDecorator(lines[i]) && HasWholeWord(lines[i], name)) {
            return chunk.start_line + static_cast<int>(i);
        }
    }
    return chunk.start_line;
}

std::string LastComponent(std::string_view symbol) {
    const std::string normalized = Normalized(symbol);
    const size_t dot = normalized.rfind('.');
    return dot == std::string::npos ? normalized : normalized.substr(dot + 1);
}

bool SymbolMatches(std::string_view symbol, std::string_view wanted) {
    const std::string w = Normalized(wanted);
    if (w.empty()) return false;
    if (symbol == w) return true;
    return symbol.size() > w.size() && symbol.ends_with(w) && symbol[symbol.size() - w.size() - 1] == '.';
}

std::string Abbreviate(std::string_view text, size_t max_bytes) {
    if (text.size() <= max_bytes) return std::string(text);
    size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return std::string(text.substr(0, cut)) + "...";
}

// ---------------------------------------------------------------------------
// Context assembly.

namespace {

struct Candidate {
    SearchResult result{};
    int end_line = 0;          // from the text
    int definition_class = 0;  // 0: definition, 1: other
    int tier = 0;              // 0: current_file, 1: related_files, 2: other
};

struct FileAccumulator {
    std::string collection{};
    std::string file_path{};
    std::string language{};
    std::vector<LineSpan> pieces{};                                      // accepted chunks
    std::vector<std::pair<std::pair<int, int>, std::string>> symbols{};  // ((start, end), symbol), accepted or covered
    std::int64_t tokens = 0;                                             // of the merged pieces
    size_t first_accepted = 0;  // priority position of the first accepted chunk
};

std::int64_t SpanTokens(const std::vector<LineSpan>& pieces) {
    std::int64_t total = 0;
    for (const auto& span : MergeLineSpans(pieces)) total += static_cast<std::int64_t>(EstimateTokens(span.text));
    return total;
}

}  // namespace

Context AssembleContext(std::vector<SearchResult> ranked, const ContextRequest& request) {
    const std::set<std::string> related(request.related_files.begin(), request.related_files.end());
    std::vector<Candidate> candidates;
    std::set<std::pair<std::string, std::string>> seen_ids;
    for (auto& r : ranked) {
        if (!seen_ids.emplace(r.collection, r.id).second) continue;
        Candidate c;
        c.end_line = r.start_line + static_cast<int>(SplitLines(r.text).size()) - 1;
        c.definition_class = IsDefinitionKind(r.kind) ? 0 : 1;
        c.tier = request.current_file && r.file_path == *request.current_file ? 0 : related.count(r.file_path) ? 1 : 2;
        c.result = std::move(r);
        candidates.push_back(std::move(c));
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return std::pair(a.definition_class, a.tier) < std::pair(b.definition_class, b.tier);
    });

    Context context;
    context.max_tokens = request.max_tokens;
    const auto budget = static_cast<std::int64_t>(request.max_tokens);
    std::int64_t used = 0;
    std::vector<FileAccumulator> files;
    std::map<std::pair<std::string, std::string>, size_t> file_index;

    for (size_t position = 0; position < candidates.size(); ++position) {
        const Candidate& c = candidates[position];
        const SearchResult& r = c.result;
        auto [it, inserted] = file_index.try_emplace(std::pair(r.collection, r.file_path), files.size());
        if (inserted) {
            files.push_back(FileAccumulator{.collection = r.collection,
                                            .file_path = r.file_path,
                                            .language = r.language,
                                            .first_accepted = position});
        }
        FileAccumulator& file = files[it->second];

        const auto merged = MergeLineSpans(file.pieces);
        const bool covered = std::any_of(merged.begin(), merged.end(), [&](const LineSpan& s) {
            return s.start_line <= r.start_line && s.end_line >= c.end_line;
        });
        if (covered) {
            file.symbols.push_back({{r.start_line, c.end_line}, r.symbol});
            continue;
        }
        std::vector<LineSpan> tentative = file.pieces;
        tentative.push_back(LineSpan{r.start_line, c.end_line, r.text});
        const std::int64_t tokens = SpanTokens(tentative);
        if (used - file.tokens + tokens > budget) {
            context.omitted.push_back(ContextOmission{.collection = r.collection,
                                                      .file_path = r.file_path,
                                                      .start_line = r.start_line,
                                                      .end_line = c.end_line,
                                                      .symbol = r.symbol,
                                                      .kind = r.kind,
                                                      .reason = "over budget",
                                                      .tokens = EstimateTokens(r.text)});
            continue;
        }
        if (file.pieces.empty()) file.first_accepted = position;
        used += tokens - file.tokens;
        file.tokens = tokens;
        file.pieces = std::move(tentative);
        file.symbols.push_back({{r.start_line, c.end_line}, r.symbol});
    }

    std::vector<const FileAccumulator*> order;
    for (const auto& f : files) {
        if (!f.pieces.empty()) order.push_back(&f);
    }
    std::stable_sort(order.begin(), order.end(), [](const FileAccumulator* a, const FileAccumulator* b) {
        return a->first_accepted < b->first_accepted;
    });
    for (const FileAccumulator* f : order) {
        ContextFile out{.collection = f->collection, .file_path = f->file_path, .language = f->language};
        auto symbols = f->symbols;
        std::stable_sort(symbols.begin(), symbols.end(), [](const auto& a, const auto& b) {
            return a.first.first != b.first.first ? a.first.first < b.first.first : a.first.second > b.first.second;
        });
        for (auto& span : MergeLineSpans(f->pieces)) {
            ContextExcerpt excerpt{.start_line = span.start_line, .end_line = span.end_line};
            for (const auto& [range, symbol] : symbols) {
                if (symbol.empty() || range.first < span.start_line || range.first > span.end_line) continue;
                if (std::find(excerpt.symbols.begin(), excerpt.symbols.end(), symbol) == excerpt.symbols.end())
                    excerpt.symbols.push_back(symbol);
            }
            excerpt.tokens = EstimateTokens(span.text);
            context.tokens_used += excerpt.tokens;
            excerpt.text = std::move(span.text);
            out.excerpts.push_back(std::move(excerpt));
        }
        context.files.push_back(std::move(out));
    }
    return context;
}

}  // namespace signalhub::search

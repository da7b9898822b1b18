// Records-table rows of the pgvector store and their PGCOPY binary encoding (record_rows.hpp).

#include "store/pgvector/record_rows.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <map>

#include "store/metadata_json.hpp"
#include "store/pgvector/glob_regex.hpp"
#include "store/store_util.hpp"

namespace signalhub::store::pg {

namespace {

bool ValidUtf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        if (c == 0) return false;
        std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t j = 1; j < n; ++j) {
            auto d = static_cast<unsigned char>(s[i + j]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n;
    }
    return true;
}

}  // namespace

std::string Lexeme(std::string_view token) {
    if (ValidUtf8(token)) return std::string(token);
    static const char* kHex = "0123456789abcdef";
    std::string out = "~";
    for (char c : token) {
        auto b = static_cast<unsigned char>(c);
        out += kHex[b >> 4];
        out += kHex[b & 0xF];
    }
    return out;
}

std::string QuoteLexeme(std::string_view lexeme) {
    std::string out = "'";
    for (char c : lexeme) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    out += '\'';
    return out;
}

Result<PreparedRecord> PrepareRecord(const Record& record) {
    PreparedRecord p;
    p.record = &record;
    SH_ASSIGN_OR_RETURN(p.metadata_json, EncodeMetadataJson(record.id, record.metadata));
    p.language = GetString(record.metadata, meta::kLanguage);
    if (auto path = GetString(record.metadata, meta::kFilePath)) p.glob_path = GlobPathText(*path);
    std::vector<std::string> tokens = LexicalTokens(record);
    p.lexeme_count = static_cast<std::int32_t>(std::min<size_t>(tokens.size(), INT32_MAX));
    std::map<std::string, int> counts;
    for (const auto& t : tokens) ++counts[Lexeme(t)];
    p.lexemes.assign(std::make_move_iterator(counts.begin()), std::make_move_iterator(counts.end()));
    return p;
}

std::string TsvectorText(const PreparedRecord& p) {
    std::string out;
    for (const auto& [lexeme, count] : p.lexemes) {
        if (!out.empty()) out += ' ';
        out += QuoteLexeme(lexeme);
        out += ':';
        const int n = std::min(count, kMaxLexemePositions);
        for (int i = 1; i <= n; ++i) {
            if (i > 1) out += ',';
            out += std::to_string(i);
        }
    }
    return out;
}

CopyRows::CopyRows() { Header(); }

void CopyRows::Header() {
    data_.assign("PGCOPY\n\xff\r\n\0", 11);
    BE(0, 4);  // flags
    BE(0, 4);  // header extension length
}

void CopyRows::BE(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) data_ += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void CopyRows::Field(std::string_view bytes) {
    BE(static_cast<std::uint32_t>(bytes.size()), 4);
    data_.append(bytes);
}

void CopyRows::Null() { BE(0xFFFFFFFFu, 4); }

void CopyRows::Add(const PreparedRecord& p) {
    const Record& r = *p.record;
    BE(8, 2);
    Field(r.id);
    if (r.document) Field(*r.document); else Null();
    Field(p.metadata_json);  // json's binary form is its text
    BE(4 + r.embedding.size() * 4, 4);  // pgvector's vector_recv: int16 dim, int16 0, float4[]
    BE(r.embedding.size(), 2);
    BE(0, 2);
    for (float x : r.embedding) BE(std::bit_cast<std::uint32_t>(x), 4);
    if (p.language) Field(*p.language); else Null();
    if (p.glob_path) Field(*p.glob_path); else Null();
    // tsvector's binary form (tsvectorrecv): int32 count, then per lexeme its NUL-terminated text,
    // uint16 npos and npos uint16 positions (weight D = 0 in the top bits), in lexeme order.
    size_t bytes = 4;
    for (const auto& [lexeme, count] : p.lexemes) bytes += lexeme.size() + 1 + 2 + 2 * std::min(count, kMaxLexemePositions);
    BE(bytes, 4);
    BE(p.lexemes.size(), 4);
    for (const auto& [lexeme, count] : p.lexemes) {
        data_.append(lexeme);
        data_ += '\0';
        const int n = std::min(count, kMaxLexemePositions);
        BE(static_cast<std::uint32_t>(n), 2);
        for (int i = 1; i <= n; ++i) BE(static_cast<std::uint32_t>(i), 2);
    }
    BE(4, 4);
    BE(static_cast<std::uint32_t>(p.lexeme_count), 4);
    ++rows_;
}

std::string CopyRows::Finish() {
    BE(0xFFFF, 2);  // trailer
    std::string out = std::move(data_);
    Header();
    rows_ = 0;
    return out;
}

}  // namespace signalhub::store::pg

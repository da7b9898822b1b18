#include "core/text.hpp"

#include <cctype>

namespace signalhub {
namespace {

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }
bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Sub-words of one identifier (no underscores inside).
void SplitIdentifier(std::string_view word, std::vector<std::string>& out) {
    size_t start = 0;
    auto emit = [&](size_t end) {
        if (end > start) out.push_back(Lower(word.substr(start, end - start)));
        start = end;
    };
    for (size_t i = 1; i < word.size(); ++i) {
        auto prev = static_cast<unsigned char>(word[i - 1]);
        auto cur = static_cast<unsigned char>(word[i]);
        bool boundary = false;
        if (IsLower(prev) && IsUpper(cur)) boundary = true;                      // fooBar
        if (IsDigit(prev) != IsDigit(cur) && prev < 0x80 && cur < 0x80) boundary = true;  // v2, 2d
        if (IsUpper(prev) && IsUpper(cur) && i + 1 < word.size() &&
            IsLower(static_cast<unsigned char>(word[i + 1])))
            boundary = true;  // HTTPRequest -> HTTP | Request
        if (boundary) emit(i);
    }
    emit(word.size());
}

template <bool kJoined>
std::vector<std::string> Tokenize(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        if (!IsWordByte(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < text.size() && IsWordByte(static_cast<unsigned char>(text[j]))) ++j;
        std::string_view word = text.substr(i, j - i);
        i = j;
        if (word.size() > 64) continue;
        size_t before = out.size();
        size_t p = 0;
        while (p < word.size()) {
            while (p < word.size() && word[p] == '_') ++p;
            size_t q = p;
            while (q < word.size() && word[q] != '_') ++q;
            if (q > p) SplitIdentifier(word.substr(p, q - p), out);
            p = q;
        }
        if constexpr (kJoined) {
            if (out.size() - before > 1) {
                std::string joined;
                for (size_t k = before; k < out.size(); ++k) joined += out[k];
                out.push_back(std::move(joined));
            }
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> CodeTokens(std::string_view text) { return Tokenize<true>(text); }
std::vector<std::string> SubWords(std::string_view text) { return Tokenize<false>(text); }

std::optional<std::string> DecodeBase64(std::string_view in) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    out.reserve(in.size() / 4 * 3);
    unsigned buffer = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        const int v = value(c);
        if (v < 0) return std::nullopt;
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    return out;
}

}  // namespace signalhub

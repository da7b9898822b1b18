#include "store/pgvector/glob_regex.hpp"

#include <array>
#include <cstdio>

namespace signalhub::store::pg {
namespace {

std::string_view StripDotSlash(std::string_view s) {
    while (s.starts_with("./")) s.remove_prefix(2);
    return s;
}

// A character that never occurs in glob_path (its characters are U+0001..U+00FF).
constexpr const char* kNever = "\\u0100";

std::string Escape(unsigned char b) {
    if (b == 0) return kNever;
    if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) return std::string(1, static_cast<char>(b));
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(b));
    return buf;
}

// Mirrors glob.cpp's MatchClass: parses the class at pattern[pi] == '['; returns
// the index past its ']' (npos when unterminated) and the set of bytes it matches.
size_t ParseClass(std::string_view pattern, size_t pi, std::array<bool, 256>& set) {
    size_t i = pi + 1;
    bool negate = false;
    if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
    }
    std::array<bool, 256> found{};
    bool first = true;
    while (i < pattern.size() && (first || pattern[i] != ']')) {
        first = false;
        auto lo = static_cast<unsigned char>(pattern[i]);
        unsigned char hi = lo;
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
            hi = static_cast<unsigned char>(pattern[i + 2]);
            i += 3;
        } else {
            ++i;
        }
        for (unsigned c = lo; c <= hi; ++c) found[c] = true;
    }
    if (i >= pattern.size()) return std::string_view::npos;
    for (unsigned c = 0; c < 256; ++c) set[c] = c != '/' && c != 0 && (found[c] != negate);
    return i + 1;
}

std::string Bracket(const std::array<bool, 256>& set) {
    std::string out;
    for (unsigned c = 1; c < 256;) {
        if (!set[c]) {
            ++c;
            continue;
        }
        unsigned end = c;
        while (end + 1 < 256 && set[end + 1]) ++end;
        char buf[32];
        if (end == c) {
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
        } else {
            std::snprintf(buf, sizeof buf, "\\u%04x-\\u%04x", c, end);
        }
        out += buf;
        c = end + 1;
    }
    return out.empty() ? kNever : "[" + out + "]";
}

std::string Translate(std::string_view p, bool basename) {
    std::string out;
    for (size_t i = 0; i < p.size();) {
        char c = p[i];
        if (c == '*') {
            if (i + 1 < p.size() && p[i + 1] == '*') {
                size_t next = i + 2;
                while (next < p.size() && p[next] == '*') ++next;
                if (basename) {
                    out += "[^/]*";
                    i = next;
                } else if (next < p.size() && p[next] == '/') {
                    out += "(?:.*/)?";  // "**/" also matches zero directories
                    i = next + 1;
                } else {
                    out += ".*";
                    i = next;
                }
            } else {
                out += "[^/]*";
                ++i;
            }
            continue;
        }
        if (c == '?') {
            out += "[^/]";
            ++i;
            continue;
        }
        if (c == '[') {
            std::array<bool, 256> set{};
            size_t end = ParseClass(p, i, set);
            if (end != std::string_view::npos) {
                out += Bracket(set);
                i = end;
                continue;
            }
        }
        out += Escape(static_cast<unsigned char>(c));
        ++i;
    }
    return out;
}

}  // namespace

std::optional<std::string> GlobToPgRegex(std::string_view pattern) {
    pattern = StripDotSlash(pattern);
    if (pattern.empty()) return std::nullopt;
    if (pattern.find('/') == std::string_view::npos) return "(?:^|/)" + Translate(pattern, true) + "$";
    if (pattern.front() == '/') pattern.remove_prefix(1);
    std::string anchored(pattern);
    if (!anchored.empty() && anchored.back() == '/') anchored += "**";
    return "^" + Translate(anchored, false) + "$";
}

std::optional<std::string> GlobPathText(std::string_view path) {
    path = StripDotSlash(path);
    std::string out;
    out.reserve(path.size());
    for (char ch : path) {
        auto b = static_cast<unsigned char>(ch);
        if (b == 0) return std::nullopt;
        if (b < 0x80) {
            out.push_back(ch);
        } else {
            out.push_back(static_cast<char>(0xC0 | (b >> 6)));
            out.push_back(static_cast<char>(0x80 | (b & 0x3F)));
        }
    }
    return out;
}

}  // namespace signalhub::store::pg

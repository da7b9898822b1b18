#include <string>
#include <string_view>
#include <vector>

#include "store/vector_store.hpp"

namespace signalhub::store {
namespace {

// Matches a character class starting at pattern[pi] == '['. Returns the index
// just past the closing ']' and sets `matched`; returns npos when the class is
// unterminated (the '[' is then a literal character).
size_t MatchClass(std::string_view pattern, size_t pi, char c, bool& matched) {
    size_t i = pi + 1;
    bool negate = false;
    if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
    }
    bool found = false;
    bool first = true;
    while (i < pattern.size() && (first || pattern[i] != ']')) {
        first = false;
        unsigned char lo = static_cast<unsigned char>(pattern[i]);
        unsigned char hi = lo;
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
            hi = static_cast<unsigned char>(pattern[i + 2]);
            i += 3;
        } else {
            ++i;
        }
        auto uc = static_cast<unsigned char>(c);
        if (uc >= lo && uc <= hi) found = true;
    }
    if (i >= pattern.size()) return std::string_view::npos;
    matched = c != '/' && (found != negate);
    return i + 1;
}

class Matcher {
   public:
    Matcher(std::string_view pattern, std::string_view text)
        : pattern_(pattern), text_(text), memo_((pattern.size() + 1) * (text.size() + 1), kUnknown) {}

    bool Match(size_t pi, size_t ti) {
        char& slot = memo_[pi * (text_.size() + 1) + ti];
        if (slot != kUnknown) return slot == kYes;
        bool result = Compute(pi, ti);
        slot = result ? kYes : kNo;
        return result;
    }

   private:
    static constexpr char kUnknown = 0;
    static constexpr char kYes = 1;
    static constexpr char kNo = 2;

    bool Compute(size_t pi, size_t ti) {
        if (pi == pattern_.size()) return ti == text_.size();
        char p = pattern_[pi];
        if (p == '*') {
            bool double_star = pi + 1 < pattern_.size() && pattern_[pi + 1] == '*';
            if (double_star) {
                size_t next = pi + 2;
                while (next < pattern_.size() && pattern_[next] == '*') ++next;
                // "**/" also matches zero directories: "a/**/b" matches "a/b".
                if (next < pattern_.size() && pattern_[next] == '/' && Match(next + 1, ti)) return true;
                for (size_t k = ti; k <= text_.size(); ++k) {
                    if (Match(next, k)) return true;
                }
                return false;
            }
            for (size_t k = ti; k <= text_.size(); ++k) {
                if (Match(pi + 1, k)) return true;
                if (k < text_.size() && text_[k] == '/') break;
            }
            return false;
        }
        if (ti == text_.size()) return false;
        char c = text_[ti];
        if (p == '?') return c != '/' && Match(pi + 1, ti + 1);
        if (p == '[') {
            bool matched = false;
            size_t end = MatchClass(pattern_, pi, c, matched);
            if (end != std::string_view::npos) return matched && Match(end, ti + 1);
        }
        return p == c && Match(pi + 1, ti + 1);
    }

    std::string_view pattern_;
    std::string_view text_;
    std::vector<char> memo_;
};

std::string_view StripDotSlash(std::string_view s) {
    while (s.starts_with("./")) s.remove_prefix(2);
    return s;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path) {
    pattern = StripDotSlash(pattern);
    path = StripDotSlash(path);
    if (pattern.empty()) return false;
    std::string anchored;
    if (pattern.find('/') == std::string_view::npos) {
        // No '/': match the basename anywhere in the tree.
        size_t slash = path.rfind('/');
        std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
        return Matcher(pattern, base).Match(0, 0);
    }
    if (pattern.front() == '/') pattern.remove_prefix(1);  // "/src/x" is anchored at the root anyway
    if (!pattern.empty() && pattern.back() == '/') {
        // "src/" means everything below src.
        anchored = std::string(pattern) + "**";
        pattern = anchored;
    }
    return Matcher(pattern, path).Match(0, 0);
}

}  // namespace signalhub::store

#include "embed/builtin_embedder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "core/hash.hpp"
#include "core/text.hpp"

namespace signalhub::embed {
namespace {

// Seeds keep the feature families in separate hash spaces (except joined
// identifiers, which deliberately share the sub-word space so that a query
// "urlparse" meets code "url_parse").
constexpr unsigned long long kWordSeed = 0x5167'6e61'6c48'7562ULL;
constexpr unsigned long long kTrigramSeed = 0x7472'6967'7261'6d73ULL;
constexpr unsigned long long kBigramSeed = 0x6269'6772'616d'7321ULL;

constexpr float kWordWeight = 1.0F;
constexpr float kJoinedWeight = 0.5F;
constexpr float kTrigramWeight = 0.35F;
constexpr float kBigramWeight = 0.5F;
constexpr float kCompoundWeight = 0.5F;  // queries only: adjacent words joined ("url parse" → "urlparse")
constexpr float kStopWeight = 0.1F;   // IDF-like down-weighting of very common tokens
constexpr float kShortWeight = 0.3F;  // single characters and pure numbers

// Language keywords and English function words: present in almost every chunk
// or query, so they carry little signal. Sorted for binary search.
constexpr auto kStopWords = std::to_array<std::string_view>({
    "a",         "about",   "all",      "an",       "and",        "any",      "are",     "as",        "assert",
    "async",     "at",      "auto",     "await",    "be",         "bool",     "break",   "by",        "can",
    "case",      "catch",   "char",     "class",    "const",      "continue", "def",     "default",   "defer",
    "del",       "do",      "does",     "double",   "elif",       "else",     "end",     "enum",      "except",
    "export",    "exports", "extends",  "false",    "final",      "finally",  "float",   "fn",        "for",
    "from",      "func",    "function", "given",    "global",     "go",       "how",     "i",         "if",
    "impl",      "import",  "in",       "include",  "instanceof", "int",      "into",    "is",        "it",
    "its",       "lambda",  "let",      "long",     "me",         "mod",      "module",  "mut",       "my",
    "namespace", "new",     "nil",      "none",     "nonlocal",   "not",      "null",    "nullptr",   "of",
    "on",        "or",      "our",      "override", "package",    "pass",     "private", "protected", "pub",
    "public",    "raise",   "require",  "return",   "self",       "short",    "should",  "some",      "static",
    "std",       "struct",  "super",    "switch",   "that",       "the",      "then",    "this",      "throw",
    "to",        "true",    "try",      "typename", "undefined",  "unsigned", "use",     "var",       "void",
    "we",        "what",    "which",    "while",    "with",
});
static_assert(std::is_sorted(kStopWords.begin(), kStopWords.end()));

bool IsStopWord(std::string_view w) { return std::binary_search(kStopWords.begin(), kStopWords.end(), w); }

bool IsVowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'; }

bool EndsWith(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool HasVowel(std::string_view s) { return std::any_of(s.begin(), s.end(), IsVowel); }

bool AllLowerAlpha(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// "runn" → "run", "buff" → "buf"; keeps "install", "class", "buzz".
void Undouble(std::string& s) {
    size_t n = s.size();
    if (n >= 3 && s[n - 1] == s[n - 2] && !IsVowel(s[n - 1]) && s[n - 1] != 'l' && s[n - 1] != 's' && s[n - 1] != 'z') {
        s.pop_back();
    }
}

// Strips one verb/noun suffix; returns false when none applies.
bool StripSuffix(std::string& s) {
    auto stem_ok = [&](size_t cut, size_t min_len) {
        std::string_view stem(s.data(), s.size() - cut);
        return stem.size() >= min_len && HasVowel(stem);
    };
    if (EndsWith(s, "ing") && stem_ok(3, 3)) {
        s.resize(s.size() - 3);
        Undouble(s);
        return true;
    }
    if (EndsWith(s, "ied") && s.size() > 4) {
        s.resize(s.size() - 3);
        s += 'y';
        return true;
    }
    if (EndsWith(s, "ed") && !EndsWith(s, "eed") && stem_ok(2, 3)) {
        s.resize(s.size() - 2);
        Undouble(s);
        return true;
    }
    if (EndsWith(s, "ier") && s.size() > 5) {
        s.resize(s.size() - 3);
        s += 'y';
        return true;
    }
    if (EndsWith(s, "er") && stem_ok(2, 3)) {
        s.resize(s.size() - 2);
        Undouble(s);
        return true;
    }
    if (EndsWith(s, "ion") && stem_ok(3, 4)) {
        s.resize(s.size() - 3);
        return true;
    }
    return false;
}

struct Feature {
    std::uint64_t key;
    float weight;
};

// CodeTokens emits the joined identifier right after its sub-words; detects
// whether tokens[i] is the concatenation of the two or more tokens before it.
bool IsJoinedIdentifier(const std::vector<std::string>& tokens, size_t i) {
    const std::string& t = tokens[i];
    if (i < 2) return false;
    size_t pos = t.size();
    size_t parts = 0;
    for (size_t j = i; j-- > 0 && pos > 0;) {
        const std::string& piece = tokens[j];
        if (piece.size() > pos || t.compare(pos - piece.size(), piece.size(), piece) != 0) break;
        pos -= piece.size();
        ++parts;
    }
    return pos == 0 && parts >= 2;
}

void AddTrigrams(std::string_view stem, std::vector<Feature>& out) {
    char buf[72];
    size_t n = 0;
    buf[n++] = '^';
    for (char c : stem) buf[n++] = c;
    buf[n++] = '$';
    for (size_t i = 0; i + 3 <= n; ++i) {
        out.push_back({Hash64(std::string_view(buf + i, 3), kTrigramSeed), kTrigramWeight});
    }
}

// Hash of an ordered pair of hashes, byte order fixed (little-endian) so it is
// the same on every machine.
std::uint64_t PairHash(std::uint64_t first, std::uint64_t second) {
    char bytes[16];
    for (int k = 0; k < 8; ++k) {
        bytes[k] = static_cast<char>((first >> (8 * k)) & 0xFF);
        bytes[8 + k] = static_cast<char>((second >> (8 * k)) & 0xFF);
    }
    return Hash64(std::string_view(bytes, sizeof bytes), kBigramSeed);
}

}  // namespace

std::string StemSubWord(std::string_view word) {
    std::string s(word);
    if (s.size() <= 3 || !AllLowerAlpha(s)) return s;
    // Plurals.
    if (EndsWith(s, "ies") && s.size() > 4) {
        s.resize(s.size() - 3);
        s += 'y';
    } else if (EndsWith(s, "sses")) {
        s.resize(s.size() - 2);
    } else if (!EndsWith(s, "ss") && !EndsWith(s, "us") && !EndsWith(s, "is") && EndsWith(s, "s")) {
        s.pop_back();
    }
    // Up to two derivational suffixes: "filtering" → "filter" → "filt".
    for (int round = 0; round < 2 && s.size() > 3; ++round) {
        if (!StripSuffix(s)) break;
    }
    // Final silent e: "parse" meets "parsing".
    if (s.size() >= 4 && s.back() == 'e') s.pop_back();
    return s;
}

BuiltinEmbedder::BuiltinEmbedder(int dimension, size_t batch_size)
    : model_(kBuiltinModel), dimension_(dimension), batch_size_(batch_size) {}

Result<std::unique_ptr<BuiltinEmbedder>> BuiltinEmbedder::Create(const config::EmbeddingConfig& config) {
    if (!config.model.empty() && config.model != kBuiltinModel) {
        return InvalidArgument("embedding.model '" + config.model +
                               "' is not available with provider 'builtin' (use '" + std::string(kBuiltinModel) +
                               "' or leave it empty)");
    }
    int dimension = config.dimension == 0 ? kBuiltinDefaultDimension : config.dimension;
    if (dimension < kBuiltinMinDimension || dimension > kBuiltinMaxDimension) {
        return InvalidArgument(
            "embedding.dimension " + std::to_string(config.dimension) +
            " is out of range for provider 'builtin' (0 for the default " + std::to_string(kBuiltinDefaultDimension) +
            ", or " + std::to_string(kBuiltinMinDimension) + ".." + std::to_string(kBuiltinMaxDimension) + ")");
    }
    if (config.batch_size <= 0) {
        return InvalidArgument("embedding.batch_size must be positive, got " + std::to_string(config.batch_size));
    }
    return std::make_unique<BuiltinEmbedder>(dimension, static_cast<size_t>(config.batch_size));
}

std::vector<float> BuiltinEmbedder::EmbedOne(std::string_view text, Purpose purpose) const {
    std::vector<std::string> tokens = CodeTokens(text);
    std::vector<Feature> features;
    features.reserve(tokens.size() * 8);

    std::uint64_t previous_content = 0;  // hash of the previous content stem, for bigrams
    const std::string* previous_word = nullptr;  // the previous content sub-word, for query compounds
    bool have_previous = false;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::string& token = tokens[i];
        if (IsJoinedIdentifier(tokens, i)) {
            features.push_back({Hash64(token, kWordSeed), kJoinedWeight});
            continue;
        }
        if (IsStopWord(token)) {
            features.push_back({Hash64(token, kWordSeed), kStopWeight});
            continue;
        }
        bool numeric = std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (token.size() == 1 || numeric) {
            features.push_back({Hash64(token, kWordSeed), kShortWeight});
            continue;
        }
        std::string stem = StemSubWord(token);
        std::uint64_t stem_hash = Hash64(stem, kWordSeed);
        features.push_back({stem_hash, kWordWeight});
        if (stem.size() >= 3) AddTrigrams(stem, features);
        if (have_previous) {
            features.push_back({PairHash(previous_content, stem_hash), kBigramWeight});
            if (purpose == Purpose::kQuery) {
                // "parse a URL" should meet the one-word identifier "urlparse":
                // adjacent query words also count as compounds, in both orders.
                features.push_back({Hash64(StemSubWord(*previous_word + token), kWordSeed), kCompoundWeight});
                features.push_back({Hash64(StemSubWord(token + *previous_word), kWordSeed), kCompoundWeight});
            }
        }
        previous_content = stem_hash;
        previous_word = &token;
        have_previous = true;
    }

    std::vector<double> acc(static_cast<size_t>(dimension_), 0.0);
    std::sort(features.begin(), features.end(), [](const Feature& a, const Feature& b) {
        return a.key < b.key || (a.key == b.key && a.weight < b.weight);
    });
    const auto dim = static_cast<std::uint64_t>(dimension_);
    for (size_t i = 0; i < features.size();) {
        size_t j = i;
        double weight_sum = 0;
        while (j < features.size() && features[j].key == features[i].key) weight_sum += features[j++].weight;
        auto tf = static_cast<double>(j - i);
        double value = (weight_sum / tf) * (1.0 + std::log(tf));
        std::uint64_t key = features[i].key;
        auto bucket = static_cast<size_t>((key & 0x7FFF'FFFF'FFFF'FFFFULL) % dim);
        acc[bucket] += (key >> 63) != 0 ? -value : value;
        i = j;
    }

    double norm = 0;
    for (double v : acc) norm += v * v;
    std::vector<float> out(acc.size(), 0.0F);
    if (norm > 0) {
        double inv = 1.0 / std::sqrt(norm);
        for (size_t k = 0; k < acc.size(); ++k) out[k] = static_cast<float>(acc[k] * inv);
    }
    return out;
}

Result<std::vector<std::vector<float>>> BuiltinEmbedder::Embed(std::span<const std::string> texts,
                                                               Purpose purpose) {
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    for (const std::string& text : texts) out.push_back(EmbedOne(text, purpose));
    return out;
}

}  // namespace signalhub::embed

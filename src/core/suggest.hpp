#pragma once
// "Did you mean ...?" for names people type: configuration keys, commands,
// language names.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signalhub {

// Optimal-string-alignment distance (Levenshtein plus adjacent
// transpositions), ASCII case-insensitive.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a plausible
// typo: at most 0 edits for words of 1-2 characters, 1 up to 5, 2 up to 10,
// 3 beyond. The first of equally close candidates wins; nullopt when none is
// close enough.
std::optional<std::string> Suggest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace signalhub

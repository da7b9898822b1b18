#pragma once
// Code-aware tokenisation shared by lexical indexing and the builtin embedder,
// so that "getUserName", "get_user_name" and "get user name" meet.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signalhub {

// Splits text into lowercase tokens. Words are runs of [A-Za-z0-9_] (plus any
// non-ASCII UTF-8 bytes). Each identifier yields its sub-words (camelCase,
// PascalCase, snake_case, digit boundaries: "parseHTTPRequest2" -> parse, http,
// request, 2) and, when it has more than one sub-word, the whole identifier
// lowercased with underscores removed ("parsehttprequest2"). Order follows the
// text. Tokens longer than 64 bytes are dropped.
std::vector<std::string> CodeTokens(std::string_view text);

// Only the sub-words (no joined identifiers), for query term generation.
std::vector<std::string> SubWords(std::string_view text);

// Decodes standard base64 (RFC 4648 alphabet, '+' and '/'); stops at the first '=' padding.
// nullopt for any other character.
std::optional<std::string> DecodeBase64(std::string_view in);

}  // namespace signalhub

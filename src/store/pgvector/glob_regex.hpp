#pragma once
// Path-glob filtering inside PostgreSQL with exactly GlobMatch's semantics.
//
// GlobMatch works on bytes. The postgresql store keeps, next to each record,
// `glob_path`: the metadata file_path (leading "./" removed) with every byte
// b written as the character U+00b, so that one regex character is one path
// byte. GlobToPgRegex turns a glob into a PostgreSQL ARE over that text in
// which every pattern byte is a \u00XX escape (no glob text reaches the regex
// syntax unescaped). Paths containing a NUL byte have no glob_path (text cannot
// hold NUL) and match no glob.

#include <optional>
#include <string>
#include <string_view>

namespace signalhub::store::pg {

// The regex for `pattern`, or nullopt when the pattern matches nothing.
std::optional<std::string> GlobToPgRegex(std::string_view pattern);
// The glob_path text of a file path; nullopt for a path containing NUL.
std::optional<std::string> GlobPathText(std::string_view path);

}  // namespace signalhub::store::pg

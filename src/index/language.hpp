#pragma once
// Language detection by file name and, for extension-less files, shebang.

#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace signalhub::index {

// Returns a language id: "python", "javascript", "typescript", "tsx", "c",
// "cpp", "go", "rust", "java", "markdown", "shell", "ruby", "php", "csharp",
// "kotlin", "swift", "scala", "sql", "yaml", "json", "toml", "html", "css",
// "cmake", "make", "dockerfile", "text", ... ; "" when the file is not text we
// index (e.g. images, archives). `first_line` may be empty if not read.
std::string DetectLanguage(std::string_view rel_path, std::string_view first_line);

// True when the name alone cannot decide and the first line should be read.
bool NeedsShebang(std::string_view rel_path);

// Every language id DetectLanguage can return, sorted.
const std::vector<std::string>& KnownLanguages();

// The language id a person means by `name`, for filters (CLI --language, the
// MCP tools' language argument): any case; an id ("python"), a common alias
// ("golang", "c++", "c#", "objective-c", "node"), a file extension with or
// without its dot ("py", ".rs", "hpp", "jsx"), or an interpreter ("python3",
// "bash"). InvalidArgument otherwise, naming the nearest known language when
// one is close ("unknown language 'pyhton'; did you mean 'python'? known: ...").
Result<std::string> NormalizeLanguage(std::string_view name);

// NUL byte in the first 8 KiB, or invalid UTF-8 in a large share of it.
bool LooksBinary(std::string_view head);

}  // namespace signalhub::index

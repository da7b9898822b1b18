#pragma once
// Language detection by file name and, for extension-less files, shebang.

#include <string>
#include <string_view>

namespace signalhub::index {

// Returns a language id: "python", "javascript", "typescript", "tsx", "c",
// "cpp", "go", "rust", "java", "markdown", "shell", "ruby", "php", "csharp",
// "kotlin", "swift", "scala", "sql", "yaml", "json", "toml", "html", "css",
// "cmake", "make", "dockerfile", "text", ... ; "" when the file is not text we
// index (e.g. images, archives). `first_line` may be empty if not read.
std::string DetectLanguage(std::string_view rel_path, std::string_view first_line);

// True when the name alone cannot decide and the first line should be read.
bool NeedsShebang(std::string_view rel_path);

// NUL byte in the first 8 KiB, or invalid UTF-8 in a large share of it.
bool LooksBinary(std::string_view head);

}  // namespace signalhub::index

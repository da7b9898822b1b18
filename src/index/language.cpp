#include "index/language.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "core/suggest.hpp"

namespace signalhub::index {
namespace {

struct NameEntry {
    std::string_view key;
    std::string_view language;
};

// Lower-cased extension (without the dot) -> language id. "" marks file types
// that are never indexed (images, archives, object code, media, fonts, ...).
constexpr std::array kExtensions = {
    // Languages the chunkers understand.
    NameEntry{"py", "python"},
    NameEntry{"pyi", "python"},
    NameEntry{"pyw", "python"},
    NameEntry{"js", "javascript"},
    NameEntry{"mjs", "javascript"},
    NameEntry{"cjs", "javascript"},
    NameEntry{"jsx", "javascript"},
    NameEntry{"ts", "typescript"},
    NameEntry{"mts", "typescript"},
    NameEntry{"cts", "typescript"},
    NameEntry{"tsx", "tsx"},
    NameEntry{"c", "c"},
    NameEntry{"h", "c"},
    NameEntry{"cc", "cpp"},
    NameEntry{"cpp", "cpp"},
    NameEntry{"cxx", "cpp"},
    NameEntry{"c++", "cpp"},
    NameEntry{"hpp", "cpp"},
    NameEntry{"hh", "cpp"},
    NameEntry{"hxx", "cpp"},
    NameEntry{"h++", "cpp"},
    NameEntry{"ipp", "cpp"},
    NameEntry{"inl", "cpp"},
    NameEntry{"tpp", "cpp"},
    NameEntry{"txx", "cpp"},
    NameEntry{"cu", "cpp"},
    NameEntry{"cuh", "cpp"},
    NameEntry{"go", "go"},
    NameEntry{"rs", "rust"},
    NameEntry{"java", "java"},
    NameEntry{"md", "markdown"},
    NameEntry{"markdown", "markdown"},
    NameEntry{"mdx", "markdown"},
    NameEntry{"mkd", "markdown"},
    // Other text languages.
    NameEntry{"sh", "shell"},
    NameEntry{"bash", "shell"},
    NameEntry{"zsh", "shell"},
    NameEntry{"ksh", "shell"},
    NameEntry{"fish", "fish"},
    NameEntry{"ps1", "powershell"},
    NameEntry{"psm1", "powershell"},
    NameEntry{"bat", "batch"},
    NameEntry{"cmd", "batch"},
    NameEntry{"rb", "ruby"},
    NameEntry{"rake", "ruby"},
    NameEntry{"gemspec", "ruby"},
    NameEntry{"erb", "ruby"},
    NameEntry{"php", "php"},
    NameEntry{"phtml", "php"},
    NameEntry{"cs", "csharp"},
    NameEntry{"csx", "csharp"},
    NameEntry{"fs", "fsharp"},
    NameEntry{"fsx", "fsharp"},
    NameEntry{"vb", "vb"},
    NameEntry{"kt", "kotlin"},
    NameEntry{"kts", "kotlin"},
    NameEntry{"swift", "swift"},
    NameEntry{"scala", "scala"},
    NameEntry{"sc", "scala"},
    NameEntry{"groovy", "groovy"},
    NameEntry{"gradle", "groovy"},
    NameEntry{"clj", "clojure"},
    NameEntry{"cljs", "clojure"},
    NameEntry{"cljc", "clojure"},
    NameEntry{"edn", "clojure"},
    NameEntry{"m", "objc"},
    NameEntry{"mm", "objcpp"},
    NameEntry{"dart", "dart"},
    NameEntry{"ex", "elixir"},
    NameEntry{"exs", "elixir"},
    NameEntry{"erl", "erlang"},
    NameEntry{"hrl", "erlang"},
    NameEntry{"hs", "haskell"},
    NameEntry{"lhs", "haskell"},
    NameEntry{"ml", "ocaml"},
    NameEntry{"mli", "ocaml"},
    NameEntry{"elm", "elm"},
    NameEntry{"jl", "julia"},
    NameEntry{"nim", "nim"},
    NameEntry{"zig", "zig"},
    NameEntry{"v", "verilog"},
    NameEntry{"sv", "verilog"},
    NameEntry{"vhd", "vhdl"},
    NameEntry{"vhdl", "vhdl"},
    NameEntry{"f90", "fortran"},
    NameEntry{"f95", "fortran"},
    NameEntry{"f", "fortran"},
    NameEntry{"pas", "pascal"},
    NameEntry{"asm", "assembly"},
    NameEntry{"s", "assembly"},
    NameEntry{"lua", "lua"},
    NameEntry{"pl", "perl"},
    NameEntry{"pm", "perl"},
    NameEntry{"t", "perl"},
    NameEntry{"r", "r"},
    NameEntry{"rmd", "r"},
    NameEntry{"tcl", "tcl"},
    NameEntry{"awk", "awk"},
    NameEntry{"vim", "vim"},
    NameEntry{"el", "elisp"},
    NameEntry{"sql", "sql"},
    NameEntry{"psql", "sql"},
    NameEntry{"graphql", "graphql"},
    NameEntry{"gql", "graphql"},
    NameEntry{"proto", "proto"},
    NameEntry{"thrift", "thrift"},
    NameEntry{"sol", "solidity"},
    NameEntry{"tf", "hcl"},
    NameEntry{"tfvars", "hcl"},
    NameEntry{"hcl", "hcl"},
    NameEntry{"nix", "nix"},
    NameEntry{"bzl", "starlark"},
    NameEntry{"star", "starlark"},
    NameEntry{"cmake", "cmake"},
    NameEntry{"mk", "make"},
    NameEntry{"mak", "make"},
    NameEntry{"dockerfile", "dockerfile"},
    // Markup, styles and data.
    NameEntry{"yaml", "yaml"},
    NameEntry{"yml", "yaml"},
    NameEntry{"json", "json"},
    NameEntry{"jsonc", "json"},
    NameEntry{"json5", "json"},
    NameEntry{"ndjson", "json"},
    NameEntry{"jsonl", "json"},
    NameEntry{"toml", "toml"},
    NameEntry{"ini", "ini"},
    NameEntry{"cfg", "ini"},
    NameEntry{"conf", "ini"},
    NameEntry{"properties", "properties"},
    NameEntry{"html", "html"},
    NameEntry{"htm", "html"},
    NameEntry{"xhtml", "html"},
    NameEntry{"vue", "vue"},
    NameEntry{"svelte", "svelte"},
    NameEntry{"css", "css"},
    NameEntry{"scss", "scss"},
    NameEntry{"sass", "scss"},
    NameEntry{"less", "less"},
    NameEntry{"xml", "xml"},
    NameEntry{"xsd", "xml"},
    NameEntry{"xsl", "xml"},
    NameEntry{"xslt", "xml"},
    NameEntry{"plist", "xml"},
    NameEntry{"svg", "xml"},
    NameEntry{"csproj", "xml"},
    NameEntry{"pom", "xml"},
    NameEntry{"txt", "text"},
    NameEntry{"rst", "text"},
    NameEntry{"adoc", "text"},
    NameEntry{"org", "text"},
    NameEntry{"tex", "latex"},
    NameEntry{"csv", "csv"},
    NameEntry{"tsv", "csv"},
    // Never indexed: images, media, fonts, archives, compiled code, databases,
    // documents.
    NameEntry{"png", ""},
    NameEntry{"jpg", ""},
    NameEntry{"jpeg", ""},
    NameEntry{"gif", ""},
    NameEntry{"bmp", ""},
    NameEntry{"ico", ""},
    NameEntry{"icns", ""},
    NameEntry{"webp", ""},
    NameEntry{"tif", ""},
    NameEntry{"tiff", ""},
    NameEntry{"psd", ""},
    NameEntry{"heic", ""},
    NameEntry{"avif", ""},
    NameEntry{"mp3", ""},
    NameEntry{"mp4", ""},
    NameEntry{"m4a", ""},
    NameEntry{"wav", ""},
    NameEntry{"ogg", ""},
    NameEntry{"flac", ""},
    NameEntry{"avi", ""},
    NameEntry{"mov", ""},
    NameEntry{"mkv", ""},
    NameEntry{"webm", ""},
    NameEntry{"woff", ""},
    NameEntry{"woff2", ""},
    NameEntry{"ttf", ""},
    NameEntry{"otf", ""},
    NameEntry{"eot", ""},
    NameEntry{"zip", ""},
    NameEntry{"gz", ""},
    NameEntry{"tgz", ""},
    NameEntry{"bz2", ""},
    NameEntry{"xz", ""},
    NameEntry{"zst", ""},
    NameEntry{"7z", ""},
    NameEntry{"rar", ""},
    NameEntry{"tar", ""},
    NameEntry{"jar", ""},
    NameEntry{"war", ""},
    NameEntry{"ear", ""},
    NameEntry{"whl", ""},
    NameEntry{"egg", ""},
    NameEntry{"deb", ""},
    NameEntry{"rpm", ""},
    NameEntry{"dmg", ""},
    NameEntry{"iso", ""},
    NameEntry{"apk", ""},
    NameEntry{"so", ""},
    NameEntry{"dylib", ""},
    NameEntry{"dll", ""},
    NameEntry{"o", ""},
    NameEntry{"obj", ""},
    NameEntry{"a", ""},
    NameEntry{"lib", ""},
    NameEntry{"exe", ""},
    NameEntry{"bin", ""},
    NameEntry{"class", ""},
    NameEntry{"pyc", ""},
    NameEntry{"pyo", ""},
    NameEntry{"pyd", ""},
    NameEntry{"wasm", ""},
    NameEntry{"pdb", ""},
    NameEntry{"db", ""},
    NameEntry{"sqlite", ""},
    NameEntry{"sqlite3", ""},
    NameEntry{"mdb", ""},
    NameEntry{"pdf", ""},
    NameEntry{"doc", ""},
    NameEntry{"docx", ""},
    NameEntry{"xls", ""},
    NameEntry{"xlsx", ""},
    NameEntry{"ppt", ""},
    NameEntry{"pptx", ""},
    NameEntry{"odt", ""},
    NameEntry{"npy", ""},
    NameEntry{"npz", ""},
    NameEntry{"pkl", ""},
    NameEntry{"parquet", ""},
    NameEntry{"onnx", ""},
    NameEntry{"pt", ""},
    NameEntry{"safetensors", ""},
};

// Exact file names (case-sensitive) that decide the language regardless of
// extension.
constexpr std::array kSpecialNames = {
    NameEntry{"Makefile", "make"},
    NameEntry{"makefile", "make"},
    NameEntry{"GNUmakefile", "make"},
    NameEntry{"Dockerfile", "dockerfile"},
    NameEntry{"dockerfile", "dockerfile"},
    NameEntry{"Containerfile", "dockerfile"},
    NameEntry{"CMakeLists.txt", "cmake"},
    NameEntry{".bashrc", "shell"},
    NameEntry{".bash_profile", "shell"},
    NameEntry{".bash_logout", "shell"},
    NameEntry{".bash_aliases", "shell"},
    NameEntry{".profile", "shell"},
    NameEntry{".zshrc", "shell"},
    NameEntry{".zshenv", "shell"},
    NameEntry{".zprofile", "shell"},
    NameEntry{".zlogin", "shell"},
    NameEntry{".kshrc", "shell"},
    NameEntry{".envrc", "shell"},
    NameEntry{"PKGBUILD", "shell"},
    NameEntry{"Gemfile", "ruby"},
    NameEntry{"Rakefile", "ruby"},
    NameEntry{"Guardfile", "ruby"},
    NameEntry{"Podfile", "ruby"},
    NameEntry{"Vagrantfile", "ruby"},
    NameEntry{"Brewfile", "ruby"},
    NameEntry{"Jenkinsfile", "groovy"},
    NameEntry{"BUILD", "starlark"},
    NameEntry{"BUILD.bazel", "starlark"},
    NameEntry{"WORKSPACE", "starlark"},
    NameEntry{"WORKSPACE.bazel", "starlark"},
    NameEntry{"MODULE.bazel", "starlark"},
    NameEntry{"go.mod", "gomod"},
    NameEntry{"go.work", "gomod"},
    NameEntry{"Cargo.lock", "toml"},
    NameEntry{"poetry.lock", "toml"},
    NameEntry{"Pipfile", "toml"},
    NameEntry{"Pipfile.lock", "json"},
    NameEntry{".clang-format", "yaml"},
    NameEntry{".clang-tidy", "yaml"},
    NameEntry{".DS_Store", ""},
    NameEntry{"Thumbs.db", ""},
};

// Interpreter (basename, version suffix stripped) -> language id.
constexpr std::array kInterpreters = {
    NameEntry{"python", "python"},
    NameEntry{"pypy", "python"},
    NameEntry{"node", "javascript"},
    NameEntry{"nodejs", "javascript"},
    NameEntry{"deno", "typescript"},
    NameEntry{"ts-node", "typescript"},
    NameEntry{"tsx", "typescript"},
    NameEntry{"bun", "typescript"},
    NameEntry{"sh", "shell"},
    NameEntry{"bash", "shell"},
    NameEntry{"zsh", "shell"},
    NameEntry{"ksh", "shell"},
    NameEntry{"mksh", "shell"},
    NameEntry{"dash", "shell"},
    NameEntry{"ash", "shell"},
    NameEntry{"fish", "fish"},
    NameEntry{"ruby", "ruby"},
    NameEntry{"perl", "perl"},
    NameEntry{"php", "php"},
    NameEntry{"lua", "lua"},
    NameEntry{"luajit", "lua"},
    NameEntry{"Rscript", "r"},
    NameEntry{"R", "r"},
    NameEntry{"tclsh", "tcl"},
    NameEntry{"wish", "tcl"},
    NameEntry{"awk", "awk"},
    NameEntry{"gawk", "awk"},
    NameEntry{"mawk", "awk"},
    NameEntry{"make", "make"},
    NameEntry{"groovy", "groovy"},
    NameEntry{"scala", "scala"},
    NameEntry{"kotlin", "kotlin"},
    NameEntry{"swift", "swift"},
    NameEntry{"elixir", "elixir"},
    NameEntry{"escript", "erlang"},
    NameEntry{"julia", "julia"},
    NameEntry{"pwsh", "powershell"},
    NameEntry{"runhaskell", "haskell"},
    NameEntry{"ocaml", "ocaml"},
    NameEntry{"dart", "dart"},
};

// Names people use for a language besides its id, file extensions and
// interpreters (lower case; for NormalizeLanguage).
constexpr std::array kAliases = {
    NameEntry{"golang", "go"},
    NameEntry{"c++", "cpp"},
    NameEntry{"cplusplus", "cpp"},
    NameEntry{"c#", "csharp"},
    NameEntry{"f#", "fsharp"},
    NameEntry{"objective-c", "objc"},
    NameEntry{"objectivec", "objc"},
    NameEntry{"objective-c++", "objcpp"},
    NameEntry{"objectivecpp", "objcpp"},
    NameEntry{"ecmascript", "javascript"},
    NameEntry{"javascriptreact", "javascript"},
    NameEntry{"typescriptreact", "tsx"},
    NameEntry{"shellscript", "shell"},
    NameEntry{"terraform", "hcl"},
    NameEntry{"protobuf", "proto"},
    NameEntry{"bazel", "starlark"},
    NameEntry{"docker", "dockerfile"},
    NameEntry{"makefile", "make"},
    NameEntry{"plaintext", "text"},
    NameEntry{"vimscript", "vim"},
    NameEntry{"emacs-lisp", "elisp"},
    NameEntry{"visualbasic", "vb"},
    NameEntry{"vb.net", "vb"},
    NameEntry{"tex", "latex"},
};

template <std::size_t N>
const NameEntry *Find(const std::array<NameEntry, N> &table, std::string_view key) {
    for (const NameEntry &entry : table) {
        if (entry.key == key) return &entry;
    }
    return nullptr;
}

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ToLowerAscii);
    return out;
}

std::string_view Basename(std::string_view rel_path) {
    const std::size_t slash = rel_path.find_last_of('/');
    return slash == std::string_view::npos ? rel_path : rel_path.substr(slash + 1);
}

// Extension without the dot; empty for "name" and for dotfiles like
// ".gitignore".
std::string_view Extension(std::string_view base) {
    const std::size_t dot = base.find_last_of('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == base.size()) return {};
    return base.substr(dot + 1);
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Next whitespace-separated token of `s` starting at `pos`.
std::string_view NextToken(std::string_view s, std::size_t &pos) {
    while (pos < s.size() && IsSpace(s[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < s.size() && !IsSpace(s[pos])) ++pos;
    return s.substr(start, pos - start);
}

// "python3.11" -> "python", "pypy3" -> "pypy"; names with inner digits are
// kept.
std::string_view StripVersion(std::string_view name) {
    std::size_t end = name.size();
    while (end > 0 && ((name[end - 1] >= '0' && name[end - 1] <= '9') || name[end - 1] == '.')) --end;
    return end == 0 ? name : name.substr(0, end);
}

std::string LanguageFromShebang(std::string_view first_line) {
    if (first_line.size() < 2 || first_line[0] != '#' || first_line[1] != '!') return {};
    std::string_view line = first_line.substr(2);
    const std::size_t newline = line.find('\n');
    if (newline != std::string_view::npos) line = line.substr(0, newline);
    std::size_t pos = 0;
    std::string_view program = Basename(NextToken(line, pos));
    if (program == "env") {
        // Skip env options ("-S", "-u NAME" is rare enough to treat as an option)
        // and VAR=value assignments.
        program = {};
        for (std::string_view token = NextToken(line, pos); !token.empty(); token = NextToken(line, pos)) {
            if (token[0] == '-' || token.find('=') != std::string_view::npos) continue;
            program = Basename(token);
            break;
        }
    }
    if (program.empty()) return {};
    if (const NameEntry *entry = Find(kInterpreters, program)) return std::string(entry->language);
    if (const NameEntry *entry = Find(kInterpreters, StripVersion(program))) return std::string(entry->language);
    return {};
}

// The language id `lower` (lower case) names, or "" when none.
std::string_view LookupLanguage(std::string_view lower) {
    const std::vector<std::string> &known = KnownLanguages();
    if (std::binary_search(known.begin(), known.end(), lower)) return lower;
    if (const NameEntry *entry = Find(kAliases, lower)) return entry->language;
    if (const NameEntry *entry = Find(kExtensions, lower); entry != nullptr && !entry->language.empty())
        return entry->language;
    for (std::string_view name : {lower, StripVersion(lower)}) {
        for (const NameEntry &entry : kInterpreters) {
            if (ToLower(entry.key) == name) return entry.language;
        }
    }
    if (lower.size() > 1 && lower[0] == '.') return LookupLanguage(lower.substr(1));
    return {};
}

}  // namespace

const std::vector<std::string> &KnownLanguages() {
    static const std::vector<std::string> known = [] {
        std::set<std::string, std::less<>> ids = {"text"};
        for (const auto &table : {std::span<const NameEntry>(kExtensions), std::span<const NameEntry>(kSpecialNames),
                                  std::span<const NameEntry>(kInterpreters)}) {
            for (const NameEntry &entry : table) {
                if (!entry.language.empty()) ids.emplace(entry.language);
            }
        }
        return std::vector<std::string>(ids.begin(), ids.end());
    }();
    return known;
}

Result<std::string> NormalizeLanguage(std::string_view name) {
    const std::string lower = ToLower(name);
    if (lower.find_first_not_of(" \t") == std::string::npos)
        return InvalidArgument("the language is empty; give one such as python, go or cpp");
    if (std::string_view id = LookupLanguage(lower); !id.empty()) return std::string(id);

    // The nearest id or alias, reported as the id it stands for.
    std::vector<std::string> names = KnownLanguages();
    for (const NameEntry &entry : kAliases) names.emplace_back(entry.key);
    std::string message = "unknown language '" + std::string(name.substr(0, 64)) + "'";
    if (std::optional<std::string> nearest = Suggest(lower, names)) {
        message += "; did you mean '" + std::string(LookupLanguage(*nearest)) + "'?";
    }
    message += message.back() == '?' ? " known: " : "; known: ";
    for (std::size_t i = 0; i < KnownLanguages().size(); ++i) message += (i ? ", " : "") + KnownLanguages()[i];
    message += " (file extensions such as py or hpp and aliases such as golang or c++ work too)";
    return InvalidArgument(std::move(message));
}

bool NeedsShebang(std::string_view rel_path) {
    const std::string_view base = Basename(rel_path);
    if (base.empty() || Find(kSpecialNames, base) != nullptr) return false;
    return Extension(base).empty();
}

std::string DetectLanguage(std::string_view rel_path, std::string_view first_line) {
    const std::string_view base = Basename(rel_path);
    if (base.empty()) return {};
    if (const NameEntry *entry = Find(kSpecialNames, base)) return std::string(entry->language);
    // "Dockerfile.dev", "Makefile.am"-style variants.
    if (base.rfind("Dockerfile.", 0) == 0 || base.rfind("Containerfile.", 0) == 0) return "dockerfile";
    if (base.rfind("Makefile.", 0) == 0 || base.rfind("makefile.", 0) == 0) return "make";

    const std::string_view ext = Extension(base);
    if (ext.empty()) {
        std::string from_shebang = LanguageFromShebang(first_line);
        return from_shebang.empty() ? std::string("text") : from_shebang;
    }
    // Upper-case .C / .H are C++ by compiler convention.
    if (ext == "C" || ext == "H") return "cpp";
    const std::string lower = ToLower(ext);
    if (const NameEntry *entry = Find(kExtensions, lower)) return std::string(entry->language);
    // Unknown extension: treat as text; the pipeline's content sniff drops real
    // binaries.
    return "text";
}

bool LooksBinary(std::string_view head) {
    constexpr std::size_t kSniffBytes = 8 * 1024;
    const std::string_view sample = head.substr(0, std::min(head.size(), kSniffBytes));
    if (sample.empty()) return false;
    if (sample.find('\0') != std::string_view::npos) return true;

    std::size_t suspicious = 0;
    std::size_t i = 0;
    const std::size_t n = sample.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(sample[i]);
        if (c < 0x80) {
            // Control characters other than common whitespace, form feed and ESC
            // (ANSI colour in logs).
            const bool ok_control = c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0x1b;
            if ((c < 0x20 && !ok_control) || c == 0x7f) ++suspicious;
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned int min_code = 0;
        unsigned int code = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            min_code = 0x80;
            code = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            min_code = 0x800;
            code = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            min_code = 0x10000;
            code = c & 0x07u;
        } else {
            ++suspicious;  // stray continuation byte or invalid lead byte
            ++i;
            continue;
        }
        if (i + len > n) {
            // Sequence cut by the end of the sample (callers often pass a truncated
            // head): only a malformed prefix counts.
            for (std::size_t k = i + 1; k < n; ++k) {
                if ((static_cast<unsigned char>(sample[k]) & 0xC0) != 0x80) ++suspicious;
            }
            break;
        }
        bool valid = true;
        for (std::size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(sample[i + k]);
            if ((cc & 0xC0) != 0x80) {
                valid = false;
                break;
            }
            code = (code << 6) | (cc & 0x3Fu);
        }
        if (valid && (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))) valid = false;
        if (valid) {
            i += len;
        } else {
            ++suspicious;
            ++i;
        }
    }
    // More than 30% suspicious bytes.
    return suspicious * 10 > n * 3;
}

}  // namespace signalhub::index

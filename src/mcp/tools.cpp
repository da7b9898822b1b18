#include "mcp/tools.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "core/clock.hpp"
#include "index/language.hpp"
#include "mcp/tool_schemas.hpp"
#include "search/context.hpp"
#include "search/json.hpp"
#include "store/restricted_store.hpp"

namespace signalhub::mcp {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using search::SearchResult;
using namespace schemas;

// Candidate chunks fetched from the lexical index when looking for the uses
// of a name; reaching it sets "truncated" (the index may hold more).
constexpr size_t kReferenceCandidates = 1000;
// Candidates get_context asks the searcher for: for the task, and per boosted file.
constexpr size_t kContextCandidates = 40;
constexpr size_t kContextFileCandidates = 10;
constexpr size_t kMaxRelatedFiles = 20;
// Uses listed per definition by explain_code.
constexpr size_t kExplainUsages = 20;
// Longest line text quoted in a location.
constexpr size_t kMaxQuotedLine = 240;
// Symbols listed when explain_code cannot find the one asked for.
constexpr size_t kMaxListedSymbols = 60;

// ---------------------------------------------------------------------------
// Argument helpers.

// Rejects arguments that are not in `allowed` (a typo must not be ignored).
Status CheckKnown(const Json& args, const std::set<std::string>& allowed) {
    for (const auto& [key, value] : args.items()) {
        if (!allowed.count(key)) return InvalidArgument("unknown argument '" + search::Abbreviate(key, 64) + "'");
    }
    return Status::Ok();
}

// The longest value a string argument may have, in characters (the kMax* constants of tools.hpp).
size_t MaxChars(std::string_view key) {
    if (key == "query" || key == "task_description") return kMaxQueryChars;
    if (key == "code_snippet") return kMaxSnippetChars;
    if (key == "file_path" || key == "current_file" || key == "exclude_file" || key == "related_files" ||
        key == "file_pattern")
        return kMaxPathChars;
    return kMaxNameChars;
}

// Unicode characters of UTF-8 text (the JSON parser has validated it).
size_t CharCount(std::string_view text) {
    return static_cast<size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// A string argument's value within its limits: no NUL, at most MaxChars(key) characters.
Status CheckText(std::string_view key, std::string_view value) {
    const size_t max = MaxChars(key);
    if (value.size() > max) {  // cheap test first: characters <= bytes
        const size_t chars = CharCount(value);
        if (chars > max)
            return InvalidArgument(std::string(key) + " must be at most " + std::to_string(max) + " characters (got " +
                                   std::to_string(chars) + ")");
    }
    if (value.find('\0') != std::string_view::npos)
        return InvalidArgument(std::string(key) + " must not contain NUL bytes");
    return Status::Ok();
}

Result<std::optional<std::string>> OptString(const Json& args, const char* key) {
    if (!args.contains(key) || args[key].is_null()) return std::optional<std::string>();
    if (!args[key].is_string()) return InvalidArgument(std::string(key) + " must be a string");
    SH_RETURN_IF_ERROR(CheckText(key, args[key].get_ref<const std::string&>()));
    return std::optional<std::string>(args[key].get<std::string>());
}

// The optional "language" argument as the language id the index stores (index::NormalizeLanguage:
// any case, aliases, extensions). An unknown name is a tool error (isError, like an unknown
// collection) naming the nearest known language, so that the model can correct it.
Result<std::optional<std::string>> OptLanguage(const Json& args) {
    SH_ASSIGN_OR_RETURN(std::optional<std::string> name, OptString(args, "language"));
    if (!name) return name;
    if (name->find_first_not_of(" \t\r\n") == std::string::npos)
        return InvalidArgument("language must not be empty (omit it to search every language)");
    Result<std::string> id = index::NormalizeLanguage(*name);
    if (!id.ok()) return NotFound(id.status().message());
    return std::optional<std::string>(std::move(*id));
}

Result<std::string> RequiredString(const Json& args, const char* key) {
    if (!args.contains(key) || !args[key].is_string() ||
        args[key].get<std::string>().find_first_not_of(" \t\r\n") == std::string::npos)
        return InvalidArgument(std::string(key) + " (a non-empty string) is required");
    SH_RETURN_IF_ERROR(CheckText(key, args[key].get_ref<const std::string&>()));
    return args[key].get<std::string>();
}

// A path argument as NormalizeRepoPath makes it; errors name the argument.
Result<std::string> PathArg(std::string_view key, std::string_view value, const std::optional<fs::path>& root) {
    SH_RETURN_IF_ERROR(CheckText(key, value));
    Result<std::string> path = NormalizeRepoPath(value, root);
    if (!path.ok()) return InvalidArgument(std::string(key) + ": " + path.status().message());
    return path;
}

// A file_pattern glob: relative to the repository root like the stored paths
// it is matched against, without '..' segments.
Result<std::optional<std::string>> GlobArg(const Json& args, const char* key) {
    SH_ASSIGN_OR_RETURN(std::optional<std::string> glob, OptString(args, key));
    if (!glob) return glob;
    if (glob->starts_with('/'))
        return InvalidArgument(std::string(key) + " must be relative to the repository root: '" + *glob + "'");
    for (size_t start = 0; start <= glob->size();) {
        const size_t end = std::min(glob->find('/', start), glob->size());
        if (std::string_view(*glob).substr(start, end - start) == "..")
            return InvalidArgument(std::string(key) + " must not contain '..' segments: '" + *glob + "'");
        start = end + 1;
    }
    return glob;
}

// An optional integer argument within [min, max].
Result<std::optional<std::int64_t>> OptInt(const Json& args, const char* key, std::int64_t min, std::int64_t max) {
    if (!args.contains(key) || args[key].is_null()) return std::optional<std::int64_t>();
    const Json& v = args[key];
    const std::string range =
        std::string(key) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (!v.is_number_integer()) return InvalidArgument(range);
    if (v.is_number_unsigned()) {
        if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) return InvalidArgument(range);
        if (static_cast<std::int64_t>(v.get<std::uint64_t>()) < min) return InvalidArgument(range);
        return std::optional<std::int64_t>(static_cast<std::int64_t>(v.get<std::uint64_t>()));
    }
    const auto value = v.get<std::int64_t>();
    if (value < min || value > max) return InvalidArgument(range);
    return std::optional<std::int64_t>(value);
}

Result<std::optional<double>> OptNumber(const Json& args, const char* key, double min, double max) {
    if (!args.contains(key) || args[key].is_null()) return std::optional<double>();
    if (!args[key].is_number() || args[key].get<double>() < min || args[key].get<double>() > max) {
        return InvalidArgument(std::string(key) + " must be a number from " + Json(min).dump() + " to " +
                               Json(max).dump());
    }
    return std::optional<double>(args[key].get<double>());
}

// The collections a tool looks at: the named one, or all of them (specs only: no counts to pay for).
Result<std::vector<CollectionSpec>> Collections(store::VectorStore& store, const std::optional<std::string>& name) {
    if (name) {
        SH_ASSIGN_OR_RETURN(CollectionSpec spec, store.GetCollectionSpec(*name));
        return std::vector<CollectionSpec>{std::move(spec)};
    }
    SH_ASSIGN_OR_RETURN(std::vector<CollectionSpec> all, store.ListCollectionSpecs());
    if (all.empty()) return NotFound("the store has no collections yet; run `signal-hub index` first");
    return all;
}

// A glob matching exactly `path` (its '*', '?' and '[' made literal). A path
// without '/' also matches that basename elsewhere: callers compare exactly.
std::string LiteralGlob(std::string_view path) {
    std::string out;
    for (char c : path) {
        if (c == '*' || c == '?' || c == '[') {
            out += '[';
            out += c;
            out += ']';
        } else {
            out += c;
        }
    }
    return out;
}

// The lexical-index query that finds every chunk holding identifier `name`:
// its letters and digits lowercased, which is the token core/text.hpp makes of
// the whole identifier ("add_item" and "addItem" -> "additem").
std::string IdentifierQuery(std::string_view name) {
    std::string out;
    for (char c : name) {
        if (std::isalnum(static_cast<unsigned char>(c)) != 0)
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string Trimmed(std::string_view line) {
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    const size_t last = line.find_last_not_of(" \t\r");
    return search::Abbreviate(line.substr(first, last - first + 1), kMaxQuotedLine);
}

// Line `line` (1-based, in the file) of a chunk, trimmed; "" when outside it.
std::string LineOf(const SearchResult& chunk, int line) {
    const auto lines = search::SplitLines(chunk.text);
    const std::int64_t index = static_cast<std::int64_t>(line) - chunk.start_line;
    if (index < 0 || index >= static_cast<std::int64_t>(lines.size())) return {};
    return Trimmed(lines[static_cast<size_t>(index)]);
}

std::string Lines(int start, int end) {
    return start == end ? std::to_string(start) : std::to_string(start) + "-" + std::to_string(end);
}

// A Markdown code fence longer than any backtick run in `text`.
std::string Fenced(const std::string& text, const std::string& language) {
    size_t longest = 0;
    size_t run = 0;
    for (char c : text) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    const std::string fence(std::max<size_t>(3, longest + 1), '`');
    std::string out = fence + language + "\n" + text;
    if (!text.empty() && text.back() != '\n') out += '\n';
    return out + fence + "\n";
}

// ---------------------------------------------------------------------------
// References: definitions of a symbol and whole-word uses of its name.

struct DefinitionSite {
    std::string collection{}, file_path{}, language{}, symbol{}, kind{};
    int start_line = 0, end_line = 0;
    int line = 0;        // the declaring line
    std::string text{};  // that line, trimmed
};

struct Usage {
    std::string collection{}, file_path{};
    int line = 0;
    std::string text{};    // the line, trimmed
    std::string symbol{};  // the innermost indexed definition holding it ("" at top level)
};

struct ReferenceScan {
    std::vector<DefinitionSite> definitions{};  // by file, line
    std::vector<Usage> usages{};                // by file, line; definition lines excluded
    bool truncated = false;                     // the candidate list was full
};

std::vector<Json> UsagesJson(const std::vector<Usage>& usages) {
    std::vector<Json> out;
    for (const auto& u : usages) {
        out.push_back({{"collection", u.collection},
                       {"file_path", u.file_path},
                       {"line", u.line},
                       {"text", u.text},
                       {"symbol", u.symbol}});
    }
    return out;
}

// Definitions whose symbol matches `wanted` (SymbolMatches) and the uses of
// its last component in one collection.
Result<ReferenceScan> ScanReferences(store::VectorStore& store, const std::string& collection,
                                     const std::string& wanted, const store::Filter& filter) {
    ReferenceScan scan;
    const std::string name = search::LastComponent(wanted);
    const std::string query = IdentifierQuery(name);
    if (query.empty()) return scan;
    store::SearchOptions options;
    options.k = kReferenceCandidates;
    options.filter = filter;
    SH_ASSIGN_OR_RETURN(std::vector<store::Hit> hits, store.LexicalSearch(collection, query, options));
    scan.truncated = hits.size() >= kReferenceCandidates;
    std::vector<SearchResult> chunks;
    chunks.reserve(hits.size());
    for (const auto& h : hits) chunks.push_back(search::ResultFromRecord(collection, h.record, h.score));

    // Definitions: the chunks of one (file, symbol, kind) are the parts of one unit.
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<const SearchResult*>> groups;
    for (const auto& c : chunks) {
        if (search::IsDefinitionKind(c.kind) && search::SymbolMatches(c.symbol, wanted))
            groups[{c.file_path, c.symbol, c.kind}].push_back(&c);
    }
    std::set<std::pair<std::string, int>> definition_lines;
    for (const auto& [key, parts] : groups) {
        const SearchResult* first = *std::min_element(
            parts.begin(), parts.end(),
            [](const SearchResult* a, const SearchResult* b) { return a->start_line < b->start_line; });
        DefinitionSite d{.collection = collection,
                         .file_path = first->file_path,
                         .language = first->language,
                         .symbol = first->symbol,
                         .kind = first->kind,
                         .start_line = first->start_line,
                         .end_line = first->end_line};
        for (const auto* p : parts) d.end_line = std::max(d.end_line, p->end_line);
        d.line = search::DefinitionLine(*first, name);
        d.text = LineOf(*first, d.line);
        definition_lines.emplace(d.file_path, d.line);
        scan.definitions.push_back(std::move(d));
    }

    // Uses: whole-word occurrences; a line seen in several chunks is named after the innermost.
    std::map<std::pair<std::string, int>, std::pair<int, Usage>> uses;  // (file, line) -> (span, usage)
    for (const auto& c : chunks) {
        const auto lines = search::SplitLines(c.text);
        const int span = static_cast<int>(lines.size());
        for (int index : search::WholeWordLines(c.text, name)) {
            const int line = c.start_line + index;
            if (definition_lines.count({c.file_path, line})) continue;
            auto it = uses.find({c.file_path, line});
            if (it != uses.end() && it->second.first <= span) continue;
            const bool named = search::IsDefinitionKind(c.kind) && !c.symbol.empty();
            uses[{c.file_path, line}] = {span, Usage{.collection = collection,
                                                     .file_path = c.file_path,
                                                     .line = line,
                                                     .text = Trimmed(lines[static_cast<size_t>(index)]),
                                                     .symbol = named ? c.symbol : std::string()}};
        }
    }
    for (auto& [key, value] : uses) scan.usages.push_back(std::move(value.second));
    std::sort(scan.definitions.begin(), scan.definitions.end(), [](const DefinitionSite& a, const DefinitionSite& b) {
        return std::tie(a.file_path, a.line) < std::tie(b.file_path, b.line);
    });
    return scan;
}

// ---------------------------------------------------------------------------
// search_code, index_status.

Result<ToolResult> SearchCode(const search::Searcher& searcher, const Json& args) {
    SH_RETURN_IF_ERROR(
        CheckKnown(args, {"query", "limit", "language", "file_pattern", "min_score", "collection", "mode"}));
    search::SearchRequest request;
    if (!args.contains("query") || !args["query"].is_string() || args["query"].get<std::string>().empty())
        return InvalidArgument("query (a non-empty string) is required");
    SH_RETURN_IF_ERROR(CheckText("query", args["query"].get_ref<const std::string&>()));
    request.query = args["query"];
    SH_ASSIGN_OR_RETURN(auto limit, OptInt(args, "limit", 1, 100));
    if (limit) request.k = static_cast<size_t>(*limit);
    if (args.contains("min_score")) {
        if (!args["min_score"].is_number()) return InvalidArgument("min_score must be a number");
        request.min_score = args["min_score"];
    }
    SH_ASSIGN_OR_RETURN(auto mode, OptString(args, "mode"));
    if (mode) {
        SH_ASSIGN_OR_RETURN(request.mode, search::ParseMode(*mode));
    }
    SH_ASSIGN_OR_RETURN(request.filter.language, OptLanguage(args));
    SH_ASSIGN_OR_RETURN(request.filter.path_glob, GlobArg(args, "file_pattern"));
    SH_ASSIGN_OR_RETURN(auto collection, OptString(args, "collection"));
    request.collection = collection.value_or("");

    SH_ASSIGN_OR_RETURN(search::SearchResponse response, searcher.Search(request));
    std::string text;
    for (const auto& r : response.results) {
        text += r.file_path + ":" + std::to_string(r.start_line) + "-" + std::to_string(r.end_line) + "  " +
                (r.symbol.empty() ? r.kind : r.symbol) + "\n" + r.text;
        if (!r.text.empty() && r.text.back() != '\n') text += "\n";
        text += "\n";
    }
    if (response.results.empty()) text = "No results for \"" + request.query + "\".";
    return ToolResult{std::move(text), search::ToJson(response)};
}

Result<ToolResult> IndexStatus(const ToolContext& ctx, const Json& args) {
    SH_RETURN_IF_ERROR(CheckKnown(args, {}));
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, ctx.store->ListCollections());
    const std::int64_t now = (ctx.clock ? *ctx.clock : Clock::Real()).UnixSeconds();
    Json listed = search::CollectionsToJson(collections);
    std::string text;
    for (size_t i = 0; i < collections.size(); ++i) {
        const CollectionInfo& c = collections[i];
        Json& out = listed[i];
        out["age_seconds"] = c.last_indexed_unix ? Json(std::max<std::int64_t>(0, now - *c.last_indexed_unix)) : Json();
        out["tree"] = nullptr;
        const std::optional<std::int64_t> imported = ImportedAtUnix(c);
        out["imported_at"] = imported ? Json(FormatIso8601Utc(*imported)) : Json();
        out["incomplete"] = IndexIncomplete(c);
        text += c.spec.name + ": " + std::to_string(c.records) + " records, " + c.spec.model + " (" +
                std::to_string(c.spec.dimension) + " dimensions), last written " + LastWrittenText(c);
        if (IndexIncomplete(c)) text += "; incomplete: an index run was interrupted (or is running now)";
        if (ctx.tree && ctx.tree->collection == c.spec.name) {
            SH_ASSIGN_OR_RETURN(index::TreeChanges changes, index::CompareTree(*ctx.store, *ctx.tree));
            out["tree"] = {{"root", ctx.tree->root.string()},        {"files_scanned", changes.files_scanned},
                           {"files_new", changes.files_new},         {"files_modified", changes.files_modified},
                           {"files_deleted", changes.files_deleted}, {"up_to_date", changes.up_to_date()}};
            text += changes.up_to_date()
                        ? "; up to date with " + ctx.tree->root.string()
                        : "; " + ctx.tree->root.string() + " has changed since: " + std::to_string(changes.files_new) +
                              " new, " + std::to_string(changes.files_modified) + " modified, " +
                              std::to_string(changes.files_deleted) + " deleted files";
        }
        text += "\n";
    }
    if (collections.empty()) text = "No collections: run `signal-hub index` first.\n";
    text += ctx.watching ? "Changes are re-indexed as they happen (serve --watch).\n"
                         : "Changes are picked up when `signal-hub index` runs again.\n";
    return ToolResult{std::move(text), Json{{"collections", std::move(listed)}, {"watching", ctx.watching}}};
}

// ---------------------------------------------------------------------------
// find_similar.

Result<ToolResult> FindSimilar(const ToolContext& ctx, const Json& args) {
    SH_RETURN_IF_ERROR(
        CheckKnown(args, {"code_snippet", "limit", "min_similarity", "language", "exclude_file", "collection"}));
    search::SearchRequest request;
    request.mode = search::Mode::kVector;
    SH_ASSIGN_OR_RETURN(request.query, RequiredString(args, "code_snippet"));
    SH_ASSIGN_OR_RETURN(auto limit, OptInt(args, "limit", 1, 100));
    const size_t wanted = limit ? static_cast<size_t>(*limit) : 10;
    SH_ASSIGN_OR_RETURN(auto min_similarity, OptNumber(args, "min_similarity", 0, 1));
    request.min_score = min_similarity.value_or(-1.0);
    SH_ASSIGN_OR_RETURN(request.filter.language, OptLanguage(args));
    SH_ASSIGN_OR_RETURN(auto collection, OptString(args, "collection"));
    request.collection = collection.value_or("");
    SH_ASSIGN_OR_RETURN(auto exclude_arg, OptString(args, "exclude_file"));
    std::optional<std::string> exclude;
    if (exclude_arg) {
        SH_ASSIGN_OR_RETURN(exclude, PathArg("exclude_file", *exclude_arg, ctx.root));
    }

    // Ask for as many more results as the excluded file has chunks, so that
    // leaving them out still leaves `wanted` results when the index has them.
    size_t excluded_chunks = 0;
    if (exclude) {
        SH_ASSIGN_OR_RETURN(auto collections, Collections(*ctx.store, collection));
        for (const auto& c : collections) {
            SH_ASSIGN_OR_RETURN(auto files, ctx.store->ListFiles(c.name));
            for (const auto& f : files) {
                if (f.path == *exclude) excluded_chunks += f.record_ids.size();
            }
        }
    }
    request.k = std::min<size_t>(1000, wanted + excluded_chunks);
    SH_ASSIGN_OR_RETURN(search::SearchResponse response, ctx.searcher->Search(request));
    if (exclude) {
        std::erase_if(response.results, [&](const SearchResult& r) { return r.file_path == *exclude; });
    }
    if (response.results.size() > wanted) response.results.resize(wanted);

    std::string text;
    for (const auto& r : response.results) {
        char similarity[32];
        std::snprintf(similarity, sizeof similarity, "%.3f", r.score);
        text += r.file_path + ":" + Lines(r.start_line, r.end_line) + "  " + (r.symbol.empty() ? r.kind : r.symbol) +
                "  (similarity " + similarity + ")\n" + r.text;
        if (!r.text.empty() && r.text.back() != '\n') text += "\n";
        text += "\n";
    }
    if (response.results.empty()) text = "No similar code found.";
    Json structured = search::ToJson(response);
    structured.erase("query");
    structured.erase("mode");
    return ToolResult{std::move(text), std::move(structured)};
}

// ---------------------------------------------------------------------------
// get_context.

Result<ToolResult> GetContext(const ToolContext& ctx, const Json& args) {
    SH_RETURN_IF_ERROR(
        CheckKnown(args, {"task_description", "current_file", "related_files", "max_tokens", "collection"}));
    SH_ASSIGN_OR_RETURN(const std::string task, RequiredString(args, "task_description"));
    search::ContextRequest context_request;
    SH_ASSIGN_OR_RETURN(auto max_tokens, OptInt(args, "max_tokens", 100, 100000));
    context_request.max_tokens = max_tokens ? static_cast<size_t>(*max_tokens) : 4000;
    SH_ASSIGN_OR_RETURN(auto current, OptString(args, "current_file"));
    if (current) {
        SH_ASSIGN_OR_RETURN(context_request.current_file, PathArg("current_file", *current, ctx.root));
    }
    if (args.contains("related_files") && !args["related_files"].is_null()) {
        const Json& related = args["related_files"];
        if (!related.is_array()) return InvalidArgument("related_files must be an array of paths");
        if (related.size() > kMaxRelatedFiles)
            return InvalidArgument("related_files may list at most " + std::to_string(kMaxRelatedFiles) + " paths");
        for (const auto& p : related) {
            if (!p.is_string()) return InvalidArgument("related_files must be an array of paths (strings)");
            SH_ASSIGN_OR_RETURN(std::string path, PathArg("related_files", p.get<std::string>(), ctx.root));
            context_request.related_files.push_back(std::move(path));
        }
    }
    SH_ASSIGN_OR_RETURN(auto collection, OptString(args, "collection"));

    search::SearchRequest request;
    request.query = task;
    request.k = kContextCandidates;
    request.collection = collection.value_or("");
    SH_ASSIGN_OR_RETURN(search::SearchResponse response, ctx.searcher->Search(request));
    std::vector<SearchResult> ranked = std::move(response.results);

    // The boosted files' own best chunks for the task, found even when they
    // rank below the others.
    std::vector<std::string> boosted;
    if (context_request.current_file) boosted.push_back(*context_request.current_file);
    for (const auto& p : context_request.related_files) {
        if (std::find(boosted.begin(), boosted.end(), p) == boosted.end()) boosted.push_back(p);
    }
    std::vector<std::string> unindexed;
    for (const auto& path : boosted) {
        search::SearchRequest file_request = request;
        file_request.k = kContextFileCandidates;
        file_request.filter.path_glob = LiteralGlob(path);
        SH_ASSIGN_OR_RETURN(search::SearchResponse file_response, ctx.searcher->Search(file_request));
        size_t found = 0;
        for (auto& r : file_response.results) {
            if (r.file_path != path) continue;
            ranked.push_back(std::move(r));
            ++found;
        }
        if (found == 0) unindexed.push_back(path);
    }

    search::Context assembled = search::AssembleContext(std::move(ranked), context_request);

    Json files = Json::array();
    std::string text = "Context for: " + task + "\n(" + std::to_string(assembled.tokens_used) + " of " +
                       std::to_string(assembled.max_tokens) + " tokens, estimated as characters / 4)\n";
    for (const auto& f : assembled.files) {
        Json excerpts = Json::array();
        text += "\n== " + f.file_path + (f.language.empty() ? "" : " (" + f.language + ")") + "\n";
        for (const auto& e : f.excerpts) {
            excerpts.push_back({{"start_line", e.start_line},
                                {"end_line", e.end_line},
                                {"symbols", e.symbols},
                                {"tokens", e.tokens},
                                {"text", e.text}});
            std::string symbols;
            for (const auto& s : e.symbols) symbols += (symbols.empty() ? "" : ", ") + s;
            text += f.file_path + ":" + Lines(e.start_line, e.end_line) + (symbols.empty() ? "" : "  " + symbols) +
                    "\n" + Fenced(e.text, f.language);
        }
        files.push_back({{"collection", f.collection},
                         {"file_path", f.file_path},
                         {"language", f.language},
                         {"excerpts", std::move(excerpts)}});
    }
    if (assembled.files.empty()) text += "\nNo indexed code fits the task and budget.\n";
    Json omitted = Json::array();
    if (!assembled.omitted.empty()) text += "\nLeft out:\n";
    for (const auto& o : assembled.omitted) {
        omitted.push_back({{"collection", o.collection},
                           {"file_path", o.file_path},
                           {"start_line", o.start_line},
                           {"end_line", o.end_line},
                           {"symbol", o.symbol},
                           {"kind", o.kind},
                           {"reason", o.reason},
                           {"tokens", o.tokens}});
        text += "  " + o.file_path + ":" + Lines(o.start_line, o.end_line) + "  " +
                (o.symbol.empty() ? o.kind : o.symbol) + " (" + o.reason + ", ~" + std::to_string(o.tokens) +
                " tokens)\n";
    }
    for (const auto& path : unindexed) text += "Not indexed: " + path + "\n";
    Json structured = {
        {"task_description", task},  {"max_tokens", assembled.max_tokens}, {"tokens_used", assembled.tokens_used},
        {"files", std::move(files)}, {"omitted", std::move(omitted)},      {"unindexed_files", unindexed}};
    return ToolResult{std::move(text), std::move(structured)};
}

// ---------------------------------------------------------------------------
// explain_code.

// The chunks of one definition in one file: a whole unit, the parts of a
// split one, or a big container's skeleton pieces.
struct Group {
    std::string symbol{}, kind{};
    int start_line = 0, end_line = 0;
    std::vector<const SearchResult*> chunks{};  // by start line

    std::string Parent() const {
        const size_t dot = symbol.rfind('.');
        return dot == std::string::npos ? std::string() : symbol.substr(0, dot);
    }
    int Line() const { return search::DefinitionLine(*chunks.front(), search::LastComponent(symbol)); }
    bool Contains(const Group& other) const { return start_line <= other.start_line && end_line >= other.end_line; }
    bool SameAs(const Group& other) const {
        return symbol == other.symbol && kind == other.kind && start_line == other.start_line &&
               end_line == other.end_line;
    }
};

bool IsContainerKind(std::string_view kind) {
    return search::IsDefinitionKind(kind) && kind != "function" && kind != "method";
}

// Groups the definition chunks of one file (sorted by start line). A
// container's chunks form one group; a function's chunks one group per run of
// overlapping or adjacent pieces (overloads stay apart).
std::vector<Group> GroupDefinitions(const std::vector<SearchResult>& chunks) {
    std::vector<Group> groups;
    std::map<std::pair<std::string, std::string>, std::vector<size_t>> by_name;  // (symbol, kind) -> group indexes
    for (const auto& c : chunks) {
        if (c.symbol.empty() || !search::IsDefinitionKind(c.kind)) continue;
        auto& indexes = by_name[{c.symbol, c.kind}];
        Group* joined = nullptr;
        for (size_t i : indexes) {
            Group& g = groups[i];
            if (IsContainerKind(c.kind) ||
                static_cast<std::int64_t>(c.start_line) <= static_cast<std::int64_t>(g.end_line) + 1) {
                joined = &g;
                break;
            }
        }
        if (joined == nullptr) {
            indexes.push_back(groups.size());
            groups.push_back(
                Group{.symbol = c.symbol, .kind = c.kind, .start_line = c.start_line, .end_line = c.end_line});
            joined = &groups.back();
        }
        joined->start_line = std::min(joined->start_line, c.start_line);
        joined->end_line = std::max(joined->end_line, c.end_line);
        joined->chunks.push_back(&c);
    }
    return groups;
}

struct Enclosing {
    std::string symbol{}, kind{}, file_path{};
    int start_line = 0, end_line = 0, line = 0;
    std::string text{};
};

Enclosing EnclosingOf(const Group& g, const std::string& file_path) {
    return Enclosing{.symbol = g.symbol,
                     .kind = g.kind,
                     .file_path = file_path,
                     .start_line = g.start_line,
                     .end_line = g.end_line,
                     .line = g.Line(),
                     .text = LineOf(*g.chunks.front(), g.Line())};
}

class Explainer {
   public:
    Explainer(const ToolContext& ctx, std::string collection, std::string file_path, std::vector<SearchResult> chunks)
        : ctx_(ctx), collection_(std::move(collection)), file_path_(std::move(file_path)), chunks_(std::move(chunks)) {
        std::stable_sort(chunks_.begin(), chunks_.end(), [](const SearchResult& a, const SearchResult& b) {
            return a.start_line != b.start_line ? a.start_line < b.start_line : a.end_line > b.end_line;
        });
        groups_ = GroupDefinitions(chunks_);
    }

    const std::vector<SearchResult>& chunks() const { return chunks_; }
    const std::vector<Group>& groups() const { return groups_; }

    int LastLine() const {
        int last = 0;
        for (const auto& c : chunks_) {
            last = std::max(last, c.start_line + static_cast<int>(search::SplitLines(c.text).size()) - 1);
        }
        return last;
    }

    std::string Code(int first, int last) const { return search::ReconstructLines(chunks_, first, last); }

    // Enclosing definitions of `target`, outermost first: the file's groups
    // containing it, then its parent chain (a C++ method defined out of line
    // finds its class in another file through the lexical index).
    Result<std::vector<Enclosing>> EnclosingFor(const Group& target) {
        std::vector<const Group*> containing;
        for (const auto& g : groups_) {
            if (!g.SameAs(target) && g.Contains(target)) containing.push_back(&g);
        }
        std::sort(containing.begin(), containing.end(), [](const Group* a, const Group* b) {
            return a->end_line - a->start_line > b->end_line - b->start_line;
        });
        std::vector<Enclosing> outer;
        for (const Group* g : containing) outer.push_back(EnclosingOf(*g, file_path_));
        auto known = [&](const std::string& symbol) {
            return std::any_of(outer.begin(), outer.end(), [&](const Enclosing& e) { return e.symbol == symbol; });
        };
        std::vector<Enclosing> chain;  // innermost first
        std::string parent = target.Parent();
        for (int depth = 0; !parent.empty() && depth < 16; ++depth) {
            if (known(parent)) {
                const size_t dot = parent.rfind('.');
                parent = dot == std::string::npos ? std::string() : parent.substr(0, dot);
                continue;
            }
            const Group* local = nullptr;
            for (const auto& g : groups_) {
                if (g.symbol == parent && IsContainerKind(g.kind)) {
                    local = &g;
                    break;
                }
            }
            if (local != nullptr) {
                chain.push_back(EnclosingOf(*local, file_path_));
            } else {
                SH_ASSIGN_OR_RETURN(std::optional<Enclosing> found, FindElsewhere(parent));
                if (!found) break;
                chain.push_back(std::move(*found));
            }
            const size_t dot = parent.rfind('.');
            parent = dot == std::string::npos ? std::string() : parent.substr(0, dot);
        }
        std::vector<Enclosing> out = std::move(chain);
        for (auto& e : outer) out.push_back(std::move(e));
        // Outermost first: fewer qualifiers, then the wider range.
        auto depth = [](const Enclosing& e) { return std::count(e.symbol.begin(), e.symbol.end(), '.'); };
        std::stable_sort(out.begin(), out.end(), [&](const Enclosing& a, const Enclosing& b) {
            if (depth(a) != depth(b)) return depth(a) < depth(b);
            return a.end_line - a.start_line > b.end_line - b.start_line;
        });
        return out;
    }

    // Uses of `target`'s name in the collection outside the target itself.
    Result<std::pair<std::vector<Usage>, bool>> UsagesOf(const Group& target) {
        auto it = scans_.find(target.symbol);
        if (it == scans_.end()) {
            SH_ASSIGN_OR_RETURN(ReferenceScan scan, ScanReferences(*ctx_.store, collection_, target.symbol, {}));
            it = scans_.emplace(target.symbol, std::move(scan)).first;
        }
        std::vector<Usage> out;
        bool truncated = it->second.truncated;
        for (const auto& u : it->second.usages) {
            if (u.file_path == file_path_ && u.line >= target.start_line && u.line <= target.end_line) continue;
            if (out.size() >= kExplainUsages) {
                truncated = true;
                break;
            }
            out.push_back(u);
        }
        return std::pair(std::move(out), truncated);
    }

   private:
    Result<std::optional<Enclosing>> FindElsewhere(const std::string& symbol) {
        store::SearchOptions options;
        options.k = 100;
        SH_ASSIGN_OR_RETURN(
            auto hits, ctx_.store->LexicalSearch(collection_, IdentifierQuery(search::LastComponent(symbol)), options));
        std::optional<Enclosing> best;
        for (const auto& h : hits) {
            SearchResult r = search::ResultFromRecord(collection_, h.record, h.score);
            if (r.symbol != symbol || !IsContainerKind(r.kind)) continue;
            if (best && (best->file_path != r.file_path || best->kind != r.kind)) continue;
            if (!best) {
                const int line = search::DefinitionLine(r, search::LastComponent(symbol));
                best = Enclosing{.symbol = r.symbol,
                                 .kind = r.kind,
                                 .file_path = r.file_path,
                                 .start_line = r.start_line,
                                 .end_line = r.end_line,
                                 .line = line,
                                 .text = LineOf(r, line)};
            } else {  // another piece of the same (big) definition
                if (r.start_line < best->start_line) {
                    best->line = search::DefinitionLine(r, search::LastComponent(symbol));
                    best->text = LineOf(r, best->line);
                }
                best->start_line = std::min(best->start_line, r.start_line);
                best->end_line = std::max(best->end_line, r.end_line);
            }
        }
        return best;
    }

    const ToolContext& ctx_;
    std::string collection_;
    std::string file_path_;
    std::vector<SearchResult> chunks_;
    std::vector<Group> groups_;
    std::map<std::string, ReferenceScan> scans_;
};

Result<ToolResult> ExplainCode(const ToolContext& ctx, const Json& args) {
    SH_RETURN_IF_ERROR(CheckKnown(args, {"file_path", "function_name", "class_name", "line_range", "collection"}));
    SH_ASSIGN_OR_RETURN(const std::string raw_path, RequiredString(args, "file_path"));
    SH_ASSIGN_OR_RETURN(const std::string path, PathArg("file_path", raw_path, ctx.root));
    SH_ASSIGN_OR_RETURN(auto function_name, OptString(args, "function_name"));
    SH_ASSIGN_OR_RETURN(auto class_name, OptString(args, "class_name"));
    std::optional<std::pair<int, int>> range;
    if (args.contains("line_range") && !args["line_range"].is_null()) {
        const Json& lr = args["line_range"];
        if (!lr.is_object()) return InvalidArgument("line_range must be an object {\"start\": N, \"end\": M}");
        SH_RETURN_IF_ERROR(CheckKnown(lr, {"start", "end"}));
        SH_ASSIGN_OR_RETURN(auto start, OptInt(lr, "start", 1, 100000000));
        SH_ASSIGN_OR_RETURN(auto end, OptInt(lr, "end", 1, 100000000));
        if (!start || !end) return InvalidArgument("line_range needs start and end (1-based line numbers)");
        if (*end < *start) return InvalidArgument("line_range end must not be before start");
        range = std::pair(static_cast<int>(*start), static_cast<int>(*end));
    }
    const int chosen = (function_name ? 1 : 0) + (class_name ? 1 : 0) + (range ? 1 : 0);
    if (chosen != 1) return InvalidArgument("give exactly one of function_name, class_name or line_range");
    for (const auto* name : {&function_name, &class_name}) {
        if (*name && search::LastComponent(**name).empty())
            return InvalidArgument("function_name / class_name must be a non-empty identifier");
    }
    SH_ASSIGN_OR_RETURN(auto collection_arg, OptString(args, "collection"));

    // Find the file.
    SH_ASSIGN_OR_RETURN(auto collections, Collections(*ctx.store, collection_arg));
    std::vector<std::pair<std::string, store::FileState>> found;
    std::vector<std::string> same_name;  // suggestions: indexed files with the same base name
    const std::string base = fs::path(path).filename().string();
    for (const auto& c : collections) {
        SH_ASSIGN_OR_RETURN(auto files, ctx.store->ListFiles(c.name));
        for (auto& f : files) {
            if (f.path == path) {
                found.emplace_back(c.name, std::move(f));
            } else if (same_name.size() < 5 && fs::path(f.path).filename().string() == base) {
                same_name.push_back(f.path);
            }
        }
    }
    if (found.empty()) {
        std::string message = "file " + path + " is not indexed";
        if (!same_name.empty()) {
            message += " (indexed files with that name:";
            for (const auto& s : same_name) message += " " + s;
            message += ")";
        }
        return NotFound(message + "; paths are relative to the indexed root");
    }
    if (found.size() > 1) {
        std::string names;
        for (const auto& [c, f] : found) names += (names.empty() ? "" : ", ") + c;
        return InvalidArgument("file " + path + " is indexed in several collections (" + names + "): pass collection");
    }
    const std::string collection = found[0].first;
    SH_ASSIGN_OR_RETURN(auto records, ctx.store->Get(collection, found[0].second.record_ids));
    std::vector<SearchResult> chunks;
    for (const auto& r : records) chunks.push_back(search::ResultFromRecord(collection, r, 0));
    if (chunks.empty()) return NotFound("file " + path + " is indexed but has no chunks (empty or blank)");
    Explainer explainer(ctx, collection, path, std::move(chunks));
    const std::string language = explainer.chunks().front().language;

    // The definitions asked for.
    std::vector<const Group*> targets;
    std::vector<std::pair<int, int>> code_ranges;
    if (function_name || class_name) {
        const std::string& wanted = function_name ? *function_name : *class_name;
        for (const auto& g : explainer.groups()) {
            const bool kind_ok = function_name ? !IsContainerKind(g.kind) : IsContainerKind(g.kind);
            if (kind_ok && search::SymbolMatches(g.symbol, wanted)) targets.push_back(&g);
        }
        if (targets.empty()) {
            std::string listing;
            size_t listed = 0;
            for (const auto& g : explainer.groups()) {
                if (listed++ == kMaxListedSymbols) {
                    listing += ", ...";
                    break;
                }
                listing += (listing.empty() ? "" : ", ") + g.symbol + " (" + g.kind + ")";
            }
            return NotFound("no " + std::string(function_name ? "function or method" : "class or other type") +
                            " named '" + wanted + "' in " + path + "; its definitions: " +
                            (listing.empty() ? "none (the file has no indexed definitions)" : listing));
        }
        for (const Group* g : targets) code_ranges.emplace_back(g->start_line, g->end_line);
    } else {
        const int last = explainer.LastLine();
        if (range->first > last)
            return NotFound("line_range starts at line " + std::to_string(range->first) + " but " + path + " has " +
                            std::to_string(last) + " lines indexed");
        range->second = std::min(range->second, last);
        code_ranges.push_back(*range);
        const Group probe{.start_line = range->first, .end_line = range->second};
        // The innermost definition holding the whole range, else the outermost ones overlapping it.
        for (const auto& g : explainer.groups()) {
            if (g.Contains(probe) && (targets.empty() || targets.front()->Contains(g))) targets = {&g};
        }
        if (targets.empty()) {
            std::vector<const Group*> overlapping;
            for (const auto& g : explainer.groups()) {
                if (g.start_line <= range->second && g.end_line >= range->first) overlapping.push_back(&g);
            }
            for (const Group* g : overlapping) {
                const bool inner = std::any_of(overlapping.begin(), overlapping.end(), [&](const Group* o) {
                    return o != g && o->Contains(*g) && !g->Contains(*o);
                });
                if (!inner) targets.push_back(g);
            }
        }
    }

    // Code: the requested lines, overlapping definitions shown once.
    std::sort(code_ranges.begin(), code_ranges.end());
    std::vector<std::pair<int, int>> merged;
    for (const auto& r : code_ranges) {
        if (!merged.empty() && r.first <= merged.back().second + 1) {
            merged.back().second = std::max(merged.back().second, r.second);
        } else {
            merged.push_back(r);
        }
    }
    Json code = Json::array();
    std::string text;
    for (const auto& [first, last] : merged) {
        std::string lines = explainer.Code(first, last);
        text += path + ":" + Lines(first, last) + "\n" + Fenced(lines, language);
        code.push_back({{"start_line", first}, {"end_line", last}, {"text", std::move(lines)}});
    }

    Json definitions = Json::array();
    for (const Group* g : targets) {
        SH_ASSIGN_OR_RETURN(std::vector<Enclosing> enclosing, explainer.EnclosingFor(*g));
        SH_ASSIGN_OR_RETURN(auto usages, explainer.UsagesOf(*g));
        text += "\n" + g->kind + " " + g->symbol + " (" + path + ":" + Lines(g->start_line, g->end_line) + ")\n";
        Json enclosing_json = Json::array();
        for (const auto& e : enclosing) {
            text += "  inside " + e.kind + " " + e.symbol + " (" + e.file_path + ":" + Lines(e.start_line, e.end_line) +
                    "): " + e.text + "\n";
            enclosing_json.push_back({{"symbol", e.symbol},
                                      {"kind", e.kind},
                                      {"file_path", e.file_path},
                                      {"start_line", e.start_line},
                                      {"end_line", e.end_line},
                                      {"line", e.line},
                                      {"text", e.text}});
        }
        if (usages.first.empty()) {
            text += "  no uses of " + search::LastComponent(g->symbol) + " found elsewhere\n";
        } else {
            text += "  used at:\n";
            for (const auto& u : usages.first) {
                text += "    " + u.file_path + ":" + std::to_string(u.line) + "  " + u.text +
                        (u.symbol.empty() ? "" : "  [in " + u.symbol + "]") + "\n";
            }
            if (usages.second) text += "    ... (more uses not listed)\n";
        }
        definitions.push_back({{"symbol", g->symbol},
                               {"kind", g->kind},
                               {"start_line", g->start_line},
                               {"end_line", g->end_line},
                               {"line", g->Line()},
                               {"enclosing", std::move(enclosing_json)},
                               {"usages", UsagesJson(usages.first)},
                               {"usages_truncated", usages.second}});
    }
    Json structured = {{"collection", collection},
                       {"file_path", path},
                       {"language", language},
                       {"code", std::move(code)},
                       {"definitions", std::move(definitions)}};
    return ToolResult{std::move(text), std::move(structured)};
}

// ---------------------------------------------------------------------------
// find_references.

Result<ToolResult> FindReferences(const ToolContext& ctx, const Json& args) {
    SH_RETURN_IF_ERROR(CheckKnown(args, {"symbol", "limit", "language", "collection"}));
    SH_ASSIGN_OR_RETURN(const std::string symbol, RequiredString(args, "symbol"));
    const std::string name = search::LastComponent(symbol);
    if (name.empty() || !std::all_of(name.begin(), name.end(), search::IsIdentifierChar))
        return InvalidArgument("symbol must be an identifier, optionally qualified (Cart.add_item, ns::Cart): '" +
                               symbol + "'");
    SH_ASSIGN_OR_RETURN(auto limit_arg, OptInt(args, "limit", 1, 500));
    const size_t limit = limit_arg ? static_cast<size_t>(*limit_arg) : 50;
    store::Filter filter;
    SH_ASSIGN_OR_RETURN(filter.language, OptLanguage(args));
    SH_ASSIGN_OR_RETURN(auto collection, OptString(args, "collection"));
    SH_ASSIGN_OR_RETURN(auto collections, Collections(*ctx.store, collection));

    std::vector<DefinitionSite> definitions;
    std::vector<Usage> usages;
    bool truncated = false;
    for (const auto& c : collections) {
        SH_ASSIGN_OR_RETURN(ReferenceScan scan, ScanReferences(*ctx.store, c.name, symbol, filter));
        truncated = truncated || scan.truncated;
        for (auto& d : scan.definitions) definitions.push_back(std::move(d));
        for (auto& u : scan.usages) usages.push_back(std::move(u));
    }
    if (definitions.size() + usages.size() > limit) {
        truncated = true;
        if (definitions.size() > limit) definitions.resize(limit);
        usages.resize(limit - definitions.size());
    }

    std::string text;
    Json definitions_json = Json::array();
    if (definitions.empty()) {
        text += "No indexed definition of " + symbol + ".\n";
    } else {
        text += "Defined at:\n";
    }
    for (const auto& d : definitions) {
        text +=
            "  " + d.file_path + ":" + std::to_string(d.line) + "  " + d.kind + " " + d.symbol + "  " + d.text + "\n";
        definitions_json.push_back({{"collection", d.collection},
                                    {"file_path", d.file_path},
                                    {"line", d.line},
                                    {"start_line", d.start_line},
                                    {"end_line", d.end_line},
                                    {"symbol", d.symbol},
                                    {"kind", d.kind},
                                    {"language", d.language},
                                    {"text", d.text}});
    }
    text += usages.empty() ? "No uses of " + name + " found.\n" : "Used at:\n";
    for (const auto& u : usages) {
        text += "  " + u.file_path + ":" + std::to_string(u.line) + "  " + u.text +
                (u.symbol.empty() ? "" : "  [in " + u.symbol + "]") + "\n";
    }
    if (truncated) text += "(more locations exist; raise limit or narrow by language / collection)\n";
    Json structured = {{"symbol", symbol},
                       {"definitions", std::move(definitions_json)},
                       {"references", UsagesJson(usages)},
                       {"truncated", truncated}};
    return ToolResult{std::move(text), std::move(structured)};
}

}  // namespace

Result<std::string> NormalizeRepoPath(std::string_view path, const std::optional<fs::path>& root) {
    const std::string quoted = "'" + std::string(path) + "'";
    if (path.find_first_not_of(" \t\r\n") == std::string_view::npos) return InvalidArgument("the file path is empty");
    if (path.find('\0') != std::string_view::npos)
        return InvalidArgument("file path " + quoted + " contains a NUL byte");
    fs::path p{std::string(path)};
    fs::path relative;
    if (p.is_absolute()) {
        if (!root) {
            return InvalidArgument("file path " + quoted +
                                   " is absolute and the indexed root is not known; pass a path relative to the "
                                   "repository root");
        }
        fs::path base = root->lexically_normal();
        if (!base.has_filename() && base.has_parent_path() && base != base.root_path()) base = base.parent_path();
        relative = p.lexically_normal().lexically_relative(base);
        if (relative.empty() || relative == "." || *relative.begin() == "..")
            return InvalidArgument("file path " + quoted + " is outside the indexed root " + root->string());
    } else {
        relative = p.lexically_normal();
        if (relative.empty() || relative == ".") return InvalidArgument("file path " + quoted + " names no file");
        if (*relative.begin() == "..") return InvalidArgument("file path " + quoted + " escapes the repository root");
    }
    std::string out = relative.generic_string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

// Runs a tool for `caller`: over the whole store, or, for a caller limited to
// some collections, over a store::RestrictedStore view of it and a Searcher
// over that view (its cache entries scoped to the allow-list). Every tool goes
// through here, so none can read a collection outside the caller's list.
template <class Run>
Result<ToolResult> ForCaller(const ToolContext& ctx, const Caller& caller, Run run) {
    if (!caller.collections) return run(ctx);
    std::vector<std::string> allowed = *caller.collections;
    std::sort(allowed.begin(), allowed.end());
    store::RestrictedStore view(*ctx.store, allowed);
    const search::Searcher searcher = ctx.searcher->WithStore(view, "allow:" + Json(allowed).dump());
    ToolContext restricted = ctx;
    restricted.store = &view;
    restricted.searcher = &searcher;
    return run(restricted);
}

void AddCodeSearchTools(Server& server, const ToolContext& context) {
    const ToolContext ctx = context;
    server.AddTool({.name = "search_code",
                    .title = "Search code",
                    .description = "Search the indexed codebase: hybrid semantic + lexical (BM25) search over "
                                   "functions, classes and other chunks. Returns file paths, line ranges, symbols "
                                   "and the code. Start here when you know roughly what you are looking for.",
                    .input_schema = Json::parse(kSearchInput),
                    .output_schema = Json{{"type", "object"},
                                          {"properties",
                                           {{"query", {{"type", "string"}}},
                                            {"mode", {{"type", "string"}}},
                                            {"results", {{"type", "array"}, {"items", Json::parse(kResultItem)}}}}},
                                          {"required", {"query", "mode", "results"}}},
                    .handler = [ctx](const Json& args, const Caller& caller) {
                        return ForCaller(ctx, caller, [&](const ToolContext& c) { return SearchCode(*c.searcher, args); });
                    }});
    server.AddTool({.name = "index_status",
                    .title = "Index status",
                    .description = "The indexed collections: record counts, embedding model, dimension, metric, "
                                   "size, when each was last indexed and how fresh it is (for the served tree: "
                                   "files new, modified or deleted since). Use it to check what is searchable.",
                    .input_schema = Json::parse(kStatusInput),
                    .output_schema = Json::parse(kStatusOutput),
                    .handler = [ctx](const Json& args, const Caller& caller) {
                        return ForCaller(ctx, caller, [&](const ToolContext& c) { return IndexStatus(c, args); });
                    }});
    server.AddTool({.name = "find_similar",
                    .title = "Find similar code",
                    .description = "Find code that looks like a snippet (semantic vector search with the snippet as "
                                   "the query): duplicates to refactor, other implementations of the same idea, "
                                   "examples of a pattern. Pass exclude_file with the snippet's own file to skip it. "
                                   "Scores are cosine similarities (1 = identical direction).",
                    .input_schema = Json::parse(kSimilarInput),
                    .output_schema = ResultsSchema(),
                    .handler = [ctx](const Json& args, const Caller& caller) {
                        return ForCaller(ctx, caller, [&](const ToolContext& c) { return FindSimilar(c, args); });
                    }});
    server.AddTool({.name = "get_context",
                    .title = "Get context for a task",
                    .description = "Assemble the code relevant to a task in one call, within a token budget: "
                                   "definitions (functions, classes, methods) first, code from current_file and "
                                   "related_files preferred, grouped by file with overlapping or adjacent lines "
                                   "merged into one excerpt. Tokens are estimated as ceil(characters / 4). The "
                                   "result lists what was left out (over budget) so you can ask for it. Use it "
                                   "before editing or when you need to understand an area of the code.",
                    .input_schema = Json::parse(kContextInput),
                    .output_schema = Json::parse(kContextOutput),
                    .handler = [ctx](const Json& args, const Caller& caller) {
                        return ForCaller(ctx, caller, [&](const ToolContext& c) { return GetContext(c, args); });
                    }});
    server.AddTool({.name = "explain_code",
                    .title = "Explain code",
                    .description = "Show one function or method (function_name), type (class_name) or line range "
                                   "(line_range {start, end}) of an indexed file, with its enclosing definitions "
                                   "(e.g. the class holding a method) and where its name is used elsewhere "
                                   "(file:line). Use it to understand a piece of code before changing it. "
                                   "file_path is relative to the repository root.",
                    .input_schema = Json::parse(kExplainInput),
                    .output_schema = SchemaWithLocations(kExplainOutput),
                    .handler = [ctx](const Json& args, const Caller& caller) {
                        return ForCaller(ctx, caller, [&](const ToolContext& c) { return ExplainCode(c, args); });
                    }});
    server.AddTool({.name = "find_references",
                    .title = "Find references",
                    .description = "Find where a symbol is defined and where its name is used: definitions first, "
                                   "then every whole-word occurrence of the name as file:line with the line's text "
                                   "and the enclosing definition. Textual (by name, not by type), so same-named "
                                   "symbols are included. Use it before renaming or changing a signature.",
                    .input_schema = Json::parse(kReferencesInput),
                    .output_schema = SchemaWithLocations(kReferencesOutput),
                    .handler = [ctx](const Json& args, const Caller& caller) {
                        return ForCaller(ctx, caller, [&](const ToolContext& c) { return FindReferences(c, args); });
                    }});
}

void AddCodeSearchTools(Server& server, store::VectorStore& store, const search::Searcher& searcher) {
    AddCodeSearchTools(server, ToolContext{.store = &store, .searcher = &searcher});
}

}  // namespace signalhub::mcp

// tree-sitter chunking for python, javascript, typescript, tsx, c, cpp, go,
// rust and java.
//
// Rules:
//  * Definitions become chunks: functions, methods, classes/structs/unions,
//    interfaces, enums, traits, impl blocks and modules/namespaces. Function
//    bodies are not searched further: nested functions and lambdas stay inside
//    the chunk of the function that holds them.
//  * A definition's chunk starts at the comments, decorators and attributes
//    directly above it (no blank line in between, not trailing on a code line).
//  * Symbols are qualified with '.' in every language: "A.method" with parent
//    "A"; C++ out-of-line `void ns::Foo::bar()` inside no namespace gives
//    "ns.Foo.bar" with parent "ns.Foo"; a Go method `func (r *Recv) Name()` is
//    "Recv.Name"; a Rust method in `impl Trait for Type` is "Type.method".
//    Template/generic arguments are dropped from qualifiers.
//  * Containers (class-like types, impl, trait, module/namespace):
//      - small (within max_lines and max_chars): one chunk for the whole
//        container (part 0), plus one chunk per member definition;
//      - big: no whole chunk. The container's own lines outside its member
//        definitions (the header with fields, fields between members, the
//        closing lines) become chunks with the container's symbol and kind,
//        numbered part 1..n; each member definition gets its own chunk(s).
//        So a big class yields its skeleton once and each method once.
//  * Lines outside every definition at the top level are grouped into
//    "preamble" chunks, one per run of lines between two definitions.
//  * A run of at most kFoldLines non-blank lines without a letter or digit
//    (typically a closing "}" or "});") is not worth a chunk of its own: it
//    is folded into the chunk that ends right before it in the same region.
//  * Any unit over max_lines or max_chars is split at line boundaries with
//    overlap_lines of overlap, pieces numbered part 1..n.

#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <utility>

#include "index/chunk/chunk_internal.hpp"

extern "C" {
const TSLanguage* tree_sitter_c(void);
const TSLanguage* tree_sitter_cpp(void);
const TSLanguage* tree_sitter_go(void);
const TSLanguage* tree_sitter_java(void);
const TSLanguage* tree_sitter_javascript(void);
const TSLanguage* tree_sitter_python(void);
const TSLanguage* tree_sitter_rust(void);
const TSLanguage* tree_sitter_tsx(void);
const TSLanguage* tree_sitter_typescript(void);
}

namespace signalhub::index::chunk_detail {
namespace {

enum class Lang { kPython, kJavaScript, kTypeScript, kTsx, kC, kCpp, kGo, kRust, kJava };

struct Grammar {
    std::string_view name;
    const TSLanguage* (*language)();
    Lang lang;
};

constexpr std::array<Grammar, 9> kGrammars{{
    {"python", tree_sitter_python, Lang::kPython},
    {"javascript", tree_sitter_javascript, Lang::kJavaScript},
    {"typescript", tree_sitter_typescript, Lang::kTypeScript},
    {"tsx", tree_sitter_tsx, Lang::kTsx},
    {"c", tree_sitter_c, Lang::kC},
    {"cpp", tree_sitter_cpp, Lang::kCpp},
    {"go", tree_sitter_go, Lang::kGo},
    {"rust", tree_sitter_rust, Lang::kRust},
    {"java", tree_sitter_java, Lang::kJava},
}};

// Nesting deeper than this (containers in containers, #ifdef in #ifdef, ...)
// is treated as plain code: bounds recursion on adversarial input.
constexpr int kMaxDepth = 48;
// Longest run of letterless lines folded into the preceding chunk.
constexpr int kFoldLines = 3;
// Longest symbol kept (names are cut, not rejected).
constexpr std::size_t kMaxNameBytes = 256;

// One parser per thread, reused across files (a TSParser is not thread-safe).
class ThreadParser {
public:
    ThreadParser() : parser_(ts_parser_new()) {}
    ~ThreadParser() {
        if (parser_ != nullptr) {
            ts_parser_delete(parser_);
        }
    }
    ThreadParser(const ThreadParser&) = delete;
    ThreadParser& operator=(const ThreadParser&) = delete;
    TSParser* get() const { return parser_; }

private:
    TSParser* parser_;
};

struct TreeDeleter {
    void operator()(TSTree* tree) const { ts_tree_delete(tree); }
};
using TreePtr = std::unique_ptr<TSTree, TreeDeleter>;

bool Is(TSNode node, std::string_view type) { return type == ts_node_type(node); }

TSNode Field(TSNode node, const char* name) {
    return ts_node_child_by_field_name(node, name, static_cast<uint32_t>(std::strlen(name)));
}

// Named children in order; linear (ts_node_named_child(i) is not O(1)).
std::vector<TSNode> NamedChildren(TSNode node) {
    std::vector<TSNode> children;
    TSTreeCursor cursor = ts_tree_cursor_new(node);
    if (ts_tree_cursor_goto_first_child(&cursor)) {
        do {
            TSNode child = ts_tree_cursor_current_node(&cursor);
            if (ts_node_is_named(child)) {
                children.push_back(child);
            }
        } while (ts_tree_cursor_goto_next_sibling(&cursor));
    }
    ts_tree_cursor_delete(&cursor);
    return children;
}

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$'; }

// Drops whitespace and template/generic argument lists ("Box<T>::get" ->
// "Box::get"); everything from an `operator` keyword on is kept verbatim
// except whitespace ("operator<<").
std::string NormalizeName(std::string_view text) {
    std::string out;
    int angle = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (angle == 0 && text.compare(i, 8, "operator") == 0 && (i == 0 || !IsIdentChar(text[i - 1]))) {
            for (std::size_t j = i; j < text.size(); ++j) {
                if (std::isspace(static_cast<unsigned char>(text[j])) == 0) {
                    out.push_back(text[j]);
                }
            }
            break;
        }
        if (c == '<') {
            ++angle;
        } else if (c == '>' && angle > 0) {
            --angle;
        } else if (angle == 0 && std::isspace(static_cast<unsigned char>(c)) == 0) {
            out.push_back(c);
        }
    }
    if (out.size() > kMaxNameBytes) {
        out.resize(kMaxNameBytes);
    }
    return out;
}

// Splits "a::b::c" into qualifier "a.b" and name "c".
std::pair<std::string, std::string> SplitQualified(const std::string& name) {
    std::string qualifier;
    std::size_t begin = 0;
    while (true) {
        const std::size_t sep = name.find("::", begin);
        // "operator::" cannot occur; stop at an operator name regardless.
        if (sep == std::string::npos || name.compare(begin, 8, "operator") == 0) {
            break;
        }
        if (sep > begin) {
            if (!qualifier.empty()) {
                qualifier += '.';
            }
            qualifier += name.substr(begin, sep - begin);
        }
        begin = sep + 2;
    }
    return {qualifier, name.substr(begin)};
}

// Last identifier in `text` ("&'a mut foo::Bar" -> "Bar").
std::string LastIdentifier(std::string_view text) {
    std::size_t end = text.size();
    while (end > 0 && !IsIdentChar(text[end - 1])) {
        --end;
    }
    std::size_t begin = end;
    while (begin > 0 && IsIdentChar(text[begin - 1])) {
        --begin;
    }
    return std::string(text.substr(begin, std::min(end - begin, kMaxNameBytes)));
}

std::string Join(const std::string& a, const std::string& b) {
    if (a.empty()) {
        return b;
    }
    if (b.empty()) {
        return a;
    }
    return a + "." + b;
}

enum class Role { kNone, kTransparent, kDefinition };

struct Def {
    int first = 0;  // rows, 0-based, attachments included
    int last = 0;
    std::string name;
    std::string qualifier;  // C++ `Foo::` of an out-of-line member, Go receiver type
    std::string kind;       // "function" becomes "method" inside a type
    bool container = false;
    TSNode body{};          // members of a container
};

class TreeChunker {
public:
    TreeChunker(Lang lang, const Lines& lines, const Limits& limits, std::vector<Span>& out)
        : lang_(lang), lines_(lines), limits_(limits), out_(out) {}

    void Run(TSNode root) {
        std::vector<Def> defs;
        Collect(root, 0, defs);
        Span gap;
        gap.kind = "preamble";
        EmitRegion(defs, 0, lines_.Count() - 1, gap, false, "", false, 0);
    }

private:
    std::string Text(TSNode node) const {
        const std::string_view content = lines_.Content();
        const uint32_t begin = std::min<uint32_t>(ts_node_start_byte(node), static_cast<uint32_t>(content.size()));
        const uint32_t end = std::min<uint32_t>(ts_node_end_byte(node), static_cast<uint32_t>(content.size()));
        return std::string(content.substr(begin, end > begin ? end - begin : 0));
    }

    std::string NameOf(TSNode node, const char* field = "name") const {
        TSNode name = Field(node, field);
        return ts_node_is_null(name) ? std::string() : NormalizeName(Text(name));
    }

    int FirstRow(TSNode node) const { return lines_.ClampRow(static_cast<long>(ts_node_start_point(node).row)); }

    int LastRow(TSNode node) const {
        const TSPoint start = ts_node_start_point(node);
        const TSPoint end = ts_node_end_point(node);
        long row = end.row;
        // A node ending at column 0 stops at the newline before that row.
        if (end.column == 0 && end.row > start.row) {
            --row;
        }
        return lines_.ClampRow(row);
    }

    bool Attachable(TSNode node) const {
        const std::string_view type = ts_node_type(node);
        switch (lang_) {
            case Lang::kRust:
                return type == "line_comment" || type == "block_comment" || type == "attribute_item";
            case Lang::kJava:
                return type == "line_comment" || type == "block_comment";
            case Lang::kJavaScript:
            case Lang::kTypeScript:
            case Lang::kTsx:
                return type == "comment" || type == "decorator";
            case Lang::kPython:
            case Lang::kC:
            case Lang::kCpp:
            case Lang::kGo:
                return type == "comment";
        }
        return false;
    }

    // Appends the definitions among `parent`'s named children, looking
    // through transparent wrappers (#ifdef, extern "C", ERROR, ...).
    void Collect(TSNode parent, int depth, std::vector<Def>& defs) const {
        const std::vector<TSNode> children = NamedChildren(parent);
        for (std::size_t i = 0; i < children.size(); ++i) {
            Def def;
            const Role role = Classify(children[i], def, 0);
            if (role == Role::kTransparent && depth < kMaxDepth) {
                Collect(children[i], depth + 1, defs);
                continue;
            }
            if (role != Role::kDefinition) {
                continue;
            }
            def.first = FirstRow(children[i]);
            def.last = std::max(def.first, LastRow(children[i]));
            for (std::size_t j = i; j > 0; --j) {
                const TSNode prev = children[j - 1];
                if (!Attachable(prev) || LastRow(prev) + 1 < def.first) {
                    break;
                }
                // A comment trailing on the previous code line belongs to that line.
                if (j >= 2 && LastRow(children[j - 2]) >= FirstRow(prev)) {
                    break;
                }
                def.first = std::min(def.first, FirstRow(prev));
            }
            defs.push_back(std::move(def));
        }
    }

    // Classifies one node; fills `def` (except rows) for definitions.
    Role Classify(TSNode node, Def& def, int wrap_depth) const {
        const std::string_view type = ts_node_type(node);
        if (type == "ERROR") {
            return Role::kTransparent;
        }
        if (wrap_depth > 4) {
            return Role::kNone;
        }
        switch (lang_) {
            case Lang::kPython:
                return ClassifyPython(node, type, def, wrap_depth);
            case Lang::kJavaScript:
            case Lang::kTypeScript:
            case Lang::kTsx:
                return ClassifyJs(node, type, def, wrap_depth);
            case Lang::kC:
            case Lang::kCpp:
                return ClassifyC(node, type, def, wrap_depth);
            case Lang::kGo:
                return ClassifyGo(node, type, def, wrap_depth);
            case Lang::kRust:
                return ClassifyRust(node, type, def);
            case Lang::kJava:
                return ClassifyJava(node, type, def);
        }
        return Role::kNone;
    }

    Role Definition(Def& def, std::string name, const char* kind, bool container = false,
                    TSNode body = TSNode{}) const {
        if (name.empty()) {
            return Role::kNone;
        }
        def.name = std::move(name);
        def.kind = kind;
        def.container = container && !ts_node_is_null(body);
        def.body = body;
        return Role::kDefinition;
    }

    // A wrapper (decorators, export, template<>) is a definition when what it wraps is one.
    Role Wrapped(TSNode inner, Def& def, int wrap_depth) const {
        if (ts_node_is_null(inner)) {
            return Role::kNone;
        }
        return Classify(inner, def, wrap_depth + 1) == Role::kDefinition ? Role::kDefinition : Role::kNone;
    }

    Role ClassifyPython(TSNode node, std::string_view type, Def& def, int wrap_depth) const {
        if (type == "function_definition") {
            return Definition(def, NameOf(node), "function");
        }
        if (type == "class_definition") {
            return Definition(def, NameOf(node), "class", true, Field(node, "body"));
        }
        if (type == "decorated_definition") {
            return Wrapped(Field(node, "definition"), def, wrap_depth);
        }
        return Role::kNone;
    }

    static bool IsFunctionValue(TSNode value) {
        return !ts_node_is_null(value) &&
               (Is(value, "arrow_function") || Is(value, "function_expression") || Is(value, "function") ||
                Is(value, "generator_function"));
    }

    Role ClassifyJs(TSNode node, std::string_view type, Def& def, int wrap_depth) const {
        if (type == "function_declaration" || type == "generator_function_declaration") {
            return Definition(def, NameOf(node), "function");
        }
        if (type == "method_definition") {
            if (ts_node_is_null(Field(node, "body"))) {
                return Role::kNone;
            }
            return Definition(def, NameOf(node), "function");
        }
        if (type == "class_declaration" || type == "abstract_class_declaration") {
            return Definition(def, NameOf(node), "class", true, Field(node, "body"));
        }
        if (type == "field_definition" || type == "public_field_definition") {
            if (!IsFunctionValue(Field(node, "value"))) {
                return Role::kNone;
            }
            const std::string name = type == "field_definition" ? NameOf(node, "property") : NameOf(node);
            return Definition(def, name, "function");
        }
        if (type == "lexical_declaration" || type == "variable_declaration") {
            const std::vector<TSNode> declarators = NamedChildren(node);
            if (declarators.size() != 1 || !Is(declarators[0], "variable_declarator")) {
                return Role::kNone;
            }
            const TSNode value = Field(declarators[0], "value");
            if (IsFunctionValue(value)) {
                return Definition(def, NameOf(declarators[0]), "function");
            }
            if (!ts_node_is_null(value) && Is(value, "class")) {
                return Definition(def, NameOf(declarators[0]), "class", true, Field(value, "body"));
            }
            return Role::kNone;
        }
        if (type == "export_statement") {
            return Wrapped(Field(node, "declaration"), def, wrap_depth);
        }
        if (type == "interface_declaration") {
            return Definition(def, NameOf(node), "interface");
        }
        if (type == "enum_declaration") {
            return Definition(def, NameOf(node), "enum");
        }
        if (type == "internal_module" || type == "module") {
            return Definition(def, NameOf(node), "module", true, Field(node, "body"));
        }
        if (type == "expression_statement") {
            // TypeScript wraps `namespace X { ... }` in an expression statement.
            const std::vector<TSNode> children = NamedChildren(node);
            if (children.size() == 1 && Is(children[0], "internal_module")) {
                return Wrapped(children[0], def, wrap_depth);
            }
        }
        return Role::kNone;
    }

    // Name (possibly qualified) of a C/C++ function definition's declarator.
    std::string FunctionName(TSNode node) const {
        TSNode declarator = Field(node, "declarator");
        for (int i = 0; i < 16 && !ts_node_is_null(declarator); ++i) {
            if (Is(declarator, "function_declarator")) {
                const TSNode name = Field(declarator, "declarator");
                return ts_node_is_null(name) ? std::string() : NormalizeName(Text(name));
            }
            TSNode next = Field(declarator, "declarator");
            if (ts_node_is_null(next)) {
                const std::vector<TSNode> children = NamedChildren(declarator);
                next = children.empty() ? TSNode{} : children.back();
            }
            declarator = next;
        }
        return {};
    }

    // struct/union/class/enum specifier with a body.
    Role Specifier(TSNode spec, const std::string& fallback_name, Def& def) const {
        const TSNode body = Field(spec, "body");
        if (ts_node_is_null(body)) {
            return Role::kNone;
        }
        std::string name = NameOf(spec);
        if (name.empty()) {
            name = fallback_name;
        }
        const std::string_view type = ts_node_type(spec);
        if (type == "enum_specifier") {
            return Definition(def, name, "enum");
        }
        const char* kind = type == "class_specifier" ? "class" : "struct";
        return Definition(def, name, kind, true, body);
    }

    static bool IsSpecifier(TSNode node) {
        return !ts_node_is_null(node) && (Is(node, "struct_specifier") || Is(node, "union_specifier") ||
                                          Is(node, "class_specifier") || Is(node, "enum_specifier"));
    }

    Role ClassifyC(TSNode node, std::string_view type, Def& def, int wrap_depth) const {
        if (type == "function_definition") {
            if (ts_node_is_null(Field(node, "body"))) {
                return Role::kNone;
            }
            auto [qualifier, name] = SplitQualified(FunctionName(node));
            def.qualifier = std::move(qualifier);
            return Definition(def, std::move(name), "function");
        }
        if (IsSpecifier(node)) {
            return Specifier(node, "", def);
        }
        if (type == "type_definition" || type == "declaration" || type == "field_declaration") {
            const TSNode spec = Field(node, "type");
            if (!IsSpecifier(spec)) {
                return Role::kNone;
            }
            const TSNode declarator = Field(node, "declarator");
            const std::string fallback = ts_node_is_null(declarator) ? std::string() : LastIdentifier(Text(declarator));
            return Specifier(spec, fallback, def);
        }
        if (type == "namespace_definition") {
            const std::string name = NameOf(node);
            if (name.empty()) {
                return Role::kTransparent;  // anonymous namespace: its members are top-level to a reader
            }
            auto [qualifier, last] = SplitQualified(name);  // `namespace a::b {`
            def.qualifier = std::move(qualifier);
            return Definition(def, std::move(last), "module", true, Field(node, "body"));
        }
        if (type == "template_declaration") {
            const std::vector<TSNode> children = NamedChildren(node);
            for (auto it = children.rbegin(); it != children.rend(); ++it) {
                if (!Is(*it, "template_parameter_list")) {
                    return Wrapped(*it, def, wrap_depth);
                }
            }
            return Role::kNone;
        }
        if (type == "linkage_specification" || type == "declaration_list" || type == "preproc_if" ||
            type == "preproc_ifdef" || type == "preproc_else" || type == "preproc_elif" ||
            type == "preproc_elifdef") {
            return Role::kTransparent;
        }
        return Role::kNone;
    }

    // First type name in a Go receiver: `(r *Recv[T])` -> "Recv".
    std::string ReceiverType(TSNode receiver) const {
        std::vector<TSNode> stack{receiver};
        for (int visited = 0; !stack.empty() && visited < 64; ++visited) {
            const TSNode node = stack.back();
            stack.pop_back();
            if (Is(node, "type_identifier")) {
                return NormalizeName(Text(node));
            }
            std::vector<TSNode> children = NamedChildren(node);
            std::reverse(children.begin(), children.end());
            stack.insert(stack.end(), children.begin(), children.end());
        }
        return {};
    }

    Role ClassifyGo(TSNode node, std::string_view type, Def& def, int wrap_depth) const {
        if (type == "function_declaration") {
            return Definition(def, NameOf(node), "function");
        }
        if (type == "method_declaration") {
            const TSNode receiver = Field(node, "receiver");
            def.qualifier = ts_node_is_null(receiver) ? std::string() : ReceiverType(receiver);
            return Definition(def, NameOf(node), "function");
        }
        if (type == "type_declaration") {
            const std::vector<TSNode> specs = NamedChildren(node);
            std::size_t type_specs = 0;
            for (const TSNode& spec : specs) {
                type_specs += Is(spec, "type_spec") ? 1 : 0;
            }
            if (type_specs == 1 && specs.size() == 1) {
                return Wrapped(specs[0], def, wrap_depth);
            }
            return Role::kTransparent;
        }
        if (type == "type_spec") {
            const TSNode spec_type = Field(node, "type");
            if (ts_node_is_null(spec_type)) {
                return Role::kNone;
            }
            if (Is(spec_type, "struct_type")) {
                return Definition(def, NameOf(node), "struct");
            }
            if (Is(spec_type, "interface_type")) {
                return Definition(def, NameOf(node), "interface");
            }
        }
        return Role::kNone;
    }

    Role ClassifyRust(TSNode node, std::string_view type, Def& def) const {
        if (type == "function_item") {
            return Definition(def, NameOf(node), "function");
        }
        if (type == "struct_item" || type == "union_item") {
            return Definition(def, NameOf(node), "struct");
        }
        if (type == "enum_item") {
            return Definition(def, NameOf(node), "enum");
        }
        if (type == "trait_item") {
            return Definition(def, NameOf(node), "trait", true, Field(node, "body"));
        }
        if (type == "impl_item") {
            const TSNode impl_type = Field(node, "type");
            const std::string name = ts_node_is_null(impl_type) ? std::string()
                                                                : LastIdentifier(NormalizeName(Text(impl_type)));
            return Definition(def, name, "impl", true, Field(node, "body"));
        }
        if (type == "mod_item") {
            const TSNode body = Field(node, "body");
            if (ts_node_is_null(body)) {
                return Role::kNone;  // `mod foo;` is a declaration
            }
            return Definition(def, NameOf(node), "module", true, body);
        }
        return Role::kNone;
    }

    Role ClassifyJava(TSNode node, std::string_view type, Def& def) const {
        if (type == "method_declaration" || type == "constructor_declaration" ||
            type == "compact_constructor_declaration") {
            if (ts_node_is_null(Field(node, "body"))) {
                return Role::kNone;  // abstract / interface method: part of the type's skeleton
            }
            return Definition(def, NameOf(node), "function");
        }
        if (type == "class_declaration" || type == "record_declaration") {
            return Definition(def, NameOf(node), "class", true, Field(node, "body"));
        }
        if (type == "interface_declaration") {
            return Definition(def, NameOf(node), "interface", true, Field(node, "body"));
        }
        if (type == "annotation_type_declaration") {
            return Definition(def, NameOf(node), "interface");
        }
        if (type == "enum_declaration") {
            return Definition(def, NameOf(node), "enum", true, Field(node, "body"));
        }
        if (type == "enum_body_declarations") {
            return Role::kTransparent;
        }
        return Role::kNone;
    }

    bool Fits(int first, int last) const {
        return !Oversized(lines_, first, last, static_cast<std::size_t>(limits_.max_lines), limits_.max_chars);
    }

    static bool TypeLike(const std::string& kind) { return kind != "module" && kind != "function"; }

    void EmitDef(const Def& def, const std::string& scope, bool scope_is_type, int depth) {
        Span proto;
        proto.parent = Join(scope, def.qualifier);
        proto.symbol = Join(proto.parent, def.name);
        proto.kind = def.kind;
        if (def.kind == "function" && (scope_is_type || !def.qualifier.empty())) {
            proto.kind = "method";
        }
        if (!def.container || depth >= kMaxDepth) {
            EmitSized(lines_, def.first, def.last, proto, limits_, out_);
            return;
        }
        std::vector<Def> members;
        Collect(def.body, depth + 1, members);
        const bool members_in_type = TypeLike(def.kind);
        if (Fits(def.first, def.last)) {
            EmitSized(lines_, def.first, def.last, proto, limits_, out_);
            for (const Def& member : members) {
                EmitDef(member, proto.symbol, members_in_type, depth + 1);
            }
            return;
        }
        EmitRegion(members, def.first, def.last, proto, true, proto.symbol, members_in_type, depth + 1);
    }

    bool HasAlnum(int first, int last) const {
        for (int row = first; row <= last; ++row) {
            const std::string_view line = lines_.Line(row);
            if (std::any_of(line.begin(), line.end(),
                            [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; })) {
                return true;
            }
        }
        return false;
    }

    // Emits `defs` and the lines of rows first..last outside them. Gap runs
    // get `gap`'s symbol/kind/parent; with `number_gaps` (a big container)
    // all gap pieces are numbered 1..n, else each run stands alone.
    void EmitRegion(std::vector<Def>& defs, int first, int last, const Span& gap, bool number_gaps,
                    const std::string& scope, bool scope_is_type, int depth) {
        std::stable_sort(defs.begin(), defs.end(), [](const Def& a, const Def& b) { return a.first < b.first; });
        std::vector<Span> gap_spans;
        std::size_t before = out_.size();
        // The chunk ending last among those emitted so far in this region.
        std::optional<std::size_t> tail;
        auto note_tail = [&]() {
            for (std::size_t i = before; i < out_.size(); ++i) {
                if (!tail || out_[i].last > out_[*tail].last) {
                    tail = i;
                }
            }
            before = out_.size();
        };
        auto emit_gap = [&](int a, int b) {
            while (a <= b && lines_.Blank(a)) {
                ++a;
            }
            while (b >= a && lines_.Blank(b)) {
                --b;
            }
            if (a > b) {
                return;
            }
            note_tail();
            if (tail && b - a + 1 <= kFoldLines && !HasAlnum(a, b)) {
                out_[*tail].last = std::max(out_[*tail].last, b);
                return;
            }
            EmitSized(lines_, a, b, gap, limits_, gap_spans);
        };
        int cursor = first;
        for (const Def& def : defs) {
            if (def.first > cursor) {
                emit_gap(cursor, std::min(def.first - 1, last));
            }
            EmitDef(def, scope, scope_is_type, depth);
            cursor = std::max(cursor, def.last + 1);
        }
        if (cursor <= last) {
            emit_gap(cursor, last);
        }
        if (number_gaps) {
            int part = 1;
            for (Span& span : gap_spans) {
                span.part = part++;
            }
        }
        for (Span& span : gap_spans) {
            out_.push_back(std::move(span));
        }
    }

    Lang lang_;
    const Lines& lines_;
    const Limits& limits_;
    std::vector<Span>& out_;
};

const Grammar* FindGrammar(std::string_view language) {
    for (const Grammar& grammar : kGrammars) {
        if (grammar.name == language) {
            return &grammar;
        }
    }
    return nullptr;
}

}  // namespace

std::optional<std::vector<Span>> TreeSpans(std::string_view language, const Lines& lines, const Limits& limits) {
    const Grammar* grammar = FindGrammar(language);
    const std::string_view content = lines.Content();
    if (grammar == nullptr || content.size() > UINT32_MAX || lines.Count() == 0) {
        return std::nullopt;
    }
    thread_local ThreadParser parser;
    if (parser.get() == nullptr || !ts_parser_set_language(parser.get(), grammar->language())) {
        return std::nullopt;
    }
    ts_parser_reset(parser.get());
    TreePtr tree(ts_parser_parse_string(parser.get(), nullptr, content.data(), static_cast<uint32_t>(content.size())));
    if (!tree) {
        return std::nullopt;
    }
    std::vector<Span> spans;
    TreeChunker chunker(grammar->lang, lines, limits, spans);
    chunker.Run(ts_tree_root_node(tree.get()));
    return spans;
}

std::vector<std::string> TreeLanguages() {
    std::vector<std::string> names;
    names.reserve(kGrammars.size());
    for (const Grammar& grammar : kGrammars) {
        names.emplace_back(grammar.name);
    }
    return names;
}

}  // namespace signalhub::index::chunk_detail

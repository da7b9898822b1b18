#include "index/language.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace signalhub::index {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Cases = std::vector<std::pair<std::string, std::string>>;

void ExpectLanguages(const Cases &cases) {
    for (const auto &[path, language] : cases) {
        EXPECT_EQ(DetectLanguage(path, ""), language) << path;
    }
}

TEST(Language, CoreLanguagesByExtension) {
    ExpectLanguages({
        {"a.py", "python"},
        {"stubs/a.pyi", "python"},
        {"gui.pyw", "python"},
        {"a.js", "javascript"},
        {"a.mjs", "javascript"},
        {"a.cjs", "javascript"},
        {"ui/App.jsx", "javascript"},
        {"a.ts", "typescript"},
        {"a.mts", "typescript"},
        {"a.cts", "typescript"},
        {"types/x.d.ts", "typescript"},
        {"App.tsx", "tsx"},
        {"main.c", "c"},
        {"inc/api.h", "c"},
        {"a.cc", "cpp"},
        {"a.cpp", "cpp"},
        {"a.cxx", "cpp"},
        {"a.hpp", "cpp"},
        {"a.hh", "cpp"},
        {"a.hxx", "cpp"},
        {"a.h++", "cpp"},
        {"a.ipp", "cpp"},
        {"a.inl", "cpp"},
        {"cmd/main.go", "go"},
        {"src/lib.rs", "rust"},
        {"Main.java", "java"},
        {"README.md", "markdown"},
        {"doc.markdown", "markdown"},
        {"page.mdx", "markdown"},
    });
}

TEST(Language, OtherLanguagesByExtension) {
    ExpectLanguages({
        {"run.sh", "shell"},
        {"x.bash", "shell"},
        {"x.zsh", "shell"},
        {"app.rb", "ruby"},
        {"index.php", "php"},
        {"Program.cs", "csharp"},
        {"Main.kt", "kotlin"},
        {"b.kts", "kotlin"},
        {"App.swift", "swift"},
        {"A.scala", "scala"},
        {"q.sql", "sql"},
        {"c.yaml", "yaml"},
        {"c.yml", "yaml"},
        {"p.json", "json"},
        {"Cargo.toml", "toml"},
        {"i.html", "html"},
        {"s.css", "css"},
        {"s.scss", "scss"},
        {"x.cmake", "cmake"},
        {"rules.mk", "make"},
        {"notes.txt", "text"},
        {"index.rst", "text"},
        {"pom.xml", "xml"},
        {"api.proto", "proto"},
        {"init.lua", "lua"},
        {"s.pl", "perl"},
        {"M.pm", "perl"},
        {"stats.R", "r"},
        {"app.dockerfile", "dockerfile"},
    });
}

TEST(Language, ExtensionsAreCaseInsensitiveExceptUpperCaseC) {
    ExpectLanguages({{"MAIN.PY", "python"},
                     {"Readme.MD", "markdown"},
                     {"x.Hpp", "cpp"},
                     {"LOGO.PNG", ""},
                     {"legacy.C", "cpp"},
                     {"legacy.H", "cpp"},
                     {"plain.c", "c"}});
}

TEST(Language, SpecialFileNames) {
    ExpectLanguages({
        {"Makefile", "make"},
        {"sub/makefile", "make"},
        {"GNUmakefile", "make"},
        {"Makefile.am", "make"},
        {"Dockerfile", "dockerfile"},
        {"docker/Dockerfile.dev", "dockerfile"},
        {"Containerfile", "dockerfile"},
        {"CMakeLists.txt", "cmake"},
        {"src/CMakeLists.txt", "cmake"},
        {".bashrc", "shell"},
        {"home/.zshrc", "shell"},
        {".profile", "shell"},
        {"Gemfile", "ruby"},
        {"Rakefile", "ruby"},
        {"Vagrantfile", "ruby"},
        {"Jenkinsfile", "groovy"},
        {"BUILD.bazel", "starlark"},
        {"go.mod", "gomod"},
    });
    EXPECT_FALSE(NeedsShebang("Makefile"));
    EXPECT_FALSE(NeedsShebang("dir/.bashrc"));
}

TEST(Language, BinaryTypesAreNotIndexed) {
    for (const char *path :
         {"logo.png",  "a.jpg",        "a.jpeg",   "anim.gif",    "manual.pdf", "x.zip",    "x.tar.gz",
          "x.tar",     "libx.so",      "x.o",      "libx.a",      "setup.exe",  "A.class",  "app.jar",
          "font.woff", "font.woff2",   "font.ttf", "favicon.ico", "song.mp3",   "clip.mp4", "mod.pyc",
          "data.db",   "data.sqlite3", "lib.dll",  "lib.dylib",   "m.wasm",     ".DS_Store"}) {
        EXPECT_EQ(DetectLanguage(path, ""), "") << path;
    }
}

TEST(Language, UnknownExtensionIsText) {
    ExpectLanguages({{"data.weird", "text"}, {"CHANGES.unknownext", "text"}, {"x.lock", "text"}});
}

TEST(Language, ExtensionlessFilesNeedShebang) {
    EXPECT_TRUE(NeedsShebang("bin/tool"));
    EXPECT_TRUE(NeedsShebang("LICENSE"));
    EXPECT_TRUE(NeedsShebang(".gitignore"));
    EXPECT_TRUE(NeedsShebang("scripts/trailing."));
    EXPECT_FALSE(NeedsShebang("a.py"));
    EXPECT_FALSE(NeedsShebang("dir.with.dots/Makefile"));
    EXPECT_TRUE(NeedsShebang("dir.with.dots/tool"));
}

TEST(Language, ShebangDecidesExtensionlessFiles) {
    const Cases cases = {
        {"#!/usr/bin/env python3", "python"},
        {"#!/usr/bin/python3.11 -u", "python"},
        {"#!/usr/bin/env node", "javascript"},
        {"#!/usr/local/bin/nodejs", "javascript"},
        {"#!/bin/bash", "shell"},
        {"#!/bin/sh -e", "shell"},
        {"#! /usr/bin/env  zsh", "shell"},
        {"#!/usr/bin/env ruby", "ruby"},
        {"#!/usr/bin/perl -w", "perl"},
        {"#!/usr/bin/env -S deno run", "typescript"},
        {"#!/usr/bin/env LANG=C python", "python"},
        {"#!/usr/bin/env php", "php"},
        {"#!/usr/bin/env Rscript", "r"},
        {"#!/usr/bin/env lua5.4", "lua"},
        {"#!/usr/bin/make -f", "make"},
    };
    for (const auto &[line, language] : cases) {
        EXPECT_EQ(DetectLanguage("bin/tool", line), language) << line;
        EXPECT_EQ(DetectLanguage("bin/tool", line + "\nrest of file"), language) << line;
    }
}

TEST(Language, ExtensionlessWithoutKnownShebangIsText) {
    EXPECT_EQ(DetectLanguage("LICENSE", "MIT License"), "text");
    EXPECT_EQ(DetectLanguage("bin/tool", ""), "text");
    EXPECT_EQ(DetectLanguage("bin/tool", "#!/usr/bin/env"), "text");
    EXPECT_EQ(DetectLanguage("bin/tool", "#!/opt/custom-interpreter"), "text");
    EXPECT_EQ(DetectLanguage(".gitignore", "*.o"), "text");
    // A shebang never overrides an extension.
    EXPECT_EQ(DetectLanguage("script.rb", "#!/usr/bin/env python"), "ruby");
}

TEST(Language, LooksBinaryOnNulByte) {
    EXPECT_TRUE(LooksBinary(std::string("abc\0def", 7)));
    std::string late(8000, 'a');
    late.push_back('\0');
    EXPECT_TRUE(LooksBinary(late));
    // A NUL beyond the first 8 KiB is not looked at.
    std::string beyond(8192, 'a');
    beyond.push_back('\0');
    EXPECT_FALSE(LooksBinary(beyond));
}

TEST(Language, LooksBinaryAcceptsTextAndUtf8) {
    EXPECT_FALSE(LooksBinary(""));
    EXPECT_FALSE(LooksBinary("int main() {\n\treturn 0;\r\n}\n"));
    EXPECT_FALSE(LooksBinary("// Grüße, ünïcödé, 日本語, emoji \xF0\x9F\x98\x80\n"));
    EXPECT_FALSE(LooksBinary("\x1b[31mred log line\x1b[0m\n"));
    // A multi-byte sequence cut by the end of a truncated head is not evidence.
    EXPECT_FALSE(LooksBinary("abc \xE6\x97"));
}

TEST(Language, LooksBinaryOnInvalidUtf8Share) {
    std::string mostly_invalid;
    for (int i = 0; i < 100; ++i) mostly_invalid += (i % 2 == 0) ? "\xFF" : "a";
    EXPECT_TRUE(LooksBinary(mostly_invalid));  // 50% invalid

    std::string control_heavy;
    for (int i = 0; i < 100; ++i) control_heavy += (i % 3 == 0) ? "\x01\x02" : "z";
    EXPECT_TRUE(LooksBinary(control_heavy));

    std::string few_invalid(100, 'a');
    for (int i = 0; i < 10; ++i) few_invalid[static_cast<std::size_t>(i * 10)] = '\xC0';  // overlong lead bytes
    EXPECT_FALSE(LooksBinary(few_invalid));  // 10% invalid: Latin-1 text, still text

    // Overlong encodings and surrogates are invalid UTF-8.
    std::string overlong;
    for (int i = 0; i < 50; ++i) overlong += "\xC0\xAF";
    EXPECT_TRUE(LooksBinary(overlong));
    std::string surrogates;
    for (int i = 0; i < 50; ++i) surrogates += "\xED\xA0\x80";
    EXPECT_TRUE(LooksBinary(surrogates));
}

TEST(NormalizeLanguage, AcceptsIdsAliasesExtensionsAndAnyCase) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"python", "python"}, {"Python", "python"},   {"PY", "python"},     {"py", "python"},
        {"python3", "python"}, {".py", "python"},     {"golang", "go"},     {"Go", "go"},
        {"js", "javascript"}, {"node", "javascript"}, {"jsx", "javascript"}, {"ts", "typescript"},
        {"tsx", "tsx"},       {"c++", "cpp"},         {"C++", "cpp"},       {"cpp", "cpp"},
        {"hpp", "cpp"},       {"rs", "rust"},         {"c#", "csharp"},     {"bash", "shell"},
        {"md", "markdown"},   {"yml", "yaml"},        {"Dockerfile", "dockerfile"}, {"text", "text"},
    };
    for (const auto& [name, id] : cases) {
        auto got = NormalizeLanguage(name);
        ASSERT_TRUE(got.ok()) << name << ": " << got.status().ToString();
        EXPECT_EQ(*got, id) << name;
    }
}

TEST(NormalizeLanguage, EveryDetectedLanguageIsKnownAndMapsToItself) {
    for (const std::string& id : KnownLanguages()) {
        auto got = NormalizeLanguage(id);
        ASSERT_TRUE(got.ok()) << id;
        EXPECT_EQ(*got, id);
    }
    for (const char* path : {"a.py", "a.go", "a.rs", "a.hpp", "a.tsx", "Makefile", "README.md", "x.unknownext"}) {
        const std::string detected = DetectLanguage(path, "");
        EXPECT_TRUE(std::binary_search(KnownLanguages().begin(), KnownLanguages().end(), detected)) << detected;
    }
}

TEST(NormalizeLanguage, UnknownNamesSuggestTheNearest) {
    auto typo = NormalizeLanguage("pyhton");
    ASSERT_EQ(typo.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(typo.status().message(), HasSubstr("unknown language 'pyhton'; did you mean 'python'? known: "));
    EXPECT_THAT(typo.status().message(), HasSubstr("go, "));
    auto alias_typo = NormalizeLanguage("golnag");
    EXPECT_THAT(alias_typo.status().message(), HasSubstr("did you mean 'go'?"));
    auto far = NormalizeLanguage("klingon");
    ASSERT_FALSE(far.ok());
    EXPECT_THAT(far.status().message(), Not(HasSubstr("did you mean")));
    EXPECT_THAT(far.status().message(), HasSubstr("unknown language 'klingon'; known: "));
    EXPECT_EQ(NormalizeLanguage("").status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace signalhub::index

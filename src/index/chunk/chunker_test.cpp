#include "index/chunk/chunker.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace signalhub::index {
namespace {

using ::testing::UnorderedElementsAre;

std::vector<std::string> SplitLines(const std::string& content) {
    std::vector<std::string> lines;
    std::size_t begin = 0;
    while (begin < content.size()) {
        std::size_t end = content.find('\n', begin);
        if (end == std::string::npos) {
            end = content.size();
        }
        lines.push_back(content.substr(begin, end - begin));
        begin = end + 1;
    }
    return lines;
}

bool BlankLine(const std::string& line) {
    return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

// Invariants every chunking must satisfy: ordered by start line, valid
// ranges, text equal to the source lines, every non-blank line covered.
void ExpectWellFormed(const std::string& content, const std::vector<Chunk>& chunks) {
    const std::vector<std::string> lines = SplitLines(content);
    std::vector<bool> covered(lines.size(), false);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& chunk = chunks[i];
        ASSERT_GE(chunk.start_line, 1) << chunk.symbol;
        ASSERT_LE(chunk.start_line, chunk.end_line) << chunk.symbol;
        ASSERT_LE(chunk.end_line, static_cast<int>(lines.size())) << chunk.symbol;
        if (i > 0) {
            EXPECT_LE(chunks[i - 1].start_line, chunk.start_line) << "chunks out of order at " << i;
        }
        std::string expected;
        for (int line = chunk.start_line; line <= chunk.end_line; ++line) {
            expected += lines[static_cast<std::size_t>(line - 1)];
            if (line < chunk.end_line) {
                expected += '\n';
            }
        }
        if (!expected.empty() && expected.back() == '\r') {
            expected.pop_back();
        }
        EXPECT_EQ(chunk.text, expected) << "chunk " << chunk.symbol << " " << chunk.start_line;
        for (int line = chunk.start_line; line <= chunk.end_line; ++line) {
            covered[static_cast<std::size_t>(line - 1)] = true;
        }
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (!BlankLine(lines[i])) {
            EXPECT_TRUE(covered[i]) << "line " << (i + 1) << " not covered: " << lines[i];
        }
    }
}

struct Expected {
    std::string symbol;
    std::string kind;
    std::string parent;
    int start_line;
    int end_line;
};

// The chunks' (symbol, kind, parent, lines) must be exactly `expected`.
void ExpectChunks(const std::vector<Chunk>& chunks, const std::vector<Expected>& expected) {
    ASSERT_EQ(chunks.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        SCOPED_TRACE("chunk " + std::to_string(i) + " (" + expected[i].symbol + ")");
        EXPECT_EQ(chunks[i].symbol, expected[i].symbol);
        EXPECT_EQ(chunks[i].kind, expected[i].kind);
        EXPECT_EQ(chunks[i].parent, expected[i].parent);
        EXPECT_EQ(chunks[i].start_line, expected[i].start_line);
        EXPECT_EQ(chunks[i].end_line, expected[i].end_line);
        EXPECT_EQ(chunks[i].part, 0);
    }
}

config::ChunkConfig Defaults() { return config::ChunkConfig{}; }

const std::string kPython = R"src("""Module doc."""
import os
import sys

CONST = 1


# Helper comment
@decorator
class Foo(Base):
    """Doc."""
    x = 1

    def __init__(self):
        self.y = 2

    # about bar
    @property
    def bar(self):
        def inner():
            return 1
        return inner()


def top(a, b):
    return a + b

if __name__ == "__main__":
    top(1, 2)
)src";

const std::string kJavaScript = R"src(import { api } from "./api.js";

const TIMEOUT = 30;

/**
 * HTTP client.
 */
export class HttpClient {
  constructor(base) {
    this.base = base;
  }

  async send(req) {
    return api(this.base, req);
  }
}

const parseUrl = (url) => {
  return new URL(url);
};

function retry(fn, n) {
  for (let i = 0; i < n; i++) fn();
}

module.exports = { HttpClient, parseUrl, retry };
)src";

const std::string kTypeScript = R"src(import type { Req } from "./types";

export interface Shape {
  area(): number;
  name: string;
}

export enum Color {
  Red,
  Green,
}

@Injectable()
export class Circle implements Shape {
  name = "circle";
  constructor(private r: number) {}

  area(): number {
    return Math.PI * this.r ** 2;
  }
}

export type Pair = [number, number];
)src";

const std::string kTsx = R"src(import React from "react";

type Props = { label: string };

export const Button = ({ label }: Props) => {
  return <button className="btn">{label}</button>;
};

export default function App() {
  return (
    <div>
      <Button label="ok" />
    </div>
  );
}
)src";

const std::string kC = R"src(#include <stdio.h>
#include <stdlib.h>

#define MAX 10

/* A point. */
struct point {
    int x;
    int y;
};

typedef struct {
    char *data;
    size_t len;
} buffer_t;

// Adds two ints.
static int add(int a, int b) {
    return a + b;
}

int main(void) {
    printf("%d\n", add(1, 2));
    return 0;
}
)src";

const std::string kCpp = R"src(#include <string>
#include <vector>

namespace net {

// A client.
class Client {
public:
    explicit Client(std::string host) : host_(std::move(host)) {}

    int Port() const {
        return port_;
    }

    void Send(const std::string& data);

private:
    std::string host_;
    int port_ = 80;
};

void Client::Send(const std::string& data) {
    buffer_.push_back(data);
}

template <typename T>
class Box {
public:
    T Get() const { return value_; }
    T value_;
};

template <typename T>
T Box<T>::Reset() {
    return T{};
}

}  // namespace net

int main() {
    net::Client c("x");
    return c.Port();
}
)src";

const std::string kGo = R"src(package server

import (
	"fmt"
	"net/http"
)

// Server serves requests.
type Server struct {
	addr string
}

// Handler handles.
type Handler interface {
	Serve(w http.ResponseWriter)
}

// Start starts the server.
func (s *Server) Start() error {
	return http.ListenAndServe(s.addr, nil)
}

func New(addr string) *Server {
	fmt.Println(addr)
	return &Server{addr: addr}
}
)src";

const std::string kRust = R"src(use std::fmt;

/// A point in 2D.
#[derive(Debug, Clone)]
pub struct Point {
    x: f64,
    y: f64,
}

impl Point {
    /// Creates a point.
    pub fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    pub fn norm(&self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

pub trait Shape {
    fn area(&self) -> f64;
    fn describe(&self) -> String {
        format!("area {}", self.area())
    }
}

fn main() {
    println!("{}", Point::new(1.0, 2.0));
}
)src";

const std::string kJava = R"src(package com.example;

import java.util.List;

/** Greets people. */
public interface Greeter {
    String greet(String name);
}

/**
 * Default greeter.
 */
public class HelloGreeter implements Greeter {
    private final String prefix;

    public HelloGreeter(String prefix) {
        this.prefix = prefix;
    }

    @Override
    public String greet(String name) {
        return prefix + name;
    }
}
)src";

struct Sample {
    std::string language;
    const std::string* content;
};

const std::vector<Sample>& Samples() {
    static const std::vector<Sample> samples = {
        {"python", &kPython}, {"javascript", &kJavaScript}, {"typescript", &kTypeScript},
        {"tsx", &kTsx},       {"c", &kC},                   {"cpp", &kCpp},
        {"go", &kGo},         {"rust", &kRust},             {"java", &kJava},
    };
    return samples;
}

TEST(GrammarLanguages, ListsTheNineCompiledGrammars) {
    EXPECT_THAT(GrammarLanguages(), UnorderedElementsAre("python", "javascript", "typescript", "tsx", "c", "cpp",
                                                         "go", "rust", "java"));
}

TEST(ChunkFile, PythonClassMethodsDecoratorsAndNestedFunction) {
    const auto chunks = ChunkFile("python", kPython, Defaults());
    ExpectWellFormed(kPython, chunks);
    // The comment and decorator above a definition belong to it; the nested
    // function `inner` stays inside `bar`; the docstring inside the class.
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 5},
                             {"Foo", "class", "", 8, 22},
                             {"Foo.__init__", "method", "Foo", 14, 15},
                             {"Foo.bar", "method", "Foo", 17, 22},
                             {"top", "function", "", 25, 26},
                             {"", "preamble", "", 28, 29},
                         });
    EXPECT_NE(chunks[1].text.find("\"\"\"Doc.\"\"\""), std::string::npos);
    EXPECT_EQ(chunks[3].text.rfind("    # about bar\n    @property\n", 0), 0U);
}

TEST(ChunkFile, JavaScriptClassArrowFunctionAndDeclaration) {
    const auto chunks = ChunkFile("javascript", kJavaScript, Defaults());
    ExpectWellFormed(kJavaScript, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 3},
                             {"HttpClient", "class", "", 5, 16},
                             {"HttpClient.constructor", "method", "HttpClient", 9, 11},
                             {"HttpClient.send", "method", "HttpClient", 13, 15},
                             {"parseUrl", "function", "", 18, 20},
                             {"retry", "function", "", 22, 24},
                             {"", "preamble", "", 26, 26},
                         });
}

TEST(ChunkFile, TypeScriptInterfaceEnumAndDecoratedClass) {
    const auto chunks = ChunkFile("typescript", kTypeScript, Defaults());
    ExpectWellFormed(kTypeScript, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 1},
                             {"Shape", "interface", "", 3, 6},
                             {"Color", "enum", "", 8, 11},
                             {"Circle", "class", "", 13, 21},
                             {"Circle.constructor", "method", "Circle", 16, 16},
                             {"Circle.area", "method", "Circle", 18, 20},
                             {"", "preamble", "", 23, 23},
                         });
}

TEST(ChunkFile, TsxComponents) {
    const auto chunks = ChunkFile("tsx", kTsx, Defaults());
    ExpectWellFormed(kTsx, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 3},
                             {"Button", "function", "", 5, 7},
                             {"App", "function", "", 9, 15},
                         });
}

TEST(ChunkFile, CFunctionsStructsAndTypedefs) {
    const auto chunks = ChunkFile("c", kC, Defaults());
    ExpectWellFormed(kC, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 4},
                             {"point", "struct", "", 6, 10},
                             {"buffer_t", "struct", "", 12, 15},
                             {"add", "function", "", 17, 20},
                             {"main", "function", "", 22, 25},
                         });
}

TEST(ChunkFile, CppNamespaceClassOutOfLineMethodAndTemplates) {
    const auto chunks = ChunkFile("cpp", kCpp, Defaults());
    ExpectWellFormed(kCpp, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 2},
                             {"net", "module", "", 4, 38},
                             {"net.Client", "class", "net", 6, 20},
                             {"net.Client.Client", "method", "net.Client", 9, 9},
                             {"net.Client.Port", "method", "net.Client", 11, 13},
                             {"net.Client.Send", "method", "net.Client", 22, 24},
                             {"net.Box", "class", "net", 26, 31},
                             {"net.Box.Get", "method", "net.Box", 29, 29},
                             {"net.Box.Reset", "method", "net.Box", 33, 36},
                             {"main", "function", "", 40, 43},
                         });
}

TEST(ChunkFile, GoFunctionsMethodsWithReceiverAndTypes) {
    const auto chunks = ChunkFile("go", kGo, Defaults());
    ExpectWellFormed(kGo, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 6},
                             {"Server", "struct", "", 8, 11},
                             {"Handler", "interface", "", 13, 16},
                             {"Server.Start", "method", "Server", 18, 21},
                             {"New", "function", "", 23, 26},
                         });
}

TEST(ChunkFile, RustStructImplBlocksAndTrait) {
    const auto chunks = ChunkFile("rust", kRust, Defaults());
    ExpectWellFormed(kRust, chunks);
    // Doc comments and attributes belong to the item; methods of both impl
    // blocks (inherent and trait impl) have the impl type as parent.
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 1},
                             {"Point", "struct", "", 3, 8},
                             {"Point", "impl", "", 10, 19},
                             {"Point.new", "method", "Point", 11, 14},
                             {"Point.norm", "method", "Point", 16, 18},
                             {"Point", "impl", "", 21, 25},
                             {"Point.fmt", "method", "Point", 22, 24},
                             {"Shape", "trait", "", 27, 32},
                             {"Shape.describe", "method", "Shape", 29, 31},
                             {"main", "function", "", 34, 36},
                         });
}

TEST(ChunkFile, JavaInterfaceClassConstructorAndMethods) {
    const auto chunks = ChunkFile("java", kJava, Defaults());
    ExpectWellFormed(kJava, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 3},
                             {"Greeter", "interface", "", 5, 8},
                             {"HelloGreeter", "class", "", 10, 24},
                             {"HelloGreeter.HelloGreeter", "method", "HelloGreeter", 16, 18},
                             {"HelloGreeter.greet", "method", "HelloGreeter", 20, 23},
                         });
}

TEST(ChunkFile, EveryNonBlankLineCoveredForAllGrammarLanguages) {
    for (const Sample& sample : Samples()) {
        SCOPED_TRACE(sample.language);
        for (int max_lines : {3, 8, 120}) {
            config::ChunkConfig options;
            options.max_lines = max_lines;
            options.overlap_lines = 1;
            const auto chunks = ChunkFile(sample.language, *sample.content, options);
            ASSERT_FALSE(chunks.empty());
            ExpectWellFormed(*sample.content, chunks);
            for (const Chunk& chunk : chunks) {
                // A folded closing line may exceed the limit by up to 3 lines.
                EXPECT_LE(chunk.end_line - chunk.start_line + 1, max_lines + 3) << chunk.symbol;
            }
        }
    }
}

TEST(ChunkFile, BigClassYieldsSkeletonAndEachMethodOnce) {
    config::ChunkConfig options;
    options.max_lines = 8;
    options.overlap_lines = 2;
    const auto chunks = ChunkFile("java", kJava, options);
    ExpectWellFormed(kJava, chunks);
    // HelloGreeter spans 15 lines > 8: no whole-class chunk; its header and
    // field form the class chunk (part 1); the closing brace folds into the
    // last method.
    std::vector<Expected> expected = {
        {"", "preamble", "", 1, 3},
        {"Greeter", "interface", "", 5, 8},
        {"HelloGreeter", "class", "", 10, 14},
        {"HelloGreeter.HelloGreeter", "method", "HelloGreeter", 16, 18},
        {"HelloGreeter.greet", "method", "HelloGreeter", 20, 24},
    };
    ASSERT_EQ(chunks.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(chunks[i].symbol, expected[i].symbol);
        EXPECT_EQ(chunks[i].kind, expected[i].kind);
        EXPECT_EQ(chunks[i].start_line, expected[i].start_line);
        EXPECT_EQ(chunks[i].end_line, expected[i].end_line);
    }
    EXPECT_EQ(chunks[2].part, 1);
    EXPECT_EQ(chunks[3].part, 0);
}

TEST(ChunkFile, BigCppClassSkeletonPiecesAreNumbered) {
    config::ChunkConfig options;
    options.max_lines = 10;
    options.overlap_lines = 2;
    const auto chunks = ChunkFile("cpp", kCpp, options);
    ExpectWellFormed(kCpp, chunks);
    std::vector<const Chunk*> client;
    for (const Chunk& chunk : chunks) {
        if (chunk.symbol == "net.Client" && chunk.kind == "class") {
            client.push_back(&chunk);
        }
    }
    // Header region (6-8) and the private section after the methods (15-20).
    ASSERT_EQ(client.size(), 2U);
    EXPECT_EQ(client[0]->start_line, 6);
    EXPECT_EQ(client[0]->end_line, 8);
    EXPECT_EQ(client[0]->part, 1);
    EXPECT_EQ(client[1]->start_line, 15);
    EXPECT_EQ(client[1]->end_line, 20);
    EXPECT_EQ(client[1]->part, 2);
    EXPECT_EQ(client[0]->parent, "net");
}

std::string LongPythonFunction(int body_lines) {
    std::string out = "import os\n\n\ndef long_one(x):\n";
    for (int i = 0; i < body_lines; ++i) {
        out += "    x = x + " + std::to_string(i) + "\n";
    }
    out += "    return x\n";
    return out;
}

TEST(ChunkFile, OversizedFunctionSplitsWithOverlapAndParts) {
    const std::string content = LongPythonFunction(48);  // def at line 4, ends at line 53
    config::ChunkConfig options;
    options.max_lines = 20;
    options.overlap_lines = 5;
    const auto chunks = ChunkFile("python", content, options);
    ExpectWellFormed(content, chunks);
    std::vector<Chunk> parts;
    for (const Chunk& chunk : chunks) {
        if (chunk.symbol == "long_one") {
            parts.push_back(chunk);
        }
    }
    ASSERT_EQ(parts.size(), 3U);
    EXPECT_EQ(parts.front().start_line, 4);
    EXPECT_EQ(parts.back().end_line, 53);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        EXPECT_EQ(parts[i].part, static_cast<int>(i) + 1);
        EXPECT_EQ(parts[i].kind, "function");
        EXPECT_EQ(parts[i].parent, "");
        EXPECT_LE(parts[i].end_line - parts[i].start_line + 1, 20);
        if (i > 0) {
            EXPECT_EQ(parts[i].start_line, parts[i - 1].end_line - 4) << "5 lines of overlap";
        }
    }
}

TEST(ChunkFile, PiecesRespectMaxChars) {
    const std::string content = LongPythonFunction(40);
    config::ChunkConfig options;
    options.max_chars = 200;
    const auto chunks = ChunkFile("python", content, options);
    ExpectWellFormed(content, chunks);
    int pieces = 0;
    for (const Chunk& chunk : chunks) {
        EXPECT_LE(chunk.text.size(), 200U);
        pieces += chunk.symbol == "long_one" ? 1 : 0;
    }
    EXPECT_GT(pieces, 3);
}

TEST(ChunkFile, OverlapNotSmallerThanPieceStillTerminates) {
    const std::string content = LongPythonFunction(30);
    config::ChunkConfig options;
    options.max_lines = 3;
    options.overlap_lines = 10;
    options.window_lines = 2;
    const auto chunks = ChunkFile("python", content, options);
    ExpectWellFormed(content, chunks);
    const auto windows = ChunkFile("text", content, options);
    ExpectWellFormed(content, windows);
}

TEST(ChunkFile, MarkdownSectionsWithParentsIgnoringFencedHashes) {
    const std::string content =
        "Intro text\n"        // 1
        "\n"                  // 2
        "# Title\n"           // 3
        "\n"                  // 4
        "Hello\n"             // 5
        "\n"                  // 6
        "## Install ##\n"     // 7
        "\n"                  // 8
        "```bash\n"           // 9
        "# not a heading\n"   // 10
        "make\n"              // 11
        "```\n"               // 12
        "\n"                  // 13
        "### Linux\n"         // 14
        "apt\n"               // 15
        "\n"                  // 16
        "## Usage\n"          // 17
        "run it\n"            // 18
        "#hashtag\n"          // 19
        "    # indented code\n"  // 20
        "# Next\n";           // 21
    const auto chunks = ChunkFile("markdown", content, Defaults());
    ExpectWellFormed(content, chunks);
    ExpectChunks(chunks, {
                             {"", "preamble", "", 1, 1},
                             {"Title", "section", "", 3, 5},
                             {"Install", "section", "Title", 7, 12},
                             {"Linux", "section", "Install", 14, 15},
                             {"Usage", "section", "Title", 17, 20},
                             {"Next", "section", "", 21, 21},
                         });
}

TEST(ChunkFile, OversizedMarkdownSectionIsSplit) {
    std::string content = "# Big\n";
    for (int i = 0; i < 30; ++i) {
        content += "line " + std::to_string(i) + "\n";
    }
    config::ChunkConfig options;
    options.max_lines = 10;
    options.overlap_lines = 2;
    const auto chunks = ChunkFile("markdown", content, options);
    ExpectWellFormed(content, chunks);
    ASSERT_EQ(chunks.size(), 4U);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        EXPECT_EQ(chunks[i].symbol, "Big");
        EXPECT_EQ(chunks[i].kind, "section");
        EXPECT_EQ(chunks[i].part, static_cast<int>(i) + 1);
    }
}

TEST(ChunkFile, OtherLanguagesUseOverlappingWindows) {
    std::string content;
    for (int i = 1; i <= 130; ++i) {
        content += "key" + std::to_string(i) + ": value\n";
    }
    const auto chunks = ChunkFile("yaml", content, Defaults());  // window 60, overlap 10
    ExpectWellFormed(content, chunks);
    ASSERT_EQ(chunks.size(), 3U);
    EXPECT_EQ(chunks[0].start_line, 1);
    EXPECT_EQ(chunks[0].end_line, 60);
    EXPECT_EQ(chunks[1].start_line, 51);
    EXPECT_EQ(chunks[1].end_line, 110);
    EXPECT_EQ(chunks[2].start_line, 101);
    EXPECT_EQ(chunks[2].end_line, 130);
    for (const Chunk& chunk : chunks) {
        EXPECT_EQ(chunk.kind, "window");
        EXPECT_EQ(chunk.symbol, "");
    }
}

TEST(ChunkFile, SmallFileIsOneWindowWithoutBlankEdges) {
    const std::string content = "\n\nalpha\n\nbeta\n\n";
    const auto chunks = ChunkFile("text", content, Defaults());
    ASSERT_EQ(chunks.size(), 1U);
    EXPECT_EQ(chunks[0].start_line, 3);
    EXPECT_EQ(chunks[0].end_line, 5);
    EXPECT_EQ(chunks[0].text, "alpha\n\nbeta");
    EXPECT_EQ(chunks[0].part, 0);
}

TEST(ChunkFile, EmptyOrWhitespaceContentHasNoChunks) {
    for (const std::string language : {"python", "cpp", "markdown", "text", "rust"}) {
        EXPECT_TRUE(ChunkFile(language, "", Defaults()).empty()) << language;
        EXPECT_TRUE(ChunkFile(language, "  \n\t\n\r\n", Defaults()).empty()) << language;
    }
}

TEST(ChunkFile, MalformedSourceKeepsValidDefinitionsAndCoversLines) {
    const std::string python =
        "def good():\n"
        "    return 1\n"
        "\n"
        "def broken(:\n"
        "    x = (\n"
        "\n"
        "def after():\n"
        "    return 3\n";
    const auto chunks = ChunkFile("python", python, Defaults());
    ExpectWellFormed(python, chunks);
    ASSERT_FALSE(chunks.empty());
    EXPECT_EQ(chunks[0].symbol, "good");
    EXPECT_EQ(chunks[0].end_line, 2);

    const std::string c = "int ok() { return 1; }\n\nint bad( { if (\n\nint later() { return 2; }\n";
    const auto c_chunks = ChunkFile("c", c, Defaults());
    ExpectWellFormed(c, c_chunks);
    ASSERT_FALSE(c_chunks.empty());
    EXPECT_EQ(c_chunks[0].symbol, "ok");
}

TEST(ChunkFile, GarbageBytesNeverCrashAndStayCovered) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<std::string> inputs;
    for (int n = 0; n < 4; ++n) {
        std::string garbage;
        for (int i = 0; i < 4000; ++i) {
            garbage.push_back(static_cast<char>(byte(rng)));
        }
        inputs.push_back(garbage);
    }
    // Unbalanced nesting, deeper than any sane file.
    inputs.push_back(std::string(5000, '{') + "\n" + std::string(5000, '(') + "\n");
    inputs.push_back(std::string(3000, '[') + "\nclass A:\n" + std::string(2000, ' ') + "def f(): pass\n");
    std::vector<std::string> languages = GrammarLanguages();
    languages.push_back("markdown");
    languages.push_back("text");
    for (const std::string& language : languages) {
        for (const std::string& input : inputs) {
            SCOPED_TRACE(language);
            const auto chunks = ChunkFile(language, input, Defaults());
            ExpectWellFormed(input, chunks);
        }
    }
}

TEST(ChunkFile, CrLfLinesKeepTheirTextExact) {
    const std::string content = "def a():\r\n    return 1\r\n\r\ndef b():\r\n    return 2\r\n";
    const auto chunks = ChunkFile("python", content, Defaults());
    ExpectWellFormed(content, chunks);
    ASSERT_EQ(chunks.size(), 2U);
    EXPECT_EQ(chunks[0].symbol, "a");
    EXPECT_EQ(chunks[0].text, "def a():\r\n    return 1");
    EXPECT_EQ(chunks[1].symbol, "b");
    EXPECT_EQ(chunks[1].start_line, 4);
}

bool SameChunks(const std::vector<Chunk>& a, const std::vector<Chunk>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].text != b[i].text || a[i].start_line != b[i].start_line || a[i].end_line != b[i].end_line ||
            a[i].symbol != b[i].symbol || a[i].kind != b[i].kind || a[i].parent != b[i].parent ||
            a[i].part != b[i].part) {
            return false;
        }
    }
    return true;
}

TEST(ChunkFile, ConcurrentCallsFromManyThreadsAgree) {
    std::vector<std::vector<Chunk>> reference;
    for (const Sample& sample : Samples()) {
        reference.push_back(ChunkFile(sample.language, *sample.content, Defaults()));
    }
    constexpr int kThreads = 6;
    constexpr int kRounds = 25;
    std::vector<int> mismatches(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < kRounds; ++round) {
                // Different threads walk the languages in different orders so
                // parsers switch grammars concurrently.
                for (std::size_t k = 0; k < Samples().size(); ++k) {
                    const std::size_t i = (k + static_cast<std::size_t>(t)) % Samples().size();
                    const auto chunks = ChunkFile(Samples()[i].language, *Samples()[i].content, Defaults());
                    if (!SameChunks(chunks, reference[i])) {
                        ++mismatches[static_cast<std::size_t>(t)];
                    }
                }
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    for (int t = 0; t < kThreads; ++t) {
        EXPECT_EQ(mismatches[static_cast<std::size_t>(t)], 0) << "thread " << t;
    }
}

}  // namespace
}  // namespace signalhub::index

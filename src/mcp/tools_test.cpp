#include "mcp/tools.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "embed/embedder.hpp"
#include "index/pipeline.hpp"

namespace signalhub::mcp {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

const char* const kCart =
    "class Cart:\n"                                            // 1
    "    \"\"\"A shopping cart.\"\"\"\n"                       // 2
    "\n"                                                       // 3
    "    def __init__(self):\n"                                // 4
    "        self.items = []\n"                                // 5
    "\n"                                                       // 6
    "    def add_item(self, name, price):\n"                   // 7
    "        self.items.append((name, price))\n"               // 8
    "        return len(self.items)\n"                         // 9
    "\n"                                                       // 10
    "    def total(self):\n"                                   // 11
    "        return sum(price for _, price in self.items)\n";  // 12

// The import (a preamble chunk) and the function are adjacent: get_context merges them.
const char* const kCheckout =
    "from shop.cart import Cart\n"        // 1
    "def checkout(names):\n"              // 2
    "    cart = Cart()\n"                 // 3
    "    for name in names:\n"            // 4
    "        cart.add_item(name, 1.0)\n"  // 5
    "    return cart.total()\n";          // 6

const char* const kNormalizeTitle =
    "def normalize_title(text):\n"
    "    words = [w.strip().lower() for w in text.split()]\n"
    "    cleaned = [w for w in words if w]\n"
    "    return \" \".join(cleaned).title()\n";

const char* const kNormaliseHeading =
    "def normalise_heading(value):\n"
    "    words = [w.strip().lower() for w in value.split()]\n"
    "    cleaned = [w for w in words if w]\n"
    "    return \" \".join(cleaned).title()\n";

const char* const kInventoryHpp =
    "#pragma once\n"                                           // 1
    "#include <string>\n"                                      // 2
    "\n"                                                       // 3
    "class Inventory {\n"                                      // 4
    "  public:\n"                                              // 5
    "    int Count(const std::string& sku) const;\n"           // 6
    "    void Restock(const std::string& sku, int amount);\n"  // 7
    "\n"                                                       // 8
    "  private:\n"                                             // 9
    "    int total_ = 0;\n"                                    // 10
    "};\n";                                                    // 11

const char* const kInventoryCpp =
    "#include \"inventory.hpp\"\n"                                     // 1
    "\n"                                                               // 2
    "int Inventory::Count(const std::string& sku) const {\n"           // 3
    "    return static_cast<int>(sku.size()) + total_;\n"              // 4
    "}\n"                                                              // 5
    "\n"                                                               // 6
    "void Inventory::Restock(const std::string& sku, int amount) {\n"  // 7
    "    total_ += amount + Count(sku);\n"                             // 8
    "}\n";                                                             // 9

class ToolsTest : public ::testing::Test {
   protected:
    void SetUp() override {
        root_ = fs::path(::testing::TempDir()) / ("tools_" + std::to_string(::getpid()) + "_" +
                                                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        Write(root_ / "shop/cart.py", kCart);
        Write(root_ / "shop/checkout.py", kCheckout);
        Write(root_ / "util/strings.py", std::string(kNormalizeTitle) +
                                             "\n\ndef count_vowels(text):\n"
                                             "    return sum(1 for c in text.lower() if c in \"aeiou\")\n");
        Write(root_ / "util/copy_strings.py", kNormaliseHeading);
        Write(
            root_ / "geo/geometry.cpp",
            "#include <cmath>\n\nnamespace geo {\n\nstruct Point {\n    double x;\n    double y;\n};\n\n"
            "double Distance(const Point& a, const Point& b) {\n"
            "    return std::sqrt((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y));\n}\n\n}  // namespace geo\n");
        Write(root_ / "inventory/inventory.hpp", kInventoryHpp);
        Write(root_ / "inventory/inventory.cpp", kInventoryCpp);

        auto opened = store::OpenStore("memory://", {});
        ASSERT_TRUE(opened.ok()) << opened.status().ToString();
        store_ = std::move(*opened);
        config::EmbeddingConfig ec;
        ec.dimension = 256;
        auto embedder = embed::CreateEmbedder(ec);
        ASSERT_TRUE(embedder.ok()) << embedder.status().ToString();
        embedder_ = std::move(*embedder);
        index::IndexOptions options;
        options.root = root_;
        options.collection = "repo";
        options.threads = 1;
        auto stats = index::IndexTree(*store_, *embedder_, options);
        ASSERT_TRUE(stats.ok()) << stats.status().ToString();
        ASSERT_EQ(stats->files_added, 7);

        searcher_ = std::make_unique<search::Searcher>(*store_, *embedder_, config::SearchConfig{});
        server_ = std::make_unique<Server>(ServerInfo{});
        AddCodeSearchTools(*server_, ToolContext{.store = store_.get(), .searcher = searcher_.get(), .root = root_});
        session_ = std::make_unique<Session>(*server_);
        Json init = Rpc("initialize", {{"protocolVersion", "2025-06-18"},
                                       {"capabilities", Json::object()},
                                       {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
        ASSERT_TRUE(init.contains("result")) << init.dump();
        ASSERT_FALSE(session_->HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
    }

    void TearDown() override {
        session_.reset();
        fs::remove_all(root_);
    }

    Json Rpc(const std::string& method, Json params) {
        Json message = {{"jsonrpc", "2.0"}, {"id", ++next_id_}, {"method", method}, {"params", std::move(params)}};
        auto reply = session_->HandleMessage(message.dump());
        EXPECT_TRUE(reply.has_value()) << message.dump();
        return reply ? Json::parse(*reply) : Json();
    }

    // The whole JSON-RPC reply of a tools/call.
    Json CallRaw(const std::string& tool, Json arguments) {
        return Rpc("tools/call", {{"name", tool}, {"arguments", std::move(arguments)}});
    }

    // structuredContent of a successful call (fails the test otherwise).
    Json Call(const std::string& tool, Json arguments) {
        Json reply = CallRaw(tool, arguments);
        EXPECT_TRUE(reply.contains("result")) << tool << " " << arguments.dump() << " -> " << reply.dump();
        if (!reply.contains("result")) return Json::object();
        EXPECT_EQ(reply["result"]["isError"], false) << reply.dump();
        EXPECT_TRUE(reply["result"]["content"][0]["text"].is_string());
        last_text_ = reply["result"]["content"][0].value("text", "");
        return reply["result"].value("structuredContent", Json::object());
    }

    int RpcError(const std::string& tool, Json arguments) {
        Json reply = CallRaw(tool, std::move(arguments));
        return reply.contains("error") ? reply["error"]["code"].get<int>() : 0;
    }

    fs::path root_;
    std::unique_ptr<store::VectorStore> store_;
    std::unique_ptr<embed::Embedder> embedder_;
    std::unique_ptr<search::Searcher> searcher_;
    std::unique_ptr<Server> server_;
    std::unique_ptr<Session> session_;
    int next_id_ = 0;
    std::string last_text_;
};

TEST_F(ToolsTest, ListsAllSixToolsWithSchemas) {
    Json list = Rpc("tools/list", Json::object());
    std::set<std::string> names;
    for (const auto& tool : list["result"]["tools"]) {
        names.insert(tool["name"].get<std::string>());
        EXPECT_EQ(tool["inputSchema"]["type"], "object") << tool["name"];
        EXPECT_EQ(tool["outputSchema"]["type"], "object") << tool["name"];
        EXPECT_FALSE(tool["description"].get<std::string>().empty());
    }
    EXPECT_EQ(names, (std::set<std::string>{"search_code", "index_status", "find_similar", "get_context",
                                            "explain_code", "find_references"}));
    EXPECT_EQ(CallRaw("no_such_tool", Json::object())["error"]["code"], kInvalidParams);
}

TEST_F(ToolsTest, IndexStatusReportsAgeAndHowTheTreeDiffersFromTheIndex) {
    // Without a tree (the fixture's server): no comparison, not watching.
    Json plain = Call("index_status", Json::object());
    ASSERT_EQ(plain["collections"].size(), 1u);
    EXPECT_TRUE(plain["collections"][0]["tree"].is_null());
    EXPECT_EQ(plain["watching"], false);

    auto listed = store_->ListCollections();
    ASSERT_TRUE(listed.ok());
    ASSERT_TRUE(listed->front().last_indexed_unix.has_value());
    FakeClock clock;
    clock.SetUnixSeconds(*listed->front().last_indexed_unix + 90);
    index::IndexOptions tree;
    tree.root = root_;
    tree.collection = "repo";
    Server server(ServerInfo{});
    AddCodeSearchTools(server, ToolContext{.store = store_.get(), .searcher = searcher_.get(), .root = root_,
                                           .tree = tree, .watching = true, .clock = &clock});
    session_ = std::make_unique<Session>(server);
    ASSERT_TRUE(Rpc("initialize", {{"protocolVersion", "2025-06-18"},
                                   {"capabilities", Json::object()},
                                   {"clientInfo", {{"name", "test"}, {"version", "1"}}}})
                    .contains("result"));

    Json fresh = Call("index_status", Json::object());
    EXPECT_EQ(fresh["watching"], true);
    const Json& c = fresh["collections"][0];
    EXPECT_EQ(c["age_seconds"], 90);
    EXPECT_EQ(c["tree"]["files_scanned"], 7);
    EXPECT_EQ(c["tree"]["up_to_date"], true) << c.dump();
    EXPECT_NE(last_text_.find("up to date"), std::string::npos) << last_text_;

    Write(root_ / "shop/cart.py", std::string(kCart) + "\n# more\n");
    Write(root_ / "shop/new.py", "def fresh():\n    return 1\n");
    fs::remove(root_ / "util/copy_strings.py");
    Json stale = Call("index_status", Json::object());
    const Json& t = stale["collections"][0]["tree"];
    EXPECT_EQ(t["files_new"], 1) << t.dump();
    EXPECT_EQ(t["files_modified"], 1) << t.dump();
    EXPECT_EQ(t["files_deleted"], 1) << t.dump();
    EXPECT_EQ(t["up_to_date"], false);
    EXPECT_NE(last_text_.find("1 new, 1 modified, 1 deleted"), std::string::npos) << last_text_;

    index::IndexOptions again = tree;
    again.threads = 1;
    ASSERT_TRUE(index::IndexTree(*store_, *embedder_, again).ok());
    EXPECT_EQ(Call("index_status", Json::object())["collections"][0]["tree"]["up_to_date"], true);
    session_.reset();  // before `server`, which it borrows
}

// A migrated collection is not "never indexed", and an interrupted run shows (issue 20, item 10).
TEST_F(ToolsTest, IndexStatusNamesAnImportAndAnInterruptedRun) {
    Json before = Call("index_status", Json::object());
    EXPECT_TRUE(before["collections"][0]["imported_at"].is_null());
    EXPECT_EQ(before["collections"][0]["incomplete"], false);
    store::ChangeSet change;
    change.set_properties[std::string(collection_property::kImportedAt)] = "4102444800";  // 2100-01-01
    change.set_properties[std::string(collection_property::kIndexStarted)] = "4102444801";
    ASSERT_TRUE(store_->Commit("repo", change).ok());
    Json after = Call("index_status", Json::object());
    EXPECT_EQ(after["collections"][0]["imported_at"], "2100-01-01T00:00:00Z") << after.dump();
    EXPECT_EQ(after["collections"][0]["incomplete"], true);
    EXPECT_NE(last_text_.find("last written imported 2100-01-01T00:00:00Z"), std::string::npos) << last_text_;
    EXPECT_NE(last_text_.find("incomplete: an index run was interrupted"), std::string::npos) << last_text_;
}

TEST_F(ToolsTest, FindSimilarFindsTheNearDuplicateAndHonoursExcludeFile) {
    Json all = Call("find_similar", {{"code_snippet", kNormalizeTitle}, {"limit", 3}});
    ASSERT_FALSE(all["results"].empty());
    EXPECT_EQ(all["results"][0]["file_path"], "util/strings.py");
    EXPECT_EQ(all["results"][0]["symbol"], "normalize_title");

    Json other =
        Call("find_similar", {{"code_snippet", kNormalizeTitle}, {"limit", 3}, {"exclude_file", "./util/strings.py"}});
    ASSERT_FALSE(other["results"].empty());
    EXPECT_EQ(other["results"][0]["file_path"], "util/copy_strings.py");
    EXPECT_EQ(other["results"][0]["symbol"], "normalise_heading");
    EXPECT_LE(other["results"].size(), 3u);
    for (const auto& r : other["results"]) EXPECT_NE(r["file_path"], "util/strings.py");
    EXPECT_NE(last_text_.find("util/copy_strings.py:1-4"), std::string::npos) << last_text_;

    const double best = other["results"][0]["score"];
    Json strict =
        Call("find_similar",
             {{"code_snippet", kNormalizeTitle}, {"exclude_file", "util/strings.py"}, {"min_similarity", best - 1e-6}});
    ASSERT_EQ(strict["results"].size(), 1u);
    Json python_only = Call("find_similar", {{"code_snippet", kNormalizeTitle}, {"language", "cpp"}, {"limit", 100}});
    for (const auto& r : python_only["results"]) EXPECT_EQ(r["language"], "cpp");

    EXPECT_EQ(RpcError("find_similar", Json::object()), kInvalidParams);
    EXPECT_EQ(RpcError("find_similar", {{"code_snippet", "x"}, {"limit", 0}}), kInvalidParams);
    EXPECT_EQ(RpcError("find_similar", {{"code_snippet", "x"}, {"min_similarity", 1.5}}), kInvalidParams);
    EXPECT_EQ(RpcError("find_similar", {{"code_snippet", "x"}, {"exclude_file", "../x.py"}}), kInvalidParams);
    EXPECT_EQ(RpcError("find_similar", {{"code_snippet", "x"}, {"snippet", "x"}}), kInvalidParams);
}

TEST_F(ToolsTest, GetContextMergesPutsCurrentFileFirstAndStaysInBudget) {
    const std::string task = "add an item to the shopping cart and compute the cart total at checkout";
    Json full = Call("get_context", {{"task_description", task}, {"current_file", "shop/checkout.py"}});
    EXPECT_EQ(full["max_tokens"], 4000);
    ASSERT_FALSE(full["files"].empty());
    EXPECT_EQ(full["files"][0]["file_path"], "shop/checkout.py");
    EXPECT_TRUE(full["unindexed_files"].empty());
    EXPECT_LE(full["tokens_used"].get<int>(), 4000);
    int add_item_definitions = 0;
    int summed = 0;
    for (const auto& file : full["files"]) {
        int previous_end = -10;
        for (const auto& e : file["excerpts"]) {
            // Disjoint and not adjacent: overlapping chunks (a class and its methods) were merged.
            EXPECT_GT(e["start_line"].get<int>(), previous_end + 1) << file.dump();
            previous_end = e["end_line"];
            summed += e["tokens"].get<int>();
            const std::string text = e["text"];
            for (size_t pos = text.find("def add_item"); pos != std::string::npos;
                 pos = text.find("def add_item", pos + 1))
                ++add_item_definitions;
        }
    }
    EXPECT_EQ(add_item_definitions, 1);
    EXPECT_EQ(summed, full["tokens_used"].get<int>());
    // The import line and the adjacent function became one excerpt.
    ASSERT_EQ(full["files"][0]["excerpts"].size(), 1u) << full["files"][0].dump();
    EXPECT_EQ(full["files"][0]["excerpts"][0]["start_line"], 1);
    EXPECT_EQ(full["files"][0]["excerpts"][0]["end_line"], 6);
    EXPECT_EQ(full["files"][0]["excerpts"][0]["text"].get<std::string>() + "\n", kCheckout);
    EXPECT_EQ(full["files"][0]["excerpts"][0]["symbols"], Json::array({"checkout"}));
    EXPECT_TRUE(full["omitted"].empty());

    Json tight = Call("get_context", {{"task_description", task},
                                      {"current_file", "shop/checkout.py"},
                                      {"related_files", {"shop/cart.py", "nowhere/missing.py"}},
                                      {"max_tokens", 100}});
    EXPECT_LE(tight["tokens_used"].get<int>(), 100);
    EXPECT_GT(tight["tokens_used"].get<int>(), 0);
    ASSERT_FALSE(tight["files"].empty());
    EXPECT_EQ(tight["files"][0]["file_path"], "shop/checkout.py");
    bool has_checkout = false;
    for (const auto& e : tight["files"][0]["excerpts"]) {
        for (const auto& symbol : e["symbols"]) has_checkout |= symbol == "checkout";
    }
    EXPECT_TRUE(has_checkout) << tight["files"][0].dump();
    ASSERT_FALSE(tight["omitted"].empty());
    for (const auto& o : tight["omitted"]) {
        EXPECT_EQ(o["reason"], "over budget");
        EXPECT_GT(o["end_line"].get<int>(), 0);
    }
    EXPECT_EQ(tight["unindexed_files"], Json::array({"nowhere/missing.py"}));
    EXPECT_NE(last_text_.find("over budget"), std::string::npos) << last_text_;

    EXPECT_EQ(RpcError("get_context", {{"task_description", task}, {"max_tokens", 50}}), kInvalidParams);
    EXPECT_EQ(RpcError("get_context", {{"task_description", task}, {"related_files", "shop/cart.py"}}), kInvalidParams);
    EXPECT_EQ(RpcError("get_context", {{"task_description", task}, {"current_file", "/etc/passwd"}}), kInvalidParams);
    EXPECT_EQ(RpcError("get_context", {{"task_description", ""}}), kInvalidParams);
}

TEST_F(ToolsTest, ExplainCodeGivesTheMethodItsClassAndItsUses) {
    Json method = Call("explain_code", {{"file_path", "shop/cart.py"}, {"function_name", "add_item"}});
    EXPECT_EQ(method["file_path"], "shop/cart.py");
    EXPECT_EQ(method["language"], "python");
    ASSERT_EQ(method["code"].size(), 1u);
    EXPECT_EQ(method["code"][0]["start_line"], 7);
    EXPECT_EQ(method["code"][0]["end_line"], 9);
    EXPECT_EQ(method["code"][0]["text"],
              "    def add_item(self, name, price):\n        self.items.append((name, price))\n"
              "        return len(self.items)");
    ASSERT_EQ(method["definitions"].size(), 1u);
    const Json& def = method["definitions"][0];
    EXPECT_EQ(def["symbol"], "Cart.add_item");
    EXPECT_EQ(def["kind"], "method");
    EXPECT_EQ(def["line"], 7);
    ASSERT_EQ(def["enclosing"].size(), 1u);
    EXPECT_EQ(def["enclosing"][0]["symbol"], "Cart");
    EXPECT_EQ(def["enclosing"][0]["kind"], "class");
    EXPECT_EQ(def["enclosing"][0]["line"], 1);
    EXPECT_EQ(def["enclosing"][0]["text"], "class Cart:");
    ASSERT_EQ(def["usages"].size(), 1u) << def.dump();
    EXPECT_EQ(def["usages"][0]["file_path"], "shop/checkout.py");
    EXPECT_EQ(def["usages"][0]["line"], 5);
    EXPECT_EQ(def["usages"][0]["text"], "cart.add_item(name, 1.0)");
    EXPECT_EQ(def["usages"][0]["symbol"], "checkout");
    EXPECT_NE(last_text_.find("shop/checkout.py:5"), std::string::npos) << last_text_;

    // The same through an absolute path under the root, a qualified name, and a line range.
    Json absolute =
        Call("explain_code", {{"file_path", (root_ / "shop/cart.py").string()}, {"function_name", "Cart.add_item"}});
    EXPECT_EQ(absolute["definitions"][0]["symbol"], "Cart.add_item");
    Json by_lines = Call("explain_code", {{"file_path", "shop/cart.py"}, {"line_range", {{"start", 8}, {"end", 8}}}});
    EXPECT_EQ(by_lines["code"][0]["text"], "        self.items.append((name, price))");
    ASSERT_EQ(by_lines["definitions"].size(), 1u);
    EXPECT_EQ(by_lines["definitions"][0]["symbol"], "Cart.add_item");
    EXPECT_EQ(by_lines["definitions"][0]["enclosing"][0]["symbol"], "Cart");

    Json cls = Call("explain_code", {{"file_path", "shop/cart.py"}, {"class_name", "Cart"}});
    EXPECT_EQ(cls["code"][0]["start_line"], 1);
    EXPECT_EQ(cls["code"][0]["end_line"], 12);
    EXPECT_EQ(cls["code"][0]["text"].get<std::string>() + "\n", kCart);
    bool used_in_checkout = false;
    for (const auto& u : cls["definitions"][0]["usages"]) used_in_checkout |= u["file_path"] == "shop/checkout.py";
    EXPECT_TRUE(used_in_checkout);
}

TEST_F(ToolsTest, ExplainCodeFindsTheClassOfAnOutOfLineMethodInItsHeader) {
    Json restock =
        Call("explain_code", {{"file_path", "inventory/inventory.cpp"}, {"function_name", "Inventory::Restock"}});
    ASSERT_EQ(restock["definitions"].size(), 1u);
    const Json& def = restock["definitions"][0];
    EXPECT_EQ(def["symbol"], "Inventory.Restock");
    ASSERT_EQ(def["enclosing"].size(), 1u) << def.dump();
    EXPECT_EQ(def["enclosing"][0]["symbol"], "Inventory");
    EXPECT_EQ(def["enclosing"][0]["file_path"], "inventory/inventory.hpp");
    EXPECT_EQ(def["enclosing"][0]["line"], 4);
    ASSERT_EQ(def["usages"].size(), 1u) << def.dump();
    EXPECT_EQ(def["usages"][0]["file_path"], "inventory/inventory.hpp");
    EXPECT_EQ(def["usages"][0]["line"], 7);
}

TEST_F(ToolsTest, ExplainCodeRefusesPathsOutsideTheRootAndReportsUnknowns) {
    for (const std::string path : {"../etc/passwd", "/etc/passwd", "shop/../../etc/passwd"}) {
        Json reply = CallRaw("explain_code", {{"file_path", path}, {"function_name", "x"}});
        ASSERT_TRUE(reply.contains("error")) << reply.dump();
        EXPECT_EQ(reply["error"]["code"], kInvalidParams);
        EXPECT_NE(reply["error"]["message"].get<std::string>().find(path), std::string::npos) << reply.dump();
    }
    Json unindexed = CallRaw("explain_code", {{"file_path", "shop/nothing.py"}, {"function_name", "x"}});
    EXPECT_EQ(unindexed["result"]["isError"], true);
    EXPECT_NE(unindexed["result"]["content"][0]["text"].get<std::string>().find("file shop/nothing.py is not indexed"),
              std::string::npos);
    Json unknown = CallRaw("explain_code", {{"file_path", "shop/cart.py"}, {"function_name", "remove_item"}});
    EXPECT_EQ(unknown["result"]["isError"], true);
    const std::string listing = unknown["result"]["content"][0]["text"];
    EXPECT_NE(listing.find("Cart.add_item"), std::string::npos) << listing;
    EXPECT_NE(listing.find("Cart.total"), std::string::npos) << listing;

    EXPECT_EQ(RpcError("explain_code", {{"file_path", "shop/cart.py"}}), kInvalidParams);
    EXPECT_EQ(
        RpcError("explain_code", {{"file_path", "shop/cart.py"}, {"function_name", "total"}, {"class_name", "Cart"}}),
        kInvalidParams);
    EXPECT_EQ(RpcError("explain_code", {{"file_path", "shop/cart.py"}, {"line_range", {{"start", 5}, {"end", 2}}}}),
              kInvalidParams);
    EXPECT_EQ(RpcError("explain_code", {{"file_path", "shop/cart.py"}, {"line_range", {5, 8}}}), kInvalidParams);
    Json past_end =
        CallRaw("explain_code", {{"file_path", "shop/cart.py"}, {"line_range", {{"start", 90}, {"end", 99}}}});
    EXPECT_EQ(past_end["result"]["isError"], true);
}

TEST_F(ToolsTest, FindReferencesListsDefinitionsFirstThenUsesWithLines) {
    Json add = Call("find_references", {{"symbol", "add_item"}});
    ASSERT_EQ(add["definitions"].size(), 1u) << add.dump();
    EXPECT_EQ(add["definitions"][0]["file_path"], "shop/cart.py");
    EXPECT_EQ(add["definitions"][0]["line"], 7);
    EXPECT_EQ(add["definitions"][0]["symbol"], "Cart.add_item");
    EXPECT_EQ(add["definitions"][0]["text"], "def add_item(self, name, price):");
    ASSERT_EQ(add["references"].size(), 1u) << add.dump();
    EXPECT_EQ(add["references"][0]["file_path"], "shop/checkout.py");
    EXPECT_EQ(add["references"][0]["line"], 5);
    EXPECT_EQ(add["references"][0]["text"], "cart.add_item(name, 1.0)");
    EXPECT_EQ(add["references"][0]["symbol"], "checkout");
    EXPECT_EQ(add["truncated"], false);
    ASSERT_NE(last_text_.find("shop/checkout.py:5"), std::string::npos) << last_text_;
    EXPECT_LT(last_text_.find("shop/cart.py:7"), last_text_.find("shop/checkout.py:5")) << last_text_;

    Json count = Call("find_references", {{"symbol", "Inventory::Count"}, {"language", "cpp"}});
    ASSERT_EQ(count["definitions"].size(), 1u) << count.dump();
    EXPECT_EQ(count["definitions"][0]["file_path"], "inventory/inventory.cpp");
    EXPECT_EQ(count["definitions"][0]["line"], 3);
    std::set<std::pair<std::string, int>> uses;
    for (const auto& r : count["references"]) uses.emplace(r["file_path"], r["line"]);
    EXPECT_EQ(uses,
              (std::set<std::pair<std::string, int>>{{"inventory/inventory.cpp", 8}, {"inventory/inventory.hpp", 6}}));
    for (const auto& r : count["references"]) {
        if (r["line"] == 8) {
            EXPECT_EQ(r["symbol"], "Inventory.Restock");
        }
    }

    Json limited = Call("find_references", {{"symbol", "Count"}, {"limit", 2}});
    EXPECT_EQ(limited["definitions"].size() + limited["references"].size(), 2u);
    EXPECT_EQ(limited["definitions"].size(), 1u);  // definitions are kept first
    EXPECT_EQ(limited["truncated"], true);

    Json none = Call("find_references", {{"symbol", "no_such_name"}});
    EXPECT_TRUE(none["definitions"].empty());
    EXPECT_TRUE(none["references"].empty());

    EXPECT_EQ(RpcError("find_references", {{"symbol", "a b"}}), kInvalidParams);
    EXPECT_EQ(RpcError("find_references", {{"symbol", "x"}, {"limit", 0}}), kInvalidParams);
    EXPECT_EQ(RpcError("find_references", {{"symbol", "x"}, {"limit", "3"}}), kInvalidParams);
    EXPECT_EQ(RpcError("find_references", {{"name", "x"}}), kInvalidParams);
    Json missing = CallRaw("find_references", {{"symbol", "x"}, {"collection", "nope"}});
    EXPECT_EQ(missing["result"]["isError"], true);
}

TEST_F(ToolsTest, ArgumentLimitsAreInvalidParamsNamingTheArgument) {
    auto message = [&](const std::string& tool, Json args) {
        Json reply = CallRaw(tool, std::move(args));
        EXPECT_EQ(reply["error"]["code"], kInvalidParams) << reply.dump().substr(0, 300);
        return reply["error"]["message"].is_string() ? reply["error"]["message"].get<std::string>() : std::string();
    };
    // Lengths, in characters (a 2-byte character counts once).
    EXPECT_EQ(message("search_code", {{"query", std::string(4097, 'q')}}),
              "Invalid params: query must be at most 4096 characters (got 4097)");
    std::string wide;
    for (int i = 0; i < 4096; ++i) wide += "\xc3\xa9";  // é
    EXPECT_TRUE(CallRaw("search_code", {{"query", wide}}).contains("result"));
    EXPECT_EQ(message("search_code", {{"query", wide + "\xc3\xa9"}}),
              "Invalid params: query must be at most 4096 characters (got 4097)");
    EXPECT_EQ(message("get_context", {{"task_description", std::string(5000, 't')}}),
              "Invalid params: task_description must be at most 4096 characters (got 5000)");
    EXPECT_EQ(message("find_similar", {{"code_snippet", std::string(16385, 'c')}}),
              "Invalid params: code_snippet must be at most 16384 characters (got 16385)");
    EXPECT_TRUE(CallRaw("find_similar", {{"code_snippet", std::string(16384, 'c')}}).contains("result"));
    EXPECT_EQ(message("find_references", {{"symbol", std::string(257, 's')}}),
              "Invalid params: symbol must be at most 256 characters (got 257)");
    EXPECT_EQ(message("explain_code", {{"file_path", "shop/cart.py"}, {"function_name", std::string(300, 'f')}}),
              "Invalid params: function_name must be at most 256 characters (got 300)");
    EXPECT_EQ(message("search_code", {{"query", "x"}, {"collection", std::string(257, 'c')}}),
              "Invalid params: collection must be at most 256 characters (got 257)");
    EXPECT_EQ(message("search_code", {{"query", "x"}, {"language", std::string(257, 'l')}}),
              "Invalid params: language must be at most 256 characters (got 257)");
    EXPECT_EQ(message("explain_code", {{"file_path", std::string(1025, 'p')}, {"function_name", "x"}}),
              "Invalid params: file_path must be at most 1024 characters (got 1025)");
    EXPECT_EQ(message("search_code", {{"query", "x"}, {"file_pattern", std::string(1025, '*')}}),
              "Invalid params: file_pattern must be at most 1024 characters (got 1025)");
    // NUL bytes.
    EXPECT_EQ(message("search_code", {{"query", std::string("a\0b", 3)}}),
              "Invalid params: query must not contain NUL bytes");
    EXPECT_EQ(message("find_references", {{"symbol", "x"}, {"collection", std::string("repo\0x", 6)}}),
              "Invalid params: collection must not contain NUL bytes");
    EXPECT_EQ(message("explain_code", {{"file_path", std::string("shop/cart.py\0.txt", 17)}, {"function_name", "x"}}),
              "Invalid params: file_path must not contain NUL bytes");
    // Paths: named, refused when they leave the repository.
    EXPECT_EQ(message("find_similar", {{"code_snippet", "x"}, {"exclude_file", "../x.py"}}),
              "Invalid params: exclude_file: file path '../x.py' escapes the repository root");
    EXPECT_EQ(message("get_context", {{"task_description", "x"}, {"current_file", "/etc/passwd"}}),
              "Invalid params: current_file: file path '/etc/passwd' is outside the indexed root " + root_.string());
    EXPECT_EQ(message("get_context", {{"task_description", "x"}, {"related_files", {"shop/cart.py", "a/../../b"}}}),
              "Invalid params: related_files: file path 'a/../../b' escapes the repository root");
    EXPECT_EQ(message("explain_code", {{"file_path", "shop/../.."}, {"class_name", "Cart"}}),
              "Invalid params: file_path: file path 'shop/../..' escapes the repository root");
    // Globs: relative, without '..' segments.
    EXPECT_EQ(message("search_code", {{"query", "x"}, {"file_pattern", "/etc/*"}}),
              "Invalid params: file_pattern must be relative to the repository root: '/etc/*'");
    EXPECT_EQ(message("search_code", {{"query", "x"}, {"file_pattern", "src/../../*.py"}}),
              "Invalid params: file_pattern must not contain '..' segments: 'src/../../*.py'");
    EXPECT_EQ(message("search_code", {{"query", "x"}, {"file_pattern", ".."}}),
              "Invalid params: file_pattern must not contain '..' segments: '..'");
    EXPECT_TRUE(CallRaw("search_code", {{"query", "cart"}, {"file_pattern", "shop/**/*..py"}}).contains("result"));
    // Unknown argument names are quoted shortened.
    EXPECT_EQ(message("index_status", {{std::string(500, 'k'), 1}}),
              "Invalid params: unknown argument '" + std::string(64, 'k') + "...'");
    // The numeric ranges that already existed.
    EXPECT_EQ(message("search_code", {{"query", "x"}, {"limit", 101}}),
              "Invalid params: limit must be an integer from 1 to 100");
    EXPECT_EQ(message("get_context", {{"task_description", "x"}, {"max_tokens", 100001}}),
              "Invalid params: max_tokens must be an integer from 100 to 100000");
    EXPECT_EQ(message("find_references", {{"symbol", "x"}, {"limit", 0}}),
              "Invalid params: limit must be an integer from 1 to 500");
}

TEST_F(ToolsTest, LanguageAcceptsAliasesAndAnyCaseAndRefusesUnknownNames) {
    // Aliases and case: the same results as the canonical id (before: "no results").
    for (const char* tool : {"search_code", "find_similar"}) {
        const char* query_key = std::string(tool) == "search_code" ? "query" : "code_snippet";
        Json canonical = Call(tool, {{query_key, "cart total"}, {"language", "python"}});
        ASSERT_FALSE(canonical["results"].empty()) << tool;
        for (const char* alias : {"Python", "py", "PY", ".py", "python3"}) {
            Json aliased = Call(tool, {{query_key, "cart total"}, {"language", alias}});
            EXPECT_EQ(aliased["results"], canonical["results"]) << tool << " " << alias;
        }
    }
    Json cpp = Call("search_code", {{"query", "distance between points"}, {"language", "C++"}});
    ASSERT_FALSE(cpp["results"].empty());
    for (const auto& r : cpp["results"]) EXPECT_EQ(r["language"], "cpp");
    Json refs = Call("find_references", {{"symbol", "Inventory::Count"}, {"language", "cxx"}});
    EXPECT_EQ(refs["definitions"].size(), 1u);

    // Unknown: a tool error (isError) naming the nearest language, like an unknown collection.
    for (const char* tool : {"search_code", "find_similar", "find_references"}) {
        const std::string key = std::string(tool) == "search_code"    ? "query"
                                : std::string(tool) == "find_similar" ? "code_snippet"
                                                                      : "symbol";
        Json reply = CallRaw(tool, {{key, "cart"}, {"language", "pyhton"}});
        ASSERT_TRUE(reply.contains("result")) << tool << " " << reply.dump();
        EXPECT_EQ(reply["result"]["isError"], true) << tool;
        const std::string text = reply["result"]["content"][0]["text"];
        EXPECT_EQ(text.rfind("unknown language 'pyhton'; did you mean 'python'? known: ", 0), 0u) << text;
        EXPECT_NE(text.find("go, "), std::string::npos) << text;
    }
    Json far = CallRaw("search_code", {{"query", "cart"}, {"language", "klingon"}});
    EXPECT_EQ(far["result"]["isError"], true);
    // An empty name is a malformed argument.
    EXPECT_EQ(RpcError("search_code", {{"query", "cart"}, {"language", ""}}), kInvalidParams);
    // limit 0 is refused, never read as the default.
    EXPECT_EQ(RpcError("search_code", {{"query", "cart"}, {"limit", 0}}), kInvalidParams);
}

TEST(NormalizeRepoPath, RepoRelativeOrUnderTheRootOnly) {
    const fs::path root = "/srv/repo";
    EXPECT_EQ(*NormalizeRepoPath("./src//a.py", std::nullopt), "src/a.py");
    EXPECT_EQ(*NormalizeRepoPath("src/x/../a.py", std::nullopt), "src/a.py");
    EXPECT_EQ(*NormalizeRepoPath("/srv/repo/src/a.py", root), "src/a.py");
    EXPECT_EQ(*NormalizeRepoPath("/srv/repo/src/a.py", fs::path("/srv/repo/")), "src/a.py");
    for (const char* bad : {"../etc/passwd", "a/../../b", "", ".", "/srv/repo", "/srv/repo/../other/a.py",
                            "/srv/repository/a.py", "/etc/passwd"}) {
        auto r = NormalizeRepoPath(bad, root);
        EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
    auto unknown_root = NormalizeRepoPath("/srv/repo/a.py", std::nullopt);
    EXPECT_EQ(unknown_root.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(unknown_root.status().message().find("/srv/repo/a.py"), std::string::npos);
}

}  // namespace
}  // namespace signalhub::mcp

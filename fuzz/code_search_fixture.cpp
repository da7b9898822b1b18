#include "fuzz/code_search_fixture.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "embed/embedder.hpp"
#include "index/pipeline.hpp"
#include "mcp/tools.hpp"
#include "search/searcher.hpp"
#include "store/vector_store.hpp"

namespace signalhub::fuzz {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Fail(const std::string& what) {
    std::fprintf(stderr, "fuzz fixture: %s\n", what.c_str());
    std::abort();
}

void Write(const fs::path& p, const char* text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

struct Fixture {
    Fixture() {
        char dir[] = "/tmp/signal-hub-fuzz-XXXXXX";
        if (::mkdtemp(dir) == nullptr) Fail("mkdtemp failed");
        root = dir;
        Write(root / "shop/cart.py",
              "class Cart:\n"
              "    \"\"\"A shopping cart.\"\"\"\n"
              "\n"
              "    def __init__(self):\n"
              "        self.items = []\n"
              "\n"
              "    def add_item(self, name, price):\n"
              "        self.items.append((name, price))\n"
              "        return len(self.items)\n"
              "\n"
              "    def total(self):\n"
              "        return sum(price for _, price in self.items)\n");
        Write(root / "shop/checkout.py",
              "from shop.cart import Cart\n"
              "def checkout(names):\n"
              "    cart = Cart()\n"
              "    for name in names:\n"
              "        cart.add_item(name, 1.0)\n"
              "    return cart.total()\n");
        Write(root / "inventory/inventory.hpp",
              "#pragma once\n#include <string>\n\nnamespace shop {\nclass Inventory {\n  public:\n"
              "    int Count(const std::string& sku) const;\n    void Restock(const std::string& sku, int amount);\n"
              "\n  private:\n    int total_ = 0;\n};\n}  // namespace shop\n");
        Write(root / "inventory/inventory.cpp",
              "#include \"inventory.hpp\"\n\nnamespace shop {\n"
              "int Inventory::Count(const std::string& sku) const {\n"
              "    return static_cast<int>(sku.size()) + total_;\n}\n\n"
              "void Inventory::Restock(const std::string& sku, int amount) {\n"
              "    total_ += amount + Count(sku);\n}\n}  // namespace shop\n");

        auto opened = store::OpenStore("memory://", {});
        if (!opened.ok()) Fail(opened.status().ToString());
        store = std::move(*opened);
        config::EmbeddingConfig ec;
        ec.dimension = 64;
        auto made = embed::CreateEmbedder(ec);
        if (!made.ok()) Fail(made.status().ToString());
        embedder = std::move(*made);
        index::IndexOptions options;
        options.root = root;
        options.collection = "repo";
        options.threads = 1;
        auto stats = index::IndexTree(*store, *embedder, options);
        if (!stats.ok()) Fail(stats.status().ToString());
        searcher = std::make_unique<search::Searcher>(*store, *embedder, config::SearchConfig{});
        server = std::make_unique<mcp::Server>(mcp::ServerInfo{});
        mcp::AddCodeSearchTools(*server,
                                mcp::ToolContext{.store = store.get(), .searcher = searcher.get(), .root = root});
        std::error_code ec_ignored;
        fs::remove_all(root, ec_ignored);  // the tools read only the index
        root_text = root.string();
    }

    fs::path root;
    std::string root_text;
    std::unique_ptr<store::VectorStore> store;
    std::unique_ptr<embed::Embedder> embedder;
    std::unique_ptr<search::Searcher> searcher;
    std::unique_ptr<mcp::Server> server;
};

Fixture& Get() {
    static Fixture* fixture = new Fixture();  // never destroyed: no exit-time races with the fuzzer
    return *fixture;
}

}  // namespace

const mcp::Server& CodeSearchServer() { return *Get().server; }
const std::string& CodeSearchRoot() { return Get().root_text; }

}  // namespace signalhub::fuzz

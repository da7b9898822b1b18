// Unit tests of the postgresql store that need no server: what OpenStore answers for bad or
// unreachable URLs (the URL itself is parsed by the libpq layer, pg_client_test.cpp), and the
// translation of path globs into PostgreSQL regular expressions.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "store/pgvector/glob_regex.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::pg {
namespace {

TEST(PgUrl, BadUrlsAreInvalidArgumentWhenOpeningTheStore) {
    for (const std::string url : {"postgresql://u:hunter2@h/db?pool_size=0", "postgresql://u:hunter2@h/db?bogus=1",
                                  "postgresql://u:hunter2@h:notaport/db", "postgresql://u:hunter2@h/db?pool_timeout=-1",
                                  "postgresql://u:hunter2@h/db?schema=", "postgresql://u:hunter2@h/db?max_overflow=x",
                                  "postgresql://u:hunter2@h/db?schema=%zz", "postgresql://u:hunter2@h/db?hnsw_m=1",
                                  "postgresql://u:hunter2@h/db?hnsw_m=101", "postgresql://u:hunter2@h/db?hnsw_ef_construction=1001",
                                  "postgresql://u:hunter2@h/db?hnsw_m=32&hnsw_ef_construction=40"}) {
        auto opened = OpenStore(url, OpenOptions{});
        EXPECT_EQ(opened.status().code(), ErrorCode::kInvalidArgument) << url;
    }
}

TEST(PgUrl, UnreachableServerIsUnavailableNamingHostAndPort) {
    for (const std::string scheme : {"postgresql", "postgres"}) {
        auto store = OpenStore(scheme + "://app:hunter2@127.0.0.1:1/db?connect_timeout=5", OpenOptions{});
        ASSERT_FALSE(store.ok());
        EXPECT_EQ(store.status().code(), ErrorCode::kUnavailable) << store.status().ToString();
        EXPECT_THAT(store.status().message(), testing::HasSubstr("127.0.0.1:1"));
        EXPECT_THAT(store.status().message(), testing::Not(testing::HasSubstr("hunter2")));
    }
}

TEST(PgGlobRegex, EmptyPatternsMatchNothingAndPathsMapBytesToChars) {
    EXPECT_EQ(GlobToPgRegex(""), std::nullopt);
    EXPECT_EQ(GlobToPgRegex("./"), std::nullopt);
    EXPECT_EQ(GlobToPgRegex("*.py"), std::optional<std::string>("(?:^|/)[^/]*\\u002epy$"));
    EXPECT_EQ(GlobToPgRegex("src/**/*.py"), std::optional<std::string>("^src\\u002f(?:.*/)?[^/]*\\u002epy$"));
    EXPECT_EQ(GlobPathText("./a/b"), std::optional<std::string>("a/b"));
    EXPECT_EQ(GlobPathText("\xff"), std::optional<std::string>("\xc3\xbf"));
    EXPECT_EQ(GlobPathText(std::string("a\0b", 3)), std::nullopt);
}

}  // namespace
}  // namespace signalhub::store::pg

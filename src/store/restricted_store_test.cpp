// RestrictedStore: an allow-list view sees and returns only its collections.
#include "store/restricted_store.hpp"

#include <gtest/gtest.h>

#include "store/memory_store.hpp"

namespace signalhub::store {
namespace {

Record MakeRecord(const std::string& id, const std::string& text) {
    Record r;
    r.id = id;
    r.document = text;
    r.embedding = {1, 0, 0, 0};
    return r;
}

TEST(RestrictedStore, SeesOnlyItsCollectionsAndWritesNothing) {
    MemoryStore base;
    for (const std::string name : {"mine", "theirs"}) {
        ASSERT_TRUE(base.EnsureCollection({.name = name, .model = "m", .dimension = 4}).ok());
        ChangeSet changes;
        changes.upserts.push_back(MakeRecord(name + "-1", "alpha " + name));
        ASSERT_TRUE(base.Commit(name, changes).ok());
    }
    RestrictedStore view(base, {"mine", "absent"});
    auto listed = view.ListCollections();
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].spec.name, "mine");
    EXPECT_TRUE(view.GetCollection("mine").ok());
    auto specs = view.ListCollectionSpecs();
    ASSERT_TRUE(specs.ok());
    ASSERT_EQ(specs->size(), 1u);
    EXPECT_EQ((*specs)[0].name, "mine");
    EXPECT_EQ(view.GetCollectionSpec("mine")->name, "mine");

    const std::vector<std::string> ids = {"theirs-1"};
    const std::vector<float> query = {1, 0, 0, 0};
    const std::vector<Status> refused = {
        view.GetCollection("theirs").status(),
        view.GetCollectionSpec("theirs").status(),
        view.Get("theirs", ids).status(),
        view.Scan("theirs", "", 10).status(),
        view.ListFiles("theirs").status(),
        view.VectorSearch("theirs", query, {}).status(),
        view.LexicalSearch("theirs", "alpha", {}).status(),
    };
    for (const Status& s : refused) {
        EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
        EXPECT_EQ(s.message(), "collection 'theirs' is not allowed for this API key");
    }
    // A collection that does not exist is refused the same way (no probing for names).
    EXPECT_EQ(view.GetCollection("nope").status().message(), "collection 'nope' is not allowed for this API key");
    auto hits = view.LexicalSearch("mine", "alpha", {});
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].record.id, "mine-1");

    EXPECT_EQ(view.Commit("mine", ChangeSet{}).code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(view.DropCollection("mine").code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(view.EnsureCollection({.name = "new", .model = "m", .dimension = 4}).status().code(),
              ErrorCode::kPermissionDenied);
    EXPECT_EQ(*view.DataVersion(), *base.DataVersion());
    EXPECT_TRUE(view.CheckHealth().ok());
}

}  // namespace
}  // namespace signalhub::store

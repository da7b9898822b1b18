#pragma once
// What makes a directory an embedded Signal Hub store, for code that must
// recognise one without opening it (the scanner never indexes a store, wherever
// it lies in the tree and whatever it is called). Depends only on the file
// system, so the scanner can use it without linking the store.

#include <string>

namespace signalhub::store {

// The file every embedded store directory gets on creation: a .gitignore
// holding "*", so that git (and the scanner, which honours .gitignore files)
// ignores the store by itself.
inline constexpr const char* kStoreGitignoreName = ".gitignore";
inline constexpr const char* kStoreGitignoreContent =
    "# Signal Hub store (created automatically): git ignores everything here.\n*\n";

// True when `dir` is an embedded store directory, also one written by an older
// build or copied elsewhere (a restored backup, a store renamed to anything):
// it holds "store.db" starting with the SQLite header together with the
// store's "LOCK" file or "hnsw" directory, or, without a database yet, both
// "LOCK" and "hnsw". Never follows symlinks of `dir` itself; false on errors.
bool IsEmbeddedStoreDir(const std::string& dir);

}  // namespace signalhub::store

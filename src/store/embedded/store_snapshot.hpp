#pragma once
// A consistent copy of an embedded store directory taken while a writer
// (`index`, `serve --watch`) may be working on it; used by `backup create`.
//
// One read transaction on DIR/store.db holds a snapshot while (1) each
// collection's HNSW graph and sidecar are copied and checked against that
// snapshot (sidecar seq between the snapshot's hnsw_seq and its change-log
// head, file size and XXH3 as the sidecar says: the store then loads the graph
// and replays the snapshot's change log, exactly as after a crash); a graph
// that does not match after three attempts is left out (the store rebuilds it
// from the records on open), and (2) SQLite's online backup API copies the
// database pages of that same snapshot, which must pass PRAGMA quick_check.
// The writer is never blocked and never seen half-way; nothing is written to
// the source.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace signalhub::store {

struct EmbeddedSnapshot {
    int schema_version = 0;
    std::int64_t data_version = 0;
    struct Collection {
        std::string name;
        std::int64_t records = 0;
        bool graph_included = false;
        std::string graph_note;  // why the graph was left out (when it was)
    };
    std::vector<Collection> collections;  // by name
};

// Writes STAGING/store.db and STAGING/hnsw/<id>.{json,bin}. NotFound when
// `store_dir` holds no store.db; FailedPrecondition for another schema version
// than this build's; DataLoss when the copy fails its integrity check.
Result<EmbeddedSnapshot> SnapshotEmbeddedStore(const std::string& store_dir, const std::string& staging);

}  // namespace signalhub::store

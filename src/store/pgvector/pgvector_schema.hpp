#pragma once
// PgStoreSchema: the PostgreSQL store's table names and its schema management —
// the pgvector extension check, the schema version check of a read-only open and
// the migrations of a read-write open (described at the top of pgvector_store.cpp).
// Internal to the store.

#include <string>
#include <string_view>

#include "core/status.hpp"
#include "db/postgres/pg_client.hpp"

namespace signalhub::store {

// Whether a dotted version ("0.8.1") is at least major.minor.
bool VersionAtLeast(std::string_view version, int major, int minor);

struct PgStoreSchema {
    explicit PgStoreSchema(const db::pg::PgUrl& url);

    // "PostgreSQL at host:port (database NAME)", for messages.
    std::string Where() const;

    // Finds the vector extension (FailedPrecondition when older than 0.8) and sets
    // vector_type / ext_schema; `found` false when it is not installed.
    Status FindExtension(db::pg::PgConn& c, bool& found);
    // Read-only open: the store's schema exists (NotFound otherwise) at kSchemaVersion.
    Status CheckExisting(db::pg::PgConn& c);
    Status CheckSchemaVersion(db::pg::PgConn& c);
    // Read-write open: creates the schema, the extension and the tables, or migrates them (one
    // transaction under a database-wide advisory lock).
    Status Migrate(db::pg::PgConn& c);

    std::string schema_name, database, endpoint;  // unquoted, for messages and parameters
    // Quoted, schema-qualified names.
    std::string schema, meta, collections, files, properties, migrations;
    std::string vector_type = "vector";
    std::string ext_schema = "public";
};

}  // namespace signalhub::store

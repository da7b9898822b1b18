#pragma once
// The column values of a records-table row (signal_hub_records_<id>) as the pgvector store writes
// them, and their PGCOPY binary encoding for bulk loads (COPY ... FROM STDIN (FORMAT binary)).
// Shared by PgVectorStore (Commit, BulkLoad) and bench/pg_copy_bench.cpp (the raw-COPY peer loads
// the same bytes, so that the comparison is about the load, not about different rows).
//
// Columns, in table order: id bytea, document bytea NULL, metadata json, embedding vector(DIM),
// language bytea NULL, glob_path text NULL, lexemes tsvector, lexeme_count int4.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::pg {

// Positions stored per lexeme at most (the tsvector limit): the term frequency is capped there.
inline constexpr int kMaxLexemePositions = 256;

// The lexeme stored for a token: the token when it is valid UTF-8, else "~" + hex of its bytes.
std::string Lexeme(std::string_view token);
// A lexeme quoted for tsvector / tsquery text ('it''s' style escapes with backslashes).
std::string QuoteLexeme(std::string_view lexeme);

struct PreparedRecord {
    const Record* record = nullptr;
    std::string metadata_json;
    std::optional<std::string> language;
    std::optional<std::string> glob_path;
    // Distinct lexemes in bytewise order with their counts (uncapped).
    std::vector<std::pair<std::string, int>> lexemes;
    std::int32_t lexeme_count = 0;  // number of tokens (the BM25 document length)
};

// Computes the derived columns of `record` (which must outlive the result).
Result<PreparedRecord> PrepareRecord(const Record& record);

// The lexemes as tsvector text: 'lexeme':1,2,...,tf (positions encode the term frequency).
std::string TsvectorText(const PreparedRecord& p);

// A PGCOPY binary stream of records-table rows.
class CopyRows {
   public:
    CopyRows();
    void Add(const PreparedRecord& p);
    size_t rows() const { return rows_; }
    // The stream with its trailer; the object starts a new stream afterwards.
    std::string Finish();

   private:
    void Header();
    void BE(std::uint64_t v, int bytes);
    void Field(std::string_view bytes);
    void Null();
    std::string data_;
    size_t rows_ = 0;
};

}  // namespace signalhub::store::pg

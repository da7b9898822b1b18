#pragma once
// The signal-hub export format (JSON Lines, versioned): see
// docs/production/database-migration/export-format.md for the specification.
//
//   {"format":"signal-hub-export","version":1,"type":"header","source":"embedded","collection":"repo",
//    "model":"builtin-hash-v1","dimension":384,"metric":"cosine","records":1234}
//   {"type":"record","id":"src/a.py#0","document":"...","metadata":{...},"embedding":[0.1,-0,1e-45,...]}
//   ...
//   {"type":"trailer","collection":"repo","records":1234,"checksum":"<32 hex: XXH3-128>"}
//
// One file holds one or more collections, each a header / records / trailer block. Records are
// in strictly ascending bytewise id order within a block (so ids are unique). Embeddings are
// float32 written as the shortest decimal that round-trips (std::to_chars) and read back with
// std::from_chars: bit-exact. NaN and infinities are refused in embeddings (pgvector refuses
// them too); metadata doubles keep the shared metadata JSON form (store/metadata_json.hpp),
// which does carry NaN/inf. An id or document that is not valid UTF-8 is written as
// {"$base64":"..."} (lossless); metadata strings are UTF-8 in every store.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/record.hpp"
#include "core/status.hpp"

namespace signalhub::ops {

inline constexpr std::string_view kExportFormatName = "signal-hub-export";
inline constexpr int kExportFormatVersion = 1;
// Version 2 = version 1 + the header's optional "chroma" object (the collection's own Chroma
// metadata and configuration). A header without it is still written as version 1, so files
// without Chroma collection metadata stay readable by version-1 readers; both are read.
inline constexpr int kExportFormatChromaVersion = 2;

struct ExportHeader {
    std::string source;  // "embedded", "postgresql", "chromadb" (informational)
    CollectionSpec spec;
    std::int64_t records = 0;
    // The collection's own Chroma collection metadata / configuration: JSON object text, "" when
    // absent (collection_property::kChromaMetadata / kChromaConfiguration).
    std::string chroma_metadata{};
    std::string chroma_configuration{};
};

struct ExportTrailer {
    std::string collection;
    std::int64_t records = 0;
    std::string checksum;  // 32 lowercase hex characters
};

std::string EncodeHeader(const ExportHeader& header);
std::string EncodeTrailer(const ExportTrailer& trailer);
// InvalidArgument (naming the record) for a NaN/infinite embedding value or a metadata string that is not UTF-8.
Result<std::string> EncodeRecord(const Record& record);

// The shortest decimal that reads back as the same float (std::to_chars); finite values only.
std::string FormatFloat(float value);

enum class LineKind { kHeader, kRecord, kTrailer };
struct ParsedLine {
    LineKind kind = LineKind::kRecord;
    ExportHeader header;
    Record record;
    ExportTrailer trailer;
};
// InvalidArgument with the reason when `line` is not a line of the format (or of a newer version).
Result<ParsedLine> ParseLine(std::string_view line);

// Per-record checksum: XXH3-128 over a canonical binary encoding of (id, document, metadata,
// embedding) — lengths and type tags included, integers little-endian, floats by their bits.
using Digest = std::array<std::uint8_t, 16>;
Digest RecordDigest(const Record& record);
std::string DigestHex(const Digest& digest);

// A collection's checksum: XXH3-128 over the record digests in file (id) order.
class CollectionChecksum {
   public:
    CollectionChecksum();
    ~CollectionChecksum();
    CollectionChecksum(const CollectionChecksum&) = delete;
    CollectionChecksum& operator=(const CollectionChecksum&) = delete;
    void Add(const Digest& digest);
    std::string Hex() const;

   private:
    void* state_;
};

}  // namespace signalhub::ops

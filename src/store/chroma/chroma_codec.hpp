#pragma once
// Helpers of the ChromaDB store (chroma_store.cpp): the store URL, the metadata and embedding
// encodings and Chroma's JSON shapes; chroma_store.hpp describes the mapping they implement.
// Internal to src/store/chroma.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_client.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::chroma {

using json = nlohmann::json;

inline constexpr std::string_view kFilesSuffix = ".sh-files";
inline constexpr std::string_view kMetaName = "signal-hub-meta";
inline constexpr std::string_view kVersionId = "data_version";
inline constexpr std::string_view kReservedPrefix = "signal_hub:";
inline constexpr std::string_view kFloatsKey = "signal_hub:floats";
inline constexpr std::string_view kModelKey = "signal_hub:model";
inline constexpr std::string_view kDimensionKey = "signal_hub:dimension";
inline constexpr std::string_view kLastIndexedKey = "signal_hub:last_indexed";
// Collection properties: collection metadata "signal_hub:prop:<key>" (string values).
inline constexpr std::string_view kPropertyPrefix = "signal_hub:prop:";
// Cosine collections: Chroma 1.0 returns their embeddings re-scaled from the
// normalised copy its index keeps (1.0 comes back as 0.99999994, FLT_MAX as a
// failure), so the exact float32 bytes are kept in this metadata key (base64).
inline constexpr std::string_view kEmbeddingKey = "signal_hub:embedding";
inline constexpr size_t kMaxPage = 1000;  // records per paginated read (capped by the server's max_batch_size)
inline constexpr int kLockedAttempts = 10;  // ~10 s of backoff for "database is locked"

struct StoreUrl {
    net::HttpUrl origin;
    std::string tenant = "default_tenant";
    std::string database = "default_database";
    std::string prefix;
    std::string token;
    bool x_chroma_token = false;
    // bookkeeping=off: a store Signal Hub does not own (ADR-25 rollback): no .sh-files, no
    // signal-hub-meta, no signal_hub:* keys written into record or collection metadata.
    bool bookkeeping = true;
    std::chrono::milliseconds timeout{30'000};
};

// A Chroma collection as the API describes it.
struct ChromaCollection {
    std::string id;
    std::string name;
    json metadata;
    json configuration;
    std::optional<int> dimension;
};

std::string PercentDecode(std::string_view s);
std::string PercentEncode(std::string_view s);
// Little-endian float32 bytes, base64 (bit-exact), and back (DataLoss for bad text).
std::string Base64Floats(const std::vector<float>& v);
Result<std::vector<float>> Base64ToFloats(std::string_view text);
json QueryVector(std::span<const float> v);
// Chroma stores finite doubles except -0.0 (its SQLite REAL drops the sign).
bool ChromaKeepsDouble(double d);
std::string SpecialDoubleName(double d);
// Record metadata -> Chroma metadata (null when empty). InvalidArgument for
// reserved keys and text that is not UTF-8.
Result<json> EncodeMetadata(const std::string& id, const Metadata& metadata);
Result<Metadata> DecodeMetadata(const json& in);
Result<std::vector<float>> DecodeEmbedding(const json& in);
std::optional<std::int64_t> JsonInt(const json& object, std::string_view key);
std::optional<std::string> JsonString(const json& object, std::string_view key);
double ScoreFromDistance(DistanceMetric metric, double distance);
void SortAndTrim(std::vector<Hit>& hits, size_t k);
Result<StoreUrl> ParseStoreUrl(const std::string& url);
// A restored collection's Chroma metadata and configuration (JSON object texts, "" = none) as JSON
// (null when none); InvalidArgument when one is not an object or the metadata uses a reserved key.
Status ParseCollectionShape(const std::string& collection, const std::string& metadata_text,
                            const std::string& configuration_text, json* metadata, json* configuration);

}  // namespace signalhub::store::chroma

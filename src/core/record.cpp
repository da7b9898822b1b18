#include "core/record.hpp"

#include <charconv>

#include "core/clock.hpp"

namespace signalhub {

std::string_view DistanceMetricName(DistanceMetric m) {
    switch (m) {
        case DistanceMetric::kCosine: return "cosine";
        case DistanceMetric::kL2: return "l2";
        case DistanceMetric::kInnerProduct: return "ip";
    }
    return "cosine";
}

Result<DistanceMetric> ParseDistanceMetric(std::string_view s) {
    if (s == "cosine") return DistanceMetric::kCosine;
    if (s == "l2") return DistanceMetric::kL2;
    if (s == "ip") return DistanceMetric::kInnerProduct;
    return InvalidArgument("unknown distance metric '" + std::string(s) + "' (expected cosine, l2 or ip)");
}

Status CheckCompatible(const CollectionSpec& have, const CollectionSpec& want) {
    std::string diff;
    auto add = [&](std::string_view field, const std::string& a, const std::string& b) {
        if (!diff.empty()) diff += "; ";
        diff += std::string(field) + " is " + a + " in the collection but " + b + " was requested";
    };
    if (have.model != want.model) add("model", "'" + have.model + "'", "'" + want.model + "'");
    if (have.dimension != want.dimension)
        add("dimension", std::to_string(have.dimension), std::to_string(want.dimension));
    if (have.metric != want.metric)
        add("metric", std::string(DistanceMetricName(have.metric)), std::string(DistanceMetricName(want.metric)));
    if (diff.empty()) return Status::Ok();
    return FailedPrecondition("collection '" + have.name + "' does not match the embedder: " + diff +
                              ". Re-index into a new collection (--collection) or configure the embedder the "
                              "collection was built with");
}

std::optional<std::string> GetString(const Metadata& m, std::string_view key) {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
    return std::nullopt;
}

std::optional<std::int64_t> GetInt(const Metadata& m, std::string_view key) {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    if (const auto* i = std::get_if<std::int64_t>(&it->second)) return *i;
    return std::nullopt;
}

namespace {
std::optional<std::string> Property(const CollectionInfo& c, std::string_view key) {
    auto it = c.properties.find(key);
    if (it == c.properties.end()) return std::nullopt;
    return it->second;
}
}  // namespace

std::string CollectionRoot(const CollectionInfo& c) { return Property(c, collection_property::kRoot).value_or(""); }

std::optional<std::int64_t> ImportedAtUnix(const CollectionInfo& c) {
    auto text = Property(c, collection_property::kImportedAt);
    if (!text) return std::nullopt;
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || ptr != text->data() + text->size()) return std::nullopt;
    return value;
}

bool IndexIncomplete(const CollectionInfo& c) { return Property(c, collection_property::kIndexStarted).has_value(); }

std::string LastWrittenText(const CollectionInfo& c) {
    const std::optional<std::int64_t> imported = ImportedAtUnix(c);
    if (imported && (!c.last_indexed_unix || *imported > *c.last_indexed_unix))
        return "imported " + FormatIso8601Utc(*imported);
    if (c.last_indexed_unix) return FormatIso8601Utc(*c.last_indexed_unix);
    return "never";
}

}  // namespace signalhub

#include "core/record.hpp"

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

}  // namespace signalhub

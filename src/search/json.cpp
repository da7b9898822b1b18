#include "search/json.hpp"

#include "core/clock.hpp"

namespace signalhub::search {

nlohmann::json ToJson(const SearchResponse& response) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& r : response.results) {
        results.push_back({{"id", r.id},
                           {"collection", r.collection},
                           {"file_path", r.file_path},
                           {"start_line", r.start_line},
                           {"end_line", r.end_line},
                           {"language", r.language},
                           {"symbol", r.symbol},
                           {"kind", r.kind},
                           {"score", r.score},
                           {"text", r.text}});
    }
    return {{"query", response.query}, {"mode", ModeName(response.mode)}, {"results", std::move(results)}};
}

nlohmann::json CollectionsToJson(const std::vector<CollectionInfo>& collections) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : collections) {
        list.push_back({{"name", c.spec.name},
                        {"records", c.records},
                        {"model", c.spec.model},
                        {"dimension", c.spec.dimension},
                        {"metric", DistanceMetricName(c.spec.metric)},
                        {"bytes", c.bytes},
                        {"last_indexed", c.last_indexed_unix ? nlohmann::json(FormatIso8601Utc(*c.last_indexed_unix))
                                                             : nlohmann::json(nullptr)}});
    }
    return list;
}

}  // namespace signalhub::search

#include "store/metadata_json.hpp"

#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>

namespace signalhub::store {

using Json = nlohmann::json;

Result<std::string> EncodeMetadataJson(const std::string& record_id, const Metadata& metadata) {
    Json j = Json::object();
    for (const auto& [key, value] : metadata) {
        if (const auto* s = std::get_if<std::string>(&value)) {
            j[key] = *s;
        } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
            j[key] = *i;
        } else if (const auto* b = std::get_if<bool>(&value)) {
            j[key] = *b;
        } else {
            double d = std::get<double>(value);
            if (std::isfinite(d)) {
                j[key] = d;
            } else {
                j[key] = Json{{"$float", std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf")}};
            }
        }
    }
    try {
        return j.dump();
    } catch (const std::exception& e) {
        return InvalidArgument("record '" + record_id + "' has metadata that is not valid UTF-8: " + e.what());
    }
}

Result<Metadata> DecodeMetadataJson(const std::string& text) {
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return DataLoss("corrupt metadata JSON: " + text.substr(0, 80));
    Metadata out;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const Json& v = it.value();
        if (v.is_string()) {
            out.emplace(it.key(), v.get<std::string>());
        } else if (v.is_boolean()) {
            out.emplace(it.key(), v.get<bool>());
        } else if (v.is_number_integer()) {
            if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
                return DataLoss("metadata integer out of range for key '" + it.key() + "'");
            }
            out.emplace(it.key(), v.get<std::int64_t>());
        } else if (v.is_number_float()) {
            out.emplace(it.key(), v.get<double>());
        } else if (v.is_object() && v.size() == 1 && v.contains("$float") && v["$float"].is_string()) {
            const std::string s = v["$float"].get<std::string>();
            double d = s == "nan" ? std::numeric_limits<double>::quiet_NaN()
                       : s == "inf" ? std::numeric_limits<double>::infinity()
                                    : -std::numeric_limits<double>::infinity();
            out.emplace(it.key(), d);
        } else {
            return DataLoss("corrupt metadata value for key '" + it.key() + "'");
        }
    }
    return out;
}

}  // namespace signalhub::store

#include "store/metadata_json.hpp"

#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

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

namespace {

// The common form, decoded without building a JSON tree (nlohmann's parse was about 30% of a
// hybrid search's instructions: ~90 hits' metadata per search; ADR-31): one flat object whose
// values are ASCII strings without escapes, integers of at most 18 digits without leading
// zeros, true or false. Anything else (escapes, non-ASCII, floats, {"$float": ..}, null,
// nesting, malformed text) returns nullopt and goes to the full parser, so for the text it
// accepts the result is exactly nlohmann's (a repeated key keeps its last value, as there).
class FlatMetadataParser {
   public:
    explicit FlatMetadataParser(std::string_view text) : s_(text) {}

    std::optional<Metadata> Parse() {
        Metadata out;
        Blank();
        if (!Eat('{')) return std::nullopt;
        Blank();
        if (Eat('}')) return End() ? std::optional<Metadata>(std::move(out)) : std::nullopt;
        while (true) {
            Blank();
            std::optional<std::string_view> key = String();
            if (!key) return std::nullopt;
            Blank();
            if (!Eat(':')) return std::nullopt;
            Blank();
            std::optional<MetadataValue> value = Value();
            if (!value) return std::nullopt;
            out.insert_or_assign(std::string(*key), std::move(*value));
            Blank();
            if (Eat(',')) continue;
            if (Eat('}')) break;
            return std::nullopt;
        }
        return End() ? std::optional<Metadata>(std::move(out)) : std::nullopt;
    }

   private:
    bool End() {
        Blank();
        return i_ == s_.size();
    }
    void Blank() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool Eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool Literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }
    // A string of printable ASCII without escapes.
    std::optional<std::string_view> String() {
        if (!Eat('"')) return std::nullopt;
        const size_t begin = i_;
        while (i_ < s_.size()) {
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') return s_.substr(begin, i_++ - begin);
            if (c == '\\' || c < 0x20 || c >= 0x80) return std::nullopt;
            ++i_;
        }
        return std::nullopt;
    }
    std::optional<MetadataValue> Value() {
        if (i_ >= s_.size()) return std::nullopt;
        const char c = s_[i_];
        if (c == '"') {
            std::optional<std::string_view> v = String();
            if (!v) return std::nullopt;
            return MetadataValue(std::string(*v));
        }
        if (c == 't') return Literal("true") ? std::optional<MetadataValue>(true) : std::nullopt;
        if (c == 'f') return Literal("false") ? std::optional<MetadataValue>(false) : std::nullopt;
        const bool negative = Eat('-');
        const size_t begin = i_;
        std::int64_t v = 0;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
            if (i_ - begin == 18) return std::nullopt;  // more than 18 digits: may not fit
            v = v * 10 + (s_[i_++] - '0');
        }
        const size_t digits = i_ - begin;
        if (digits == 0 || digits > 18 || (digits > 1 && s_[begin] == '0')) return std::nullopt;
        // A fraction or exponent makes it a float: the full parser's job.
        if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) return std::nullopt;
        return MetadataValue(negative ? -v : v);
    }

    std::string_view s_;
    size_t i_ = 0;
};

}  // namespace

Result<Metadata> DecodeMetadataJson(const std::string& text) {
    if (std::optional<Metadata> flat = FlatMetadataParser(text).Parse()) return std::move(*flat);
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

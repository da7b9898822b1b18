#include "store/chroma/chroma_codec.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/text.hpp"

namespace signalhub::store::chroma {

std::string PercentDecode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            auto hex = [](char c) -> int {
                if (c >= '0' && c <= '9') return c - '0';
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                return -1;
            };
            int hi = hex(s[i + 1]);
            int lo = hex(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
    return out;
}

std::string PercentEncode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

std::string Base64Floats(const std::vector<float>& v) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes;
    bytes.reserve(v.size() * 4);
    for (float f : v) {  // little-endian float32, whatever the host's byte order
        const auto bits = std::bit_cast<std::uint32_t>(f);
        for (int shift = 0; shift < 32; shift += 8) bytes.push_back(static_cast<char>((bits >> shift) & 0xFF));
    }
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (i + 1 < bytes.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        if (i + 2 < bytes.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
        out.push_back(kAlphabet[(n >> 18) & 63]);
        out.push_back(kAlphabet[(n >> 12) & 63]);
        out.push_back(i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=');
        out.push_back(i + 2 < bytes.size() ? kAlphabet[n & 63] : '=');
    }
    return out;
}

Result<std::vector<float>> Base64ToFloats(std::string_view text) {
    const std::optional<std::string> decoded = DecodeBase64(text);
    if (!decoded) return DataLoss("chroma: bad base64 in " + std::string(kEmbeddingKey));
    const std::string& bytes = *decoded;
    if (bytes.size() % 4 != 0) return DataLoss("chroma: " + std::string(kEmbeddingKey) + " is not float32 data");
    std::vector<float> out;
    out.reserve(bytes.size() / 4);
    for (size_t i = 0; i < bytes.size(); i += 4) {
        std::uint32_t u = 0;
        for (int b = 0; b < 4; ++b) u |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + static_cast<size_t>(b)])) << (8 * b);
        out.push_back(std::bit_cast<float>(u));
    }
    return out;
}

json QueryVector(std::span<const float> v) {
    json out = json::array();
    for (float f : v) out.push_back(static_cast<double>(f));  // exact: every float is a double
    return out;
}

// Chroma stores finite doubles except -0.0 (its SQLite REAL drops the sign).
bool ChromaKeepsDouble(double d) { return std::isfinite(d) && !(d == 0 && std::signbit(d)); }

std::string SpecialDoubleName(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    return "-0";
}

// Record metadata → Chroma metadata (null when empty). InvalidArgument for
// reserved keys and text that is not UTF-8.
Result<json> EncodeMetadata(const std::string& id, const Metadata& metadata) {
    if (metadata.empty()) return json(nullptr);
    json out = json::object();
    json floats = json::object();
    for (const auto& [key, value] : metadata) {
        if (std::string_view(key).starts_with(kReservedPrefix)) {
            return InvalidArgument("record '" + id + "': metadata key '" + key + "' is reserved (prefix " +
                                   std::string(kReservedPrefix) + ") in the chroma store");
        }
        if (const auto* s = std::get_if<std::string>(&value)) {
            out[key] = *s;
        } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
            out[key] = *i;
        } else if (const auto* d = std::get_if<double>(&value)) {
            if (ChromaKeepsDouble(*d)) {
                out[key] = *d;
            } else {
                floats[key] = SpecialDoubleName(*d);
            }
        } else {
            out[key] = std::get<bool>(value);
        }
    }
    if (!floats.empty()) out[std::string(kFloatsKey)] = floats.dump();
    try {
        (void)out.dump();  // throws on text that is not UTF-8
    } catch (const json::exception&) {
        return InvalidArgument("record '" + id + "': metadata is not valid UTF-8");
    }
    return out;
}

Result<Metadata> DecodeMetadata(const json& in) {
    Metadata out;
    if (in.is_null()) return out;
    if (!in.is_object()) return Internal("chroma: record metadata is not an object");
    for (const auto& [key, value] : in.items()) {
        if (key == kFloatsKey) {
            if (!value.is_string()) return DataLoss("chroma: " + std::string(kFloatsKey) + " is not text");
            json floats = json::parse(value.get<std::string>(), nullptr, false);
            if (!floats.is_object()) return DataLoss("chroma: " + std::string(kFloatsKey) + " is not a JSON object");
            for (const auto& [fkey, name] : floats.items()) {
                if (!name.is_string()) return DataLoss("chroma: bad special float for '" + fkey + "'");
                const std::string n = name.get<std::string>();
                double d = 0;
                if (n == "nan") {
                    d = std::numeric_limits<double>::quiet_NaN();
                } else if (n == "inf") {
                    d = std::numeric_limits<double>::infinity();
                } else if (n == "-inf") {
                    d = -std::numeric_limits<double>::infinity();
                } else if (n == "-0") {
                    d = -0.0;
                } else {
                    return DataLoss("chroma: bad special float '" + n + "' for '" + fkey + "'");
                }
                out[fkey] = d;
            }
            continue;
        }
        if (std::string_view(key).starts_with(kReservedPrefix)) continue;
        if (value.is_string()) {
            out[key] = value.get<std::string>();
        } else if (value.is_boolean()) {
            out[key] = value.get<bool>();
        } else if (value.is_number_unsigned()) {
            const auto u = value.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                return DataLoss("chroma: metadata '" + key + "' does not fit int64");
            }
            out[key] = static_cast<std::int64_t>(u);
        } else if (value.is_number_integer()) {
            out[key] = value.get<std::int64_t>();
        } else if (value.is_number_float()) {
            out[key] = value.get<double>();
        } else if (!value.is_null()) {
            return DataLoss("chroma: metadata '" + key + "' is not a scalar");
        }
    }
    return out;
}

Result<std::vector<float>> DecodeEmbedding(const json& in) {
    if (!in.is_array()) return Internal("chroma: embedding is not an array");
    std::vector<float> out;
    out.reserve(in.size());
    for (const auto& x : in) {
        if (!x.is_number()) return Internal("chroma: embedding component is not a number");
        // Chroma prints the shortest decimal that round-trips as float32; read
        // as double (exact rounding) and narrowed, it gives the same float.
        const double d = x.get<double>();
        if (std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
            // Round to nearest by hand: the cast is undefined outside float's range.
            constexpr double kHalfUlpAboveMax = 3.4028235677973366e38;  // FLT_MAX + ulp/2
            const float big = std::fabs(d) < kHalfUlpAboveMax ? std::numeric_limits<float>::max()
                                                              : std::numeric_limits<float>::infinity();
            out.push_back(d < 0 ? -big : big);
            continue;
        }
        out.push_back(static_cast<float>(d));
    }
    return out;
}

std::optional<std::int64_t> JsonInt(const json& object, std::string_view key) {
    if (!object.is_object()) return std::nullopt;
    auto it = object.find(std::string(key));
    if (it == object.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
}

std::optional<std::string> JsonString(const json& object, std::string_view key) {
    if (!object.is_object()) return std::nullopt;
    auto it = object.find(std::string(key));
    if (it == object.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

double ScoreFromDistance(DistanceMetric metric, double distance) {
    switch (metric) {
        case DistanceMetric::kCosine:
        case DistanceMetric::kInnerProduct:
            return 1.0 - distance;  // Chroma: cosine 1 - cos, ip 1 - dot
        case DistanceMetric::kL2:
            return -std::sqrt(std::max(distance, 0.0));  // Chroma: squared L2
    }
    return -distance;
}

void SortAndTrim(std::vector<Hit>& hits, size_t k) {
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
        if (a.score != b.score) return a.score > b.score;
        return a.record.id < b.record.id;
    });
    if (hits.size() > k) hits.resize(k);
}

Status ParseCollectionShape(const std::string& collection, const std::string& metadata_text,
                            const std::string& configuration_text, json* metadata, json* configuration) {
    *metadata = json(nullptr);
    *configuration = json(nullptr);
    if (!metadata_text.empty()) {
        *metadata = json::parse(metadata_text, nullptr, false);
        if (!metadata->is_object()) {
            return InvalidArgument("collection '" + collection + "': its chroma metadata is not a JSON object");
        }
        for (const auto& [key, value] : metadata->items()) {
            if (std::string_view(key).starts_with(kReservedPrefix)) {
                return InvalidArgument("collection '" + collection + "': chroma metadata key '" + key +
                                       "' is reserved (prefix " + std::string(kReservedPrefix) + ")");
            }
        }
    }
    if (!configuration_text.empty()) {
        *configuration = json::parse(configuration_text, nullptr, false);
        if (!configuration->is_object()) {
            return InvalidArgument("collection '" + collection + "': its chroma configuration is not a JSON object");
        }
    }
    return Status::Ok();
}

Result<StoreUrl> ParseStoreUrl(const std::string& url) {
    std::string_view rest(url);
    if (!rest.starts_with("chroma+")) return InvalidArgument("chroma store URL must start with chroma+http(s)://");
    rest.remove_prefix(std::string_view("chroma+").size());
    auto parsed = net::ParseHttpUrl(rest);
    if (!parsed.ok()) {
        return InvalidArgument("bad chroma store URL (expected chroma+http[s]://HOST[:PORT][/PATH][?PARAMS]): " +
                               parsed.status().message());
    }
    StoreUrl out;
    out.origin = *parsed;
    std::string query = out.origin.query;
    out.origin.query.clear();  // the store's own parameters (token!) never go on the wire
    std::string auth_header = "bearer";
    size_t pos = 0;
    while (pos < query.size()) {
        size_t amp = query.find('&', pos);
        if (amp == std::string::npos) amp = query.size();
        std::string_view pair(query.data() + pos, amp - pos);
        pos = amp + 1;
        if (pair.empty()) continue;
        size_t eq = pair.find('=');
        const std::string key = PercentDecode(pair.substr(0, eq));
        const std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
        if (key == "tenant") {
            out.tenant = value;
        } else if (key == "database") {
            out.database = value;
        } else if (key == "prefix") {
            out.prefix = value;
        } else if (key == "bookkeeping") {
            if (value != "on" && value != "off") {
                return InvalidArgument("chroma store URL: bookkeeping must be on or off, got '" + value + "'");
            }
            out.bookkeeping = value == "on";
        } else if (key == "token") {
            out.token = value;
        } else if (key == "auth_header") {
            auth_header = value;
        } else if (key == "timeout_ms") {
            char* end = nullptr;
            long ms = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || ms <= 0) {
                return InvalidArgument("chroma store URL: timeout_ms must be a positive integer");
            }
            out.timeout = std::chrono::milliseconds(ms);
        } else {
            return InvalidArgument("chroma store URL: unknown parameter '" + key +
                                   "' (known: tenant, database, prefix, bookkeeping, token, auth_header, timeout_ms)");
        }
    }
    if (auth_header == "x-chroma-token") {
        out.x_chroma_token = true;
    } else if (auth_header != "bearer") {
        return InvalidArgument("chroma store URL: auth_header must be bearer or x-chroma-token");
    }
    if (out.tenant.empty() || out.database.empty()) {
        return InvalidArgument("chroma store URL: tenant and database must not be empty");
    }
    if (out.token.empty()) {
        if (const char* env = std::getenv("CHROMA_TOKEN"); env != nullptr) out.token = env;
    }
    return out;
}

}  // namespace signalhub::store::chroma

#include "ops/export_format.hpp"

#include <xxhash.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>

#include "store/metadata_json.hpp"

namespace signalhub::ops {

using Json = nlohmann::json;

namespace {

std::string JsonString(std::string_view s) { return Json(std::string(s)).dump(); }

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const std::uint32_t v = (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                                (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                                static_cast<unsigned char>(in[i + 2]);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    if (i < in.size()) {
        std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
        if (i + 1 < in.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> FromBase64(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (size_t i = 0; i < in.size(); i += 4) {
        std::uint32_t v = 0;
        int pad = 0;
        for (size_t j = 0; j < 4; ++j) {
            const char c = in[i + j];
            int d = 0;
            if (c == '=' && i + 4 == in.size() && j >= 2) {
                ++pad;
            } else {
                if (pad > 0) return std::nullopt;
                const char* p = std::strchr(kB64, c);
                if (c == '\0' || p == nullptr) return std::nullopt;
                d = static_cast<int>(p - kB64);
            }
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        out += static_cast<char>((v >> 16) & 0xFF);
        if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
        if (pad < 1) out += static_cast<char>(v & 0xFF);
    }
    return out;
}

// A JSON string, or {"$base64":"..."} for bytes that are not valid UTF-8 (lossless either way).
std::string JsonBytes(std::string_view s) {
    try {
        return JsonString(s);
    } catch (const std::exception&) {
        return "{\"$base64\":\"" + Base64(s) + "\"}";
    }
}

// Reads a value written by JsonBytes.
Result<std::string> BytesFrom(const Json& v, const char* key) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.size() == 1 && v.contains("$base64") && v["$base64"].is_string()) {
        auto decoded = FromBase64(v["$base64"].get<std::string>());
        if (!decoded) return InvalidArgument(std::string("\"") + key + "\" holds invalid base64");
        return std::move(*decoded);
    }
    return InvalidArgument(std::string("\"") + key + "\" is neither a string nor {\"$base64\": ...}");
}

// A DOM parser that reads the numbers of the top-level "embedding" array as float32 with
// std::from_chars (from the number's own text), so that they round-trip bit-exactly.
class ExactFloatSax : public nlohmann::detail::json_sax_dom_parser<Json> {
   public:
    using Base = nlohmann::detail::json_sax_dom_parser<Json>;
    explicit ExactFloatSax(Json& out) : Base(out, false) {}

    bool start_object(std::size_t n) {
        ++depth_;
        return Base::start_object(n);
    }
    bool end_object() {
        --depth_;
        return Base::end_object();
    }
    bool start_array(std::size_t n) {
        ++depth_;
        if (depth_ == 2 && last_key_ == "embedding") in_embedding_ = true;
        return Base::start_array(n);
    }
    bool end_array() {
        if (depth_ == 2) in_embedding_ = false;
        --depth_;
        return Base::end_array();
    }
    bool key(std::string& k) {
        if (depth_ == 1) last_key_ = k;
        return Base::key(k);
    }
    bool number_float(double value, const std::string& text) {
        if (in_embedding_ && depth_ == 2) {
            float f = 0;
            auto r = std::from_chars(text.data(), text.data() + text.size(), f);
            if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
                bad_float_ = text;
                return false;
            }
            value = static_cast<double>(f);
        }
        return Base::number_float(value, text);
    }
    bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& ex) {
        error_ = ex.what();
        return Base::parse_error(position, token, ex);
    }
    const std::string& error() const { return error_; }
    const std::string& bad_float() const { return bad_float_; }

   private:
    int depth_ = 0;
    bool in_embedding_ = false;
    std::string last_key_;
    std::string error_, bad_float_;
};

void PutLE(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void PutBytes(std::string& out, std::string_view s) {
    PutLE(out, s.size(), 8);
    out.append(s);
}

Result<std::string> RequireString(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return InvalidArgument(std::string("missing or non-string \"") + key + "\"");
    return it->get<std::string>();
}
Result<std::int64_t> RequireInt(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) {
        return InvalidArgument(std::string("missing or non-integer \"") + key + "\"");
    }
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        return InvalidArgument(std::string("\"") + key + "\" out of range");
    }
    return it->get<std::int64_t>();
}

}  // namespace

std::string FormatFloat(float value) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

std::string EncodeHeader(const ExportHeader& h) {
    // Key order is fixed by hand (nlohmann's object sorts keys; build the text directly).
    const bool chroma = !h.chroma_metadata.empty() || !h.chroma_configuration.empty();
    std::string out = "{\"format\":" + JsonString(kExportFormatName) + ",\"version\":" +
                      std::to_string(chroma ? kExportFormatChromaVersion : kExportFormatVersion) +
                      ",\"type\":\"header\",\"source\":" + JsonString(h.source) + ",\"collection\":" + JsonString(h.spec.name) +
                      ",\"model\":" + JsonString(h.spec.model) + ",\"dimension\":" + std::to_string(h.spec.dimension) +
                      ",\"metric\":" + JsonString(DistanceMetricName(h.spec.metric)) +
                      ",\"records\":" + std::to_string(h.records);
    if (chroma) {
        // Both texts are JSON objects (checked when read and when taken from a store).
        out += ",\"chroma\":{";
        if (!h.chroma_metadata.empty()) out += "\"metadata\":" + h.chroma_metadata;
        if (!h.chroma_configuration.empty()) {
            out += std::string(h.chroma_metadata.empty() ? "" : ",") + "\"configuration\":" + h.chroma_configuration;
        }
        out += "}";
    }
    out += "}";
    return out;
}

std::string EncodeTrailer(const ExportTrailer& t) {
    return "{\"type\":\"trailer\",\"collection\":" + JsonString(t.collection) + ",\"records\":" + std::to_string(t.records) +
           ",\"checksum\":" + JsonString(t.checksum) + "}";
}

Result<std::string> EncodeRecord(const Record& record) {
    std::string out = "{\"type\":\"record\",\"id\":" + JsonBytes(record.id);
    if (record.document) out += ",\"document\":" + JsonBytes(*record.document);
    SH_ASSIGN_OR_RETURN(std::string metadata, store::EncodeMetadataJson(record.id, record.metadata));
    out += ",\"metadata\":";
    out += metadata;
    out += ",\"embedding\":[";
    char buf[32];
    for (size_t i = 0; i < record.embedding.size(); ++i) {
        const float v = record.embedding[i];
        if (!std::isfinite(v)) {
            return InvalidArgument("record '" + record.id + "': embedding value " + std::to_string(i) +
                                   " is not finite (NaN and infinities cannot be exported or stored in pgvector)");
        }
        if (i > 0) out += ',';
        if (v == 0.0f && std::signbit(v)) {
            out += "-0.0";  // JSON readers take "-0" for the integer 0: keep the sign as a float
            continue;
        }
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, r.ptr);
    }
    out += "]}";
    return out;
}

Result<ParsedLine> ParseLine(std::string_view line) {
    Json j;
    ExactFloatSax sax(j);
    const bool parsed = Json::sax_parse(line.begin(), line.end(), &sax, nlohmann::json::input_format_t::json, true);
    if (!sax.bad_float().empty()) return InvalidArgument("embedding value '" + sax.bad_float() + "' is not a float32");
    if (!parsed || j.is_discarded()) {
        return InvalidArgument("not valid JSON" + (sax.error().empty() ? std::string() : ": " + sax.error()));
    }
    if (!j.is_object()) return InvalidArgument("not a JSON object");
    ParsedLine out;
    SH_ASSIGN_OR_RETURN(std::string type, RequireString(j, "type"));
    if (type == "header") {
        out.kind = LineKind::kHeader;
        SH_ASSIGN_OR_RETURN(std::string format, RequireString(j, "format"));
        if (format != kExportFormatName) return InvalidArgument("unknown format '" + format + "'");
        SH_ASSIGN_OR_RETURN(std::int64_t version, RequireInt(j, "version"));
        if (version != kExportFormatVersion && version != kExportFormatChromaVersion) {
            return InvalidArgument("format version " + std::to_string(version) + " is not supported (this build reads " +
                                   std::to_string(kExportFormatVersion) + " and " +
                                   std::to_string(kExportFormatChromaVersion) + ")");
        }
        if (auto it = j.find("chroma"); it != j.end()) {
            if (version < kExportFormatChromaVersion) return InvalidArgument("\"chroma\" needs format version 2");
            if (!it->is_object()) return InvalidArgument("\"chroma\" must be an object");
            for (const auto& [key, value] : it->items()) {
                if (key != "metadata" && key != "configuration") {
                    return InvalidArgument("unknown key \"chroma\"." + key);
                }
                if (!value.is_object()) return InvalidArgument("\"chroma\"." + key + " must be an object");
                try {
                    (key == "metadata" ? out.header.chroma_metadata : out.header.chroma_configuration) = value.dump();
                } catch (const nlohmann::json::exception&) {
                    return InvalidArgument("\"chroma\"." + key + " is not valid UTF-8");
                }
            }
        }
        SH_ASSIGN_OR_RETURN(out.header.source, RequireString(j, "source"));
        SH_ASSIGN_OR_RETURN(out.header.spec.name, RequireString(j, "collection"));
        SH_ASSIGN_OR_RETURN(out.header.spec.model, RequireString(j, "model"));
        SH_ASSIGN_OR_RETURN(std::int64_t dim, RequireInt(j, "dimension"));
        if (dim <= 0 || dim > 65535) return InvalidArgument("bad dimension " + std::to_string(dim));
        out.header.spec.dimension = static_cast<int>(dim);
        SH_ASSIGN_OR_RETURN(std::string metric, RequireString(j, "metric"));
        auto m = ParseDistanceMetric(metric);
        if (!m.ok()) return InvalidArgument(m.status().message());
        out.header.spec.metric = *m;
        SH_ASSIGN_OR_RETURN(out.header.records, RequireInt(j, "records"));
        if (out.header.spec.name.empty()) return InvalidArgument("empty collection name");
        return out;
    }
    if (type == "trailer") {
        out.kind = LineKind::kTrailer;
        SH_ASSIGN_OR_RETURN(out.trailer.collection, RequireString(j, "collection"));
        SH_ASSIGN_OR_RETURN(out.trailer.records, RequireInt(j, "records"));
        SH_ASSIGN_OR_RETURN(out.trailer.checksum, RequireString(j, "checksum"));
        return out;
    }
    if (type != "record") return InvalidArgument("unknown line type '" + type + "'");
    out.kind = LineKind::kRecord;
    auto id = j.find("id");
    if (id == j.end()) return InvalidArgument("missing \"id\"");
    SH_ASSIGN_OR_RETURN(out.record.id, BytesFrom(*id, "id"));
    if (auto it = j.find("document"); it != j.end() && !it->is_null()) {
        SH_ASSIGN_OR_RETURN(std::string doc, BytesFrom(*it, "document"));
        out.record.document = std::move(doc);
    }
    auto meta = j.find("metadata");
    if (meta == j.end() || !meta->is_object()) return InvalidArgument("missing or non-object \"metadata\"");
    auto decoded = store::DecodeMetadataJson(meta->dump());
    if (!decoded.ok()) return InvalidArgument(decoded.status().message());
    out.record.metadata = std::move(decoded).value();
    auto emb = j.find("embedding");
    if (emb == j.end() || !emb->is_array()) return InvalidArgument("missing or non-array \"embedding\"");
    out.record.embedding.reserve(emb->size());
    for (const Json& v : *emb) {
        if (v.is_number_float()) {
            out.record.embedding.push_back(static_cast<float>(v.get<double>()));
        } else if (v.is_number_integer()) {
            const double d = v.get<double>();
            const auto f = static_cast<float>(d);
            if (static_cast<double>(f) != d) return InvalidArgument("embedding value " + v.dump() + " is not a float32");
            out.record.embedding.push_back(f);
        } else {
            return InvalidArgument("embedding value " + v.dump() + " is not a number");
        }
    }
    return out;
}

Digest RecordDigest(const Record& r) {
    std::string buf;
    buf.reserve(64 + r.id.size() + (r.document ? r.document->size() : 0) + r.embedding.size() * 4);
    PutBytes(buf, r.id);
    if (r.document) {
        buf += '\x01';
        PutBytes(buf, *r.document);
    } else {
        buf += '\x00';
    }
    PutLE(buf, r.metadata.size(), 8);
    for (const auto& [key, value] : r.metadata) {
        PutBytes(buf, key);
        if (const auto* s = std::get_if<std::string>(&value)) {
            buf += 's';
            PutBytes(buf, *s);
        } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
            buf += 'i';
            PutLE(buf, static_cast<std::uint64_t>(*i), 8);
        } else if (const auto* b = std::get_if<bool>(&value)) {
            buf += 'b';
            buf += *b ? '\x01' : '\x00';
        } else {
            buf += 'f';
            PutLE(buf, std::bit_cast<std::uint64_t>(std::get<double>(value)), 8);
        }
    }
    PutLE(buf, r.embedding.size(), 8);
    for (float f : r.embedding) PutLE(buf, std::bit_cast<std::uint32_t>(f), 4);
    const XXH128_hash_t h = XXH3_128bits(buf.data(), buf.size());
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, h);
    Digest d;
    std::memcpy(d.data(), canon.digest, d.size());
    return d;
}

std::string DigestHex(const Digest& d) {
    static const char* kHex = "0123456789abcdef";
    std::string out;
    out.reserve(32);
    for (auto b : d) {
        out += kHex[b >> 4];
        out += kHex[b & 0xF];
    }
    return out;
}

CollectionChecksum::CollectionChecksum() : state_(XXH3_createState()) { XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_)); }
CollectionChecksum::~CollectionChecksum() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void CollectionChecksum::Add(const Digest& d) { XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), d.data(), d.size()); }
std::string CollectionChecksum::Hex() const {
    const XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, h);
    Digest d;
    std::memcpy(d.data(), canon.digest, d.size());
    return DigestHex(d);
}

}  // namespace signalhub::ops

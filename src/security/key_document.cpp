#include "security/key_document.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace signalhub::security {
namespace {

using nlohmann::json;

constexpr std::string_view kFormat = "signal-hub-api-keys";
constexpr int kVersion = kKeyDocumentVersion;
constexpr std::string_view kHashAlgorithm = "hmac-sha256";

bool IsHex(std::string_view s, std::size_t length) {
    return s.size() == length &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- JSON <-> records (strict: unknown fields and wrong types are errors) ----

json RecordToJson(const ApiKeyRecord& r) {
    json j = json::object();
    j["id"] = r.id;
    j["name"] = r.name;
    json scopes = json::array();
    for (Scope s : r.scopes) scopes.push_back(std::string(ScopeName(s)));
    j["scopes"] = scopes;
    j["collections"] = r.collections;
    j["created"] = r.created;
    if (r.expires) j["expires"] = *r.expires;
    if (r.revoked) j["revoked"] = *r.revoked;
    if (r.last_used) j["last_used"] = *r.last_used;
    j["hash"] = r.hash;
    if (r.previous_hash) j["previous_hash"] = *r.previous_hash;
    if (r.previous_valid_until) j["previous_valid_until"] = *r.previous_valid_until;
    if (r.rate_limit) {
        j["rate_limit"] = {{"requests_per_second", r.rate_limit->requests_per_second},
                           {"burst", r.rate_limit->burst}};
    }
    return j;
}

Result<std::optional<std::int64_t>> OptionalTime(const json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return std::optional<std::int64_t>();
    if (!it->is_number_integer()) return InvalidArgument(std::string(field) + " is not an integer");
    return std::optional<std::int64_t>(it->get<std::int64_t>());
}

Result<ApiKeyRecord> RecordFromJson(const json& j) {
    static const std::set<std::string> kFields = {"id",       "name",      "scopes", "collections",
                                                  "created",  "expires",   "revoked", "last_used",
                                                  "hash",     "previous_hash", "previous_valid_until",
                                                  "rate_limit"};
    if (!j.is_object()) return InvalidArgument("a key is not a JSON object");
    for (const auto& item : j.items()) {
        if (!kFields.contains(item.key())) return InvalidArgument("unknown field '" + item.key() + "'");
    }
    ApiKeyRecord r;
    auto string_field = [&](const char* field, std::string& out) -> Status {
        auto it = j.find(field);
        if (it == j.end() || !it->is_string()) return InvalidArgument(std::string(field) + " is missing or not a string");
        out = it->get<std::string>();
        return Status::Ok();
    };
    SH_RETURN_IF_ERROR(string_field("id", r.id));
    if (!IsHex(r.id, kKeyIdLength)) return InvalidArgument("id is not 16 lowercase hex characters");
    const std::string where = "key " + r.id;
    SH_RETURN_IF_ERROR(string_field("name", r.name).WithContext(where));
    SH_RETURN_IF_ERROR(string_field("hash", r.hash).WithContext(where));
    if (!IsHex(r.hash, 64)) return InvalidArgument(where + ": hash is not 64 lowercase hex characters");

    auto scopes = j.find("scopes");
    if (scopes == j.end() || !scopes->is_array() || scopes->empty()) {
        return InvalidArgument(where + ": scopes is missing, not an array or empty");
    }
    for (const json& s : *scopes) {
        if (!s.is_string()) return InvalidArgument(where + ": a scope is not a string");
        auto scope = ParseScope(s.get<std::string>());
        if (!scope.ok()) return scope.status().WithContext(where);
        r.scopes.push_back(*scope);
    }
    std::sort(r.scopes.begin(), r.scopes.end());
    r.scopes.erase(std::unique(r.scopes.begin(), r.scopes.end()), r.scopes.end());

    auto collections = j.find("collections");
    if (collections != j.end() && !collections->is_null()) {
        if (!collections->is_array()) return InvalidArgument(where + ": collections is not an array");
        for (const json& c : *collections) {
            if (!c.is_string() || c.get<std::string>().empty()) {
                return InvalidArgument(where + ": a collection is not a non-empty string");
            }
            r.collections.push_back(c.get<std::string>());
        }
    }
    auto created = j.find("created");
    if (created == j.end() || !created->is_number_integer()) {
        return InvalidArgument(where + ": created is missing or not an integer");
    }
    r.created = created->get<std::int64_t>();
    SH_ASSIGN_OR_RETURN(r.expires, OptionalTime(j, "expires"));
    SH_ASSIGN_OR_RETURN(r.revoked, OptionalTime(j, "revoked"));
    SH_ASSIGN_OR_RETURN(r.last_used, OptionalTime(j, "last_used"));
    SH_ASSIGN_OR_RETURN(r.previous_valid_until, OptionalTime(j, "previous_valid_until"));
    auto previous = j.find("previous_hash");
    if (previous != j.end() && !previous->is_null()) {
        if (!previous->is_string() || !IsHex(previous->get<std::string>(), 64)) {
            return InvalidArgument(where + ": previous_hash is not 64 lowercase hex characters");
        }
        r.previous_hash = previous->get<std::string>();
    }
    if (r.previous_hash.has_value() != r.previous_valid_until.has_value()) {
        return InvalidArgument(where + ": previous_hash and previous_valid_until come together");
    }
    auto limit = j.find("rate_limit");
    if (limit != j.end() && !limit->is_null()) {
        auto rps = limit->is_object() ? limit->find("requests_per_second") : limit->end();
        auto burst = limit->is_object() ? limit->find("burst") : limit->end();
        if (!limit->is_object() || limit->size() != 2 || rps == limit->end() || !rps->is_number() ||
            burst == limit->end() || !burst->is_number_integer()) {
            return InvalidArgument(where + ": rate_limit is not {\"requests_per_second\": N, \"burst\": N}");
        }
        KeyRateLimit parsed;
        parsed.requests_per_second = rps->get<double>();
        if (burst->get<std::int64_t>() < 1 || burst->get<std::int64_t>() > 1000000) {
            return InvalidArgument(where + ": rate_limit.burst must be between 1 and 1000000");
        }
        parsed.burst = static_cast<int>(burst->get<std::int64_t>());
        if (Status valid = ValidateKeyRateLimit(parsed); !valid.ok()) {
            return InvalidArgument(where + ": " + valid.message());
        }
        r.rate_limit = parsed;
    }
    return r;
}

}  // namespace

Result<std::vector<ApiKeyRecord>> ParseKeyDocument(std::string_view text, const std::string& fingerprint) {
    json doc;
    try {
        doc = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        return InvalidArgument(std::string("not valid JSON: ") + e.what());
    }
    if (!doc.is_object()) return InvalidArgument("the top level is not a JSON object");
    for (const auto& item : doc.items()) {
        static const std::set<std::string> kTop = {"format", "version", "hash", "pepper_fingerprint", "keys"};
        if (!kTop.contains(item.key())) return InvalidArgument("unknown top-level field '" + item.key() + "'");
    }
    auto format = doc.find("format");
    if (format == doc.end() || !format->is_string() || format->get<std::string>() != kFormat) {
        return InvalidArgument("format is not \"" + std::string(kFormat) + "\"");
    }
    auto version = doc.find("version");
    if (version == doc.end() || !version->is_number_integer() || version->get<std::int64_t>() != kVersion) {
        return InvalidArgument("unsupported version (this build reads version " + std::to_string(kVersion) + ")");
    }
    auto hash = doc.find("hash");
    if (hash == doc.end() || !hash->is_string() || hash->get<std::string>() != kHashAlgorithm) {
        return InvalidArgument("hash is not \"" + std::string(kHashAlgorithm) + "\"");
    }
    auto pepper = doc.find("pepper_fingerprint");
    if (pepper == doc.end() || !pepper->is_string()) return InvalidArgument("pepper_fingerprint is missing");
    if (pepper->get<std::string>() != fingerprint) {
        return FailedPrecondition("the file was written with another pepper (fingerprint " +
                                  pepper->get<std::string>() + ", this server's is " + fingerprint +
                                  "); its keys cannot be verified");
    }
    auto keys = doc.find("keys");
    if (keys == doc.end() || !keys->is_array()) return InvalidArgument("keys is missing or not an array");
    std::vector<ApiKeyRecord> records;
    std::set<std::string> ids;
    for (std::size_t i = 0; i < keys->size(); ++i) {
        auto record = RecordFromJson((*keys)[i]);
        if (!record.ok()) return record.status().WithContext("keys[" + std::to_string(i) + "]");
        if (!ids.insert(record->id).second) return InvalidArgument("duplicate key id " + record->id);
        records.push_back(std::move(record).value());
    }
    return records;
}

std::string SerializeKeyDocument(const std::vector<ApiKeyRecord>& records, const std::string& fingerprint) {
    json doc = json::object();
    doc["format"] = std::string(kFormat);
    doc["version"] = kVersion;
    doc["hash"] = std::string(kHashAlgorithm);
    doc["pepper_fingerprint"] = fingerprint;
    json keys = json::array();
    for (const ApiKeyRecord& r : records) keys.push_back(RecordToJson(r));
    doc["keys"] = std::move(keys);
    return doc.dump(2) + "\n";
}

}  // namespace signalhub::security

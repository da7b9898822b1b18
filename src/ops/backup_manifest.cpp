#include "ops/backup_manifest.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

namespace signalhub::ops {

using Json = nlohmann::json;

std::int64_t BackupManifest::TotalRecords() const {
    std::int64_t n = 0;
    for (const auto& c : collections) n += c.records;
    return n;
}

const BackupManifest::File* BackupManifest::FindFile(const std::string& path) const {
    for (const auto& f : files) {
        if (f.path == path) return &f;
    }
    return nullptr;
}

std::string FormatUtc(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string ManifestToJson(const BackupManifest& m) {
    Json j;
    j["format"] = "signal-hub-backup";
    j["format_version"] = m.format_version;
    j["created"] = FormatUtc(m.created_unix);
    j["created_unix"] = m.created_unix;
    j["source"] = {{"kind", m.source_kind}, {"location", m.source_location}, {"host", m.host}};
    j["store"] = {{"schema_version", m.schema_version}, {"data_version", m.data_version}};
    j["collections"] = Json::array();
    for (const auto& c : m.collections) {
        j["collections"].push_back({{"name", c.name}, {"records", c.records}, {"hnsw", c.hnsw}});
    }
    j["records"] = m.TotalRecords();
    j["files"] = Json::array();
    for (const auto& f : m.files) {
        Json jf = {{"path", f.path}, {"role", f.role}, {"bytes", f.bytes}, {"sha256", f.sha256}};
        if (!f.original_path.empty()) jf["original_path"] = f.original_path;
        if (f.role == "api-keys") jf["in_store"] = f.in_store;
        j["files"].push_back(std::move(jf));
    }
    return j.dump(2) + "\n";
}

namespace {

Status Bad(const std::string& what) { return DataLoss("manifest.json: " + what); }

template <typename T>
Result<T> Get(const Json& j, const char* key, const std::string& where) {
    if (!j.is_object() || !j.contains(key)) return Bad("missing \"" + std::string(key) + "\"" + where);
    try {
        return j.at(key).get<T>();
    } catch (const Json::exception&) {
        return Bad("\"" + std::string(key) + "\"" + where + " has the wrong type");
    }
}

bool IsHex64(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace

Result<BackupManifest> ParseManifest(const std::string& text) {
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
    SH_ASSIGN_OR_RETURN(std::string format, Get<std::string>(j, "format", ""));
    if (format != "signal-hub-backup") return Bad("format is '" + format + "', not signal-hub-backup");
    BackupManifest m;
    SH_ASSIGN_OR_RETURN(m.format_version, Get<int>(j, "format_version", ""));
    if (m.format_version > kBackupFormatVersion) {
        return FailedPrecondition("backup format version " + std::to_string(m.format_version) +
                                  " is newer than this build reads (" + std::to_string(kBackupFormatVersion) +
                                  "); use a newer signal-hub");
    }
    SH_ASSIGN_OR_RETURN(m.created_unix, Get<std::int64_t>(j, "created_unix", ""));
    SH_ASSIGN_OR_RETURN(Json source, Get<Json>(j, "source", ""));
    SH_ASSIGN_OR_RETURN(m.source_kind, Get<std::string>(source, "kind", " in source"));
    SH_ASSIGN_OR_RETURN(m.source_location, Get<std::string>(source, "location", " in source"));
    if (source.contains("host")) {
        SH_ASSIGN_OR_RETURN(m.host, Get<std::string>(source, "host", " in source"));
    }
    SH_ASSIGN_OR_RETURN(Json store, Get<Json>(j, "store", ""));
    SH_ASSIGN_OR_RETURN(m.schema_version, Get<int>(store, "schema_version", " in store"));
    SH_ASSIGN_OR_RETURN(m.data_version, Get<std::int64_t>(store, "data_version", " in store"));
    SH_ASSIGN_OR_RETURN(Json cols, Get<Json>(j, "collections", ""));
    if (!cols.is_array()) return Bad("\"collections\" is not an array");
    for (const auto& c : cols) {
        BackupManifest::Collection col;
        SH_ASSIGN_OR_RETURN(col.name, Get<std::string>(c, "name", " of a collection"));
        const std::string where = " of collection " + col.name;
        SH_ASSIGN_OR_RETURN(col.records, Get<std::int64_t>(c, "records", where));
        SH_ASSIGN_OR_RETURN(col.hnsw, Get<std::string>(c, "hnsw", where));
        if (col.records < 0) return Bad("negative \"records\"" + where);
        m.collections.push_back(std::move(col));
    }
    SH_ASSIGN_OR_RETURN(std::int64_t total, Get<std::int64_t>(j, "records", ""));
    if (total != m.TotalRecords()) return Bad("\"records\" is not the sum of the collections' records");
    SH_ASSIGN_OR_RETURN(Json files, Get<Json>(j, "files", ""));
    if (!files.is_array()) return Bad("\"files\" is not an array");
    for (const auto& f : files) {
        BackupManifest::File file;
        SH_ASSIGN_OR_RETURN(file.path, Get<std::string>(f, "path", " of a file"));
        const std::string where = " of file " + file.path;
        SH_ASSIGN_OR_RETURN(file.role, Get<std::string>(f, "role", where));
        SH_ASSIGN_OR_RETURN(file.bytes, Get<std::int64_t>(f, "bytes", where));
        SH_ASSIGN_OR_RETURN(file.sha256, Get<std::string>(f, "sha256", where));
        if (!IsHex64(file.sha256)) return Bad("\"sha256\"" + where + " is not 64 lower-case hex digits");
        if (f.contains("original_path")) {
        SH_ASSIGN_OR_RETURN(file.original_path, Get<std::string>(f, "original_path", where));
    }
        if (f.contains("in_store")) {
        SH_ASSIGN_OR_RETURN(file.in_store, Get<bool>(f, "in_store", where));
    }
        if (file.path == kManifestName || m.FindFile(file.path) != nullptr) return Bad("file " + file.path + " listed twice");
        m.files.push_back(std::move(file));
    }
    return m;
}

}  // namespace signalhub::ops

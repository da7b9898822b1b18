#include "security/file_key_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "security/key_rules.hpp"

namespace signalhub::security {
namespace {

using nlohmann::json;

constexpr std::string_view kFormat = "signal-hub-api-keys";
constexpr int kVersion = 1;
constexpr std::string_view kHashAlgorithm = "hmac-sha256";

std::string ErrnoText() { return std::strerror(errno); }

FileKeyStore::FileSignature SignatureOf(const struct stat& st) {
    FileKeyStore::FileSignature sig;
    sig.exists = true;
    sig.device = static_cast<unsigned long long>(st.st_dev);
    sig.inode = static_cast<unsigned long long>(st.st_ino);
    sig.size = static_cast<long long>(st.st_size);
    sig.mtime_sec = static_cast<long long>(st.st_mtim.tv_sec);
    sig.mtime_nsec = static_cast<long long>(st.st_mtim.tv_nsec);
    return sig;
}

// The signature of what is at `path` now (exists = false when nothing is).
Result<FileKeyStore::FileSignature> StatPath(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return FileKeyStore::FileSignature{};
        return Unavailable("cannot stat API key file " + path + ": " + ErrnoText());
    }
    return SignatureOf(st);
}

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
                                                  "hash",     "previous_hash", "previous_valid_until"};
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
    return r;
}

Result<std::vector<ApiKeyRecord>> ParseKeyFile(std::string_view text, const std::string& fingerprint) {
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

std::string SerializeKeyFile(const std::vector<ApiKeyRecord>& records, const std::string& fingerprint) {
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

Status WriteAll(int fd, std::string_view content, const std::string& path) {
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Unavailable("cannot write " + path + ": " + ErrnoText());
        }
        done += static_cast<std::size_t>(n);
    }
    return Status::Ok();
}

Status FsyncDirectoryOf(const std::string& path) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Unavailable("cannot open directory " + dir + ": " + ErrnoText());
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Unavailable("cannot fsync directory " + dir + ": " + ErrnoText());
    return Status::Ok();
}

// An exclusive flock on PATH.lock for the lifetime of the object.
class FileLock {
   public:
    static Result<FileLock> Acquire(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return Unavailable("cannot open lock file " + path + ": " + ErrnoText());
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno == EINTR) continue;
            Status s = Unavailable("cannot lock " + path + ": " + ErrnoText());
            ::close(fd);
            return s;
        }
        return FileLock(fd);
    }
    FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    FileLock& operator=(FileLock&&) = delete;
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);  // closing releases the flock
    }

   private:
    explicit FileLock(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace

FileKeyStore::FileKeyStore(std::string path, KeyHasher hasher, const Clock& clock)
    : path_(std::move(path)), hasher_(std::move(hasher)), clock_(clock) {}

Result<std::unique_ptr<FileKeyStore>> FileKeyStore::Open(std::string path, KeyHasher hasher, const Clock& clock) {
    if (path.empty()) return InvalidArgument("empty API key file path");
    std::unique_ptr<FileKeyStore> store(new FileKeyStore(std::move(path), std::move(hasher), clock));
    {
        std::lock_guard lock(store->mu_);
        SH_RETURN_IF_ERROR(store->ReloadLocked(/*force=*/true));
    }
    return store;
}

Result<FileKeyStore::Loaded> FileKeyStore::LoadFromDisk() const {
    Loaded loaded;
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return loaded;  // no file: no keys
        return Unavailable("cannot open API key file " + path_ + ": " + ErrnoText());
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        Status s = Unavailable("cannot stat API key file " + path_ + ": " + ErrnoText());
        ::close(fd);
        return s;
    }
    std::string text;
    char buffer[65536];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            Status s = Unavailable("cannot read API key file " + path_ + ": " + ErrnoText());
            ::close(fd);
            return s;
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    loaded.signature = SignatureOf(st);
    auto records = ParseKeyFile(text, hasher_.fingerprint());
    if (!records.ok()) {
        const Status& s = records.status();
        const ErrorCode code = s.code() == ErrorCode::kFailedPrecondition ? s.code() : ErrorCode::kDataLoss;
        return Status(code, "API key file " + path_ + " is not usable: " + s.message());
    }
    loaded.records = std::move(records).value();
    return loaded;
}

void FileKeyStore::AdoptLocked(Loaded loaded) {
    records_ = std::move(loaded.records);
    loaded_signature_ = loaded.signature;
    has_failed_signature_ = false;
    last_reload_status_ = Status::Ok();
    for (ApiKeyRecord& r : records_) {
        auto it = pending_usage_.find(r.id);
        if (it != pending_usage_.end()) r.last_used = std::max(r.last_used.value_or(0), it->second);
    }
}

Status FileKeyStore::ReloadLocked(bool force) {
    if (!force) {
        SH_ASSIGN_OR_RETURN(FileSignature now, StatPath(path_));
        if (now == loaded_signature_) return Status::Ok();
        if (has_failed_signature_ && now == failed_signature_) return Status::Ok();  // known bad: keep serving
    }
    auto loaded = LoadFromDisk();
    if (!loaded.ok()) {
        last_reload_status_ = loaded.status();
        auto now = StatPath(path_);
        if (now.ok()) {
            failed_signature_ = *now;
            has_failed_signature_ = true;
        }
        return loaded.status();
    }
    AdoptLocked(std::move(loaded).value());
    return Status::Ok();
}

Status FileKeyStore::Reload() {
    std::lock_guard lock(mu_);
    return ReloadLocked(/*force=*/true);
}

Status FileKeyStore::last_reload_status() const {
    std::lock_guard lock(mu_);
    return last_reload_status_;
}

Status FileKeyStore::WriteLocked(const std::vector<ApiKeyRecord>& records, FileSignature* written) {
    const std::string tmp = path_ + ".tmp";
    const std::string content = SerializeKeyFile(records, hasher_.fingerprint());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Unavailable("cannot create " + tmp + ": " + ErrnoText());
    Status s;
    if (::fchmod(fd, 0600) != 0) s = Unavailable("cannot chmod " + tmp + ": " + ErrnoText());
    if (s.ok()) s = WriteAll(fd, content, tmp);
    if (s.ok() && ::fsync(fd) != 0) s = Unavailable("cannot fsync " + tmp + ": " + ErrnoText());
    struct stat st {};
    if (s.ok() && ::fstat(fd, &st) != 0) s = Unavailable("cannot stat " + tmp + ": " + ErrnoText());
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0) {
        s = Unavailable("cannot rename " + tmp + " to " + path_ + ": " + ErrnoText());
    }
    if (!s.ok()) {
        ::unlink(tmp.c_str());
        return s;
    }
    *written = SignatureOf(st);  // rename keeps inode, size and mtime
    return FsyncDirectoryOf(path_);
}

Status FileKeyStore::MutateLocked(const std::function<Status(std::vector<ApiKeyRecord>&)>& change) {
    SH_ASSIGN_OR_RETURN(FileLock file_lock, FileLock::Acquire(path_ + ".lock"));
    // Apply to what is on disk now, not to what this process read earlier.
    auto loaded = LoadFromDisk();
    if (!loaded.ok()) {
        return loaded.status().WithContext("not changing the API key file until it is repaired");
    }
    std::vector<ApiKeyRecord> records = std::move(loaded->records);
    for (ApiKeyRecord& r : records) {
        auto it = pending_usage_.find(r.id);
        if (it != pending_usage_.end()) r.last_used = std::max(r.last_used.value_or(0), it->second);
    }
    SH_RETURN_IF_ERROR(change(records));
    FileSignature written;
    SH_RETURN_IF_ERROR(WriteLocked(records, &written));
    pending_usage_.clear();
    AdoptLocked(Loaded{std::move(records), written});
    return Status::Ok();
}

Result<IssuedKey> FileKeyStore::Create(const CreateKeyRequest& request) {
    SH_RETURN_IF_ERROR(ValidateCreateRequest(request));  // before touching the file
    std::lock_guard lock(mu_);
    std::optional<IssuedKey> issued;
    SH_RETURN_IF_ERROR(MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(issued, CreateKeyIn(records, request, hasher_, clock_.UnixSeconds()));
        return Status::Ok();
    }));
    return std::move(*issued);
}

Result<std::vector<ApiKeyRecord>> FileKeyStore::List() {
    std::lock_guard lock(mu_);
    (void)ReloadLocked(/*force=*/false);  // a bad file keeps the previous keys; see last_reload_status()
    std::vector<ApiKeyRecord> out = records_;
    SortForListing(out);
    return out;
}

Result<ApiKeyRecord> FileKeyStore::Revoke(std::string_view id) {
    std::lock_guard lock(mu_);
    std::optional<ApiKeyRecord> revoked;
    SH_RETURN_IF_ERROR(MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(revoked, RevokeKeyIn(records, id, clock_.UnixSeconds()));
        return Status::Ok();
    }));
    return std::move(*revoked);
}

Result<IssuedKey> FileKeyStore::Rotate(std::string_view id, std::int64_t grace_seconds) {
    if (grace_seconds < 0) return InvalidArgument("the rotation grace period cannot be negative");
    std::lock_guard lock(mu_);
    std::optional<IssuedKey> issued;
    SH_RETURN_IF_ERROR(MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(issued, RotateKeyIn(records, id, grace_seconds, hasher_, clock_.UnixSeconds()));
        return Status::Ok();
    }));
    return std::move(*issued);
}

Result<AuthenticatedKey> FileKeyStore::Authenticate(std::string_view presented_key, AuthFailure* failure) {
    if (failure != nullptr) *failure = AuthFailure::kNone;
    if (!ParseApiKey(presented_key).ok()) {  // refuse garbage before taking the lock
        return CheckKeyIn({}, presented_key, hasher_, 0, failure);
    }
    std::lock_guard lock(mu_);
    (void)ReloadLocked(/*force=*/false);  // a bad file keeps the previous keys; see last_reload_status()
    const std::int64_t now = clock_.UnixSeconds();
    SH_ASSIGN_OR_RETURN(AuthenticatedKey authenticated, CheckKeyIn(records_, presented_key, hasher_, now, failure));
    for (ApiKeyRecord& r : records_) {
        if (r.id == authenticated.record.id) r.last_used = now;
    }
    authenticated.record.last_used = now;
    pending_usage_[authenticated.record.id] = now;
    return authenticated;
}

Status FileKeyStore::FlushUsage() {
    std::lock_guard lock(mu_);
    if (pending_usage_.empty()) return Status::Ok();
    return MutateLocked([](std::vector<ApiKeyRecord>&) { return Status::Ok(); });
}

}  // namespace signalhub::security

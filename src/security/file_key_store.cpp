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
#include <utility>
#include <vector>

#include "security/key_document.hpp"
#include "security/key_rules.hpp"

namespace signalhub::security {
namespace {

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

// Creates the directories up to the key file's directory that do not exist yet, each mode 0700 (the file
// holds key hashes: only its owner reads the directory). PermissionDenied / Unavailable name the
// directory and the setting that chose it.
Status EnsureDirectoryOf(const std::string& path) {
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) return Status::Ok();
    std::vector<std::filesystem::path> missing;
    for (std::filesystem::path d = dir; !d.empty(); d = d.parent_path()) {
        struct stat st {};
        if (::stat(d.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                return InvalidArgument("the API key file's directory " + d.string() +
                                       " is not a directory (security.api_keys.file)");
            break;
        }
        missing.push_back(d);
        if (d == d.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0700) == 0 || errno == EEXIST) continue;
        const std::string why = "cannot create " + it->string() + ", the directory of the API key file " + path +
                                " (security.api_keys.file): " + ErrnoText();
        if (errno == EACCES || errno == EPERM || errno == EROFS)
            return PermissionDenied(why + "; create it with the right owner, or choose another file");
        return Unavailable(why);
    }
    return Status::Ok();
}

// An exclusive flock on PATH.lock for the lifetime of the object.
class FileLock {
   public:
    static Result<FileLock> Acquire(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            const std::string why = "cannot open lock file " + path + ": " + ErrnoText();
            if (errno == EACCES || errno == EPERM || errno == EROFS) return PermissionDenied(why);
            return Unavailable(why);
        }
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
    auto records = ParseKeyDocument(text, hasher_.fingerprint());
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
    const std::string content = SerializeKeyDocument(records, hasher_.fingerprint());
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
    SH_RETURN_IF_ERROR(EnsureDirectoryOf(path_));
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

Result<ApiKeyRecord> FileKeyStore::SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) {
    if (limit) SH_RETURN_IF_ERROR(ValidateKeyRateLimit(*limit));  // before touching the file
    std::lock_guard lock(mu_);
    std::optional<ApiKeyRecord> changed;
    SH_RETURN_IF_ERROR(MutateLocked([&](std::vector<ApiKeyRecord>& records) -> Status {
        SH_ASSIGN_OR_RETURN(changed, SetRateLimitIn(records, id, limit));
        return Status::Ok();
    }));
    return std::move(*changed);
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

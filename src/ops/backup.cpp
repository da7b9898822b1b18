#include "ops/backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "ops/backup_archive.hpp"
#include "store/embedded/embedded_store.hpp"
#include "store/embedded/file_util.hpp"
#include "store/embedded/store_snapshot.hpp"
#include "store/embedded/writer_lock.hpp"

namespace signalhub::ops {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kMaxManifestBytes = 16 << 20;

std::string ErrnoText() { return std::strerror(errno); }

std::FILE* OpenForWriting(const std::string& path, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return nullptr;
    std::FILE* f = ::fdopen(fd, "wb");
    if (f == nullptr) ::close(fd);
    return f;
}

std::string ParentOf(const std::string& path) {
    fs::path p = fs::absolute(path).parent_path();
    return p.empty() ? "." : p.string();
}

BackupManifest::File StagedFile(const std::string& member, const std::string& role, const FileDigest& d) {
    BackupManifest::File f;
    f.path = member;
    f.role = role;
    f.bytes = d.bytes;
    f.sha256 = d.sha256;
    return f;
}

bool SamePath(const std::string& a, const std::string& b) {
    std::error_code ec;
    return fs::equivalent(a, b, ec);
}

// Member name → file to archive.
using Sources = std::vector<std::pair<std::string, std::string>>;

Status WriteArchive(const std::string& output, const BackupManifest& m, const Sources& sources, std::int64_t* bytes) {
    const std::string partial = output + ".partial";
    // 0600: the archive holds the API-key hashes and the configuration.
    std::FILE* out = OpenForWriting(partial, 0600);
    if (out == nullptr) return Internal("cannot create " + partial + ": " + ErrnoText());
    Status s = [&]() -> Status {
        SH_ASSIGN_OR_RETURN(auto writer, ArchiveWriter::Create(out, partial));
        SH_RETURN_IF_ERROR(writer->AddBytes(kManifestName, ManifestToJson(m), m.created_unix));
        for (const auto& [member, path] : sources) SH_RETURN_IF_ERROR(writer->AddFile(member, path, m.created_unix));
        SH_RETURN_IF_ERROR(writer->Finish());
        if (::fsync(::fileno(out)) != 0) return Internal("cannot fsync " + partial + ": " + ErrnoText());
        return Status::Ok();
    }();
    if (std::fclose(out) != 0 && s.ok()) s = Internal("cannot close " + partial + ": " + ErrnoText());
    if (!s.ok()) {
        std::error_code ec;
        fs::remove(partial, ec);
        return s;
    }
    if (::rename(partial.c_str(), output.c_str()) != 0) return Internal("cannot rename " + partial + ": " + ErrnoText());
    SH_RETURN_IF_ERROR(store::FsyncDirectory(ParentOf(output)));
    std::error_code ec;
    *bytes = static_cast<std::int64_t>(fs::file_size(output, ec));
    return Status::Ok();
}

// Reads an archive, checking each member against the manifest; `extract(member)` returns where to
// write a member ("" = do not write).
Result<BackupManifest> ReadArchive(const std::string& archive,
                                   const std::function<Result<std::string>(const BackupManifest&,
                                                                           const BackupManifest::File&)>& extract) {
    SH_ASSIGN_OR_RETURN(auto reader, ArchiveReader::Open(archive));
    SH_ASSIGN_OR_RETURN(std::optional<TarEntry> first, reader->Next());
    if (!first || first->name != kManifestName) {
        return DataLoss("backup archive " + archive + ": the first member is " + (first ? first->name : "missing") +
                        ", not manifest.json (not a signal-hub backup?)");
    }
    if (first->size > kMaxManifestBytes) return DataLoss("backup archive " + archive + ": manifest.json is too large");
    std::string text;
    SH_RETURN_IF_ERROR(reader->ReadData([&](std::string_view d) {
        text.append(d);
        return Status::Ok();
    }));
    auto parsed = ParseManifest(text);
    if (!parsed.ok()) return parsed.status().WithContext("backup archive " + archive);
    BackupManifest m = std::move(*parsed);
    std::set<std::string> seen;
    while (true) {
        SH_ASSIGN_OR_RETURN(std::optional<TarEntry> e, reader->Next());
        if (!e) break;
        const BackupManifest::File* f = m.FindFile(e->name);
        if (f == nullptr) {
            return DataLoss("backup archive " + archive + " holds member " + e->name + " that its manifest does not list");
        }
        if (!seen.insert(e->name).second) {
            return DataLoss("backup archive " + archive + " holds member " + e->name + " twice");
        }
        std::string dest;
        if (extract) {
            SH_ASSIGN_OR_RETURN(dest, extract(m, *f));
        }
        std::FILE* out = nullptr;
        if (!dest.empty()) {
            fs::create_directories(fs::path(dest).parent_path());
            out = OpenForWriting(dest, f->role == "api-keys" || f->role == "config" ? 0600 : 0644);
            if (out == nullptr) return Internal("cannot create " + dest + ": " + ErrnoText());
        }
        Sha256 hash;
        std::int64_t bytes = 0;
        Status read = reader->ReadData([&](std::string_view d) -> Status {
            hash.Update(d);
            bytes += static_cast<std::int64_t>(d.size());
            if (out != nullptr && std::fwrite(d.data(), 1, d.size(), out) != d.size()) {
                return Internal("cannot write " + dest + ": " + ErrnoText());
            }
            return Status::Ok();
        });
        if (out != nullptr) {
            if (read.ok() && (std::fflush(out) != 0 || ::fsync(::fileno(out)) != 0)) {
                read = Internal("cannot write " + dest + ": " + ErrnoText());
            }
            std::fclose(out);
        }
        SH_RETURN_IF_ERROR(read);
        const std::string digest = hash.HexDigest();
        if (bytes != f->bytes || digest != f->sha256) {
            return DataLoss("backup archive " + archive + ": member " + e->name + " does not match its manifest (" +
                            std::to_string(bytes) + " bytes, sha256 " + digest + "; manifest: " +
                            std::to_string(f->bytes) + " bytes, sha256 " + f->sha256 + ")");
        }
    }
    for (const auto& f : m.files) {
        if (!seen.count(f.path)) {
            return DataLoss("backup archive " + archive + ": member " + f.path + " listed in its manifest is missing");
        }
    }
    if (m.source_kind == "embedded" && m.FindFile("store/store.db") == nullptr) {
        return DataLoss("backup archive " + archive + ": an embedded-store backup without store/store.db");
    }
    return m;
}

bool DirIsEmpty(const std::string& dir) {
    std::error_code ec;
    return fs::is_empty(dir, ec) && !ec;
}

}  // namespace

double SecondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string BackupHostName() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return "";
    return host;
}

Result<BackupCreateSummary> CreateEmbeddedBackup(const BackupCreateOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.output.empty()) return InvalidArgument("backup create needs an archive path");
    std::error_code ec;
    if (fs::exists(o.output, ec) && !o.overwrite) {
        return AlreadyExists("backup archive " + o.output + " exists; give --force to replace it, or another name");
    }
    if (!fs::is_directory(ParentOf(o.output))) {
        return NotFound("the directory of " + o.output + " does not exist (" + ParentOf(o.output) + ")");
    }
    const std::string store_dir = fs::absolute(o.store_dir).lexically_normal().string();
    const std::string staging = o.output + ".partial.d";
    fs::remove_all(staging, ec);
    fs::create_directories(staging, ec);
    if (ec) return Internal("cannot create " + staging + ": " + ec.message());
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(dir, e);
        }
    } cleanup{staging};

    BackupCreateSummary summary;
    BackupManifest& m = summary.manifest;
    m.created_unix = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    m.source_kind = "embedded";
    m.source_location = store_dir;
    m.host = BackupHostName();
    SH_ASSIGN_OR_RETURN(store::EmbeddedSnapshot snap, store::SnapshotEmbeddedStore(store_dir, staging));
    m.schema_version = snap.schema_version;
    m.data_version = snap.data_version;
    for (auto& c : snap.collections) {
        BackupManifest::Collection mc{c.name, c.records, c.graph_included ? "included" : "rebuild"};
        if (!c.graph_included) {
            summary.notes.push_back("collection " + c.name + ": HNSW graph not included (" + c.graph_note +
                                    "); a restore rebuilds it from the records");
        }
        m.collections.push_back(std::move(mc));
    }

    Sources sources;
    auto add = [&](const std::string& member, const std::string& role, const std::string& path) -> Result<BackupManifest::File*> {
        SH_ASSIGN_OR_RETURN(FileDigest d, DigestFile(path));
        m.files.push_back(StagedFile(member, role, d));
        sources.emplace_back(member, path);
        return &m.files.back();
    };
    SH_RETURN_IF_ERROR(add("store/store.db", "store", staging + "/store.db").status());
    std::vector<std::string> graphs;
    for (const auto& entry : fs::directory_iterator(staging + "/hnsw")) graphs.push_back(entry.path().filename().string());
    std::sort(graphs.begin(), graphs.end());
    for (const auto& g : graphs) SH_RETURN_IF_ERROR(add("store/hnsw/" + g, "hnsw", staging + "/hnsw/" + g).status());
    if (o.config_file) {
        // Copied first, so the archived bytes are exactly the hashed ones even if the file is edited now.
        const std::string copy = staging + "/config";
        if (!fs::copy_file(*o.config_file, copy, ec)) return NotFound("cannot read the configuration file " + *o.config_file + ": " + ec.message());
        const std::string name = fs::path(*o.config_file).filename().string();
        SH_ASSIGN_OR_RETURN(BackupManifest::File * f, add("config/" + name, "config", copy));
        f->original_path = fs::absolute(*o.config_file).string();
    }
    if (o.api_keys_file) {
        if (!fs::exists(*o.api_keys_file)) {
            summary.notes.push_back("API-key file " + *o.api_keys_file + " does not exist (no keys created yet); not included");
        } else {
            const std::string copy = staging + "/api-keys.json";
            if (!fs::copy_file(*o.api_keys_file, copy, ec)) return Internal("cannot read " + *o.api_keys_file + ": " + ec.message());
            SH_ASSIGN_OR_RETURN(BackupManifest::File * f, add("keys/api-keys.json", "api-keys", copy));
            f->original_path = fs::absolute(*o.api_keys_file).string();
            f->in_store = SamePath(ParentOf(*o.api_keys_file), store_dir) &&
                          fs::path(*o.api_keys_file).filename() == "api-keys.json";
        }
    }
    SH_RETURN_IF_ERROR(WriteArchive(o.output, m, sources, &summary.archive_bytes));
    summary.seconds = SecondsSince(t0);
    return summary;
}

Result<BackupManifest> VerifyBackup(const std::string& archive) { return ReadArchive(archive, nullptr); }

Result<BackupManifest> ReadBackupManifest(const std::string& archive) {
    SH_ASSIGN_OR_RETURN(auto reader, ArchiveReader::Open(archive));
    SH_ASSIGN_OR_RETURN(std::optional<TarEntry> first, reader->Next());
    if (!first || first->name != kManifestName || first->size > kMaxManifestBytes) {
        return DataLoss("backup archive " + archive + ": no manifest.json first (not a signal-hub backup?)");
    }
    std::string text;
    SH_RETURN_IF_ERROR(reader->ReadData([&](std::string_view d) {
        text.append(d);
        return Status::Ok();
    }));
    auto m = ParseManifest(text);
    if (!m.ok()) return m.status().WithContext("backup archive " + archive);
    return m;
}

Result<std::vector<BackupListEntry>> ListBackups(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return NotFound("no directory " + dir);
    std::vector<std::pair<std::int64_t, BackupListEntry>> found;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || name.size() < 8 || name.substr(name.size() - 8) != ".tar.zst") continue;
        BackupListEntry e;
        e.path = entry.path().string();
        e.bytes = static_cast<std::int64_t>(entry.file_size(ec));
        std::int64_t when = std::chrono::duration_cast<std::chrono::seconds>(
                                entry.last_write_time(ec).time_since_epoch()).count();
        auto m = ReadBackupManifest(e.path);
        if (m.ok()) {
            e.manifest = std::move(*m);
            when = e.manifest->created_unix;
        } else {
            e.error = m.status().message();
        }
        found.emplace_back(when, std::move(e));
    }
    if (ec) return Internal("cannot list " + dir + ": " + ec.message());
    std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second.path > b.second.path;
    });
    std::vector<BackupListEntry> out;
    for (auto& [when, e] : found) out.push_back(std::move(e));
    return out;
}

Result<std::vector<std::string>> PruneBackups(const std::string& dir, size_t keep, const std::string& just_written) {
    if (keep == 0) return InvalidArgument("backup retention: keep at least 1 archive");
    SH_ASSIGN_OR_RETURN(std::vector<BackupListEntry> entries, ListBackups(dir));
    std::vector<std::string> removed;
    size_t kept = 0;
    std::error_code ec;
    for (const auto& e : entries) {
        if (!e.manifest) continue;  // not an archive of ours (or damaged): never deleted by retention
        if (kept < keep || fs::equivalent(e.path, just_written, ec)) {
            ++kept;
            continue;
        }
        if (!fs::remove(e.path, ec) && ec) return Internal("backup retention: cannot remove " + e.path + ": " + ec.message());
        removed.push_back(e.path);
    }
    return removed;
}

std::string CompareCountsWithManifest(const BackupManifest& manifest, const std::vector<CollectionInfo>& restored,
                                      std::vector<BackupRestoreSummary::Count>& counts) {
    std::map<std::string, std::int64_t> have;
    for (const auto& info : restored) have[info.spec.name] = info.records;
    std::string wrong;
    for (const auto& c : manifest.collections) {
        const auto it = have.find(c.name);
        const std::int64_t got = it == have.end() ? -1 : it->second;
        counts.push_back({c.name, c.records, std::max<std::int64_t>(got, 0)});
        if (got != c.records) {
            wrong += (wrong.empty() ? "" : "; ") + std::string("collection ") + c.name + ": " +
                     (got < 0 ? std::string("missing") : std::to_string(got) + " records") + ", manifest says " +
                     std::to_string(c.records);
        }
    }
    return wrong;
}

Result<BackupRestoreSummary> RestoreEmbeddedBackup(const BackupRestoreOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string target = fs::absolute(o.store_dir).lexically_normal().string();
    std::error_code ec;
    // 1. The target: refused before reading anything when it holds data and --force is not given.
    store::WriterLock lock;
    if (fs::exists(target, ec)) {
        if (!fs::is_directory(target, ec)) return FailedPrecondition("restore target " + target + " is not a directory");
        if (!DirIsEmpty(target)) {
            if (!o.force) {
                return FailedPrecondition("restore target " + target +
                                          " is not empty; give --force to replace it (its content is removed only "
                                          "after the restored store passed its checks)");
            }
            if (fs::exists(target + "/LOCK")) {
                SH_ASSIGN_OR_RETURN(lock, store::WriterLock::Acquire(target, "signal-hub backup restore"));
            }
        }
    }
    // 2. The whole archive is checked before anything is written.
    SH_ASSIGN_OR_RETURN(BackupManifest checked, VerifyBackup(o.archive));
    if (checked.source_kind != "embedded") {
        return InvalidArgument("backup archive " + o.archive + " is a " + checked.source_kind +
                               " backup; restore it with --database URL");
    }
    if (o.files_dir) {
        for (const auto& f : checked.files) {
            if ((f.role == "config" || (f.role == "api-keys" && !f.in_store))) {
                const std::string dest = *o.files_dir + "/" + fs::path(f.path).filename().string();
                if (fs::exists(dest) && !o.force) return AlreadyExists(dest + " exists; give --force to replace it");
            }
        }
    }
    // 3. Extract into a directory beside the target (same file system: the final rename is atomic).
    const std::string parent = ParentOf(target);
    fs::create_directories(parent, ec);
    const std::string tmp = parent + "/." + fs::path(target).filename().string() + ".restore-" + std::to_string(::getpid());
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp + "/hnsw", ec);
    if (ec) return Internal("cannot create " + tmp + ": " + ec.message());
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code e;
            if (!dir.empty()) fs::remove_all(dir, e);
        }
    } cleanup{tmp};
    BackupRestoreSummary summary;
    std::vector<std::pair<std::string, std::string>> outside;  // staged file → final path
    auto where = [&](const BackupManifest&, const BackupManifest::File& f) -> Result<std::string> {
        if (f.role == "store" || f.role == "hnsw") return tmp + "/" + f.path.substr(std::string("store/").size());
        if (f.role == "api-keys" && f.in_store) return tmp + "/api-keys.json";
        if (o.files_dir) {
            const std::string staged = tmp + "/.files/" + fs::path(f.path).filename().string();
            outside.emplace_back(staged, *o.files_dir + "/" + fs::path(f.path).filename().string());
            return staged;
        }
        summary.notes.push_back(f.role + " file " + f.original_path + " is in the archive as " + f.path +
                                " (not written; give --files-dir DIR to write it)");
        return std::string();
    };
    SH_ASSIGN_OR_RETURN(summary.manifest, ReadArchive(o.archive, where));
    const BackupManifest& m = summary.manifest;
    // 4. Open the restored store (it loads and catches up each graph, or rebuilds it) and count.
    {
        store::OpenOptions open;
        open.holder = "signal-hub backup restore";
        auto opened = store::EmbeddedStore::Open(tmp, open);
        if (!opened.ok()) return opened.status().WithContext("the restored store does not open");
        SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, (*opened)->ListCollections());
        std::string wrong = CompareCountsWithManifest(m, infos, summary.counts);
        // Touch the graphs: a search loads (or rebuilds) each, so a restored store answers at once.
        for (const auto& info : infos) {
            if (info.records <= 0) continue;
            std::vector<float> probe(static_cast<size_t>(info.spec.dimension), 0.5f);
            store::SearchOptions so;
            so.k = 1;
            auto hits = (*opened)->VectorSearch(info.spec.name, probe, so);
            if (!hits.ok()) {
                return hits.status().WithContext("the restored collection " + info.spec.name + " cannot be searched");
            }
        }
        if (infos.size() != m.collections.size() && wrong.empty()) {
            wrong = std::to_string(infos.size()) + " collections, manifest says " + std::to_string(m.collections.size());
        }
        if (!wrong.empty()) {
            return DataLoss("restore of " + o.archive + " failed: the restored store does not hold what the manifest "
                            "says (" + wrong + "); the target " + target + " was not changed");
        }
        SH_RETURN_IF_ERROR((*opened)->Flush());
    }
    // 5. Swap in.
    const bool had_target = fs::exists(target, ec);
    const std::string old = parent + "/." + fs::path(target).filename().string() + ".old-" + std::to_string(::getpid());
    if (had_target && ::rename(target.c_str(), old.c_str()) != 0) {
        return Internal("cannot move " + target + " aside: " + ErrnoText());
    }
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
        const std::string err = ErrnoText();
        if (had_target) (void)::rename(old.c_str(), target.c_str());
        return Internal("cannot rename " + tmp + " to " + target + ": " + err);
    }
    cleanup.dir.clear();
    SH_RETURN_IF_ERROR(store::FsyncDirectory(parent));
    if (had_target) fs::remove_all(old, ec);
    lock = store::WriterLock();
    for (const auto& [staged, final_path] : outside) {
        const std::string from = target + staged.substr(tmp.size());
        fs::create_directories(fs::path(final_path).parent_path(), ec);
        if (::rename(from.c_str(), final_path.c_str()) != 0) {
            fs::copy_file(from, final_path, fs::copy_options::overwrite_existing, ec);
            if (ec) return Internal("cannot write " + final_path + ": " + ec.message());
        }
        summary.written.push_back(final_path);
    }
    fs::remove_all(target + "/.files", ec);
    summary.seconds = SecondsSince(t0);
    return summary;
}

Status WriteBackupArchive(const std::string& output, const BackupManifest& manifest,
                          const std::vector<std::pair<std::string, std::string>>& sources, std::int64_t* bytes) {
    return WriteArchive(output, manifest, sources, bytes);
}

Result<BackupManifest> ExtractBackupArchive(const std::string& archive, const ExtractFn& extract) {
    return ReadArchive(archive, extract);
}

}  // namespace signalhub::ops

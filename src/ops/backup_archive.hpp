#pragma once
// The container of a `signal-hub backup` archive: a POSIX ustar tar stream compressed with zstd
// (a ".tar.zst" that `tar --zstd -xf` also reads). Written by hand over libzstd (ADR-23 in
// docs/architecture.md): only regular files, names up to 99 bytes, sizes in octal or, from 8 GiB,
// GNU base-256. Each member (header + data + padding) is its own zstd frame with a content
// checksum, so damage is caught by zstd (naming the member being read) or by the manifest's
// sha256 (backup_manifest.hpp). The reader is a plain stream reader: it accepts any frame layout,
// e.g. an archive re-packed with `tar --format=ustar -c | zstd`.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace signalhub::ops {

// Lower-case hex SHA-256 of a byte string (OpenSSL EVP).
std::string Sha256Hex(std::string_view data);

// Incremental SHA-256.
class Sha256 {
   public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void Update(std::string_view data);
    std::string HexDigest();  // once

   private:
    void* ctx_;
};

// SHA-256 and size of a file; NotFound / Internal naming the path.
struct FileDigest {
    std::int64_t bytes = 0;
    std::string sha256;
};
Result<FileDigest> DigestFile(const std::string& path);

// Writes a .tar.zst to an open file. Members in the order added; Finish() writes the end blocks.
class ArchiveWriter {
   public:
    // `out` stays owned by the caller; `level`: zstd level (3 is zstd's default).
    static Result<std::unique_ptr<ArchiveWriter>> Create(std::FILE* out, std::string path_for_errors, int level = 3);
    ~ArchiveWriter();
    ArchiveWriter(const ArchiveWriter&) = delete;
    ArchiveWriter& operator=(const ArchiveWriter&) = delete;

    // A member holding `data`.
    Status AddBytes(const std::string& name, std::string_view data, std::int64_t mtime);
    // A member holding the file at `path` (which must not change while it is read: its size is
    // taken first and a different number of bytes read is Internal).
    Status AddFile(const std::string& name, const std::string& path, std::int64_t mtime);
    Status Finish();

   private:
    ArchiveWriter() = default;
    Status Compress(std::string_view data, bool end_frame);
    Status Header(const std::string& name, std::int64_t size, std::int64_t mtime);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The ustar header block of a member (exposed for tests). InvalidArgument for a name longer than
// 99 bytes, empty, absolute or with "..".
Result<std::string> TarHeader(const std::string& name, std::int64_t size, std::int64_t mtime);
// Parses a header block: the name and size; nullopt for an all-zero block (end of archive).
// DataLoss for a bad checksum, a type other than a regular file or directory, or a malformed field.
struct TarEntry {
    std::string name;
    std::int64_t size = 0;
    bool directory = false;  // type '5': accepted (re-packed archives have them) and skipped by ArchiveReader
};
Result<std::optional<TarEntry>> ParseTarHeader(std::string_view block);

// Reads a .tar.zst member by member.
class ArchiveReader {
   public:
    static Result<std::unique_ptr<ArchiveReader>> Open(const std::string& path);
    ~ArchiveReader();
    ArchiveReader(const ArchiveReader&) = delete;
    ArchiveReader& operator=(const ArchiveReader&) = delete;

    // The next member (its data unread), or nullopt at the end blocks; a member whose data was not
    // read is skipped. At the end, anything but zero padding after the end blocks is DataLoss.
    // Errors name the archive and the member being read ("after member X" for a damaged header).
    Result<std::optional<TarEntry>> Next();
    // Streams the current member's data to `sink` in chunks.
    Status ReadData(const std::function<Status(std::string_view)>& sink);
    const std::string& path() const;

   private:
    ArchiveReader() = default;
    Status Fill(size_t want);  // ensures `want` decompressed bytes are buffered; DataLoss if the stream ends
    Status Where(Status s) const;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::ops

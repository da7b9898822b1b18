#include "ops/backup_archive.hpp"

#include <openssl/evp.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace signalhub::ops {

namespace {

constexpr size_t kBlock = 512;
constexpr size_t kChunk = 1 << 20;
constexpr std::int64_t kMaxOctal11 = 077777777777;  // 8 GiB - 1

std::string Hex(const unsigned char* p, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out.push_back(digits[p[i] >> 4]);
        out.push_back(digits[p[i] & 15]);
    }
    return out;
}

void PutOctal(char* field, size_t width, std::int64_t value) {
    // width-1 octal digits, NUL-terminated.
    std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

std::string ZstdError(size_t rc) { return ZSTD_getErrorName(rc); }

}  // namespace

// ---- SHA-256 -------------------------------------------------------------------------------------

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr); }
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::Update(std::string_view data) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()); }
std::string Sha256::HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
    return Hex(md, n);
}

std::string Sha256Hex(std::string_view data) {
    Sha256 h;
    h.Update(data);
    return h.HexDigest();
}

Result<FileDigest> DigestFile(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        if (errno == ENOENT) return NotFound("no file " + path);
        return Internal("cannot open " + path + ": " + std::strerror(errno));
    }
    Sha256 h;
    FileDigest d;
    std::vector<char> buf(kChunk);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        h.Update(std::string_view(buf.data(), n));
        d.bytes += static_cast<std::int64_t>(n);
    }
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) return Internal("cannot read " + path);
    d.sha256 = h.HexDigest();
    return d;
}

// ---- tar headers ---------------------------------------------------------------------------------

Result<std::string> TarHeader(const std::string& name, std::int64_t size, std::int64_t mtime) {
    if (name.empty() || name.size() > 99 || name.front() == '/' || name.find("..") != std::string::npos) {
        return InvalidArgument("archive member name '" + name + "' is empty, absolute, contains '..' or is too long");
    }
    if (size < 0) return InvalidArgument("negative size for archive member " + name);
    std::string block(kBlock, '\0');
    char* b = block.data();
    std::memcpy(b, name.data(), name.size());
    PutOctal(b + 100, 8, 0644);
    PutOctal(b + 108, 8, 0);
    PutOctal(b + 116, 8, 0);
    if (size <= kMaxOctal11) {
        PutOctal(b + 124, 12, size);
    } else {  // GNU base-256: high bit of the first byte, big-endian value in the rest
        std::uint64_t v = static_cast<std::uint64_t>(size);
        for (int i = 11; i >= 1; --i, v >>= 8) b[124 + i] = static_cast<char>(v & 0xff);
        b[124] = static_cast<char>(0x80);
    }
    PutOctal(b + 136, 12, std::clamp<std::int64_t>(mtime, 0, kMaxOctal11));
    b[156] = '0';
    std::memcpy(b + 257, "ustar", 6);  // magic "ustar\0"
    std::memcpy(b + 263, "00", 2);
    std::memcpy(b + 265, "root", 4);
    std::memcpy(b + 297, "root", 4);
    std::memset(b + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += static_cast<unsigned char>(b[i]);
    std::snprintf(b + 148, 8, "%06o", sum);  // six digits, NUL, then the space already there
    b[155] = ' ';
    return block;
}

namespace {

Result<std::int64_t> ParseNumber(const char* field, size_t width, const char* what) {
    if (static_cast<unsigned char>(field[0]) & 0x80) {
        std::uint64_t v = static_cast<unsigned char>(field[0]) & 0x7f;
        for (size_t i = 1; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(field[i]);
        if (v > static_cast<std::uint64_t>(INT64_MAX)) return DataLoss(std::string("tar header: ") + what + " too large");
        return static_cast<std::int64_t>(v);
    }
    std::int64_t v = 0;
    size_t i = 0;
    while (i < width && field[i] == ' ') ++i;
    bool digits = false;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
        v = v * 8 + (field[i] - '0');
        digits = true;
    }
    for (; i < width; ++i) {
        if (field[i] != '\0' && field[i] != ' ') return DataLoss(std::string("tar header: malformed ") + what);
    }
    if (!digits) return DataLoss(std::string("tar header: empty ") + what);
    return v;
}

}  // namespace

Result<std::optional<TarEntry>> ParseTarHeader(std::string_view block) {
    if (block.size() != kBlock) return DataLoss("tar header: short block");
    if (std::all_of(block.begin(), block.end(), [](char c) { return c == '\0'; })) return std::optional<TarEntry>();
    const char* b = block.data();
    SH_ASSIGN_OR_RETURN(std::int64_t stored, ParseNumber(b + 148, 8, "checksum"));
    std::int64_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(b[i]);
    if (sum != stored) return DataLoss("tar header checksum mismatch");
    if (b[156] == '5') {  // a directory (tar -c of a re-packed archive adds them): no data, skipped by the reader
        TarEntry dir;
        dir.name.assign(b, strnlen(b, 100));
        dir.directory = true;
        SH_ASSIGN_OR_RETURN(dir.size, ParseNumber(b + 124, 12, "size"));
        if (dir.size != 0) return DataLoss("tar directory entry " + dir.name + " with data");
        return std::optional<TarEntry>(std::move(dir));
    }
    if (b[156] != '0' && b[156] != '\0') {
        return DataLoss(std::string("tar member of type '") + b[156] + "' (only regular files belong in a backup)");
    }
    TarEntry e;
    e.name.assign(b, strnlen(b, 100));
    const std::string prefix(b + 345, strnlen(b + 345, 155));
    if (std::memcmp(b + 257, "ustar", 5) == 0 && !prefix.empty()) e.name = prefix + "/" + e.name;
    SH_ASSIGN_OR_RETURN(e.size, ParseNumber(b + 124, 12, "size"));
    if (e.name.empty()) return DataLoss("tar member without a name");
    return std::optional<TarEntry>(std::move(e));
}

// ---- writer --------------------------------------------------------------------------------------

struct ArchiveWriter::Impl {
    std::FILE* out = nullptr;
    std::string path;
    ZSTD_CCtx* cctx = nullptr;
    std::vector<char> obuf;
    ~Impl() { ZSTD_freeCCtx(cctx); }
};

ArchiveWriter::~ArchiveWriter() = default;

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Create(std::FILE* out, std::string path_for_errors, int level) {
    std::unique_ptr<ArchiveWriter> w(new ArchiveWriter());
    w->impl_ = std::make_unique<Impl>();
    w->impl_->out = out;
    w->impl_->path = std::move(path_for_errors);
    w->impl_->cctx = ZSTD_createCCtx();
    if (w->impl_->cctx == nullptr) return Internal("zstd: out of memory");
    ZSTD_CCtx_setParameter(w->impl_->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->impl_->cctx, ZSTD_c_checksumFlag, 1);
    w->impl_->obuf.resize(ZSTD_CStreamOutSize());
    return w;
}

Status ArchiveWriter::Compress(std::string_view data, bool end_frame) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    const ZSTD_EndDirective mode = end_frame ? ZSTD_e_end : ZSTD_e_continue;
    while (true) {
        ZSTD_outBuffer out{impl_->obuf.data(), impl_->obuf.size(), 0};
        const size_t rc = ZSTD_compressStream2(impl_->cctx, &out, &in, mode);
        if (ZSTD_isError(rc)) return Internal("zstd compression of " + impl_->path + ": " + ZstdError(rc));
        if (out.pos > 0 && std::fwrite(impl_->obuf.data(), 1, out.pos, impl_->out) != out.pos) {
            const int err = errno;
            if (err == ENOSPC) return ResourceExhausted("writing " + impl_->path + ": no space left on device");
            return Internal("writing " + impl_->path + ": " + std::strerror(err));
        }
        if (end_frame ? rc == 0 : in.pos == in.size) return Status::Ok();
    }
}

Status ArchiveWriter::Header(const std::string& name, std::int64_t size, std::int64_t mtime) {
    SH_ASSIGN_OR_RETURN(std::string block, TarHeader(name, size, mtime));
    return Compress(block, false);
}

Status ArchiveWriter::AddBytes(const std::string& name, std::string_view data, std::int64_t mtime) {
    SH_RETURN_IF_ERROR(Header(name, static_cast<std::int64_t>(data.size()), mtime));
    SH_RETURN_IF_ERROR(Compress(data, false));
    const size_t pad = (kBlock - data.size() % kBlock) % kBlock;
    return Compress(std::string(pad, '\0'), true);
}

Status ArchiveWriter::AddFile(const std::string& name, const std::string& path, std::int64_t mtime) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return Internal("cannot open " + path + ": " + std::strerror(errno));
    std::fseek(f, 0, SEEK_END);
    const long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    Status s = Header(name, size, mtime);
    std::vector<char> buf(kChunk);
    std::int64_t total = 0;
    size_t n;
    while (s.ok() && (n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        total += static_cast<std::int64_t>(n);
        s = Compress(std::string_view(buf.data(), n), false);
    }
    if (s.ok() && std::ferror(f)) s = Internal("cannot read " + path);
    std::fclose(f);
    SH_RETURN_IF_ERROR(s);
    if (total != size) return Internal(path + " changed while it was archived");
    const size_t pad = (kBlock - static_cast<size_t>(total) % kBlock) % kBlock;
    return Compress(std::string(pad, '\0'), true);
}

Status ArchiveWriter::Finish() {
    SH_RETURN_IF_ERROR(Compress(std::string(2 * kBlock, '\0'), true));
    if (std::fflush(impl_->out) != 0) return Internal("writing " + impl_->path + ": " + std::strerror(errno));
    return Status::Ok();
}

// ---- reader --------------------------------------------------------------------------------------

struct ArchiveReader::Impl {
    std::FILE* in = nullptr;
    std::string path;
    ZSTD_DCtx* dctx = nullptr;
    std::vector<char> ibuf;
    ZSTD_inBuffer zin{nullptr, 0, 0};
    bool eof = false;
    size_t last_rc = 0;  // ZSTD_decompressStream's last hint: 0 at a frame boundary
    std::string buf;     // decompressed, unconsumed
    std::optional<TarEntry> current;
    std::int64_t remaining = 0;  // data bytes of `current` not yet read
    std::string last_name;      // the last member whose header was read
    ~Impl() {
        ZSTD_freeDCtx(dctx);
        if (in != nullptr) std::fclose(in);
    }
};

ArchiveReader::~ArchiveReader() = default;
const std::string& ArchiveReader::path() const { return impl_->path; }

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& path) {
    std::unique_ptr<ArchiveReader> r(new ArchiveReader());
    r->impl_ = std::make_unique<Impl>();
    r->impl_->path = path;
    r->impl_->in = std::fopen(path.c_str(), "rb");
    if (r->impl_->in == nullptr) {
        if (errno == ENOENT) return NotFound("no backup archive " + path);
        return Internal("cannot open " + path + ": " + std::strerror(errno));
    }
    r->impl_->dctx = ZSTD_createDCtx();
    if (r->impl_->dctx == nullptr) return Internal("zstd: out of memory");
    r->impl_->ibuf.resize(ZSTD_DStreamInSize());
    return r;
}

Status ArchiveReader::Where(Status s) const {
    if (s.ok()) return s;
    std::string where = "backup archive " + impl_->path + " is damaged";
    if (impl_->current) {
        where += " in member " + impl_->current->name;
    } else if (!impl_->last_name.empty()) {
        where += " after member " + impl_->last_name;
    } else {
        where += " at its start";
    }
    return Status(s.code() == ErrorCode::kInternal ? s.code() : ErrorCode::kDataLoss, where + ": " + s.message());
}

Status ArchiveReader::Fill(size_t want) {
    Impl& m = *impl_;
    std::vector<char> obuf(ZSTD_DStreamOutSize());
    while (m.buf.size() < want) {
        if (m.zin.pos == m.zin.size) {
            if (m.eof) {
                if (m.last_rc != 0) return DataLoss("the compressed stream is truncated");
                return DataLoss("the archive ends early (truncated)");
            }
            const size_t n = std::fread(m.ibuf.data(), 1, m.ibuf.size(), m.in);
            if (n == 0) {
                if (std::ferror(m.in)) return Internal("cannot read " + m.path + ": " + std::strerror(errno));
                m.eof = true;
                continue;
            }
            m.zin = ZSTD_inBuffer{m.ibuf.data(), n, 0};
        }
        ZSTD_outBuffer out{obuf.data(), obuf.size(), 0};
        const size_t rc = ZSTD_decompressStream(m.dctx, &out, &m.zin);
        if (ZSTD_isError(rc)) return DataLoss("zstd: " + ZstdError(rc));
        m.last_rc = rc;
        m.buf.append(obuf.data(), out.pos);
    }
    return Status::Ok();
}

Status ArchiveReader::ReadData(const std::function<Status(std::string_view)>& sink) {
    Impl& m = *impl_;
    if (!m.current) return Internal("ReadData without a current member");
    while (m.remaining > 0) {
        const size_t want = static_cast<size_t>(std::min<std::int64_t>(m.remaining, kChunk));
        SH_RETURN_IF_ERROR(Where(Fill(want)));
        SH_RETURN_IF_ERROR(sink(std::string_view(m.buf.data(), want)));
        m.buf.erase(0, want);
        m.remaining -= static_cast<std::int64_t>(want);
    }
    const size_t pad = (kBlock - static_cast<size_t>(m.current->size) % kBlock) % kBlock;
    SH_RETURN_IF_ERROR(Where(Fill(pad)));
    m.buf.erase(0, pad);
    m.last_name = m.current->name;
    m.current.reset();
    return Status::Ok();
}

Result<std::optional<TarEntry>> ArchiveReader::Next() {
    Impl& m = *impl_;
    if (m.current) SH_RETURN_IF_ERROR(ReadData([](std::string_view) { return Status::Ok(); }));
    SH_RETURN_IF_ERROR(Where(Fill(kBlock)));
    auto entry = ParseTarHeader(std::string_view(m.buf.data(), kBlock));
    if (!entry.ok()) return Where(entry.status());
    m.buf.erase(0, kBlock);
    if (!entry->has_value()) {
        // End of archive: the rest must be zero blocks and the compressed stream must end cleanly.
        while (true) {
            if (m.buf.find_first_not_of('\0') != std::string::npos) {
                return Where(DataLoss("data after the end of the archive"));
            }
            m.buf.clear();
            Status more = Fill(1);
            if (!more.ok()) {
                if (more.code() == ErrorCode::kDataLoss && m.eof && m.last_rc == 0 && m.zin.pos == m.zin.size) break;
                return Where(more);
            }
        }
        return std::optional<TarEntry>();
    }
    if ((*entry)->directory) return Next();
    m.current = **entry;
    m.remaining = m.current->size;
    return std::optional<TarEntry>(m.current);
}

}  // namespace signalhub::ops

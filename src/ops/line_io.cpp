#include "ops/line_io.hpp"

#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace signalhub::ops {

namespace {
bool IsZst(const std::string& path) { return path.size() > 4 && path.ends_with(".zst"); }
std::string Errno() { return std::strerror(errno); }
constexpr size_t kBufSize = 1 << 17;
}  // namespace

// ---- LineWriter ---------------------------------------------------------------

Result<std::unique_ptr<LineWriter>> LineWriter::Open(const std::string& path, bool replace) {
    if (path.empty()) return InvalidArgument("empty output path");
    std::unique_ptr<LineWriter> w(new LineWriter());
    w->path_ = path;
    w->replace_ = replace;
    if (path == "-") {
        w->file_ = stdout;
        w->is_stdout_ = true;
    } else {
        w->tmp_path_ = path + ".partial";
        w->file_ = std::fopen(w->tmp_path_.c_str(), "wb");
        if (w->file_ == nullptr) return InvalidArgument("cannot create " + w->tmp_path_ + ": " + Errno());
    }
    if (IsZst(path)) {
        ZSTD_CStream* z = ZSTD_createCStream();
        if (z == nullptr) return Internal("zstd: cannot create a compression stream");
        ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 3);
        w->zstd_ = z;
        w->out_buf_.resize(ZSTD_CStreamOutSize());
    }
    return w;
}

LineWriter::~LineWriter() {
    if (zstd_ != nullptr) ZSTD_freeCStream(static_cast<ZSTD_CStream*>(zstd_));
    if (file_ != nullptr && !is_stdout_) {
        std::fclose(file_);
        if (!closed_) std::remove(tmp_path_.c_str());
    }
}

Status LineWriter::WriteRaw(const void* data, size_t n) {
    if (n == 0) return Status::Ok();
    if (std::fwrite(data, 1, n, file_) != n) {
        return Unavailable("cannot write " + (is_stdout_ ? std::string("standard output") : tmp_path_) + ": " + Errno());
    }
    bytes_ += static_cast<std::int64_t>(n);
    return Status::Ok();
}

Status LineWriter::Compress(const char* data, size_t n, bool end) {
    auto* z = static_cast<ZSTD_CStream*>(zstd_);
    ZSTD_inBuffer in{data, n, 0};
    for (;;) {
        ZSTD_outBuffer out{out_buf_.data(), out_buf_.size(), 0};
        const size_t r = ZSTD_compressStream2(z, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(r)) return Internal(std::string("zstd: ") + ZSTD_getErrorName(r));
        SH_RETURN_IF_ERROR(WriteRaw(out_buf_.data(), out.pos));
        if (end ? r == 0 : in.pos == in.size) return Status::Ok();
    }
}

Status LineWriter::WriteLine(std::string_view line) {
    if (zstd_ == nullptr) {
        SH_RETURN_IF_ERROR(WriteRaw(line.data(), line.size()));
        return WriteRaw("\n", 1);
    }
    in_buf_.append(line);
    in_buf_ += '\n';
    if (in_buf_.size() >= kBufSize) {
        SH_RETURN_IF_ERROR(Compress(in_buf_.data(), in_buf_.size(), false));
        in_buf_.clear();
    }
    return Status::Ok();
}

Status LineWriter::Close() {
    if (closed_) return Status::Ok();
    if (zstd_ != nullptr) {
        SH_RETURN_IF_ERROR(Compress(in_buf_.data(), in_buf_.size(), true));
        in_buf_.clear();
    }
    if (std::fflush(file_) != 0) return Unavailable("cannot write " + path_ + ": " + Errno());
    if (!is_stdout_) {
        if (::fsync(fileno(file_)) != 0) return Unavailable("cannot sync " + tmp_path_ + ": " + Errno());
        std::fclose(file_);
        file_ = nullptr;
        if (!replace_) {
            // link() fails with EEXIST when PATH exists: no window in which another file is replaced.
            if (::link(tmp_path_.c_str(), path_.c_str()) == 0) {
                std::remove(tmp_path_.c_str());
                closed_ = true;
                return Status::Ok();
            }
            if (errno == EEXIST) {
                std::remove(tmp_path_.c_str());
                closed_ = true;  // nothing left to remove in the destructor
                return AlreadyExists(path_ + " exists; it was left as it was (pass --force to replace it)");
            }
            // A file system without hard links: check, then rename.
            std::error_code exists_ec;
            if (std::filesystem::exists(path_, exists_ec)) {
                std::remove(tmp_path_.c_str());
                closed_ = true;
                return AlreadyExists(path_ + " exists; it was left as it was (pass --force to replace it)");
            }
        }
        std::error_code ec;
        std::filesystem::rename(tmp_path_, path_, ec);
        if (ec) return Unavailable("cannot rename " + tmp_path_ + " to " + path_ + ": " + ec.message());
    }
    closed_ = true;
    return Status::Ok();
}

// ---- LineReader ---------------------------------------------------------------

Result<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path) {
    if (path.empty()) return InvalidArgument("empty input path");
    std::unique_ptr<LineReader> r(new LineReader());
    r->path_ = path;
    if (path == "-") {
        r->file_ = stdin;
        r->is_stdin_ = true;
    } else {
        r->file_ = std::fopen(path.c_str(), "rb");
        if (r->file_ == nullptr) {
            return errno == ENOENT ? NotFound("no such file: " + path) : InvalidArgument("cannot open " + path + ": " + Errno());
        }
        std::error_code ec;
        auto size = std::filesystem::file_size(path, ec);
        if (!ec) r->size_ = static_cast<std::int64_t>(size);
    }
    if (IsZst(path)) {
        ZSTD_DStream* z = ZSTD_createDStream();
        if (z == nullptr) return Internal("zstd: cannot create a decompression stream");
        ZSTD_initDStream(z);
        r->zstd_ = z;
    }
    return r;
}

LineReader::~LineReader() {
    if (zstd_ != nullptr) ZSTD_freeDStream(static_cast<ZSTD_DStream*>(zstd_));
    if (file_ != nullptr && !is_stdin_) std::fclose(file_);
}

Result<bool> LineReader::Fill() {
    if (eof_) return false;
    // Compact the consumed part of buf_.
    if (buf_pos_ > 0) {
        buf_.erase(0, buf_pos_);
        buf_pos_ = 0;
    }
    if (zstd_ == nullptr) {
        char tmp[kBufSize];
        const size_t n = std::fread(tmp, 1, sizeof tmp, file_);
        if (n == 0) {
            if (std::ferror(file_)) return Unavailable("cannot read " + path_ + ": " + Errno());
            eof_ = true;
            return false;
        }
        raw_read_ += static_cast<std::int64_t>(n);
        buf_.append(tmp, n);
        return true;
    }
    auto* z = static_cast<ZSTD_DStream*>(zstd_);
    for (;;) {
        if (raw_pos_ == raw_.size()) {
            raw_.resize(kBufSize);
            const size_t n = std::fread(raw_.data(), 1, raw_.size(), file_);
            raw_.resize(n);
            raw_pos_ = 0;
            if (n == 0) {
                if (std::ferror(file_)) return Unavailable("cannot read " + path_ + ": " + Errno());
                eof_ = true;
                if (last_zstd_ret_ != 0) {
                    return DataLoss(path_ + ": the zstd stream is truncated (the file ends inside a compressed frame)");
                }
                return false;
            }
            raw_read_ += static_cast<std::int64_t>(n);
        }
        const size_t before = buf_.size();
        buf_.resize(before + ZSTD_DStreamOutSize());
        ZSTD_inBuffer in{raw_.data(), raw_.size(), raw_pos_};
        ZSTD_outBuffer out{buf_.data() + before, ZSTD_DStreamOutSize(), 0};
        const size_t r = ZSTD_decompressStream(z, &out, &in);
        raw_pos_ = in.pos;
        buf_.resize(before + out.pos);
        if (ZSTD_isError(r)) return DataLoss(path_ + ": corrupt zstd data: " + ZSTD_getErrorName(r));
        last_zstd_ret_ = r;
        if (out.pos > 0) return true;
    }
}

Result<bool> LineReader::Next(std::string& line) {
    for (;;) {
        const size_t nl = buf_.find('\n', buf_pos_);
        if (nl != std::string::npos) {
            line.assign(buf_, buf_pos_, nl - buf_pos_);
            buf_pos_ = nl + 1;
            ++line_;
            return true;
        }
        SH_ASSIGN_OR_RETURN(bool more, Fill());
        if (!more) {
            if (buf_pos_ < buf_.size()) {
                line.assign(buf_, buf_pos_, std::string::npos);
                buf_pos_ = buf_.size();
                missing_newline_ = true;
                ++line_;
                return true;
            }
            return false;
        }
    }
}

}  // namespace signalhub::ops

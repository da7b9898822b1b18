#pragma once
// Line-oriented file I/O for export files: plain or zstd-compressed (a name ending in ".zst"),
// streaming with bounded memory; "-" is stdin / stdout.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace signalhub::ops {

class LineWriter {
   public:
    // Writes to PATH.partial and renames it to PATH on Close() (a killed export leaves no PATH, and
    // an existing PATH stays as it was until the new file is complete). With `replace` false, Close()
    // refuses (AlreadyExists) to put the file in place of an existing PATH.
    static Result<std::unique_ptr<LineWriter>> Open(const std::string& path, bool replace = true);
    ~LineWriter();
    LineWriter(const LineWriter&) = delete;
    LineWriter& operator=(const LineWriter&) = delete;
    // Writes `line` and a '\n'.
    Status WriteLine(std::string_view line);
    // Ends the zstd frame, flushes, fsyncs and renames into place.
    Status Close();
    std::int64_t bytes_written() const { return bytes_; }

   private:
    LineWriter() = default;
    Status WriteRaw(const void* data, size_t n);
    Status Compress(const char* data, size_t n, bool end);
    std::string path_, tmp_path_;
    std::FILE* file_ = nullptr;
    bool is_stdout_ = false;
    void* zstd_ = nullptr;  // ZSTD_CStream*
    std::string in_buf_, out_buf_;
    std::int64_t bytes_ = 0;
    bool closed_ = false;
    bool replace_ = true;
};

class LineReader {
   public:
    static Result<std::unique_ptr<LineReader>> Open(const std::string& path);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;
    // The next line without its '\n' (true), or false at the end. A last line without a
    // newline is returned with missing_newline() true. DataLoss for a corrupt or truncated
    // zstd stream.
    Result<bool> Next(std::string& line);
    bool missing_newline() const { return missing_newline_; }
    std::int64_t line_number() const { return line_; }
    // Compressed bytes consumed so far and the file size (0 when unknown): for progress.
    std::int64_t bytes_read() const { return raw_read_; }
    std::int64_t file_size() const { return size_; }
    const std::string& path() const { return path_; }

   private:
    LineReader() = default;
    Result<bool> Fill();  // appends decoded bytes to buf_; false at the end of input
    std::string path_;
    std::FILE* file_ = nullptr;
    bool is_stdin_ = false;
    void* zstd_ = nullptr;  // ZSTD_DStream*
    std::string raw_, buf_;
    size_t raw_pos_ = 0, buf_pos_ = 0;
    size_t last_zstd_ret_ = 0;
    bool eof_ = false, missing_newline_ = false;
    std::int64_t line_ = 0, raw_read_ = 0, size_ = 0;
};

}  // namespace signalhub::ops

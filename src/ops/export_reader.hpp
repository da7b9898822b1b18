#pragma once
// Streaming, validating reader of export files (export_format.hpp). Every structural rule is
// checked while reading: a header first; records of the header's dimension in strictly
// ascending id order; a trailer whose collection, count and checksum match the records read and
// the header's count; nothing after a trailer but another header. Errors name FILE:LINE:
// InvalidArgument for a line that is not of the format, DataLoss for a truncated file or a
// count/checksum mismatch. Visitor callbacks run before the block's trailer is checked: a caller
// that must not act on an unverified block reads the file twice (validate, then act).

#include <functional>
#include <string>

#include "ops/export_format.hpp"

namespace signalhub::ops {

class ExportVisitor {
   public:
    virtual ~ExportVisitor() = default;
    virtual Status OnHeader(const ExportHeader& /*header*/) { return Status::Ok(); }
    virtual Status OnRecord(const ExportHeader& /*header*/, Record&& /*record*/, const Digest& /*digest*/) {
        return Status::Ok();
    }
    virtual Status OnTrailer(const ExportHeader& /*header*/, const ExportTrailer& /*trailer*/) { return Status::Ok(); }
};

struct ReadProgress {
    std::int64_t bytes_read = 0;
    std::int64_t file_size = 0;  // 0 when unknown (stdin)
    std::int64_t records = 0;
};

// Reads (and validates) the whole file. `progress` (optional) is called every few thousand records.
Status ReadExport(const std::string& path, ExportVisitor& visitor,
                  const std::function<void(const ReadProgress&)>& progress = {});

}  // namespace signalhub::ops

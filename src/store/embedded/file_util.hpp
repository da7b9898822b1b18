#pragma once
// Durable file helpers for the embedded store (POSIX). Internal.

#include <string>
#include <string_view>

#include "core/status.hpp"

namespace signalhub::store {

Status FsyncDirectory(const std::string& dir);
// Writes `content` to path.tmp, fsyncs it, renames it over `path` and fsyncs the directory.
Status WriteFileAtomic(const std::string& path, std::string_view content);
// The whole file; NotFound when it does not exist.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace signalhub::store

#include "store/embedded/file_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace signalhub::store {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

Status FsyncDirectory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Internal("cannot open directory " + dir + ": " + ErrnoText());
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Internal("cannot fsync directory " + dir + ": " + ErrnoText());
    return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::string_view content) {
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Internal("cannot create " + tmp + ": " + ErrnoText());
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            Status s = (errno == ENOSPC ? ResourceExhausted("cannot write " + tmp + ": " + ErrnoText())
                                        : Internal("cannot write " + tmp + ": " + ErrnoText()));
            ::close(fd);
            return s;
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        Status s = Internal("cannot fsync " + tmp + ": " + ErrnoText());
        ::close(fd);
        return s;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot rename " + tmp + ": " + ErrnoText());
    return FsyncDirectory(std::filesystem::path(path).parent_path().string());
}

Result<std::string> ReadWholeFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return NotFound(path + " does not exist");
        return Internal("cannot open " + path + ": " + ErrnoText());
    }
    std::string out;
    char buffer[65536];
    while (true) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            Status s = Internal("cannot read " + path + ": " + ErrnoText());
            ::close(fd);
            return s;
        }
        if (n == 0) break;
        out.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

}  // namespace signalhub::store

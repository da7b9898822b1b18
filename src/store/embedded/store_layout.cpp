#include "store/embedded/store_layout.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace signalhub::store {

namespace {

bool IsKind(const std::string& path, mode_t kind) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

bool HasSqliteHeader(const std::string& path) {
    if (!IsKind(path, S_IFREG)) return false;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    char head[16];
    const ssize_t n = ::read(fd, head, sizeof head);
    ::close(fd);
    return n == static_cast<ssize_t>(sizeof head) && std::memcmp(head, "SQLite format 3", 16) == 0;
}

}  // namespace

bool IsEmbeddedStoreDir(const std::string& dir) {
    const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
    const bool lock = IsKind(base + "LOCK", S_IFREG);
    const bool hnsw = IsKind(base + "hnsw", S_IFDIR);
    if (lock && hnsw) return true;
    return (lock || hnsw) && HasSqliteHeader(base + "store.db");
}

}  // namespace signalhub::store

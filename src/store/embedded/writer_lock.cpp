#include "store/embedded/writer_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/clock.hpp"

namespace signalhub::store {
namespace fs = std::filesystem;

namespace {

// "signal-hub index /repo": the program's base name and its arguments, from /proc/self/cmdline.
std::string OwnCommandLine() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= raw.size(); ++i) {
        if (i < raw.size() && raw[i] != '\0') continue;
        std::string arg = raw.substr(start, i - start);
        start = i + 1;
        if (arg.empty()) continue;
        if (out.empty()) arg = fs::path(arg).filename().string();
        out += (out.empty() ? "" : " ") + arg;
    }
    if (out.size() > 200) out = out.substr(0, 197) + "...";
    return out.empty() ? std::string("signal-hub") : out;
}

// One line: no newlines from a holder description.
std::string OneLine(std::string s) {
    for (char& c : s) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
}

std::string Field(const std::string& content, const std::string& name) {
    std::istringstream in(content);
    std::string line;
    const std::string prefix = name + ": ";
    while (std::getline(in, line)) {
        if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    return "";
}

}  // namespace

WriterLock& WriterLock::operator=(WriterLock&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
}

WriterLock::~WriterLock() {
    if (fd_ >= 0) ::close(fd_);
}

std::string WriterLock::HeldMessage(const std::string& dir, const std::string& content) {
    std::string pid = content.substr(0, content.find('\n'));
    while (!pid.empty() && (pid.back() == ' ' || pid.back() == '\r')) pid.pop_back();
    if (pid.empty()) pid = "unknown";
    const std::string command = Field(content, "command");
    const std::string since = Field(content, "since");
    std::string message = "store " + dir + " is locked by pid " + pid;
    if (!command.empty() || !since.empty()) {
        message += " (";
        if (!command.empty()) message += "`" + command + "`";
        if (!since.empty()) message += std::string(command.empty() ? "" : ", ") + "since " + since;
        message += ")";
    }
    // A server with --watch is the store's writer for as long as it runs, and re-indexes changes itself.
    const bool watching_server = command.find(" serve") != std::string::npos ||
                                 command.rfind("serve", 0) == 0;
    if (watching_server) {
        message += ": a server that re-indexes changed files itself and never finishes; let it re-index for you "
                   "(`signal-hub status` shows how fresh the index is), or stop it (pid " + pid +
                   ") and run the command again";
    } else {
        message += ": another signal-hub writer (index, migrate) is running; wait for it to finish";
    }
    return message;
}

Result<WriterLock> WriterLock::Acquire(const std::string& dir, const std::string& holder) {
    const std::string path = (fs::path(dir) / "LOCK").string();
    WriterLock lock;
    lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock.fd_ < 0) return Internal("cannot open " + path + ": " + std::strerror(errno));
    if (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) return Internal("cannot lock " + path + ": " + std::strerror(errno));
        char buffer[1024] = {};
        const ssize_t n = ::pread(lock.fd_, buffer, sizeof buffer - 1, 0);
        return FailedPrecondition(HeldMessage(dir, n > 0 ? std::string(buffer, static_cast<size_t>(n)) : ""));
    }
    const std::string content = std::to_string(::getpid()) + "\ncommand: " +
                                OneLine(holder.empty() ? OwnCommandLine() : holder) +
                                "\nsince: " + FormatIso8601Utc(static_cast<std::int64_t>(std::time(nullptr))) + "\n";
    if (::ftruncate(lock.fd_, 0) != 0 ||
        ::pwrite(lock.fd_, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size())) {
        return Internal("cannot write " + path + ": " + std::strerror(errno));
    }
    return lock;
}

}  // namespace signalhub::store

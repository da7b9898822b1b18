#pragma once
// Test helpers for the Redis-backed tests (label `redis`): the server URL
// comes from SIGNAL_HUB_TEST_REDIS_URL, or from the file named by
// SIGNAL_HUB_TEST_REDIS_URL_FILE (written by the CTest fixture `redis`,
// scripts/redis-test-server.sh). Tests use key prefixes of their own, so they
// are hermetic and may run in parallel against one server. Also: a private
// redis-server a test may stop and restart, and loopback endpoints that refuse
// connections or never answer.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/redis_client.hpp"

extern char** environ;

namespace signalhub::redis::test {

// The test server's redis:// URL; a test failure (not a skip) when none is configured.
inline std::string ServerUrl() {
    if (const char* url = std::getenv("SIGNAL_HUB_TEST_REDIS_URL"); url != nullptr && *url != '\0') return url;
    if (const char* file = std::getenv("SIGNAL_HUB_TEST_REDIS_URL_FILE"); file != nullptr && *file != '\0') {
        std::ifstream in(file);
        std::string line;
        if (std::getline(in, line) && !line.empty()) return line;
        ADD_FAILURE() << "no Redis URL in " << file << " (did the CTest fixture redis.server_start fail?)";
        return "";
    }
    ADD_FAILURE() << "Redis tests need a server: run them through `ctest -L redis` (the fixture starts a "
                     "throw-away redis-server) or set SIGNAL_HUB_TEST_REDIS_URL=redis://:PASSWORD@HOST:PORT";
    return "";
}

// A key prefix no other test (or run) uses.
inline std::string UniquePrefix(const std::string& what) {
    static std::atomic<int> counter{0};
    std::random_device rd;
    return "sh-test:" + what + ":" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(rd() % 1000000) + ":";
}

// Deletes every key starting with `prefix` (SCAN + DEL); test cleanup.
inline void DeleteKeys(RedisPool& pool, const std::string& prefix) {
    std::string cursor = "0";
    const std::string pattern = prefix + "*";  // test prefixes hold no glob characters
    for (int rounds = 0; rounds < 10000; ++rounds) {
        auto reply = pool.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
        if (!reply.ok() || reply->type != Reply::Type::kArray || reply->elements.size() != 2) return;
        cursor = reply->elements[0].str;
        for (const Reply& key : reply->elements[1].elements) (void)pool.Command({"DEL", key.str});
        if (cursor == "0") return;
    }
}

inline PoolOptions PoolFor(const std::string& url) {
    PoolOptions options;
    auto parsed = ParseRedisUrl(url);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    if (parsed.ok()) options.url = *parsed;
    options.command_timeout_seconds = 5;
    options.connect_timeout_seconds = 5;
    options.reconnect_interval_seconds = 0;
    return options;
}

// A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it now).
inline int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = 0;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    if (fd >= 0) ::close(fd);
    EXPECT_NE(port, 0) << "no free port on 127.0.0.1";
    return port;
}

// A listening socket on 127.0.0.1 that accepts connections (the kernel
// completes the handshake) but never reads or answers: commands time out.
class SilentServer {
   public:
    SilentServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::listen(fd_, 64) == 0 && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
            port_ = ntohs(addr.sin_port);
        }
        EXPECT_NE(port_, 0) << "cannot listen on 127.0.0.1";
    }
    ~SilentServer() {
        if (fd_ >= 0) ::close(fd_);
    }
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;
    int port() const { return port_; }

   private:
    int fd_ = -1;
    int port_ = 0;
};

// The redis-server binary: $SIGNAL_HUB_TEST_REDIS_SERVER, else the PATH,
// /usr/bin, /usr/sbin. Empty (and a test failure) when there is none.
inline std::string RedisServerBinary() {
    if (const char* bin = std::getenv("SIGNAL_HUB_TEST_REDIS_SERVER"); bin != nullptr && *bin != '\0') return bin;
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH"); path != nullptr) {
        std::string p(path);
        for (std::size_t start = 0; start <= p.size();) {
            std::size_t colon = p.find(':', start);
            if (colon == std::string::npos) colon = p.size();
            dirs.push_back(p.substr(start, colon - start));
            start = colon + 1;
        }
    }
    dirs.push_back("/usr/bin");
    dirs.push_back("/usr/sbin");
    for (const std::string& dir : dirs) {
        const std::string candidate = dir + "/redis-server";
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    ADD_FAILURE() << "redis-server not found (Debian: apt-get install redis-server; scripts/test.sh installs it)";
    return "";
}

// A private redis-server on 127.0.0.1:port with a password, no persistence;
// Start/Stop may be called repeatedly (same port, same password).
class PrivateRedis {
   public:
    PrivateRedis() : port_(FreePort()), password_("pw-" + std::to_string(std::random_device{}())) {}
    ~PrivateRedis() { Stop(); }
    PrivateRedis(const PrivateRedis&) = delete;
    PrivateRedis& operator=(const PrivateRedis&) = delete;

    std::string url() const { return "redis://:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/0"; }

    // Starts the server and waits until it answers PING (true), up to 20 s.
    bool Start() {
        const std::string binary = RedisServerBinary();
        if (binary.empty() || port_ == 0) return false;
        std::vector<std::string> args = {binary,         "--port",    std::to_string(port_), "--bind",
                                         "127.0.0.1",    "--save",    "",                    "--appendonly",
                                         "no",           "--requirepass", password_,          "--daemonize",
                                         "no",           "--logfile", "",                    "--loglevel",
                                         "warning",      "--dir",     std::filesystem::temp_directory_path().string()};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            ADD_FAILURE() << "cannot start " << binary;
            pid_ = -1;
            return false;
        }
        PoolOptions options = PoolFor(url());
        options.command_timeout_seconds = 1;
        options.connect_timeout_seconds = 1;
        RedisPool pool(options);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            auto reply = pool.Command({"PING"});
            if (reply.ok() && !reply->IsError()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ADD_FAILURE() << "redis-server on port " << port_ << " did not answer PING within 20 s";
        return false;
    }

    void Stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

   private:
    int port_;
    std::string password_;
    pid_t pid_ = -1;
};

}  // namespace signalhub::redis::test

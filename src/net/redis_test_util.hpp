#pragma once
// Test helpers for the Redis-backed tests (label `redis`): the server URL
// comes from SIGNAL_HUB_TEST_REDIS_URL, or from the file named by
// SIGNAL_HUB_TEST_REDIS_URL_FILE (written by the CTest fixture `redis`,
// scripts/redis-test-server.sh). Tests use key prefixes of their own, so they
// are hermetic and may run in parallel against one server. Also: a private
// redis-server a test may stop and restart (plaintext, or TLS only with a test
// CA: TlsTestFiles), and loopback endpoints that refuse connections or never
// answer.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/redis_client.hpp"
#include "tests/support/test_pki.hpp"

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

// A pool (RedisPool::Create); null, and a test failure, when it cannot be made.
inline std::unique_ptr<RedisPool> MakePool(PoolOptions options) {
    auto pool = RedisPool::Create(std::move(options));
    EXPECT_TRUE(pool.ok()) << pool.status().ToString();
    return pool.ok() ? std::move(pool).value() : nullptr;
}
inline std::unique_ptr<RedisPool> MakePool(const std::string& url) { return MakePool(PoolFor(url)); }

// A test PKI on disk, in a private temporary directory removed at the end:
// a CA; a server certificate for localhost and 127.0.0.1 issued by it, and
// one for another name only; a client certificate; an unrelated CA.
class TlsTestFiles {
   public:
    TlsTestFiles() {
        std::string pattern = (std::filesystem::temp_directory_path() / "sh-redis-tls-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
        dir_ = pattern;
        signalhub::testing::TestPki pki("Signal Hub Redis Test CA");
        signalhub::testing::TestPki other("Some Other CA");
        const signalhub::testing::IssuedCert server = pki.IssueServer("redis.test", 2);
        const signalhub::testing::IssuedCert wrong = pki.IssueServer("other.example", 3, "DNS:other.example");
        const signalhub::testing::IssuedCert client = pki.IssueClient("signal-hub", 4);
        auto write = [this](const std::string& name, const std::string& text) {
            const std::string path = dir_ + "/" + name;
            signalhub::testing::WriteTextFile(path, text);
            ::chmod(path.c_str(), 0600);
            return path;
        };
        ca = write("ca.crt", pki.ca_pem());
        other_ca = write("other-ca.crt", other.ca_pem());
        server_cert = write("server.crt", server.cert_pem);
        server_key = write("server.key", server.key_pem);
        wrong_name_cert = write("other-name.crt", wrong.cert_pem);
        wrong_name_key = write("other-name.key", wrong.key_pem);
        client_cert = write("client.crt", client.cert_pem);
        client_key = write("client.key", client.key_pem);
    }
    ~TlsTestFiles() {
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }
    TlsTestFiles(const TlsTestFiles&) = delete;
    TlsTestFiles& operator=(const TlsTestFiles&) = delete;

    std::string ca, other_ca, server_cert, server_key, wrong_name_cert, wrong_name_key, client_cert, client_key;

   private:
    std::string dir_;
};

// How a PrivateRedis serves TLS (redis-server --tls-port; no plaintext port).
struct TlsServerOptions {
    std::string cert_file;
    std::string key_file;
    std::string ca_file;        // --tls-ca-cert-file: verifies client certificates
    bool auth_clients = false;  // --tls-auth-clients yes|no
};

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
// Start/Stop may be called repeatedly (same port, same password). With
// TlsServerOptions it accepts only TLS on that port (url() is rediss://).
class PrivateRedis {
   public:
    PrivateRedis() : port_(FreePort()), password_("pw-" + std::to_string(std::random_device{}())) {}
    explicit PrivateRedis(TlsServerOptions tls) : PrivateRedis() { tls_ = std::move(tls); }
    ~PrivateRedis() { Stop(); }
    PrivateRedis(const PrivateRedis&) = delete;
    PrivateRedis& operator=(const PrivateRedis&) = delete;

    // `host` replaces 127.0.0.1 (e.g. localhost, to test host names).
    std::string url(const std::string& host = "127.0.0.1") const {
        return std::string(tls_ ? "rediss" : "redis") + "://:" + password_ + "@" + host + ":" + std::to_string(port_) +
               "/0";
    }
    std::string password() const { return password_; }
    int port() const { return port_; }

    // Starts the server and waits until it answers PING (TLS: accepts TCP
    // connections; the test's own client settings are what is under test),
    // up to 20 s; true when it does.
    bool Start() {
        const std::string binary = RedisServerBinary();
        if (binary.empty() || port_ == 0) return false;
        std::vector<std::string> args = {binary,         "--port",    std::to_string(port_), "--bind",
                                         "127.0.0.1",    "--save",    "",                    "--appendonly",
                                         "no",           "--requirepass", password_,          "--daemonize",
                                         "no",           "--logfile", "",                    "--loglevel",
                                         "warning",      "--dir",     std::filesystem::temp_directory_path().string()};
        if (tls_) {
            args[2] = "0";  // no plaintext port
            for (const std::string& a : {std::string("--tls-port"), std::to_string(port_), std::string("--tls-cert-file"),
                                         tls_->cert_file, std::string("--tls-key-file"), tls_->key_file,
                                         std::string("--tls-ca-cert-file"), tls_->ca_file,
                                         std::string("--tls-auth-clients"),
                                         std::string(tls_->auth_clients ? "yes" : "no")}) {
                args.push_back(a);
            }
        }
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
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        if (tls_) {
            while (std::chrono::steady_clock::now() < deadline) {
                if (Accepts()) return true;
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            ADD_FAILURE() << "redis-server on TLS port " << port_ << " did not accept connections within 20 s";
            return false;
        }
        PoolOptions options = PoolFor(url());
        options.command_timeout_seconds = 1;
        options.connect_timeout_seconds = 1;
        std::unique_ptr<RedisPool> pool = MakePool(options);
        while (pool && std::chrono::steady_clock::now() < deadline) {
            auto reply = pool->Command({"PING"});
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
    // A TCP connection to the port succeeds (redis-server listens once it is ready).
    bool Accepts() const {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(port_));
        const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        if (fd >= 0) ::close(fd);
        return ok;
    }

    int port_;
    std::string password_;
    std::optional<TlsServerOptions> tls_;
    pid_t pid_ = -1;
};

}  // namespace signalhub::redis::test

#include "tests/support/unprivileged.hpp"

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace signalhub::testing_support {

std::string RunUnprivileged(const std::function<std::string()>& check) {
    if (::geteuid() != 0) return check();
    int fds[2];
    if (::pipe(fds) != 0) return std::string("pipe: ") + std::strerror(errno);
    const pid_t pid = ::fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
        ::close(fds[0]);
        std::string message;
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
            message = std::string("SKIP: cannot drop root privileges: ") + std::strerror(errno);
        } else {
            message = check();
        }
        const ssize_t written = ::write(fds[1], message.data(), message.size());
        ::close(fds[1]);
        ::_exit(written == static_cast<ssize_t>(message.size()) ? 0 : 1);
    }
    ::close(fds[1]);
    std::string message;
    char buffer[1024];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) message.append(buffer, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) message += " (child exited abnormally)";
    return message;
}

}  // namespace signalhub::testing_support

#pragma once
// Test support: run a check without root privileges. Tests run as root in CI,
// and root bypasses permission bits, so permission tests drop to nobody.

#include <functional>
#include <string>

namespace signalhub::testing_support {

// Runs `check` in a child process with uid/gid 65534 (nobody) when the test
// runs as root; otherwise runs it in-process. `check` returns "" on success,
// a failure description otherwise, or "SKIP: why".
std::string RunUnprivileged(const std::function<std::string()>& check);

}  // namespace signalhub::testing_support

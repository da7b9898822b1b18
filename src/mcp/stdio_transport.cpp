#include "mcp/stdio_transport.hpp"

#include <string>

namespace signalhub::mcp {

Status ServeStdio(const Server& server, std::istream& in, std::ostream& out) {
    Session session(server);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        std::optional<std::string> reply = session.HandleMessage(line);
        if (!reply) continue;
        out << *reply << '\n';
        out.flush();
        if (!out) return Unavailable("cannot write to the client (stdout closed)");
    }
    if (in.bad()) return Unavailable("error reading from the client (stdin)");
    return Status::Ok();
}

}  // namespace signalhub::mcp

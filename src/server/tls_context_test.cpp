// The answer to plain HTTP on the TLS port (issue 20, item 12): what decides that a connection is
// not TLS, and the 400 that names the https:// URL without echoing anything that is not a URL.
#include "server/tls_context.hpp"

#include <gtest/gtest.h>

#include <string>

namespace signalhub::server {
namespace {

TEST(PlainHttpOnTlsPort, OnlyAHandshakeRecordStartsTls) {
    EXPECT_TRUE(StartsTlsHandshake(0x16));
    for (char c : std::string("GPHDOCT")) EXPECT_FALSE(StartsTlsHandshake(static_cast<unsigned char>(c))) << c;
    EXPECT_FALSE(StartsTlsHandshake(0x80));  // an SSLv2-style hello is not accepted by this server either
}

TEST(PlainHttpOnTlsPort, AnswersA400NamingTheHttpsUrl) {
    const std::string reply = PlainHttpOnTlsPortResponse(
        "POST /mcp?x=1 HTTP/1.1\r\nHost: hub.internal:8443\r\nContent-Length: 2\r\n\r\n{}", "127.0.0.1:8443");
    const std::string body =
        "{\"error\":\"this port speaks HTTPS; use https://hub.internal:8443/mcp?x=1 (not http://)\"}\n";
    EXPECT_EQ(reply, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

TEST(PlainHttpOnTlsPort, HostHeaderIsCaseInsensitiveAndOptional) {
    EXPECT_NE(PlainHttpOnTlsPortResponse("GET /health HTTP/1.1\r\nhOsT:  [::1]:8443\r\n\r\n", "x:1")
                  .find("use https://[::1]:8443/health "),
              std::string::npos);
    EXPECT_NE(PlainHttpOnTlsPortResponse("GET /health HTTP/1.0\r\n\r\n", "127.0.0.1:8443")
                  .find("use https://127.0.0.1:8443/health "),
              std::string::npos);
}

TEST(PlainHttpOnTlsPort, NothingButAUrlIsEchoed) {
    // A Host that is no authority and a target with quotes fall back to the listener's address and "/".
    const std::string reply =
        PlainHttpOnTlsPortResponse("GET /\"><script> HTTP/1.1\r\nHost: \"><x\r\n\r\n", "127.0.0.1:8443");
    EXPECT_NE(reply.find("use https://127.0.0.1:8443/ (not http://)"), std::string::npos) << reply;
    EXPECT_EQ(reply.find("script"), std::string::npos) << reply;
    EXPECT_EQ(reply.find("<x"), std::string::npos) << reply;
    // Not even a request line (binary garbage): still a well-formed answer.
    const std::string garbage("\x01\x02\x03", 3);
    EXPECT_NE(PlainHttpOnTlsPortResponse(garbage, "127.0.0.1:1").find("use https://127.0.0.1:1/"), std::string::npos);
}

}  // namespace
}  // namespace signalhub::server

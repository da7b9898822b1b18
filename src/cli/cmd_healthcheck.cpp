// signal-hub healthcheck: probes this machine's `serve --transport http` over
// HTTP(S) and exits 0 when it answers 200. The container image's HEALTHCHECK
// (deploy/docker/Dockerfile): the image has no shell and no curl.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "net/http_client.hpp"

namespace signalhub::cli {

namespace {

struct HealthcheckOptions {
    bool ready = false;
    std::string url;
    double timeout_seconds = 3;
};

// The URL of the configured server as seen from this machine: a wildcard listen
// address becomes the loopback address of its family.
std::string LocalUrl(const config::Config& cfg, const std::string& path) {
    std::string host = cfg.server.host;
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::" || host == "[::]") host = "::1";
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    return std::string(cfg.security.tls.enabled ? "https" : "http") + "://" + host + ":" +
           std::to_string(cfg.server.port) + path;
}

bool IsLoopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Status RunHealthcheck(const GlobalOptions& global, const HealthcheckOptions& options) {
    const std::string path = options.ready ? "/ready" : "/health";
    std::string url = options.url;
    if (url.empty()) {
        SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
        url = LocalUrl(cfg, path);
    }
    SH_ASSIGN_OR_RETURN(net::HttpUrl parsed, net::ParseHttpUrl(url));
    const std::string target = parsed.path.empty() ? path : parsed.Target("");
    net::HttpClient client(parsed, std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000)));
    // The server's own certificate names the service, not the loopback address: like Kubernetes' HTTPS
    // probes, a probe of this machine's listener does not verify it. A --url elsewhere is verified.
    if (parsed.tls && options.url.empty() && IsLoopback(parsed.host)) client.SkipPeerVerificationForLoopbackProbe();
    SH_ASSIGN_OR_RETURN(net::HttpResponse response, client.Request("GET", target, {}, ""));
    if (response.status != 200) {
        std::string body = response.body.substr(0, 200);
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
        return Unavailable(url + " answered " + std::to_string(response.status) + (body.empty() ? "" : ": " + body));
    }
    if (!global.quiet) std::printf("%s: 200\n", url.c_str());
    return Status::Ok();
}

}  // namespace

void AddHealthcheckCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto options = std::make_shared<HealthcheckOptions>();
    auto* cmd = app.add_subcommand(
        "healthcheck",
        "Probe this machine's HTTP server (GET /health, or /ready with --ready): exit 0 on 200, 6 otherwise. "
        "The container image's HEALTHCHECK; needs no shell or curl");
    cmd->add_flag("--ready", options->ready,
                  "Probe /ready (the store answers) instead of /health (the process serves)");
    cmd->add_option("--url", options->url,
                    "Probe this URL instead (its certificate is verified). Default: the configured server on "
                    "this machine, http(s)://127.0.0.1:server.port, https when security.tls.enabled (the "
                    "certificate of one's own loopback listener is not verified, as Kubernetes' HTTPS probes "
                    "do not)");
    cmd->add_option("--timeout", options->timeout_seconds, "Seconds for the whole probe")
        ->default_val(3)
        ->check(CLI::Range(0.1, 300.0));
    cmd->callback([&global, &exit_code, options] { exit_code = Finish(RunHealthcheck(global, *options)); });
}

}  // namespace signalhub::cli

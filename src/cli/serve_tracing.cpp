#include "cli/serve_tracing.hpp"

#include <unistd.h>

#include <chrono>

#include "mcp/server.hpp"
#include "telemetry/log.hpp"
#include "telemetry/otlp_http.hpp"

namespace signalhub::cli {

namespace {

std::string HostName() {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
    return name;
}

std::chrono::milliseconds Millis(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

}  // namespace

Result<std::unique_ptr<ServeTracing>> ServeTracing::Start(const config::TracingConfig& config) {
    SH_ASSIGN_OR_RETURN(telemetry::SpanSender sender,
                        telemetry::MakeOtlpHttpSender(telemetry::OtlpHttpOptions{
                            .endpoint = config.jaeger_endpoint, .timeout = Millis(config.export_timeout)}));
    const std::string version = mcp::ServerInfo{}.version;
    const std::string host = HostName();
    telemetry::Resource resource;
    resource.attributes = {
        {"service.name", config.service_name},
        {"service.version", version},
        // Tells replicas apart: the host name is the pod name on Kubernetes.
        {"service.instance.id", host + ":" + std::to_string(getpid())},
        {"host.name", host},
        {"process.pid", static_cast<std::int64_t>(getpid())},
        {"telemetry.sdk.name", std::string("signal-hub")},
        {"telemetry.sdk.language", std::string("cpp")},
        {"telemetry.sdk.version", version},
    };
    telemetry::TracerOptions options;
    options.sample_ratio = config.sample_ratio;
    options.max_queue_spans = static_cast<std::size_t>(config.max_queue_spans);
    options.max_batch_spans = static_cast<std::size_t>(config.max_batch_spans);
    options.export_interval_seconds = config.export_interval;
    options.scope_name = "signal-hub";
    options.scope_version = version;
    SH_ASSIGN_OR_RETURN(std::unique_ptr<telemetry::Tracer> tracer,
                        telemetry::Tracer::Start(options, std::move(resource), std::move(sender)));
    std::shared_ptr<telemetry::Tracer> shared(std::move(tracer));
    telemetry::SetTracer(shared);
    SH_ASSIGN_OR_RETURN(std::string url, telemetry::OtlpTracesUrl(config.jaeger_endpoint));
    telemetry::Info("tracing to an OTLP/HTTP collector",
                    {{"url", url}, {"service_name", config.service_name}, {"sample_ratio", config.sample_ratio}});
    return std::unique_ptr<ServeTracing>(new ServeTracing(std::move(shared)));
}

ServeTracing::~ServeTracing() {
    telemetry::SetTracer(nullptr);
    Status flushed = tracer_->Shutdown(std::chrono::seconds(5));
    const telemetry::TracerStats s = tracer_->stats();
    telemetry::LogField fields[] = {{"spans_exported", s.spans_exported},
                                    {"spans_dropped", s.spans_dropped_queue_full + s.spans_dropped_export_failed +
                                                          s.spans_dropped_shutdown}};
    if (flushed.ok()) {
        telemetry::Log(telemetry::LogLevel::kInfo, "tracing stopped", fields);
    } else {
        telemetry::Log(telemetry::LogLevel::kWarn, "tracing stopped with spans unsent: " + flushed.message(), fields);
    }
}

}  // namespace signalhub::cli

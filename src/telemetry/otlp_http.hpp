#pragma once
// The OTLP/HTTP span sender of monitoring.tracing: POSTs the tracer's batches
// (telemetry::EncodeOtlpJson, Content-Type application/json) to an
// OpenTelemetry collector endpoint — Jaeger's OTLP receiver (port 4318), the
// OpenTelemetry Collector, or a vendor's. Kept apart from sh_telemetry_trace so
// that the tracing core does not depend on the HTTP client.

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "telemetry/trace.hpp"

namespace signalhub::telemetry {

// The URL batches go to: `endpoint` itself when it has a path
// ("http://collector:4318/v1/traces"), else with "/v1/traces" appended
// ("http://jaeger:4318" -> "http://jaeger:4318/v1/traces"), as the
// OpenTelemetry exporters do. InvalidArgument for anything but an http(s) URL
// (the message names `endpoint`, with any password masked).
Result<std::string> OtlpTracesUrl(std::string_view endpoint);

struct OtlpHttpOptions {
    std::string endpoint;                        // as for OtlpTracesUrl
    std::chrono::milliseconds timeout{10000};    // one export request, connect to response
};

// A SpanSender for Tracer::Start. The sender keeps one keep-alive connection.
// Its statuses follow SpanSender's contract: 2xx = OK (a partialSuccess with
// rejected spans is logged once a minute, not retried); 429, 502, 503, 504,
// connection failures and timeouts = Unavailable; other statuses =
// InvalidArgument with the collector's answer.
Result<SpanSender> MakeOtlpHttpSender(const OtlpHttpOptions& options);

}  // namespace signalhub::telemetry

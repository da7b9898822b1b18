#pragma once
// monitoring.tracing for `signal-hub serve`: the process-wide tracer sending
// its spans over OTLP/HTTP (docs/production/monitoring/tracing.md).

#include <memory>

#include "config/config.hpp"
#include "core/status.hpp"
#include "telemetry/trace.hpp"

namespace signalhub::cli {

class ServeTracing {
   public:
    // Starts the tracer for `config` (enabled) and installs it process-wide.
    // InvalidArgument for a bad endpoint URL. Nothing is sent until a span ends.
    static Result<std::unique_ptr<ServeTracing>> Start(const config::TracingConfig& config);
    // Uninstalls the tracer, then exports what is still queued (at most 5 s).
    ~ServeTracing();
    ServeTracing(const ServeTracing&) = delete;
    ServeTracing& operator=(const ServeTracing&) = delete;

    const telemetry::Tracer& tracer() const { return *tracer_; }

   private:
    explicit ServeTracing(std::shared_ptr<telemetry::Tracer> tracer) : tracer_(std::move(tracer)) {}
    std::shared_ptr<telemetry::Tracer> tracer_;
};

}  // namespace signalhub::cli

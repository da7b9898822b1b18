#pragma once
// An Embedder that traces every Embed call (monitoring.tracing): a span
// "embeddings <model>" under the thread's current span context, with the
// provider, model, number of inputs, purpose and dimension (OpenTelemetry's
// gen_ai attributes). The provider's HTTP requests (net::HttpClient) are its
// children and carry `traceparent` to the embeddings endpoint. Without a
// current context nothing is recorded. Thread safety and errors are the
// wrapped embedder's.

#include <memory>
#include <string>

#include "embed/embedder.hpp"

namespace signalhub::embed {

std::unique_ptr<Embedder> TraceEmbedder(std::unique_ptr<Embedder> inner, std::string provider);

}  // namespace signalhub::embed

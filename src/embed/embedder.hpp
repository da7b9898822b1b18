#pragma once
// Embedder: turns texts into float32 vectors of a fixed dimension.
//
// Contract:
//  - Thread safety: Embed() may be called concurrently from several threads.
//  - Embed(texts) returns exactly texts.size() vectors, in order, each of
//    dimension(); for metric() == kCosine every vector is L2-normalised (an
//    all-zero input, e.g. an empty text, yields a zero vector).
//  - Deterministic for a given (model, dimension) when the provider is.
//  - Errors: InvalidArgument (bad input or a 4xx the server will repeat),
//    Unavailable (network / 5xx / 429 after retries), DeadlineExceeded
//    (timeout after retries), Unauthenticated (401/403), Internal (protocol
//    violation, e.g. wrong dimension or count in a response).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/record.hpp"
#include "core/status.hpp"

namespace signalhub::embed {

enum class Purpose { kDocument, kQuery };

class Embedder {
   public:
    virtual ~Embedder() = default;
    virtual const std::string& model() const = 0;
    virtual int dimension() const = 0;
    virtual DistanceMetric metric() const { return DistanceMetric::kCosine; }
    // Largest number of texts a single Embed() call sends at once; callers may
    // pass more, the embedder splits them.
    virtual size_t batch_size() const = 0;
    virtual Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts, Purpose purpose) = 0;

    // Tokens the provider reported consuming (the response's usage), summed
    // over this embedder's lifetime; for metrics. nullopt when the provider
    // reports no usage at all (the builtin embedder). The OpenAI-compatible
    // embedder returns a value from the start: responses without a usage
    // object (some servers, e.g. older TEI) add nothing. Thread-safe, cheap.
    virtual std::optional<std::uint64_t> tokens_used() const { return std::nullopt; }

    // The collection spec this embedder reads and writes.
    CollectionSpec SpecFor(const std::string& collection) const {
        return CollectionSpec{collection, model(), dimension(), metric()};
    }
};

// Builds the configured embedder ("builtin" or "openai").
// InvalidArgument for an unknown provider or bad settings; the openai embedder
// reads its key from the env var named in config.api_key_env when created.
Result<std::unique_ptr<Embedder>> CreateEmbedder(const config::EmbeddingConfig& config);

}  // namespace signalhub::embed

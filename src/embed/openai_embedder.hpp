#pragma once
// Embeddings from any OpenAI-compatible endpoint: POST {base_url}/embeddings
// (OpenAI, Azure OpenAI, Ollama, vLLM, TEI).
//
// Request:  {"model", "input": [...], "encoding_format": "float"} plus
//           "dimensions" when embedding.dimension > 0 and differs from the
//           model's known native size (so text-embedding-ada-002, which
//           rejects the field, works with dimension 1536).
// Response: {"data": [{"index", "embedding"}], ...}; vectors are placed by
//           index, count and dimension are verified (Internal otherwise) and
//           every vector is L2-normalised. Empty texts are not sent (the API
//           rejects them): they get a zero vector.
// Usage:    "usage": {"total_tokens"} (else "prompt_tokens") of every 2xx
//           response is added to tokens_used(); a response without usage (or
//           with a malformed one) is accepted and adds nothing.
// Dimension: must be known at creation: embedding.dimension, or 0 for a model
//           of known size (text-embedding-3-small 1536, -3-large 3072,
//           ada-002 1536); otherwise CreateOpenAiEmbedder is InvalidArgument.
// Auth:     "Authorization: Bearer <key>" with the key from the env var named
//           by embedding.api_key_env (unset/empty → InvalidArgument at
//           creation; api_key_env "" → no auth, for Ollama/TEI). For Azure
//           OpenAI hosts (*.openai.azure.com) the key goes in "api-key"
//           instead. A query string in base_url (Azure "?api-version=...") is
//           kept after "/embeddings". The key never appears in errors or logs.
// Transport: small pool of persistent keep-alive connections (http or https
//           with certificate and host name verification); timeout_seconds per
//           request; up to max_retries retries on 408/429/500/502/503/504,
//           connection errors and timeouts, with exponential backoff and
//           jitter (base 0.5 s, cap 20 s), honouring retry-after-ms and
//           Retry-After (seconds or HTTP-date, capped at 60 s).
// Errors:   400/404/422 and other 4xx → InvalidArgument with the server's
//           message; 401/403 → Unauthenticated; 429/5xx after retries →
//           Unavailable; timeouts after retries → DeadlineExceeded.
// Thread safety: Embed() may be called concurrently.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "embed/embedder.hpp"
#include "net/http_client.hpp"

namespace signalhub::embed {

inline constexpr std::string_view kOpenAiDefaultModel = "text-embedding-3-small";

struct OpenAiOptions {
    std::chrono::milliseconds backoff_base{500};
    std::chrono::milliseconds backoff_cap{20'000};
    std::chrono::milliseconds max_retry_after{60'000};  // longer server hints are capped
    // Sleeps between retries; tests inject a recorder. Default: this_thread::sleep_for.
    std::function<void(std::chrono::milliseconds)> sleep;
    // Reads the API key variable. Default: the process environment.
    config::EnvLookup env;
};

class OpenAiEmbedder final : public Embedder {
   public:
    OpenAiEmbedder(const config::EmbeddingConfig& config, net::HttpUrl url, std::string model, int dimension,
                   bool send_dimensions, std::string api_key, OpenAiOptions options);
    ~OpenAiEmbedder() override;

    const std::string& model() const override { return model_; }
    int dimension() const override { return dimension_; }
    size_t batch_size() const override { return batch_size_; }
    Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts, Purpose purpose) override;
    std::optional<std::uint64_t> tokens_used() const override { return tokens_.load(std::memory_order_relaxed); }

   private:
    Result<std::vector<std::vector<float>>> EmbedBatch(const std::vector<const std::string*>& inputs);
    std::unique_ptr<net::HttpClient> AcquireClient();
    void ReleaseClient(std::unique_ptr<net::HttpClient> client);
    std::chrono::milliseconds BackoffDelay(int attempt);
    std::string Scrub(std::string text) const;

    net::HttpUrl url_;
    std::string target_;
    std::string model_;
    int dimension_;
    bool send_dimensions_;
    size_t batch_size_;
    std::chrono::milliseconds timeout_;
    int max_retries_;
    std::string api_key_;
    bool azure_;
    OpenAiOptions options_;

    std::atomic<std::uint64_t> tokens_{0};
    std::mutex mu_;  // guards idle_ and rng_
    std::vector<std::unique_ptr<net::HttpClient>> idle_;
    std::minstd_rand rng_;
};

// Validates the openai settings and builds the embedder (no network I/O).
Result<std::unique_ptr<OpenAiEmbedder>> CreateOpenAiEmbedder(const config::EmbeddingConfig& config,
                                                             OpenAiOptions options = {});

// The wait a 429/503 response asks for: retry-after-ms (milliseconds), else
// Retry-After as delta-seconds or an HTTP-date relative to `now`. nullopt when
// absent or unparsable; never negative.
std::optional<std::chrono::milliseconds> RetryAfterHint(const net::HttpResponse& response,
                                                        std::chrono::system_clock::time_point now);

// The native output size of well-known OpenAI models, 0 when unknown.
int KnownModelDimension(std::string_view model);

}  // namespace signalhub::embed

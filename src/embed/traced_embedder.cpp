#include "embed/traced_embedder.hpp"

#include "telemetry/trace.hpp"

namespace signalhub::embed {

namespace {

class TracedEmbedder final : public Embedder {
   public:
    TracedEmbedder(std::unique_ptr<Embedder> inner, std::string provider)
        : inner_(std::move(inner)), provider_(std::move(provider)), span_name_("embeddings " + inner_->model()) {}

    const std::string& model() const override { return inner_->model(); }
    int dimension() const override { return inner_->dimension(); }
    DistanceMetric metric() const override { return inner_->metric(); }
    size_t batch_size() const override { return inner_->batch_size(); }
    std::optional<std::uint64_t> tokens_used() const override { return inner_->tokens_used(); }

    Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts, Purpose purpose) override {
        telemetry::ScopedSpan span(span_name_);
        if (span->recording()) {
            span->SetAttribute("gen_ai.operation.name", "embeddings");
            span->SetAttribute("gen_ai.provider.name", provider_);
            span->SetAttribute("gen_ai.request.model", inner_->model());
            span->SetAttribute("gen_ai.embeddings.dimension.count", inner_->dimension());
            span->SetAttribute("signal_hub.embedding.inputs", texts.size());
            span->SetAttribute("signal_hub.embedding.purpose", purpose == Purpose::kQuery ? "query" : "document");
        }
        Result<std::vector<std::vector<float>>> out = inner_->Embed(texts, purpose);
        span->SetStatus(out.status());
        return out;
    }

   private:
    std::unique_ptr<Embedder> inner_;
    const std::string provider_;
    const std::string span_name_;
};

}  // namespace

std::unique_ptr<Embedder> TraceEmbedder(std::unique_ptr<Embedder> inner, std::string provider) {
    return std::make_unique<TracedEmbedder>(std::move(inner), std::move(provider));
}

}  // namespace signalhub::embed

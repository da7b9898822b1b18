#include "embed/builtin_embedder.hpp"
#include "embed/embedder.hpp"
#include "embed/openai_embedder.hpp"

namespace signalhub::embed {

Result<std::unique_ptr<Embedder>> CreateEmbedder(const config::EmbeddingConfig& config) {
    if (config.provider == "builtin") {
        SH_ASSIGN_OR_RETURN(auto embedder, BuiltinEmbedder::Create(config));
        return std::unique_ptr<Embedder>(std::move(embedder));
    }
    if (config.provider == "openai") {
        SH_ASSIGN_OR_RETURN(auto embedder, CreateOpenAiEmbedder(config));
        return std::unique_ptr<Embedder>(std::move(embedder));
    }
    return InvalidArgument("embedding.provider '" + config.provider + "' is unknown (use 'builtin' or 'openai')");
}

}  // namespace signalhub::embed

#pragma once
// The builtin embedder: offline, deterministic, no model weights.
//
// Code-aware feature hashing ("builtin-hash-v1"): every text is split into
// identifier sub-words (core/text.hpp), lightly stemmed (parse/parser/parsing,
// component/components share a stem), and turned into weighted features:
//   - sub-word stems                         (weight 1.0)
//   - joined identifiers ("getusername")     (weight 0.5, same space as stems)
//   - character trigrams of each stem with
//     boundary markers ("^pa", "par", ...)   (weight 0.35)
//   - bigrams of consecutive content stems   (weight 0.5)
//   - queries only: consecutive content words joined in both orders, in the
//     sub-word space ("parse a URL" → "parseurl", "urlparse")  (weight 0.5),
//     so natural-language queries meet one-word identifiers
// Common language keywords and English function words are down-weighted (an
// IDF-like static stop list), term frequency is sublinear (1 + ln tf), each
// feature goes to one of `dimension` buckets with a hash-derived sign
// (signalhub::Hash64, XXH3), and the vector is L2-normalised.
//
// Contract: Embed() is thread-safe (no mutable state) and deterministic across
// machines and runs for a given dimension; an empty text (or one without any
// word) yields a zero vector.
// Changing the algorithm incompatibly must bump kBuiltinModel's version.

#include <string>
#include <string_view>
#include <vector>

#include "embed/embedder.hpp"

namespace signalhub::embed {

inline constexpr std::string_view kBuiltinModel = "builtin-hash-v1";
inline constexpr int kBuiltinDefaultDimension = 512;
inline constexpr int kBuiltinMinDimension = 8;
inline constexpr int kBuiltinMaxDimension = 8192;

class BuiltinEmbedder final : public Embedder {
   public:
    // `dimension` must be within [kBuiltinMinDimension, kBuiltinMaxDimension];
    // use Create() to validate configuration values.
    BuiltinEmbedder(int dimension, size_t batch_size);

    // Validates config (model empty or kBuiltinModel; dimension 0 → 512 or
    // 8..8192; batch_size > 0) and builds the embedder. InvalidArgument otherwise.
    static Result<std::unique_ptr<BuiltinEmbedder>> Create(const config::EmbeddingConfig& config);

    const std::string& model() const override { return model_; }
    int dimension() const override { return dimension_; }
    size_t batch_size() const override { return batch_size_; }
    Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts, Purpose purpose) override;

    // One text; never fails.
    std::vector<float> EmbedOne(std::string_view text, Purpose purpose = Purpose::kDocument) const;

   private:
    std::string model_;
    int dimension_;
    size_t batch_size_;
};

// Light suffix stemming used by the builtin embedder (exposed for tests):
// "parsing", "parser", "parsed", "parses", "parse" → "pars";
// "components" → "component"; "copies", "copier" → "copy".
std::string StemSubWord(std::string_view word);

}  // namespace signalhub::embed

#include "embed/openai_embedder.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/text.hpp"

namespace signalhub::embed {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr int kMaxBatchSize = 2048;  // OpenAI's limit on inputs per request
constexpr int kMaxDimension = 65536;
constexpr int kMaxRetries = 20;
constexpr size_t kMaxErrorMessage = 400;

bool Retryable(int status) {
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

std::string Truncate(std::string s) {
    if (s.size() > kMaxErrorMessage) {
        s.resize(kMaxErrorMessage);
        s += "...";
    }
    return s;
}

// The human-readable message of an error response: OpenAI's
// {"error":{"message","type","code"}}, or {"error":"..."}, {"message"},
// {"detail"} as other compatible servers send, else the raw body.
std::string ServerMessage(const net::HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_object()) {
        auto it = j.find("error");
        if (it != j.end()) {
            if (it->is_string()) return Truncate(it->get<std::string>());
            if (it->is_object()) {
                std::string msg;
                auto m = it->find("message");
                if (m != it->end() && m->is_string()) msg = m->get<std::string>();
                auto c = it->find("code");
                if (c != it->end() && c->is_string())
                    msg += (msg.empty() ? "" : " ") + ("[" + c->get<std::string>() + "]");
                if (!msg.empty()) return Truncate(msg);
            }
        }
        for (const char* key : {"message", "detail"}) {
            auto m = j.find(key);
            if (m != j.end() && m->is_string()) return Truncate(m->get<std::string>());
        }
    }
    std::string body = r.body;
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.pop_back();
    return body.empty() ? "(empty response body)" : Truncate(body);
}

Status Normalise(std::vector<float>& v) {
    double norm = 0;
    for (float x : v) {
        if (!std::isfinite(x)) return Internal("embedding response contains a non-finite value");
        norm += static_cast<double>(x) * x;
    }
    if (norm > 0) {
        double inv = 1.0 / std::sqrt(norm);
        for (float& x : v) x = static_cast<float>(x * inv);
    }
    return Status::Ok();
}

// The tokens a response's "usage" reports: total_tokens, else prompt_tokens
// (embeddings have no completion tokens); 0 without a usable number.
std::uint64_t UsageTokens(const json& body) {
    auto usage = body.find("usage");
    if (usage == body.end() || !usage->is_object()) return 0;
    for (const char* field : {"total_tokens", "prompt_tokens"}) {
        auto n = usage->find(field);
        if (n != usage->end() && n->is_number_unsigned()) return n->get<std::uint64_t>();
    }
    return 0;
}

// Parses {"data":[{"index","embedding"}]}: vectors placed by index, count and
// dimension verified, each L2-normalised. Internal on any protocol violation.
// Adds the response's usage (UsageTokens) to *tokens, whatever the data.
Result<std::vector<std::vector<float>>> ParseEmbeddings(const std::string& body_text, size_t count, int dimension,
                                                        const std::string& where, std::atomic<std::uint64_t>* tokens) {
    json body = json::parse(body_text, nullptr, false);
    if (!body.is_object()) return Internal(where + ": response is not a JSON object");
    tokens->fetch_add(UsageTokens(body), std::memory_order_relaxed);
    auto data = body.find("data");
    if (data == body.end() || !data->is_array()) return Internal(where + ": response has no \"data\" array");
    if (data->size() != count) {
        return Internal(where + ": response has " + std::to_string(data->size()) + " embeddings for " +
                        std::to_string(count) + " inputs");
    }
    std::vector<std::vector<float>> out(count);
    std::vector<bool> seen(count, false);
    for (size_t pos = 0; pos < data->size(); ++pos) {
        const json& item = (*data)[pos];
        if (!item.is_object()) return Internal(where + ": \"data\" item is not an object");
        size_t index = pos;
        auto idx = item.find("index");
        if (idx != item.end()) {
            if (!idx->is_number_unsigned() || idx->get<std::uint64_t>() >= count) {
                return Internal(where + ": response has an out-of-range index " + idx->dump());
            }
            index = static_cast<size_t>(idx->get<std::uint64_t>());
        }
        if (seen[index]) return Internal(where + ": response repeats index " + std::to_string(index));
        seen[index] = true;
        auto emb = item.find("embedding");
        std::vector<float>& v = out[index];
        if (emb != item.end() && emb->is_array()) {
            v.reserve(emb->size());
            for (const json& x : *emb) {
                if (!x.is_number()) return Internal(where + ": embedding contains a non-number");
                v.push_back(x.get<float>());
            }
        } else if (emb != item.end() && emb->is_string()) {
            auto bytes = DecodeBase64(emb->get_ref<const std::string&>());
            if (!bytes || bytes->size() % 4 != 0) return Internal(where + ": bad base64 embedding");
            v.resize(bytes->size() / 4);
            for (size_t k = 0; k < v.size(); ++k) {
                std::uint32_t u = 0;
                for (int b = 3; b >= 0; --b) {
                    u = (u << 8) | static_cast<unsigned char>((*bytes)[k * 4 + static_cast<size_t>(b)]);
                }
                std::memcpy(&v[k], &u, sizeof u);
            }
        } else {
            return Internal(where + ": \"data\" item has no embedding");
        }
        if (v.size() != static_cast<size_t>(dimension)) {
            return Internal(where + ": embedding has " + std::to_string(v.size()) + " dimensions, expected " +
                            std::to_string(dimension) + " (embedding.dimension must match the model's output)");
        }
        SH_RETURN_IF_ERROR(Normalise(v));
    }
    return out;
}

std::optional<std::string> ProcessEnvLookup(const std::string& name) {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
}

}  // namespace

int KnownModelDimension(std::string_view model) {
    if (model == "text-embedding-3-small") return 1536;
    if (model == "text-embedding-3-large") return 3072;
    if (model == "text-embedding-ada-002") return 1536;
    return 0;
}

std::optional<milliseconds> RetryAfterHint(const net::HttpResponse& response, std::chrono::system_clock::time_point now) {
    if (auto ms = response.Header("retry-after-ms")) {
        char* end = nullptr;
        double v = std::strtod(ms->c_str(), &end);
        if (end != ms->c_str() && std::isfinite(v) && v >= 0) return milliseconds(static_cast<long long>(v));
    }
    auto ra = response.Header("retry-after");
    if (!ra) return std::nullopt;
    const std::string& s = *ra;
    if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
        double v = std::strtod(s.c_str(), nullptr);
        if (!std::isfinite(v)) return std::nullopt;
        return milliseconds(static_cast<long long>(v * 1000));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    char weekday[4] = {};
    char month_name[4] = {};
    int day = 0;
    int year = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (std::sscanf(s.c_str(), "%3s, %d %3s %d %d:%d:%d GMT", weekday, &day, month_name, &year, &hour, &minute,
                    &second) != 7) {
        return std::nullopt;
    }
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    unsigned month = 0;
    for (unsigned i = 0; i < 12; ++i) {
        if (std::strcmp(month_name, kMonths[i]) == 0) month = i + 1;
    }
    std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month},
                                     std::chrono::day{static_cast<unsigned>(day)}};
    if (month == 0 || !date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    auto when = std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
                std::chrono::seconds{second};
    auto delta = std::chrono::duration_cast<milliseconds>(when - now);
    return std::max(delta, milliseconds(0));
}

Result<std::unique_ptr<OpenAiEmbedder>> CreateOpenAiEmbedder(const config::EmbeddingConfig& config,
                                                             OpenAiOptions options) {
    std::string model = config.model.empty() ? std::string(kOpenAiDefaultModel) : config.model;
    auto url = net::ParseHttpUrl(config.base_url);
    if (!url.ok()) return url.status().WithContext("embedding.base_url");
    if (config.batch_size < 1 || config.batch_size > kMaxBatchSize) {
        return InvalidArgument("embedding.batch_size must be within 1.." + std::to_string(kMaxBatchSize) + ", got " +
                               std::to_string(config.batch_size));
    }
    if (!std::isfinite(config.timeout_seconds) || config.timeout_seconds <= 0 || config.timeout_seconds > 3600) {
        return InvalidArgument("embedding.timeout_seconds must be within (0, 3600]");
    }
    if (config.max_retries < 0 || config.max_retries > kMaxRetries) {
        return InvalidArgument("embedding.max_retries must be within 0.." + std::to_string(kMaxRetries));
    }
    if (config.dimension < 0 || config.dimension > kMaxDimension) {
        return InvalidArgument("embedding.dimension must be within 0.." + std::to_string(kMaxDimension));
    }
    int known = KnownModelDimension(model);
    int dimension = config.dimension;
    if (dimension == 0) {
        if (known == 0) {
            return InvalidArgument("embedding.dimension must be set for model '" + model +
                                   "' with provider 'openai' (the length of its vectors, e.g. 768 for "
                                   "nomic-embed-text, 1024 for bge-large; 1536 for text-embedding-3-small)");
        }
        dimension = known;
    }
    bool send_dimensions = dimension != known;

    if (!options.env) options.env = ProcessEnvLookup;
    if (!options.sleep) options.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
    std::string api_key;
    if (!config.api_key_env.empty()) {
        std::optional<std::string> v = options.env(config.api_key_env);
        if (!v || v->empty()) {
            return InvalidArgument("environment variable " + config.api_key_env +
                                   " (embedding.api_key_env) is not set; export the API key there, or set "
                                   "embedding.api_key_env to \"\" for a server without authentication");
        }
        api_key = std::move(*v);
    }
    return std::make_unique<OpenAiEmbedder>(config, std::move(url).value(), std::move(model), dimension,
                                            send_dimensions, std::move(api_key), std::move(options));
}

OpenAiEmbedder::OpenAiEmbedder(const config::EmbeddingConfig& config, net::HttpUrl url, std::string model, int dimension,
                               bool send_dimensions, std::string api_key, OpenAiOptions options)
    : url_(std::move(url)),
      target_(url_.Target("/embeddings")),
      model_(std::move(model)),
      dimension_(dimension),
      send_dimensions_(send_dimensions),
      batch_size_(static_cast<size_t>(std::max(1, config.batch_size))),
      timeout_(std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(config.timeout_seconds))),
      max_retries_(std::max(0, config.max_retries)),
      api_key_(std::move(api_key)),
      azure_(false),
      options_(std::move(options)),
      rng_(std::random_device{}()) {
    std::string host = url_.host;
    for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    azure_ = host.find(".openai.azure.com") != std::string::npos;
    if (!options_.sleep) options_.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
}

OpenAiEmbedder::~OpenAiEmbedder() = default;

std::unique_ptr<net::HttpClient> OpenAiEmbedder::AcquireClient() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!idle_.empty()) {
            auto client = std::move(idle_.back());
            idle_.pop_back();
            return client;
        }
    }
    return std::make_unique<net::HttpClient>(url_, timeout_);
}

void OpenAiEmbedder::ReleaseClient(std::unique_ptr<net::HttpClient> client) {
    constexpr size_t kMaxIdle = 4;
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(client));
}

milliseconds OpenAiEmbedder::BackoffDelay(int attempt) {
    // Exponential with "equal jitter": half fixed, half random.
    double base = static_cast<double>(options_.backoff_base.count());
    double full = std::min(static_cast<double>(options_.backoff_cap.count()), base * std::pow(2.0, attempt));
    double fraction = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        fraction = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }
    return milliseconds(static_cast<long long>(full / 2 + fraction * full / 2));
}

std::string OpenAiEmbedder::Scrub(std::string text) const {
    if (api_key_.empty()) return text;
    for (size_t pos = text.find(api_key_); pos != std::string::npos; pos = text.find(api_key_, pos + 3)) {
        text.replace(pos, api_key_.size(), "***");
    }
    return text;
}

Result<std::vector<std::vector<float>>> OpenAiEmbedder::Embed(std::span<const std::string> texts, Purpose /*purpose*/) {
    std::vector<std::vector<float>> out(texts.size());
    std::vector<size_t> pending;
    for (size_t i = 0; i < texts.size(); ++i) {
        if (texts[i].empty()) {
            out[i].assign(static_cast<size_t>(dimension_), 0.0F);
        } else {
            pending.push_back(i);
        }
    }
    for (size_t start = 0; start < pending.size(); start += batch_size_) {
        size_t end = std::min(pending.size(), start + batch_size_);
        std::vector<const std::string*> inputs;
        for (size_t k = start; k < end; ++k) inputs.push_back(&texts[pending[k]]);
        SH_ASSIGN_OR_RETURN(auto vectors, EmbedBatch(inputs));
        for (size_t k = start; k < end; ++k) out[pending[k]] = std::move(vectors[k - start]);
    }
    return out;
}

Result<std::vector<std::vector<float>>> OpenAiEmbedder::EmbedBatch(const std::vector<const std::string*>& inputs) {
    json request = {{"model", model_}, {"encoding_format", "float"}};
    json input = json::array();
    for (const std::string* text : inputs) input.push_back(*text);
    request["input"] = std::move(input);
    if (send_dimensions_) request["dimensions"] = dimension_;
    // Invalid UTF-8 in source files is replaced rather than failing the batch.
    const std::string payload = request.dump(-1, ' ', false, json::error_handler_t::replace);

    std::vector<net::HttpHeader> headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    if (!api_key_.empty()) {
        if (azure_) {
            headers.push_back({"api-key", api_key_});
        } else {
            headers.push_back({"Authorization", "Bearer " + api_key_});
        }
    }

    const std::string where = "embedding request to " + url_.HostHeader();
    Status last;
    for (int attempt = 0;; ++attempt) {
        milliseconds delay{0};
        std::unique_ptr<net::HttpClient> client = AcquireClient();
        Result<net::HttpResponse> r = client->Request("POST", target_, headers, payload);
        bool permanent = !r.ok() && client->PermanentError();
        ReleaseClient(std::move(client));
        if (!r.ok()) {
            last = Status(r.status().code(), Scrub(r.status().message()));
            if (permanent) return last;
            delay = BackoffDelay(attempt);
        } else if (r->status >= 200 && r->status < 300) {
            return ParseEmbeddings(r->body, inputs.size(), dimension_, where, &tokens_);
        } else {
            int status = r->status;
            std::string msg = Scrub(ServerMessage(*r));
            std::string http = "HTTP " + std::to_string(status) + ": " + msg;
            if (Retryable(status)) {
                last = Unavailable(status == 429 ? "rate limited (" + http + ")" : "server error (" + http + ")");
                auto hint = RetryAfterHint(*r, std::chrono::system_clock::now());
                delay = hint ? std::min(*hint, options_.max_retry_after) : BackoffDelay(attempt);
            } else if (status == 401 || status == 403) {
                return Unauthenticated(where + " was refused (" + http + "); check the key in the variable named " +
                                       "by embedding.api_key_env");
            } else if (status >= 300 && status < 400) {
                return InvalidArgument(where + " was redirected (" + http + ") to '" +
                                       r->Header("location").value_or("") +
                                       "'; set embedding.base_url to the final URL");
            } else if (status >= 400 && status < 500) {
                return InvalidArgument(where + " was rejected (" + http + ")");
            } else {
                return Unavailable(where + " failed (" + http + ")");
            }
        }
        if (attempt >= max_retries_) {
            return Status(last.code(),
                          where + " failed after " + std::to_string(attempt + 1) + " attempt(s): " + last.message());
        }
        options_.sleep(delay);
    }
}

}  // namespace signalhub::embed

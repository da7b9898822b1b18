#include "security/api_key.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

namespace signalhub::security {
namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kHex[] = "0123456789abcdef";

int Base64UrlValue(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string ToHex(const unsigned char* data, std::size_t n) {
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(kHex[data[i] >> 4]);
        out.push_back(kHex[data[i] & 0x0f]);
    }
    return out;
}

Result<std::string> RandomBytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        return Unavailable("the OpenSSL random generator failed (RAND_bytes)");
    }
    return out;
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

// ---- scopes -----------------------------------------------------------------

std::string_view ScopeName(Scope scope) {
    switch (scope) {
        case Scope::kSearch: return "search";
        case Scope::kIndex: return "index";
        case Scope::kAdmin: return "admin";
    }
    return "unknown";
}

Result<Scope> ParseScope(std::string_view name) {
    if (name == "search") return Scope::kSearch;
    if (name == "index") return Scope::kIndex;
    if (name == "admin") return Scope::kAdmin;
    return InvalidArgument("unknown scope '" + std::string(name) + "' (expected search, index or admin)");
}

Result<std::vector<Scope>> ParseScopeList(std::string_view csv) {
    std::vector<Scope> scopes;
    if (Trim(csv).empty()) return InvalidArgument("empty scope list (expected some of search, index, admin)");
    while (true) {
        const std::size_t comma = csv.find(',');
        const std::string_view name = Trim(csv.substr(0, comma));
        if (name.empty()) return InvalidArgument("empty scope name in the scope list");
        SH_ASSIGN_OR_RETURN(Scope scope, ParseScope(name));
        scopes.push_back(scope);
        if (comma == std::string_view::npos) break;
        csv.remove_prefix(comma + 1);
    }
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    return scopes;
}

// ---- format -----------------------------------------------------------------

std::string Base64UrlEncode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out.push_back(kBase64Url[(v >> 18) & 63]);
        out.push_back(kBase64Url[(v >> 12) & 63]);
        out.push_back(kBase64Url[(v >> 6) & 63]);
        out.push_back(kBase64Url[v & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const unsigned v = byte(i) << 16;
        out.push_back(kBase64Url[(v >> 18) & 63]);
        out.push_back(kBase64Url[(v >> 12) & 63]);
    } else if (rest == 2) {
        const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
        out.push_back(kBase64Url[(v >> 18) & 63]);
        out.push_back(kBase64Url[(v >> 12) & 63]);
        out.push_back(kBase64Url[(v >> 6) & 63]);
    }
    return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
    if (text.size() % 4 == 1) return InvalidArgument("base64url text has an impossible length");
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const int v = Base64UrlValue(text[i]);
        if (v < 0) return InvalidArgument("character " + std::to_string(i + 1) + " is not base64url (A-Z a-z 0-9 - _)");
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        return InvalidArgument("base64url text is not canonical (non-zero trailing bits)");
    }
    return out;
}

Result<ParsedKey> ParseApiKey(std::string_view text) {
    if (text.empty()) return InvalidArgument("malformed API key: empty");
    if (!text.starts_with(kKeyPrefix)) {
        return InvalidArgument("malformed API key: it does not start with '" + std::string(kKeyPrefix) + "'");
    }
    if (text.size() != kKeyLength) {
        return InvalidArgument("malformed API key: " + std::to_string(text.size()) + " characters, expected " +
                               std::to_string(kKeyLength));
    }
    const std::string_view id = text.substr(kKeyPrefix.size(), kKeyIdLength);
    if (!std::all_of(id.begin(), id.end(), IsLowerHex)) {
        return InvalidArgument("malformed API key: the key id is not " + std::to_string(kKeyIdLength) +
                               " lowercase hex characters");
    }
    if (text[kKeyPrefix.size() + kKeyIdLength] != '_') {
        return InvalidArgument("malformed API key: no '_' between the key id and the secret");
    }
    const std::string_view secret = text.substr(kKeyPrefix.size() + kKeyIdLength + 1);
    auto decoded = Base64UrlDecode(secret);
    if (!decoded.ok()) return InvalidArgument("malformed API key: secret: " + decoded.status().message());
    if (decoded->size() != kSecretBytes) return InvalidArgument("malformed API key: the secret has the wrong size");
    OPENSSL_cleanse(decoded->data(), decoded->size());
    return ParsedKey{std::string(id), std::string(secret)};
}

std::string FormatApiKey(std::string_view id, std::string_view secret) {
    std::string out(kKeyPrefix);
    out += id;
    out += '_';
    out += secret;
    return out;
}

Result<std::string> GenerateKeyId() {
    SH_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(kKeyIdLength / 2));
    return ToHex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

Result<std::string> GenerateSecret() {
    SH_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(kSecretBytes));
    std::string encoded = Base64UrlEncode(bytes);
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return encoded;
}

// ---- keyed hash -----------------------------------------------------------------

struct KeyHasher::Impl {
    std::string pepper;
    EVP_MAC* mac = nullptr;
    ~Impl() {
        OPENSSL_cleanse(pepper.data(), pepper.size());
        EVP_MAC_free(mac);
    }
};

KeyHasher::KeyHasher(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<KeyHasher> KeyHasher::Create(std::string pepper) {
    if (pepper.size() < kMinPepperBytes) {
        const std::size_t size = pepper.size();
        OPENSSL_cleanse(pepper.data(), pepper.size());
        return InvalidArgument("the API key pepper has " + std::to_string(size) + " bytes; at least " +
                               std::to_string(kMinPepperBytes) + " are required");
    }
    auto impl = std::make_shared<Impl>();
    impl->pepper = std::move(pepper);
    impl->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (impl->mac == nullptr) return Internal("OpenSSL provides no HMAC implementation");
    KeyHasher hasher(std::move(impl));
    unsigned char digest[32];
    SH_RETURN_IF_ERROR(hasher.Mac("signal-hub api key pepper fingerprint v1", digest));
    hasher.fingerprint_ = ToHex(digest, 8);
    return hasher;
}

Status KeyHasher::Mac(std::string_view data, unsigned char (&out)[32]) const {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(impl_->mac);
    if (ctx == nullptr) return Internal("OpenSSL: cannot create an HMAC context");
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                                 OSSL_PARAM_construct_end()};
    std::size_t out_len = 0;
    const bool ok =
        EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(impl_->pepper.data()), impl_->pepper.size(),
                     params) == 1 &&
        EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
        EVP_MAC_final(ctx, out, &out_len, sizeof out) == 1 && out_len == sizeof out;
    EVP_MAC_CTX_free(ctx);
    if (!ok) return Internal("OpenSSL: HMAC-SHA256 failed");
    return Status::Ok();
}

Result<std::string> KeyHasher::Hash(std::string_view presented_key) const {
    unsigned char digest[32];
    SH_RETURN_IF_ERROR(Mac(presented_key, digest));
    return ToHex(digest, sizeof digest);
}

bool KeyHasher::Matches(std::string_view presented_key, std::string_view stored_hex) const {
    if (stored_hex.size() != 64) return false;
    std::array<unsigned char, 32> stored{};
    for (std::size_t i = 0; i < stored.size(); ++i) {
        const int hi = HexValue(stored_hex[2 * i]);
        const int lo = HexValue(stored_hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        stored[i] = static_cast<unsigned char>((hi << 4) | lo);
    }
    unsigned char digest[32];
    if (!Mac(presented_key, digest).ok()) return false;
    const bool equal = CRYPTO_memcmp(digest, stored.data(), sizeof digest) == 0;
    OPENSSL_cleanse(digest, sizeof digest);
    return equal;
}

}  // namespace signalhub::security

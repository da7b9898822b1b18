#pragma once
// API keys: the presented format, scopes, and the keyed hash that is the only
// stored form of a secret (ADR-15 in docs/architecture.md).
//
//   shk_<id>_<secret>
//   shk_        fixed prefix, so a leaked key is recognisable (secret scanners, logs)
//   <id>        16 lowercase hex characters (8 random bytes); not secret, names the key
//   <secret>    43 characters: 32 bytes from OpenSSL RAND_bytes, base64url without padding
//
// 64 characters in all; the id has a fixed length, so '_' inside the secret is
// unambiguous. Nothing in this header ever puts a secret into an error message.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace signalhub::security {

inline constexpr std::string_view kKeyPrefix = "shk_";
inline constexpr std::size_t kKeyIdLength = 16;       // hex characters
inline constexpr std::size_t kSecretBytes = 32;       // entropy of a secret
inline constexpr std::size_t kSecretLength = 43;      // base64url characters of kSecretBytes
inline constexpr std::size_t kKeyLength = 4 + kKeyIdLength + 1 + kSecretLength;  // 64
inline constexpr std::size_t kMinPepperBytes = 32;

// ---- scopes -----------------------------------------------------------------

// What a key may do: `search` (MCP search tools), `index` (anything that
// writes), `admin` (key and admin operations). No scope implies another.
enum class Scope { kSearch, kIndex, kAdmin };

std::string_view ScopeName(Scope scope);
// "search" / "index" / "admin" (exact, lowercase); InvalidArgument otherwise.
Result<Scope> ParseScope(std::string_view name);
// Comma-separated list ("search,index"); spaces around names are ignored.
// InvalidArgument for an empty list, an empty or unknown name. The result is
// sorted and free of duplicates.
Result<std::vector<Scope>> ParseScopeList(std::string_view csv);

// ---- format -----------------------------------------------------------------

struct ParsedKey {
    std::string id;      // 16 lowercase hex characters
    std::string secret;  // the 43 base64url characters (secret material)
};

// Splits and validates a presented key. InvalidArgument naming what is wrong
// (prefix, length, id characters, separator, secret characters, non-canonical
// encoding); the message never contains the presented text.
Result<ParsedKey> ParseApiKey(std::string_view text);

// "shk_" + id + "_" + secret. The caller guarantees both parts are valid.
std::string FormatApiKey(std::string_view id, std::string_view secret);

// A fresh id / secret from RAND_bytes. Unavailable when the CSPRNG fails
// (it never falls back to a weaker source).
Result<std::string> GenerateKeyId();
Result<std::string> GenerateSecret();

// base64url without padding (RFC 4648 §5); Decode rejects other characters,
// padding and non-canonical trailing bits.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

// ---- keyed hash -----------------------------------------------------------------

// HMAC-SHA256 of the whole presented key ("shk_<id>_<secret>") under a
// server-side pepper. The pepper never leaves the process; without it a stolen
// key file cannot be used to test guesses offline.
//
// Thread safety: const methods may be called concurrently.
class KeyHasher {
   public:
    // InvalidArgument when the pepper is shorter than kMinPepperBytes;
    // Internal when OpenSSL has no HMAC implementation.
    static Result<KeyHasher> Create(std::string pepper);

    // 64 lowercase hex characters. Internal only if OpenSSL fails.
    Result<std::string> Hash(std::string_view presented_key) const;

    // Whether HMAC(presented_key) equals the stored hex digest, compared with
    // CRYPTO_memcmp (time independent of where the digests differ). False for a
    // stored value that is not 64 hex characters and when OpenSSL fails.
    bool Matches(std::string_view presented_key, std::string_view stored_hex) const;

    // 16 hex characters identifying the pepper (an HMAC of a fixed label, so
    // it reveals nothing about the pepper). Stored beside the hashes, so a key
    // file opened with another pepper fails loudly instead of rejecting every key.
    const std::string& fingerprint() const { return fingerprint_; }

   private:
    struct Impl;
    explicit KeyHasher(std::shared_ptr<const Impl> impl);
    Status Mac(std::string_view data, unsigned char (&out)[32]) const;

    std::shared_ptr<const Impl> impl_;
    std::string fingerprint_;
};

}  // namespace signalhub::security

#pragma once
// The JSON document of API key records, shared by the backends that keep all
// records in one document: FileKeyStore (the file's content) and VaultKeyStore
// (the KV v2 secret's data), so a document can move between them unchanged.
//
//   {"format": "signal-hub-api-keys", "version": 1, "hash": "hmac-sha256",
//    "pepper_fingerprint": "<16 hex>", "keys": [ {record}, ... ]}
//
// Parsing is strict: unknown fields, wrong types and duplicate ids are errors.

#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "security/key_store.hpp"

namespace signalhub::security {

inline constexpr int kKeyDocumentVersion = 1;

// Pretty-printed (2 spaces) with a trailing newline.
std::string SerializeKeyDocument(const std::vector<ApiKeyRecord>& records, const std::string& pepper_fingerprint);

// InvalidArgument naming the problem (and the record index); FailedPrecondition
// when the document was written with another pepper (its fingerprint differs).
Result<std::vector<ApiKeyRecord>> ParseKeyDocument(std::string_view text, const std::string& pepper_fingerprint);

}  // namespace signalhub::security

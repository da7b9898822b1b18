#pragma once
// Stable content hashing (xxHash XXH3-128): identical on every machine and run.

#include <string>
#include <string_view>

namespace signalhub {

// 32 lowercase hex characters of XXH3-128 over the bytes.
std::string Hash128Hex(std::string_view bytes);

// 64-bit XXH3 with a seed, for feature hashing.
unsigned long long Hash64(std::string_view bytes, unsigned long long seed = 0);

}  // namespace signalhub

#include "core/hash.hpp"

#include <xxhash.h>

#include <cstdio>

namespace signalhub {

std::string Hash128Hex(std::string_view bytes) {
    XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return std::string(buf, 32);
}

unsigned long long Hash64(std::string_view bytes, unsigned long long seed) {
    return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

}  // namespace signalhub

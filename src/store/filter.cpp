#include "store/vector_store.hpp"

namespace signalhub::store {

bool Filter::Matches(const Metadata& metadata) const {
    if (language) {
        auto value = GetString(metadata, meta::kLanguage);
        if (!value || *value != *language) return false;
    }
    if (path_glob) {
        auto value = GetString(metadata, meta::kFilePath);
        if (!value || !GlobMatch(*path_glob, *value)) return false;
    }
    if (symbol) {
        auto value = GetString(metadata, meta::kSymbol);
        if (!value || !(*value == *symbol || value->ends_with("." + *symbol))) return false;
    }
    return true;
}

}  // namespace signalhub::store

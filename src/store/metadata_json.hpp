#pragma once
// The JSON form of record metadata shared by the backends that store it as
// text (embedded: SQLite TEXT; postgresql: a `json` column). Types stay exact:
// strings, integers and booleans as JSON; finite doubles as JSON numbers that
// always carry a '.' or an exponent (shortest round-trip form, so 1.0 stays a
// float and every double round-trips bit-exactly); non-finite doubles as
// {"$float": "nan"|"inf"|"-inf"}.

#include <string>

#include "core/record.hpp"
#include "core/status.hpp"

namespace signalhub::store {

// InvalidArgument (naming the record) when a key or string is not valid UTF-8.
Result<std::string> EncodeMetadataJson(const std::string& record_id, const Metadata& metadata);
// DataLoss when `text` is not metadata JSON of the form above.
Result<Metadata> DecodeMetadataJson(const std::string& text);

}  // namespace signalhub::store

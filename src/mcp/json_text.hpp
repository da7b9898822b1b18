#pragma once
// JSON text of the replies (ADR-34b): the same bytes as
// nlohmann::json::dump(-1, ' ', false, error_handler_t::replace), written
// without nlohmann's byte-at-a-time UTF-8 state machine for the long, mostly
// ASCII strings of a search reply (code), which that dump spent ~70 us on per
// search_code reply.

#include <string>

#include <nlohmann/json.hpp>

namespace signalhub::mcp {

// Appends the compact JSON text of `value` to `out`: no whitespace, object
// members in the json's own (sorted) order, UTF-8 passed through, control
// characters, '"' and '\' escaped as nlohmann escapes them, numbers as
// nlohmann prints them; a string holding invalid UTF-8 is written by
// nlohmann (each invalid sequence becomes U+FFFD), so the text is always
// identical to dump's.
void AppendJsonText(std::string& out, const nlohmann::json& value);

// AppendJsonText into a fresh string.
std::string JsonText(const nlohmann::json& value);

}  // namespace signalhub::mcp

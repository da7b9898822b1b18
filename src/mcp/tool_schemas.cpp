#include "mcp/tool_schemas.hpp"

#include <string>

namespace signalhub::mcp::schemas {

using Json = nlohmann::json;

Json ResultsSchema() {
    Json schema = {{"type", "object"},
                   {"properties", {{"results", {{"type", "array"}, {"items", Json::parse(kResultItem)}}}}},
                   {"required", {"results"}}};
    return schema;
}

Json SchemaWithLocations(const char* text) {
    std::string s = text;
    const std::string placeholder = "LOCATION";
    for (size_t pos = s.find(placeholder); pos != std::string::npos; pos = s.find(placeholder, pos))
        s.replace(pos, placeholder.size(), kLocationItem);
    return Json::parse(s);
}

}  // namespace signalhub::mcp::schemas

#include "mcp/json_text.hpp"

#include <array>
#include <charconv>
#include <cstdint>

namespace signalhub::mcp {

using Json = nlohmann::json;

namespace {

// Bytes copied as they are inside a string: printable ASCII except '"' and '\' (and DEL, which
// nlohmann does not escape without ensure_ascii).
constexpr std::array<bool, 256> MakePlain() {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return t;
}
constexpr std::array<bool, 256> kPlain = MakePlain();

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, nothing
// above U+10FFFF) starting at s[i] (a byte >= 0x80), or 0 when it is not one.
std::size_t Utf8Length(const unsigned char* s, std::size_t i, std::size_t n) {
    const unsigned char b = s[i];
    auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        return i + k < n && s[i + k] >= lo && s[i + k] <= hi;
    };
    if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
    if (b == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (b == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    if (b == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b >= 0xF1 && b <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

void AppendString(std::string& out, const std::string& s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    const std::size_t start = out.size();
    out.reserve(out.size() + n + 2);
    out += '"';
    std::size_t i = 0;
    while (i < n) {
        std::size_t run = i;
        while (run < n && kPlain[p[run]]) ++run;
        out.append(s, i, run - i);
        i = run;
        if (i == n) break;
        const unsigned char c = p[i];
        if (c >= 0x80) {
            const std::size_t len = Utf8Length(p, i, n);
            if (len == 0) {  // invalid UTF-8: nlohmann's replacement, byte for byte
                out.resize(start);
                out += Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
                return;
            }
            out.append(s, i, len);
            i += len;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: {
                static constexpr char kHex[] = "0123456789abcdef";
                const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0x0f]};
                out.append(u, sizeof u);
            }
        }
        ++i;
    }
    out += '"';
}

template <class Int>
void AppendInt(std::string& out, Int v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

}  // namespace

void AppendJsonText(std::string& out, const Json& value) {
    switch (value.type()) {
        case Json::value_t::null: out += "null"; return;
        case Json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return;
        case Json::value_t::number_integer: AppendInt(out, value.get<std::int64_t>()); return;
        case Json::value_t::number_unsigned: AppendInt(out, value.get<std::uint64_t>()); return;
        case Json::value_t::string: AppendString(out, value.get_ref<const std::string&>()); return;
        case Json::value_t::array: {
            out += '[';
            bool first = true;
            for (const Json& element : value.get_ref<const Json::array_t&>()) {
                if (!first) out += ',';
                first = false;
                AppendJsonText(out, element);
            }
            out += ']';
            return;
        }
        case Json::value_t::object: {
            out += '{';
            bool first = true;
            for (const auto& [key, member] : value.get_ref<const Json::object_t&>()) {
                if (!first) out += ',';
                first = false;
                AppendString(out, key);
                out += ':';
                AppendJsonText(out, member);
            }
            out += '}';
            return;
        }
        default:  // floats (nlohmann's shortest round-trip form), binary, discarded
            out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
            return;
    }
}

std::string JsonText(const Json& value) {
    std::string out;
    AppendJsonText(out, value);
    return out;
}

}  // namespace signalhub::mcp

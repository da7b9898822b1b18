#include "security/api_key.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace signalhub::security {
namespace {

const std::string kPepper(32, 'p');

std::string ValidKey() {
    auto id = GenerateKeyId();
    auto secret = GenerateSecret();
    EXPECT_TRUE(id.ok() && secret.ok());
    return FormatApiKey(*id, *secret);
}

TEST(ApiKeyFormat, GeneratedKeyRoundTrips) {
    auto id = GenerateKeyId();
    auto secret = GenerateSecret();
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    EXPECT_EQ(id->size(), kKeyIdLength);
    EXPECT_EQ(secret->size(), kSecretLength);
    const std::string key = FormatApiKey(*id, *secret);
    EXPECT_EQ(key.size(), kKeyLength);
    EXPECT_TRUE(key.starts_with("shk_"));
    auto parsed = ParseApiKey(key);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->id, *id);
    EXPECT_EQ(parsed->secret, *secret);
    auto bytes = Base64UrlDecode(*secret);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(bytes->size(), kSecretBytes);
}

TEST(ApiKeyFormat, GeneratedKeysAreDistinctAndUrlSafe) {
    std::set<std::string> keys;
    for (int i = 0; i < 200; ++i) {
        const std::string key = ValidKey();
        for (char c : key) {
            EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') << key;
        }
        keys.insert(key);
    }
    EXPECT_EQ(keys.size(), 200u);
}

TEST(ApiKeyFormat, Base64UrlMatchesRfc4648AndRoundTrips) {
    EXPECT_EQ(Base64UrlEncode(""), "");
    EXPECT_EQ(Base64UrlEncode("f"), "Zg");
    EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
    EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
    EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff\xbf", 3)), "-_-_");
    std::string bytes;
    for (int n = 0; n < 70; ++n) {
        auto back = Base64UrlDecode(Base64UrlEncode(bytes));
        ASSERT_TRUE(back.ok()) << n;
        EXPECT_EQ(*back, bytes);
        bytes.push_back(static_cast<char>(n * 37 + 11));
    }
    EXPECT_FALSE(Base64UrlDecode("Zm9v+A").ok());   // '+' is standard base64, not base64url
    EXPECT_FALSE(Base64UrlDecode("Zm9v=").ok());    // no padding
    EXPECT_FALSE(Base64UrlDecode("Zh").ok());       // non-zero trailing bits ("Zg" is canonical)
    EXPECT_FALSE(Base64UrlDecode("Zm9vY").ok());    // impossible length
}

TEST(ApiKeyFormat, MalformedKeysAreRejectedWithoutEchoingThem) {
    const std::string good = ValidKey();
    const std::string secret = good.substr(21);
    struct Case {
        std::string text;
        std::string expected;
    };
    std::string bad_hex = good;
    bad_hex[6] = 'G';
    std::string upper_hex = good;
    upper_hex[4] = 'A';
    std::string no_separator = good;
    no_separator[20] = '-';
    std::string bad_char = good;
    bad_char[40] = '+';
    std::string bad_trailing = good;
    bad_trailing.back() = (good.back() == 'B' ? 'C' : 'B');  // last char carries 2 unused bits; B/C are non-canonical
    const std::vector<Case> cases = {
        {"", "empty"},
        {"Bearer " + good, "does not start with 'shk_'"},
        {"shk" + good.substr(4), "does not start with 'shk_'"},
        {good.substr(0, 63), "63 characters, expected 64"},
        {good + "A", "65 characters, expected 64"},
        {bad_hex, "lowercase hex"},
        {upper_hex, "lowercase hex"},
        {no_separator, "no '_' between"},
        {bad_char, "not base64url"},
        {bad_trailing, "not canonical"},
    };
    for (const Case& c : cases) {
        auto parsed = ParseApiKey(c.text);
        ASSERT_FALSE(parsed.ok()) << c.text;
        EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(parsed.status().message().find("malformed API key"), std::string::npos) << parsed.status().message();
        EXPECT_NE(parsed.status().message().find(c.expected), std::string::npos)
            << "for input " << c.text << ": " << parsed.status().message();
        EXPECT_EQ(parsed.status().message().find(secret.substr(0, 12)), std::string::npos) << "secret echoed";
    }
}

TEST(ApiKeyScopes, ParseScopeList) {
    auto scopes = ParseScopeList(" index, search ,index");
    ASSERT_TRUE(scopes.ok()) << scopes.status().ToString();
    EXPECT_EQ(*scopes, (std::vector<Scope>{Scope::kSearch, Scope::kIndex}));
    EXPECT_EQ(ScopeName(Scope::kAdmin), "admin");
    EXPECT_EQ(ParseScopeList("").status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(ParseScopeList("search,,index").status().code(), ErrorCode::kInvalidArgument);
    auto unknown = ParseScopeList("search,root");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.status().message().find("unknown scope 'root'"), std::string::npos);
    EXPECT_FALSE(ParseScope("Search").ok());
}

TEST(KeyHasher, RejectsShortPepper) {
    auto hasher = KeyHasher::Create(std::string(31, 'x'));
    ASSERT_FALSE(hasher.ok());
    EXPECT_EQ(hasher.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(hasher.status().message().find("at least 32"), std::string::npos);
}

TEST(KeyHasher, IsHmacSha256Rfc4231) {
    // RFC 4231 test case 6: 131-byte key, HMAC-SHA-256.
    auto hasher = KeyHasher::Create(std::string(131, '\xaa'));
    ASSERT_TRUE(hasher.ok()) << hasher.status().ToString();
    auto hash = hasher->Hash("Test Using Larger Than Block-Size Key - Hash Key First");
    ASSERT_TRUE(hash.ok());
    EXPECT_EQ(*hash, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(KeyHasher, HashNeverEqualsOrContainsThePlaintext) {
    auto hasher = KeyHasher::Create(kPepper);
    ASSERT_TRUE(hasher.ok());
    for (int i = 0; i < 50; ++i) {
        const std::string key = ValidKey();
        auto parsed = ParseApiKey(key);
        ASSERT_TRUE(parsed.ok());
        auto hash = hasher->Hash(key);
        ASSERT_TRUE(hash.ok());
        EXPECT_EQ(hash->size(), 64u);
        EXPECT_NE(*hash, key);
        EXPECT_EQ(hash->find(parsed->secret), std::string::npos);
        EXPECT_EQ(hash->find(parsed->secret.substr(0, 8)), std::string::npos);
        auto raw = Base64UrlDecode(parsed->secret);
        ASSERT_TRUE(raw.ok());
        std::string raw_hex;
        for (unsigned char c : *raw) {
            static const char* kDigits = "0123456789abcdef";
            raw_hex += kDigits[c >> 4];
            raw_hex += kDigits[c & 15];
        }
        EXPECT_EQ(hash->find(raw_hex.substr(0, 16)), std::string::npos);
        EXPECT_TRUE(hasher->Matches(key, *hash));
    }
}

TEST(KeyHasher, MatchesDependsOnKeyAndPepper) {
    auto a = KeyHasher::Create(kPepper);
    auto b = KeyHasher::Create(std::string(32, 'q'));
    ASSERT_TRUE(a.ok() && b.ok());
    const std::string key = ValidKey();
    const std::string other = ValidKey();
    auto hash = a->Hash(key);
    ASSERT_TRUE(hash.ok());
    EXPECT_EQ(*a->Hash(key), *hash);  // deterministic
    EXPECT_TRUE(a->Matches(key, *hash));
    EXPECT_FALSE(a->Matches(other, *hash));
    EXPECT_FALSE(b->Matches(key, *hash));
    EXPECT_FALSE(a->Matches(key, hash->substr(0, 63)));
    EXPECT_FALSE(a->Matches(key, std::string(64, 'z')));
    std::string upper = *hash;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(a->Matches(key, upper));  // hex case does not matter
    EXPECT_EQ(a->fingerprint().size(), 16u);
    EXPECT_NE(a->fingerprint(), b->fingerprint());
    EXPECT_EQ(a->fingerprint(), KeyHasher::Create(kPepper)->fingerprint());
}

}  // namespace
}  // namespace signalhub::security

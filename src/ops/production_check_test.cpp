#include "ops/production_check.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

namespace signalhub::ops {
namespace {

// The names CheckProduction reports for `config`, in order.
std::vector<std::string> Reported(const config::Config& config) {
    FakeClock clock;
    std::vector<std::string> names;
    const config::EnvLookup no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    for (const CheckItem& item : CheckProduction(config, "", ProductionCheckOptions{}, no_env, clock)) {
        names.push_back(item.name);
    }
    return names;
}

// ProductionCheckItems() is what `check production --help` lists and the docs are checked against:
// every item CheckProduction reports must be in it, in the same order.
void ExpectListed(const std::vector<std::string>& reported) {
    std::vector<std::string> listed;
    for (const CheckItemInfo& item : ProductionCheckItems()) listed.emplace_back(item.name);
    size_t next = 0;
    for (const std::string& name : reported) {
        while (next < listed.size() && listed[next] != name) ++next;
        ASSERT_LT(next, listed.size()) << "item '" << name << "' is reported but not listed in ProductionCheckItems() "
                                       << "(or listed out of order)";
    }
}

TEST(ProductionCheckItems, NamesAreUniqueAndDescribed) {
    std::set<std::string> seen;
    for (const CheckItemInfo& item : ProductionCheckItems()) {
        EXPECT_TRUE(seen.insert(item.name).second) << item.name;
        EXPECT_NE(std::string(item.what), "") << item.name;
    }
    EXPECT_EQ(seen.size(), 15u);
}

TEST(ProductionCheckItems, ListEveryReportedItem) {
    config::Config defaults;
    ExpectListed(Reported(defaults));

    config::Config on;  // TLS and API keys on: the certificate and key items are reported too
    on.security.tls.enabled = true;
    on.security.tls.cert_file = "/nonexistent/tls.crt";
    on.security.tls.key_file = "/nonexistent/tls.key";
    on.security.api_keys.enabled = true;
    on.security.api_keys.storage = "file";
    on.security.api_keys.file = "/nonexistent/api-keys.json";
    on.security.rate_limiting.enabled = true;
    const std::vector<std::string> reported = Reported(on);
    ExpectListed(reported);
    for (const char* name : {"tls", "tls_certificate", "api_keys", "key_pepper", "key_storage", "metrics", "json_logs"}) {
        EXPECT_NE(std::find(reported.begin(), reported.end(), name), reported.end()) << name;
    }
}

// The status and detail of one item for `config`.
CheckItem Item(const config::Config& config, const std::string& name) {
    FakeClock clock;
    const config::EnvLookup no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    for (CheckItem& item : CheckProduction(config, "", ProductionCheckOptions{}, no_env, clock)) {
        if (item.name == name) return item;
    }
    ADD_FAILURE() << "no item " << name;
    return {};
}

TEST(ProductionCheck, RedisToAnotherHostNeedsTls) {
    config::Config c;
    EXPECT_TRUE(Item(c, "redis_tls").passed);  // no Redis at all
    c.security.rate_limiting.enabled = true;
    c.security.rate_limiting.backend = "redis";
    c.security.rate_limiting.redis_url = "redis://:Sup3rSecret-pw@redis.internal:6379/0";
    CheckItem plain = Item(c, "redis_tls");
    EXPECT_FALSE(plain.passed);
    EXPECT_NE(plain.detail.find("security.rate_limiting.redis_url (redis.internal)"), std::string::npos) << plain.detail;
    EXPECT_EQ(plain.detail.find("Sup3rSecret"), std::string::npos);
    EXPECT_NE(plain.fix.find("rediss://"), std::string::npos);

    c.security.rate_limiting.redis_url = "rediss://:Sup3rSecret-pw@redis.internal:6380/0";
    EXPECT_TRUE(Item(c, "redis_tls").passed);
    c.performance.caching.backend = "redis";  // the cache's Redis counts too
    c.performance.caching.redis_url = "redis://cache.internal:6379/1";
    EXPECT_FALSE(Item(c, "redis_tls").passed);
    c.performance.caching.redis_url = "redis://127.0.0.1:6379/1";  // loopback: a sidecar or a tunnel
    EXPECT_TRUE(Item(c, "redis_tls").passed);
    c.performance.caching.enabled = false;
    c.performance.caching.redis_url = "redis://cache.internal:6379/1";  // not used
    EXPECT_TRUE(Item(c, "redis_tls").passed);
}

}  // namespace
}  // namespace signalhub::ops

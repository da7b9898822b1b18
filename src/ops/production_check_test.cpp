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
    EXPECT_EQ(seen.size(), 14u);
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

}  // namespace
}  // namespace signalhub::ops

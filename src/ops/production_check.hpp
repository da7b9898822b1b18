#pragma once
// `signal-hub check production`: the production checklist
// (docs/production/security/hardening-checklist.md) as code. Each item passes
// or fails with what was found and, when it fails, how to fix it.
//
// Pure except for reading the files the configuration names (certificate,
// key, key file, pepper file) and the environment through `env`.

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace signalhub::ops {

struct CheckItem {
    std::string name;    // stable identifier, e.g. "tls"
    bool passed = false;
    std::string detail;  // what was found
    std::string fix;     // how to make it pass (empty when it passed)
};

struct ProductionCheckOptions {
    int replicas = 1;              // replicas the deployment runs (> 1 needs a shared rate-limit budget)
    int certificate_min_days = 30; // a certificate expiring sooner fails
};

// Every item CheckProduction can report, in its order: identifier and a short description (for
// `check production --help`; the docs-consistency test compares them with the docs).
struct CheckItemInfo {
    const char* name;
    const char* what;
};
const std::vector<CheckItemInfo>& ProductionCheckItems();

// `raw_config` is the configuration file's text before interpolation ("" when
// the configuration came from defaults and the environment only): secrets
// written into it literally are found there.
std::vector<CheckItem> CheckProduction(const config::Config& config, const std::string& raw_config,
                                       const ProductionCheckOptions& options, const config::EnvLookup& env,
                                       const Clock& clock);

}  // namespace signalhub::ops

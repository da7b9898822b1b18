#include "core/test_temp_dir.hpp"
#include "config/config.hpp"

#include "signal_hub_test_paths.hpp"
#include "tests/support/unprivileged.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

using signalhub::testing_util::TempDir;

namespace signalhub::config {
namespace {

using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

EnvNames FakeNames(const std::map<std::string, std::string>& vars) {
    return [vars] {
        std::vector<std::string> names;
        for (const auto& [name, value] : vars) names.push_back(name);
        return names;
    };
}

Result<Config> Parse(const std::string& text, std::map<std::string, std::string> vars = {}) {
    return ParseConfig(text, "config.yaml", FakeEnv(std::move(vars)));
}

std::string ParseError(const std::string& text, std::map<std::string, std::string> vars = {}) {
    Result<Config> result = Parse(text, std::move(vars));
    EXPECT_FALSE(result.ok()) << "expected an error for:\n" << text;
    if (result.ok()) return "";
    EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
    return result.status().message();
}


TEST(Config, DefaultsMatchTheDocumentedValues) {
    const Config config;
    EXPECT_EQ(config.store.path, ".signal-hub");
    EXPECT_EQ(config.index.collection, "");
    EXPECT_EQ(config.index.max_file_bytes, 1024 * 1024);
    EXPECT_TRUE(config.index.default_excludes);
    EXPECT_TRUE(config.index.exclude.empty());
    EXPECT_FALSE(config.index.follow_symlinks);
    EXPECT_EQ(config.index.batch_size, 256);
    EXPECT_EQ(config.index.chunk.max_lines, 120);
    EXPECT_EQ(config.index.chunk.overlap_lines, 10);
    EXPECT_EQ(config.index.chunk.window_lines, 60);
    EXPECT_EQ(config.index.chunk.max_chars, 6000);
    EXPECT_EQ(config.embedding.provider, "builtin");
    EXPECT_EQ(config.embedding.model, "");
    EXPECT_EQ(config.embedding.dimension, 0);
    EXPECT_EQ(config.embedding.batch_size, 64);
    EXPECT_EQ(config.embedding.base_url, "https://api.openai.com/v1");
    EXPECT_EQ(config.embedding.api_key_env, "OPENAI_API_KEY");
    EXPECT_DOUBLE_EQ(config.embedding.timeout_seconds, 30);
    EXPECT_EQ(config.embedding.max_retries, 5);
    EXPECT_EQ(config.search.mode, "hybrid");
    EXPECT_EQ(config.search.k, 10);
    EXPECT_EQ(config.search.rrf_k, 60);
    EXPECT_EQ(config.search.ef_search, 128);
    EXPECT_EQ(config.server.host, "127.0.0.1");
    EXPECT_EQ(config.server.port, 8080);
    EXPECT_TRUE(config.server.allowed_origins.empty());
    EXPECT_DOUBLE_EQ(config.server.session_timeout, 3600);
    EXPECT_DOUBLE_EQ(config.server.shutdown_timeout, 30);
    EXPECT_EQ(config.performance.workers, 4);
    EXPECT_EQ(config.performance.max_connections, 1000);
    EXPECT_DOUBLE_EQ(config.performance.request_timeout, 30);
    EXPECT_EQ(config.performance.max_request_size.bytes, 4 * 1024 * 1024);
    EXPECT_TRUE(config.performance.caching.enabled);
    EXPECT_EQ(config.performance.caching.max_memory.bytes, 256'000'000);
    EXPECT_TRUE(Validate(config).ok()) << Validate(config).ToString();
}

TEST(Config, LoadWithoutFileGivesValidatedDefaults) {
    Result<Config> loaded = LoadConfig(std::nullopt, FakeEnv({}), FakeNames({}));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    Config expected;
    expected.source = "defaults";
    EXPECT_EQ(*loaded, expected);
}

TEST(Config, EmptyOrCommentOnlyFileGivesDefaults) {
    Config expected;
    expected.source = "config.yaml";
    for (const std::string text :
         {"", "\n\n", "# nothing configured yet\n", "~\n", "store:\nindex:\n  chunk:\nembedding:\nsearch:\n"}) {
        Result<Config> parsed = Parse(text);
        ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
        EXPECT_EQ(*parsed, expected) << text;
    }
}

TEST(Config, FullValidFileSetsEveryKey) {
    const std::string text = R"(# every key
store:
  path: /var/lib/signal-hub
index:
  collection: my-repo
  max_file_bytes: 2097152
  default_excludes: false
  exclude: ["third_party/", "*.pb.go"]
  follow_symlinks: true
  batch_size: 512
  chunk:
    max_lines: 80
    overlap_lines: 5
    window_lines: 40
    max_chars: 4000
embedding:
  provider: openai
  model: text-embedding-3-small
  dimension: 1536
  batch_size: 128
  base_url: http://127.0.0.1:11434/v1
  api_key_env: MY_KEY
  timeout_seconds: 12.5
  max_retries: 3
search:
  mode: lexical
  k: 25
  rrf_k: 30
  ef_search: 256
server:
  host: 0.0.0.0
  port: 9000
  allowed_origins: ["https://ide.example.com"]
  session_timeout: 600
  shutdown_timeout: 10
performance:
  workers: 8
  max_connections: 50
  request_timeout: 5.5
  max_request_size: 1MiB
  caching:
    enabled: false
    max_memory: 4GB
)";
    Result<Config> parsed = Parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    const Config& c = *parsed;
    EXPECT_EQ(c.source, "config.yaml");
    EXPECT_EQ(c.store.path, "/var/lib/signal-hub");
    EXPECT_EQ(c.index.collection, "my-repo");
    EXPECT_EQ(c.index.max_file_bytes, 2097152);
    EXPECT_FALSE(c.index.default_excludes);
    EXPECT_EQ(c.index.exclude, (std::vector<std::string>{"third_party/", "*.pb.go"}));
    EXPECT_TRUE(c.index.follow_symlinks);
    EXPECT_EQ(c.index.batch_size, 512);
    EXPECT_EQ(c.index.chunk.max_lines, 80);
    EXPECT_EQ(c.index.chunk.overlap_lines, 5);
    EXPECT_EQ(c.index.chunk.window_lines, 40);
    EXPECT_EQ(c.index.chunk.max_chars, 4000);
    EXPECT_EQ(c.embedding.provider, "openai");
    EXPECT_EQ(c.embedding.model, "text-embedding-3-small");
    EXPECT_EQ(c.embedding.dimension, 1536);
    EXPECT_EQ(c.embedding.batch_size, 128);
    EXPECT_EQ(c.embedding.base_url, "http://127.0.0.1:11434/v1");
    EXPECT_EQ(c.embedding.api_key_env, "MY_KEY");
    EXPECT_DOUBLE_EQ(c.embedding.timeout_seconds, 12.5);
    EXPECT_EQ(c.embedding.max_retries, 3);
    EXPECT_EQ(c.search.mode, "lexical");
    EXPECT_EQ(c.search.k, 25);
    EXPECT_EQ(c.search.rrf_k, 30);
    EXPECT_EQ(c.search.ef_search, 256);
    EXPECT_EQ(c.server.host, "0.0.0.0");
    EXPECT_EQ(c.server.port, 9000);
    EXPECT_EQ(c.server.allowed_origins, std::vector<std::string>{"https://ide.example.com"});
    EXPECT_DOUBLE_EQ(c.server.session_timeout, 600);
    EXPECT_DOUBLE_EQ(c.server.shutdown_timeout, 10);
    EXPECT_EQ(c.performance.workers, 8);
    EXPECT_EQ(c.performance.max_connections, 50);
    EXPECT_DOUBLE_EQ(c.performance.request_timeout, 5.5);
    EXPECT_EQ(c.performance.max_request_size.bytes, 1024 * 1024);
    EXPECT_FALSE(c.performance.caching.enabled);
    EXPECT_EQ(c.performance.caching.max_memory.bytes, 4'000'000'000);
    EXPECT_TRUE(Validate(c).ok()) << Validate(c).ToString();
}

TEST(Config, PartialFileKeepsOtherDefaults) {
    Result<Config> parsed = Parse("search:\n  k: 3\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    Config expected;
    expected.source = "config.yaml";
    expected.search.k = 3;
    EXPECT_EQ(*parsed, expected);
}

TEST(Config, InterpolatesVariablesDefaultsAndEscapes) {
    const std::string text = R"(store:
  path: ${DATA}/store
index:
  collection: ${COLLECTION:-fallback}
  exclude: ["${GEN:-generated}/", "$${NOT_A_VAR}", "cost$"]
  max_file_bytes: ${MAX_BYTES:-4096}
embedding:
  model: ${EMPTY:-used-because-empty}
  base_url: "${SCHEME}://${HOST:-localhost}:8080/v1"
  api_key_env: ${EMPTY}
search:
  k: ${K}
)";
    Result<Config> parsed =
        Parse(text, {{"DATA", "/data"}, {"SCHEME", "http"}, {"EMPTY", ""}, {"K", "42"}, {"GEN", "gen"}});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->store.path, "/data/store");
    EXPECT_EQ(parsed->index.collection, "fallback");
    EXPECT_EQ(parsed->index.exclude, (std::vector<std::string>{"gen/", "${NOT_A_VAR}", "cost$"}));
    EXPECT_EQ(parsed->index.max_file_bytes, 4096);
    EXPECT_EQ(parsed->embedding.model, "used-because-empty");
    EXPECT_EQ(parsed->embedding.base_url, "http://localhost:8080/v1");
    EXPECT_EQ(parsed->embedding.api_key_env, "");
    EXPECT_EQ(parsed->search.k, 42);
}

TEST(Config, InterpolationResultIsNotReparsedAsYaml) {
    Result<Config> parsed = Parse("index:\n  collection: ${C}\n", {{"C", "[a, b]: {x"}});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->index.collection, "[a, b]: {x");
}

TEST(Config, UnsetVariableIsAnErrorNamingVariableKeyAndLine) {
    const std::string text = "store:\n  path: x\nembedding:\n  provider: openai\n  api_key_env: ${FOO}\n";
    EXPECT_EQ(ParseError(text),
              "config.yaml:5:16: embedding.api_key_env: environment variable FOO is not set "
              "(use ${FOO:-default} to give a default)");
}

TEST(Config, MalformedReferencesAreErrors) {
    EXPECT_THAT(ParseError("store:\n  path: ${DATA\n"),
                HasSubstr("config.yaml:2:9: store.path: unterminated '${DATA'"));
    EXPECT_THAT(ParseError("store:\n  path: ${1X}\n"),
                HasSubstr("config.yaml:2:9: store.path: invalid variable reference '${1X}'"));
    EXPECT_THAT(ParseError("store:\n  path: ${A-b}\n"), HasSubstr("invalid variable reference '${A-b}'"));
    EXPECT_THAT(ParseError("store:\n  path: ${}\n"), HasSubstr("invalid variable reference '${}'"));
}

TEST(Config, InterpolatedValueIsTypeChecked) {
    EXPECT_EQ(ParseError("search:\n  k: ${K}\n", {{"K", "ten"}}),
              "config.yaml:2:6: search.k: expected an integer, found 'ten' (after interpolating '${K}')");
}

TEST(Config, UnknownKeyReportsLineAndSuggestion) {
    EXPECT_EQ(ParseError("embedding:\n  provider: builtin\n  modle: x\n"),
              "config.yaml:3:3: unknown key 'embedding.modle' (did you mean 'model'?)");
    EXPECT_EQ(ParseError("serach:\n  k: 3\n"), "config.yaml:1:1: unknown key 'serach' (did you mean 'search'?)");
    EXPECT_EQ(ParseError("search:\n  K: 3\n"), "config.yaml:2:3: unknown key 'search.K' (did you mean 'k'?)");
}

TEST(Config, UnknownKeyWithoutCloseMatchListsTheValidKeys) {
    EXPECT_EQ(ParseError("search:\n  colour: blue\n"),
              "config.yaml:2:3: unknown key 'search.colour' (keys in 'search': mode, k, rrf_k, ef_search)");
    EXPECT_EQ(ParseError("plugins: []\n"),
              "config.yaml:1:1: unknown key 'plugins' (sections: database, store, index, embedding, search, server, "
              "performance, security, monitoring)");
}

TEST(Config, KeyInTheWrongSectionPointsToItsSection) {
    EXPECT_EQ(ParseError("store:\n  ef_search: 5\n"),
              "config.yaml:2:3: unknown key 'store.ef_search' (did you mean 'search.ef_search'?)");
}

TEST(Config, NestedUnknownKeyIsReported) {
    EXPECT_EQ(ParseError("index:\n  chunk:\n    max_lines: 50\n    foo: 1\n"),
              "config.yaml:4:5: unknown key 'index.chunk.foo' "
              "(keys in 'index.chunk': max_lines, overlap_lines, window_lines, max_chars)");
    EXPECT_EQ(ParseError("index:\n  chunk:\n    max_line: 50\n"),
              "config.yaml:3:5: unknown key 'index.chunk.max_line' (did you mean 'max_lines'?)");
}

TEST(Config, WrongTypesNameKeyLineExpectedTypeAndValue) {
    EXPECT_EQ(ParseError("search:\n  k: ten\n"), "config.yaml:2:6: search.k: expected an integer, found 'ten'");
    EXPECT_EQ(ParseError("search:\n  k: 2.5\n"),
              "config.yaml:2:6: search.k: expected an integer, found the decimal number '2.5'");
    EXPECT_EQ(ParseError("search:\n  k: 99999999999\n"),
              "config.yaml:2:6: search.k: expected an integer between -2147483648 and 2147483647, "
              "found '99999999999'");
    EXPECT_EQ(ParseError("index:\n  max_file_bytes: 99999999999999999999\n"),
              "config.yaml:2:19: index.max_file_bytes: expected an integer between -9223372036854775808 and "
              "9223372036854775807, found '99999999999999999999'");
    EXPECT_EQ(ParseError("index:\n  follow_symlinks: yes\n"),
              "config.yaml:2:20: index.follow_symlinks: expected a boolean (true or false), found 'yes'");
    EXPECT_EQ(ParseError("index: [a, b]\n"), "config.yaml:1:8: index: expected a mapping, found a list");
    EXPECT_EQ(ParseError("index:\n  chunk: 5\n"), "config.yaml:2:10: index.chunk: expected a mapping, found '5'");
    EXPECT_EQ(ParseError("store:\n  path: {a: 1}\n"),
              "config.yaml:2:9: store.path: expected a string, found a mapping");
    EXPECT_EQ(ParseError("search:\n  k:\n"), "config.yaml:2:3: search.k: expected an integer, found null");
    EXPECT_EQ(ParseError("index:\n  exclude: '*.go'\n"),
              "config.yaml:2:12: index.exclude: expected a list of strings, found '*.go'");
    EXPECT_EQ(ParseError("index:\n  exclude:\n    - a\n    - [b]\n"),
              "config.yaml:4:7: index.exclude[1]: expected a string, found a list");
    EXPECT_EQ(ParseError("embedding:\n  timeout_seconds: soon\n"),
              "config.yaml:2:20: embedding.timeout_seconds: expected a number, found 'soon'");
    EXPECT_EQ(ParseError("embedding:\n  timeout_seconds: .inf\n"),
              "config.yaml:2:20: embedding.timeout_seconds: expected a number, found '.inf'");
}

TEST(Config, AcceptedScalarSpellings) {
    Result<Config> parsed = Parse(
        "index:\n  follow_symlinks: True\n  default_excludes: FALSE\n  exclude:\nsearch:\n  k: +7\n"
        "embedding:\n  timeout_seconds: 1e1\n  max_retries: \"4\"\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_TRUE(parsed->index.follow_symlinks);
    EXPECT_FALSE(parsed->index.default_excludes);
    EXPECT_TRUE(parsed->index.exclude.empty());
    EXPECT_EQ(parsed->search.k, 7);
    EXPECT_DOUBLE_EQ(parsed->embedding.timeout_seconds, 10);
    EXPECT_EQ(parsed->embedding.max_retries, 4);
}

TEST(Config, UnknownMonitoringSectionsAreRejected) {
    EXPECT_EQ(ParseError("monitoring:\n  loging: {}\n"),
              "config.yaml:2:3: unknown key 'monitoring.loging' (did you mean 'logging'?)");
    EXPECT_EQ(ParseError("monitoring:\n  alerts: {}\n"),
              "config.yaml:2:3: unknown key 'monitoring.alerts' (keys in 'monitoring': logging, metrics, tracing)");
}

TEST(Config, MonitoringTracingParsesAndValidates) {
    const TracingConfig defaults;
    EXPECT_FALSE(defaults.enabled);
    EXPECT_EQ(defaults.jaeger_endpoint, "");
    EXPECT_EQ(defaults.service_name, "signal-hub");
    EXPECT_DOUBLE_EQ(defaults.sample_ratio, 1.0);
    EXPECT_EQ(defaults.max_queue_spans, 2048);
    EXPECT_EQ(defaults.max_batch_spans, 512);
    EXPECT_DOUBLE_EQ(defaults.export_interval, 5);
    EXPECT_DOUBLE_EQ(defaults.export_timeout, 10);
    EXPECT_TRUE(Validate(Config{}).ok());

    Result<Config> parsed = Parse(
        "monitoring:\n  tracing: {enabled: true, jaeger_endpoint: 'http://jaeger:4318', service_name: hub-eu,\n"
        "            sample_ratio: 0.1, max_queue_spans: 100, max_batch_spans: 10, export_interval: 0.5,\n"
        "            export_timeout: 3}\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    const TracingConfig& t = parsed->monitoring.tracing;
    EXPECT_TRUE(t.enabled);
    EXPECT_EQ(t.jaeger_endpoint, "http://jaeger:4318");
    EXPECT_EQ(t.service_name, "hub-eu");
    EXPECT_DOUBLE_EQ(t.sample_ratio, 0.1);
    EXPECT_EQ(t.max_queue_spans, 100);
    EXPECT_EQ(t.max_batch_spans, 10);
    EXPECT_DOUBLE_EQ(t.export_interval, 0.5);
    EXPECT_DOUBLE_EQ(t.export_timeout, 3);
    EXPECT_TRUE(Validate(*parsed).ok()) << Validate(*parsed).ToString();

    auto invalid = [](const std::string& text) {
        Result<Config> c = Parse(text);
        EXPECT_TRUE(c.ok()) << c.status().ToString();
        return c.ok() ? Validate(*c).message() : std::string();
    };
    EXPECT_THAT(invalid("monitoring:\n  tracing: {enabled: true}\n"),
                HasSubstr("monitoring.tracing.jaeger_endpoint: is required when tracing is enabled"));
    EXPECT_THAT(invalid("monitoring:\n  tracing: {enabled: true, jaeger_endpoint: 'udp://jaeger:6831'}\n"),
                HasSubstr("monitoring.tracing.jaeger_endpoint: must be an http:// or https:// URL"));
    // A disabled section is still checked, so that turning it on later does not surprise.
    const std::string bad = invalid(
        "monitoring:\n  tracing: {sample_ratio: 1.5, max_queue_spans: 10, max_batch_spans: 11, export_interval: 0,"
        " service_name: ' '}\n");
    EXPECT_THAT(bad, HasSubstr("monitoring.tracing.sample_ratio: must be between 0 and 1, got 1.5"));
    EXPECT_THAT(bad, HasSubstr("monitoring.tracing.max_batch_spans: must be between 1 and 10, got 11"));
    EXPECT_THAT(bad, HasSubstr("monitoring.tracing.export_interval: must be a number of seconds greater than 0"));
    EXPECT_THAT(bad, HasSubstr("monitoring.tracing.service_name: must not be empty"));
}

TEST(Config, MonitoringLoggingParsesAndValidates) {
    const LoggingConfig defaults;
    EXPECT_EQ(defaults.level, "info");
    EXPECT_EQ(defaults.format, "text");
    EXPECT_EQ(defaults.output, "stderr");
    Result<Config> parsed = Parse("monitoring:\n  logging: {level: INFO, format: json, output: stdout}\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->monitoring.logging.level, "INFO");
    EXPECT_EQ(parsed->monitoring.logging.format, "json");
    EXPECT_EQ(parsed->monitoring.logging.output, "stdout");
    EXPECT_TRUE(Validate(*parsed).ok()) << Validate(*parsed).ToString();
    Result<Config> file = Parse("monitoring:\n  logging:\n    output: /var/log/signal-hub/hub.log\n    level: debug\n");
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_EQ(file->monitoring.logging.output, "/var/log/signal-hub/hub.log");
    EXPECT_TRUE(Validate(*file).ok());

    auto invalid = [](const std::string& text) {
        Result<Config> c = Parse(text);
        EXPECT_TRUE(c.ok()) << c.status().ToString();
        return c.ok() ? Validate(*c).message() : std::string();
    };
    EXPECT_EQ(invalid("monitoring:\n  logging: {level: verbose}\n"),
              "monitoring.logging.level: must be one of debug, info, warn, error, got 'verbose'");
    EXPECT_EQ(invalid("monitoring:\n  logging: {format: logfmt}\n"),
              "monitoring.logging.format: must be one of json, text, got 'logfmt'");
    EXPECT_EQ(invalid("monitoring:\n  logging: {output: ''}\n"),
              "monitoring.logging.output: must be stdout, stderr or a file path");

    const std::map<std::string, std::string> vars = {{"SIGNAL_HUB_MONITORING__LOGGING__FORMAT", "json"},
                                                     {"SIGNAL_HUB_MONITORING__LOGGING__LEVEL", "warn"},
                                                     {"SIGNAL_HUB_MONITORING__LOGGING__OUTPUT", "stdout"}};
    Result<Config> loaded = LoadConfig(std::nullopt, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->monitoring.logging, (LoggingConfig{"warn", "json", "stdout"}));
}

TEST(Config, MonitoringMetricsParsesAndValidates) {
    Config defaults;
    EXPECT_FALSE(defaults.monitoring.metrics.enabled);  // off by default: one port per `serve` on a laptop
    EXPECT_EQ(defaults.monitoring.metrics.host, "127.0.0.1");
    EXPECT_EQ(defaults.monitoring.metrics.port, 9090);
    EXPECT_EQ(defaults.monitoring.metrics.path, "/metrics");
    EXPECT_TRUE(Validate(defaults).ok());

    Result<Config> parsed =
        Parse("monitoring:\n  metrics: {enabled: true, host: 0.0.0.0, port: 9464, path: /prometheus}\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_TRUE(parsed->monitoring.metrics.enabled);
    EXPECT_EQ(parsed->monitoring.metrics.host, "0.0.0.0");
    EXPECT_EQ(parsed->monitoring.metrics.port, 9464);
    EXPECT_EQ(parsed->monitoring.metrics.path, "/prometheus");
    EXPECT_TRUE(Validate(*parsed).ok());

    Result<Config> bad = Parse("monitoring:\n  metrics: {host: ' ', port: 70000, path: metrics}\n");
    ASSERT_TRUE(bad.ok());
    const std::string message = Validate(*bad).message();
    EXPECT_THAT(message, HasSubstr("monitoring.metrics.host: must not be empty"));
    EXPECT_THAT(message, HasSubstr("monitoring.metrics.port: must be between 0 and 65535, got 70000"));
    EXPECT_THAT(message, HasSubstr("monitoring.metrics.path: must start with '/'"));

    Result<Config> same = Parse("server: {port: 9100}\nmonitoring:\n  metrics: {enabled: true, port: 9100}\n");
    ASSERT_TRUE(same.ok());
    EXPECT_THAT(Validate(*same).message(),
                HasSubstr("monitoring.metrics.port: must differ from server.port (9100): metrics have their own "
                          "listener"));
    Result<Config> same_disabled =
        Parse("server: {port: 9100}\nmonitoring:\n  metrics: {port: 9100, enabled: false}\n");
    ASSERT_TRUE(same_disabled.ok());
    EXPECT_TRUE(Validate(*same_disabled).ok());
    Result<Config> both_ephemeral = Parse("server: {port: 0}\nmonitoring:\n  metrics: {port: 0}\n");
    ASSERT_TRUE(both_ephemeral.ok());
    EXPECT_TRUE(Validate(*both_ephemeral).ok());

    EXPECT_THAT(ParseError("monitoring:\n  metrics: {prot: 1}\n"),
                HasSubstr("unknown key 'monitoring.metrics.prot'"));
}

TEST(Config, TlsSectionParsesAndValidates) {
    Result<Config> parsed = Parse(
        "security:\n  tls:\n    enabled: true\n    cert_file: /certs/server.crt\n    key_file: /certs/server.key\n"
        "    client_ca_file: /certs/ca.crt\n    client_auth: require\n    min_version: 1.3\n"
        "    hsts_max_age: 0\n    reload_interval: 5\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    const TlsConfig& tls = parsed->security.tls;
    EXPECT_TRUE(tls.enabled);
    EXPECT_EQ(tls.cert_file, "/certs/server.crt");
    EXPECT_EQ(tls.key_file, "/certs/server.key");
    EXPECT_EQ(tls.client_ca_file, "/certs/ca.crt");
    EXPECT_EQ(tls.client_auth, "require");
    EXPECT_EQ(tls.min_version, "1.3");
    EXPECT_EQ(tls.hsts_max_age, 0);
    EXPECT_DOUBLE_EQ(tls.reload_interval, 5);
    EXPECT_TRUE(Validate(*parsed).ok()) << Validate(*parsed).ToString();

    Config defaults;
    EXPECT_FALSE(defaults.security.tls.enabled);
    EXPECT_EQ(defaults.security.tls.client_auth, "none");
    EXPECT_EQ(defaults.security.tls.min_version, "1.2");
    EXPECT_EQ(defaults.security.tls.hsts_max_age, 31536000);
    EXPECT_DOUBLE_EQ(defaults.security.tls.reload_interval, 60);

    Result<Config> enabled_only = Parse("security:\n  tls: {enabled: true}\n");
    ASSERT_TRUE(enabled_only.ok());
    EXPECT_EQ(Validate(*enabled_only).message(),
              "security.tls.cert_file: is required when security.tls.enabled is true (a PEM file: the server "
              "certificate, then its intermediates); security.tls.key_file: is required when security.tls.enabled is "
              "true (the PEM private key of cert_file)");

    Result<Config> bad = Parse(
        "security:\n  tls:\n    client_auth: optional\n    min_version: \"1.1\"\n    hsts_max_age: -1\n"
        "    reload_interval: -2\n");
    ASSERT_TRUE(bad.ok());
    const std::string message = Validate(*bad).message();
    EXPECT_THAT(message, HasSubstr("security.tls.client_ca_file: is required when security.tls.client_auth is "
                                   "'optional'"));
    EXPECT_THAT(message, HasSubstr("security.tls.min_version: must be one of 1.2, 1.3, got '1.1'"));
    EXPECT_THAT(message, HasSubstr("security.tls.hsts_max_age: must be between 0 and"));
    EXPECT_THAT(message, HasSubstr("security.tls.reload_interval: must be a number of seconds from 0"));
    Result<Config> weird_auth = Parse("security:\n  tls:\n    client_auth: maybe\n");
    ASSERT_TRUE(weird_auth.ok());
    EXPECT_THAT(Validate(*weird_auth).message(),
                HasSubstr("security.tls.client_auth: must be one of none, optional, require, got 'maybe'"));
    EXPECT_EQ(ParseError("security:\n  tls:\n    cert: x\n"),
              "config.yaml:3:5: unknown key 'security.tls.cert' (keys in 'security.tls': enabled, cert_file, key_file, "
              "client_ca_file, client_auth, min_version, hsts_max_age, reload_interval)");
}

TEST(Config, ByteSizesTakeIntegersAndUnits) {
    const std::vector<std::pair<std::string, std::int64_t>> cases = {
        {"4096", 4096},           {"1KB", 1000},          {"1kb", 1000},           {"64KiB", 65536},
        {"1.5MB", 1'500'000},     {"2 MiB", 2097152},     {"4GB", 4'000'000'000},  {"1GiB", 1LL << 30},
        {"0", 0},                 {"10B", 10}};
    for (const auto& [text, bytes] : cases) {
        Result<Config> parsed = Parse("performance:\n  caching:\n    max_memory: " + text + "\n");
        ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
        EXPECT_EQ(parsed->performance.caching.max_memory.bytes, bytes) << text;
    }
    EXPECT_EQ(ParseError("performance:\n  max_request_size: 4 parsecs\n"),
              "config.yaml:2:21: performance.max_request_size: expected a size in bytes such as 4194304, 512MB, 4GB "
              "or 64KiB, found '4 parsecs'");
    EXPECT_EQ(ParseError("performance:\n  max_request_size: -5\n"),
              "config.yaml:2:21: performance.max_request_size: expected a size in bytes such as 4194304, 512MB, 4GB "
              "or 64KiB, found '-5'");
    EXPECT_EQ(ParseError("performance:\n  max_request_size: [1]\n"),
              "config.yaml:2:21: performance.max_request_size: expected a size in bytes (e.g. 4194304, 512MB, 4GB, "
              "64KiB), found a list");
}

TEST(Config, DuplicateKeysAreErrors) {
    EXPECT_EQ(ParseError("search:\n  k: 1\n  mode: vector\n  k: 2\n"),
              "config.yaml:4:3: duplicate key 'search.k' (first given on line 2)");
    EXPECT_EQ(ParseError("search: {k: 1}\nsearch: {k: 2}\n"),
              "config.yaml:2:1: duplicate key 'search' (first given on line 1)");
}

TEST(Config, DocumentShapeErrors) {
    EXPECT_EQ(ParseError("- store\n- index\n"),
              "config.yaml:1:1: expected a mapping of sections (database, store, index, embedding, search, server, "
              "performance, security, monitoring), found a list");
    EXPECT_THAT(ParseError("search: {k: 1}\n---\nsearch: {k: 2}\n"),
                HasSubstr("config.yaml:3:1: the file holds 2 YAML documents"));
    EXPECT_THAT(ParseError("? [a, b]\n: 1\n"), HasSubstr("config.yaml:1:3: keys must be plain names, found a list"));
}

TEST(Config, MalformedYamlReportsLineAndColumn) {
    const std::string message = ParseError("search:\n  k: [1, 2\nstore:\n  path: x\n");
    EXPECT_THAT(message, ::testing::StartsWith("config.yaml:"));
    EXPECT_THAT(message, HasSubstr(": invalid YAML: "));
    // The error is on or after line 2, where the unterminated flow sequence begins.
    const int line = std::stoi(message.substr(std::string("config.yaml:").size()));
    EXPECT_GE(line, 2);
    EXPECT_THAT(ParseError("search:\n\tk: 1\n"), ::testing::MatchesRegex("config\\.yaml:2:[0-9]+: invalid YAML: .+"));
}

TEST(Config, EnvironmentOverridesApplyAfterTheFile) {
    TempDir dir;
    const std::string file = dir.Write("c.yaml", "embedding:\n  provider: builtin\nsearch:\n  k: 5\n");
    const std::map<std::string, std::string> vars = {
        {"SIGNAL_HUB_EMBEDDING__PROVIDER", "openai"},
        {"SIGNAL_HUB_INDEX__CHUNK__MAX_LINES", "80"},
        {"SIGNAL_HUB_INDEX__EXCLUDE", "a/, *.gen.go,,"},
        {"SIGNAL_HUB_INDEX__FOLLOW_SYMLINKS", "true"},
        {"SIGNAL_HUB_EMBEDDING__TIMEOUT_SECONDS", "2.5"},
        {"SIGNAL_HUB_INDEX__MAX_FILE_BYTES", "5000000000"},
        {"SIGNAL_HUB_EMBEDDING__MODEL", ""},
        {"UNRELATED", "x"},
    };
    Result<Config> loaded = LoadConfig(file, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->source, file);
    EXPECT_EQ(loaded->embedding.provider, "openai");
    EXPECT_EQ(loaded->search.k, 5);  // from the file, not overridden
    EXPECT_EQ(loaded->index.chunk.max_lines, 80);
    EXPECT_EQ(loaded->index.exclude, (std::vector<std::string>{"a/", "*.gen.go"}));
    EXPECT_TRUE(loaded->index.follow_symlinks);
    EXPECT_DOUBLE_EQ(loaded->embedding.timeout_seconds, 2.5);
    EXPECT_EQ(loaded->index.max_file_bytes, 5000000000LL);
    EXPECT_EQ(loaded->embedding.model, "");
}

TEST(Config, EmptyListOverrideClearsTheList) {
    TempDir dir;
    const std::string file = dir.Write("c.yaml", "index:\n  exclude: [a, b]\n");
    Result<Config> loaded = LoadConfig(file, FakeEnv({{"SIGNAL_HUB_INDEX__EXCLUDE", ""}}));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(loaded->index.exclude.empty());
}

TEST(Config, OverrideWithWrongTypeNamesTheVariable) {
    const std::map<std::string, std::string> vars = {{"SIGNAL_HUB_SEARCH__K", "many"}};
    Result<Config> loaded = LoadConfig(std::nullopt, FakeEnv(vars), FakeNames(vars));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(loaded.status().message(),
              "environment variable SIGNAL_HUB_SEARCH__K: search.k: expected an integer, found 'many'");
}

TEST(Config, OverrideNamingNoKeyIsAnError) {
    auto error_for = [](const std::string& name) {
        const std::map<std::string, std::string> vars = {{name, "1"}};
        Result<Config> loaded = LoadConfig(std::nullopt, FakeEnv(vars), FakeNames(vars));
        EXPECT_FALSE(loaded.ok()) << name;
        return loaded.ok() ? std::string() : loaded.status().message();
    };
    EXPECT_EQ(error_for("SIGNAL_HUB_EMBEDDING__MODLE"),
              "environment variable SIGNAL_HUB_EMBEDDING__MODLE: does not name a configuration key "
              "('embedding.modle' is unknown; did you mean SIGNAL_HUB_EMBEDDING__MODEL?)");
    EXPECT_EQ(error_for("SIGNAL_HUB_INDEX__CHUNK__FOO"),
              "environment variable SIGNAL_HUB_INDEX__CHUNK__FOO: does not name a configuration key "
              "('index.chunk.foo' is unknown)");
    EXPECT_EQ(error_for("SIGNAL_HUB_search__k"),
              "environment variable SIGNAL_HUB_search__k: override variables are upper case "
              "(did you mean SIGNAL_HUB_SEARCH__K?)");
    EXPECT_EQ(error_for("SIGNAL_HUB_INDEX__CHUNK"),
              "environment variable SIGNAL_HUB_INDEX__CHUNK: 'index.chunk' is a section, not a key; name one of its "
              "keys, e.g. SIGNAL_HUB_INDEX__CHUNK__MAX_LINES");
}

TEST(Config, DatabaseReadReplicasAreValidated) {
    auto parsed = Parse(
        "database:\n  type: postgresql\n  url: postgresql://hub@primary/hub\n"
        "  read_urls: [postgresql://hub@r1/hub, postgres://hub@r2/hub]\n  max_replica_lag: 2.5\n"
        "  replica_check_interval: 0.5\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->database.read_urls.size(), 2u);
    EXPECT_DOUBLE_EQ(parsed->database.max_replica_lag, 2.5);
    EXPECT_DOUBLE_EQ(parsed->database.replica_check_interval, 0.5);
    EXPECT_TRUE(Validate(*parsed).ok()) << Validate(*parsed).message();
    EXPECT_DOUBLE_EQ(Config{}.database.max_replica_lag, 30);
    EXPECT_DOUBLE_EQ(Config{}.database.replica_check_interval, 5);

    auto invalid = [](const std::string& text) {
        auto c = Parse(text);
        EXPECT_TRUE(c.ok()) << c.status().ToString();
        return c.ok() ? Validate(*c).message() : std::string();
    };
    const std::string pg = "database:\n  type: postgresql\n  url: postgresql://hub@primary/hub\n";
    const std::string wrong = invalid(pg + "  read_urls: [mysql://u:pw@r1/db]\n");
    EXPECT_NE(wrong.find("database.read_urls[0]: must be a postgresql:// URL"), std::string::npos) << wrong;
    EXPECT_EQ(wrong.find("pw"), std::string::npos) << wrong;
    EXPECT_NE(invalid("database:\n  read_urls: [postgresql://r1/db]\n")
                  .find("database.read_urls: read replicas need database.type postgresql"),
              std::string::npos);
    EXPECT_NE(invalid(pg + "  max_replica_lag: 0\n").find("database.max_replica_lag: must be a number of seconds"),
              std::string::npos);
    EXPECT_NE(invalid(pg + "  replica_check_interval: 7200\n").find("database.replica_check_interval"),
              std::string::npos);
}

TEST(Config, DatabaseSectionSelectsPostgresqlAndValidatesIt) {
    auto parsed = Parse(
        "database:\n  type: postgresql\n  url: postgresql://hub:secret@db.internal:5432/hub?sslmode=require\n"
        "  pool_size: 20\n  max_overflow: 40\n  pool_timeout: 5\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->database.type, "postgresql");
    EXPECT_EQ(parsed->database.pool_size, 20);
    EXPECT_EQ(parsed->database.max_overflow, 40);
    EXPECT_DOUBLE_EQ(parsed->database.pool_timeout, 5);
    EXPECT_EQ(Config{}.database.type, "embedded");

    auto invalid = [](const std::string& text) {
        auto c = Parse(text);
        EXPECT_TRUE(c.ok()) << c.status().ToString();
        return c.ok() ? Validate(*c).message() : std::string();
    };
    EXPECT_NE(invalid("database:\n  type: postgresql\n")
                  .find("database.url: is required when database.type is postgresql "
                        "(postgresql://USER:PASSWORD@HOST:5432/DATABASE)"),
              std::string::npos);
    // The message never repeats a URL (it may hold a password).
    const std::string wrong = invalid("database:\n  type: postgresql\n  url: mysql://u:pw@h/db\n");
    EXPECT_NE(wrong.find("database.url: must be a postgresql:// URL"), std::string::npos) << wrong;
    EXPECT_EQ(wrong.find("pw"), std::string::npos) << wrong;
    EXPECT_NE(invalid("database:\n  type: mongodb\n").find("database.type: must be one of embedded, postgresql, chromadb"),
              std::string::npos);
    EXPECT_NE(invalid("database:\n  pool_size: 0\n").find("database.pool_size: must be between 1 and 1000"),
              std::string::npos);

    auto chroma = Parse("database:\n  type: chromadb\n  url: http://chroma.internal:8000?database=code\n");
    ASSERT_TRUE(chroma.ok()) << chroma.status().ToString();
    EXPECT_TRUE(Validate(*chroma).ok()) << Validate(*chroma).ToString();
    EXPECT_NE(invalid("database:\n  type: chromadb\n").find("database.url: is required when database.type is chromadb"),
              std::string::npos);
    const std::string not_http = invalid("database:\n  type: chromadb\n  url: postgresql://u:pw@h/db\n");
    EXPECT_NE(not_http.find("database.url: must be an http:// or https:// URL of the Chroma server"), std::string::npos)
        << not_http;
    EXPECT_EQ(not_http.find("pw"), std::string::npos) << not_http;
}

TEST(Config, NonOverrideSignalHubVariablesAreLeftAlone) {
    TempDir dir;
    const std::string file = dir.Write("c.yaml", "search:\n  k: 9\n");
    const std::map<std::string, std::string> vars = {{"SIGNAL_HUB_CONFIG", file}, {"SIGNAL_HUB_LOG", "debug"}};
    Result<Config> loaded = LoadConfig(std::nullopt, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->search.k, 9);
    EXPECT_EQ(loaded->source, file);
}

TEST(Config, ExplicitPathWinsOverSignalHubConfig) {
    TempDir dir;
    const std::string explicit_file = dir.Write("a.yaml", "search:\n  k: 1\n");
    const std::string env_file = dir.Write("b.yaml", "search:\n  k: 2\n");
    Result<Config> loaded = LoadConfig(explicit_file, FakeEnv({{"SIGNAL_HUB_CONFIG", env_file}}));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->search.k, 1);
    EXPECT_EQ(loaded->source, explicit_file);
}

TEST(Config, ValidationRejectsOutOfRangeValuesNamingKeyAndRange) {
    struct Case {
        std::function<void(Config&)> change;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {[](Config& c) { c.store.path = ""; }, "store.path: must not be empty"},
        {[](Config& c) { c.index.max_file_bytes = 0; }, "index.max_file_bytes: must be at least 1, got 0"},
        {[](Config& c) {
             c.index.exclude = {"ok", " "};
         },
         "index.exclude[1]: must not be empty"},
        {[](Config& c) { c.index.batch_size = 0; }, "index.batch_size: must be at least 1, got 0"},
        {[](Config& c) { c.index.chunk.max_lines = 3; }, "index.chunk.max_lines: must be at least 4, got 3"},
        {[](Config& c) { c.index.chunk.overlap_lines = 60; },
         "index.chunk.overlap_lines: must be at least 0 and less than half of index.chunk.max_lines (120), got 60"},
        {[](Config& c) { c.index.chunk.overlap_lines = -1; },
         "index.chunk.overlap_lines: must be at least 0 and less than half of index.chunk.max_lines (120), got -1"},
        {[](Config& c) { c.index.chunk.window_lines = 2; }, "index.chunk.window_lines: must be at least 4, got 2"},
        {[](Config& c) { c.index.chunk.max_chars = 199; }, "index.chunk.max_chars: must be at least 200, got 199"},
        {[](Config& c) { c.embedding.provider = "opnai"; },
         "embedding.provider: must be one of builtin, openai, got 'opnai'"},
        {[](Config& c) { c.embedding.dimension = 4; },
         "embedding.dimension: must be 0 (the provider's default) or between 8 and 8192, got 4"},
        {[](Config& c) { c.embedding.dimension = 8193; },
         "embedding.dimension: must be 0 (the provider's default) or between 8 and 8192, got 8193"},
        {[](Config& c) { c.embedding.batch_size = 0; }, "embedding.batch_size: must be between 1 and 2048, got 0"},
        {[](Config& c) { c.embedding.batch_size = 2049; },
         "embedding.batch_size: must be between 1 and 2048, got 2049"},
        {[](Config& c) { c.embedding.base_url = "api.openai.com/v1"; },
         "embedding.base_url: must be an http:// or https:// URL, got 'api.openai.com/v1'"},
        {[](Config& c) { c.embedding.api_key_env = "MY-KEY"; },
         "embedding.api_key_env: must be empty or an environment variable name"},
        {[](Config& c) { c.embedding.timeout_seconds = 0; },
         "embedding.timeout_seconds: must be a finite number greater than 0"},
        {[](Config& c) { c.embedding.max_retries = 21; }, "embedding.max_retries: must be between 0 and 20, got 21"},
        {[](Config& c) { c.embedding.max_retries = -1; }, "embedding.max_retries: must be between 0 and 20, got -1"},
        {[](Config& c) { c.search.mode = "semantic"; },
         "search.mode: must be one of hybrid, vector, lexical, got 'semantic'"},
        {[](Config& c) { c.search.k = 0; }, "search.k: must be between 1 and 1000, got 0"},
        {[](Config& c) { c.search.k = 1001; }, "search.k: must be between 1 and 1000, got 1001"},
        {[](Config& c) { c.search.rrf_k = 0; }, "search.rrf_k: must be at least 1, got 0"},
        {[](Config& c) { c.search.ef_search = 1001; }, "search.ef_search: must be between 1 and 1000, got 1001"},
        {[](Config& c) { c.database.hnsw_m = 1; }, "database.hnsw_m: must be between 2 and 100, got 1"},
        {[](Config& c) { c.database.hnsw_ef_construction = 1001; },
         "database.hnsw_ef_construction: must be between 4 and 1000, got 1001"},
        {[](Config& c) {
             c.database.hnsw_m = 64;
             c.database.hnsw_ef_construction = 100;
         },
         "database.hnsw_ef_construction: must be at least twice database.hnsw_m (128), got 100"},
        {[](Config& c) { c.server.host = " "; }, "server.host: must not be empty"},
        {[](Config& c) { c.server.port = 65536; }, "server.port: must be between 0 and 65535, got 65536"},
        {[](Config& c) { c.server.allowed_origins = {"example.com"}; },
         "server.allowed_origins[0]: must be \"*\" or an origin such as https://app.example.com, got 'example.com'"},
        {[](Config& c) { c.server.session_timeout = 0; },
         "server.session_timeout: must be a number of seconds greater than 0 and at most 2592000"},
        {[](Config& c) { c.server.shutdown_timeout = 3601; },
         "server.shutdown_timeout: must be a number of seconds greater than 0 and at most 3600"},
        {[](Config& c) { c.performance.workers = 0; }, "performance.workers: must be between 1 and 1024, got 0"},
        {[](Config& c) { c.performance.max_connections = 0; },
         "performance.max_connections: must be between 1 and 1000000, got 0"},
        {[](Config& c) { c.performance.request_timeout = -1; },
         "performance.request_timeout: must be a number of seconds greater than 0 and at most 3600"},
        {[](Config& c) { c.performance.max_request_size.bytes = 100; },
         "performance.max_request_size: must be between 1024 and 1073741824, got 100"},
    };
    for (const Case& test_case : cases) {
        Config config;
        test_case.change(config);
        Status status = Validate(config);
        ASSERT_FALSE(status.ok()) << test_case.expected;
        EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
        EXPECT_THAT(status.message(), ::testing::StartsWith(test_case.expected));
    }
}

TEST(Config, ValidationAcceptsBoundaryValues) {
    Config config;
    config.index.chunk.max_lines = 4;
    config.index.chunk.overlap_lines = 1;
    config.index.chunk.window_lines = 4;
    config.index.chunk.max_chars = 200;
    config.embedding.dimension = 8;
    config.embedding.batch_size = 2048;
    config.embedding.max_retries = 0;
    config.embedding.api_key_env = "";
    config.search.k = 1000;
    config.search.ef_search = 1;
    EXPECT_TRUE(Validate(config).ok()) << Validate(config).ToString();
    config.embedding.dimension = 8192;
    config.search.k = 1;
    config.search.ef_search = 1000;
    config.embedding.max_retries = 20;
    EXPECT_TRUE(Validate(config).ok()) << Validate(config).ToString();
}

TEST(Config, ValidationReportsEveryProblem) {
    Config config;
    config.search.k = 0;
    config.search.mode = "x";
    Status status = Validate(config);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(
        status.message(),
        "search.mode: must be one of hybrid, vector, lexical, got 'x'; search.k: must be between 1 and 1000, got 0");
}

TEST(Config, LoadConfigPlacesValidationErrorsAtTheirSource) {
    TempDir dir;
    const std::string file = dir.Write("c.yaml", "search:\n  mode: hybrid\n  k: 0\n");
    Result<Config> loaded = LoadConfig(file, FakeEnv({}));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(loaded.status().message(), file + ":3:6: search.k: must be between 1 and 1000, got 0");

    Result<Config> from_env = LoadConfig(file, FakeEnv({{"SIGNAL_HUB_SEARCH__K", "5000"}}));
    ASSERT_FALSE(from_env.ok());
    EXPECT_EQ(from_env.status().message(),
              "environment variable SIGNAL_HUB_SEARCH__K: search.k: must be between 1 and 1000, got 5000");
}

TEST(Config, MissingFileIsNotFoundNamingThePath) {
    TempDir dir;
    const std::string missing = dir.path() + "/nope.yaml";
    Result<Config> loaded = LoadConfig(missing, FakeEnv({}));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(loaded.status().message(), "config file '" + missing + "' not found");

    Result<Config> via_env = LoadConfig(std::nullopt, FakeEnv({{"SIGNAL_HUB_CONFIG", missing}}));
    ASSERT_FALSE(via_env.ok());
    EXPECT_EQ(via_env.status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(via_env.status().message(), "config file '" + missing + "' (from SIGNAL_HUB_CONFIG) not found");
}

TEST(Config, DirectoryIsNotAConfigFile) {
    TempDir dir;
    Result<Config> loaded = LoadConfig(dir.path(), FakeEnv({}));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(loaded.status().message(), HasSubstr("is a directory"));
}

TEST(Config, UnreadableFileIsPermissionDenied) {
    TempDir dir;
    const std::string file = dir.Write("c.yaml", "search:\n  k: 3\n");
    ASSERT_EQ(chmod(file.c_str(), 0), 0);
    ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);  // traversable by the unprivileged child
    // Root ignores permission bits: the check runs as nobody when we are root.
    const std::string failure = testing_support::RunUnprivileged([&]() -> std::string {
        Result<Config> loaded = LoadConfig(file, FakeEnv({}));
        if (loaded.ok()) return "an unreadable file was loaded";
        if (loaded.status().code() != ErrorCode::kPermissionDenied)
            return "expected PERMISSION_DENIED, got " + loaded.status().ToString();
        if (loaded.status().message().find(file) == std::string::npos)
            return "the message does not name the file: " + loaded.status().message();
        return "";
    });
    EXPECT_EQ(failure, "");
}

TEST(Config, FileErrorsCarryTheFilePath) {
    TempDir dir;
    const std::string file = dir.Write("c.yaml", "search:\n  k: 3\n  modee: x\n");
    Result<Config> loaded = LoadConfig(file, FakeEnv({}));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(loaded.status().message(), file + ":3:3: unknown key 'search.modee' (did you mean 'mode'?)");
}

TEST(Config, ProcessEnvReadsTheEnvironment) {
    ASSERT_EQ(setenv("SIGNAL_HUB_CONFIG_TEST_VAR", "value-1", 1), 0);
    EXPECT_EQ(ProcessEnv()("SIGNAL_HUB_CONFIG_TEST_VAR"), std::optional<std::string>("value-1"));
    const std::vector<std::string> names = ProcessEnvNames()();
    EXPECT_THAT(names, ::testing::Contains("SIGNAL_HUB_CONFIG_TEST_VAR"));
    ASSERT_EQ(unsetenv("SIGNAL_HUB_CONFIG_TEST_VAR"), 0);
    EXPECT_EQ(ProcessEnv()("SIGNAL_HUB_CONFIG_TEST_VAR"), std::nullopt);
}

TEST(Config, OverrideVariableNames) {
    EXPECT_EQ(OverrideVariable("store.path"), "SIGNAL_HUB_STORE__PATH");
    EXPECT_EQ(OverrideVariable("index.chunk.max_lines"), "SIGNAL_HUB_INDEX__CHUNK__MAX_LINES");
    const std::vector<std::string> paths = KeyPaths();
    EXPECT_EQ(paths.size(), 106u);
    EXPECT_EQ(paths.front(), "database.type");
    EXPECT_EQ(paths.back(), "monitoring.tracing.export_timeout");
}

TEST(Config, EveryKeyIsOverridableFromTheEnvironment) {
    // Setting every override to a valid value must change the configuration
    // and be accepted by the unknown-name check.
    std::map<std::string, std::string> vars;
    for (const std::string& path : KeyPaths()) vars[OverrideVariable(path)] = "8";
    vars[OverrideVariable("database.type")] = "postgresql";
    vars[OverrideVariable("database.url")] = "postgresql://h/db";
    vars[OverrideVariable("database.hnsw_ef_construction")] = "16";  // at least 2 * hnsw_m
    vars[OverrideVariable("store.path")] = "/s";
    vars[OverrideVariable("index.collection")] = "c";
    vars[OverrideVariable("index.default_excludes")] = "false";
    vars[OverrideVariable("index.follow_symlinks")] = "true";
    vars[OverrideVariable("index.exclude")] = "x";
    vars[OverrideVariable("database.read_urls")] = "postgresql://r1/db";
    vars[OverrideVariable("index.chunk.max_chars")] = "300";
    vars[OverrideVariable("embedding.provider")] = "openai";
    vars[OverrideVariable("embedding.model")] = "m";
    vars[OverrideVariable("embedding.base_url")] = "http://h/v1";
    vars[OverrideVariable("embedding.api_key_env")] = "K";
    vars[OverrideVariable("search.mode")] = "vector";
    vars[OverrideVariable("index.chunk.overlap_lines")] = "3";
    vars[OverrideVariable("server.host")] = "::1";
    vars[OverrideVariable("server.allowed_origins")] = "https://a.example, *";
    vars[OverrideVariable("performance.max_request_size")] = "8KiB";
    vars[OverrideVariable("performance.caching.enabled")] = "false";
    vars[OverrideVariable("security.api_keys.enabled")] = "true";
    vars[OverrideVariable("security.api_keys.storage")] = "vault";
    vars[OverrideVariable("security.api_keys.pepper_env")] = "P";
    vars[OverrideVariable("security.api_keys.database_url")] = "postgresql://k/db";
    vars[OverrideVariable("security.api_keys.vault_url")] = "https://v:8200";
    vars[OverrideVariable("security.api_keys.vault_auth")] = "kubernetes";
    vars[OverrideVariable("security.api_keys.vault_token_env")] = "T";
    vars[OverrideVariable("security.audit_log")] = "/a";
    vars[OverrideVariable("performance.caching.backend")] = "redis";
    vars[OverrideVariable("performance.caching.redis_url")] = "rediss://cache:6380/1";
    vars[OverrideVariable("performance.caching.redis_tls_ca_file")] = "/cache-ca.pem";
    vars[OverrideVariable("performance.caching.redis_tls_cert_file")] = "/cache-client.pem";
    vars[OverrideVariable("performance.caching.redis_tls_key_file")] = "/cache-client.key";
    vars[OverrideVariable("security.rate_limiting.enabled")] = "true";
    vars[OverrideVariable("security.rate_limiting.backend")] = "redis";
    vars[OverrideVariable("security.rate_limiting.redis_url")] = "rediss://:pw@rl:6379/2";
    vars[OverrideVariable("security.rate_limiting.redis_tls_ca_file")] = "/rl-ca.pem";
    vars[OverrideVariable("security.rate_limiting.redis_tls_cert_file")] = "/rl-client.pem";
    vars[OverrideVariable("security.rate_limiting.redis_tls_key_file")] = "/rl-client.key";
    vars[OverrideVariable("security.rate_limiting.fail_mode")] = "closed";
    vars[OverrideVariable("security.tls.enabled")] = "true";
    vars[OverrideVariable("security.tls.cert_file")] = "/c.pem";
    vars[OverrideVariable("security.tls.key_file")] = "/k.pem";
    vars[OverrideVariable("security.tls.client_ca_file")] = "/ca.pem";
    vars[OverrideVariable("security.tls.client_auth")] = "require";
    vars[OverrideVariable("security.tls.min_version")] = "1.3";
    vars[OverrideVariable("monitoring.logging.level")] = "debug";
    vars[OverrideVariable("monitoring.logging.format")] = "json";
    vars[OverrideVariable("monitoring.metrics.enabled")] = "true";
    vars[OverrideVariable("monitoring.metrics.host")] = "0.0.0.0";
    vars[OverrideVariable("monitoring.metrics.port")] = "9464";
    vars[OverrideVariable("monitoring.metrics.path")] = "/m";
    vars[OverrideVariable("monitoring.tracing.enabled")] = "true";
    vars[OverrideVariable("monitoring.tracing.jaeger_endpoint")] = "https://otel.internal:4318";
    vars[OverrideVariable("monitoring.tracing.service_name")] = "hub-blue";
    vars[OverrideVariable("monitoring.tracing.sample_ratio")] = "0.25";
    vars[OverrideVariable("monitoring.tracing.max_queue_spans")] = "4096";
    vars[OverrideVariable("monitoring.tracing.max_batch_spans")] = "256";
    vars[OverrideVariable("monitoring.tracing.export_interval")] = "2";
    vars[OverrideVariable("monitoring.tracing.export_timeout")] = "4";
    Result<Config> loaded = LoadConfig(std::nullopt, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    const Config& c = *loaded;
    EXPECT_EQ(c.database.type, "postgresql");
    EXPECT_EQ(c.database.url, "postgresql://h/db");
    EXPECT_EQ(c.database.pool_size, 8);
    EXPECT_EQ(c.database.max_overflow, 8);
    EXPECT_DOUBLE_EQ(c.database.pool_timeout, 8);
    EXPECT_EQ(c.database.hnsw_m, 8);
    EXPECT_EQ(c.database.hnsw_ef_construction, 16);
    EXPECT_EQ(c.database.read_urls, std::vector<std::string>{"postgresql://r1/db"});
    EXPECT_DOUBLE_EQ(c.database.max_replica_lag, 8);
    EXPECT_DOUBLE_EQ(c.database.replica_check_interval, 8);
    EXPECT_EQ(c.store.path, "/s");
    EXPECT_EQ(c.index.collection, "c");
    EXPECT_EQ(c.index.max_file_bytes, 8);
    EXPECT_FALSE(c.index.default_excludes);
    EXPECT_EQ(c.index.exclude, std::vector<std::string>{"x"});
    EXPECT_TRUE(c.index.follow_symlinks);
    EXPECT_EQ(c.index.batch_size, 8);
    EXPECT_EQ(c.index.chunk.max_lines, 8);
    EXPECT_EQ(c.index.chunk.overlap_lines, 3);
    EXPECT_EQ(c.index.chunk.window_lines, 8);
    EXPECT_EQ(c.index.chunk.max_chars, 300);
    EXPECT_EQ(c.embedding.provider, "openai");
    EXPECT_EQ(c.embedding.model, "m");
    EXPECT_EQ(c.embedding.dimension, 8);
    EXPECT_EQ(c.embedding.batch_size, 8);
    EXPECT_EQ(c.embedding.base_url, "http://h/v1");
    EXPECT_EQ(c.embedding.api_key_env, "K");
    EXPECT_DOUBLE_EQ(c.embedding.timeout_seconds, 8);
    EXPECT_EQ(c.embedding.max_retries, 8);
    EXPECT_EQ(c.search.mode, "vector");
    EXPECT_EQ(c.search.k, 8);
    EXPECT_EQ(c.search.rrf_k, 8);
    EXPECT_EQ(c.search.ef_search, 8);
    EXPECT_EQ(c.server.host, "::1");
    EXPECT_EQ(c.server.port, 8);
    EXPECT_EQ(c.server.allowed_origins, (std::vector<std::string>{"https://a.example", "*"}));
    EXPECT_DOUBLE_EQ(c.server.session_timeout, 8);
    EXPECT_DOUBLE_EQ(c.server.shutdown_timeout, 8);
    EXPECT_TRUE(c.security.tls.enabled);
    EXPECT_EQ(c.security.tls.cert_file, "/c.pem");
    EXPECT_EQ(c.security.tls.key_file, "/k.pem");
    EXPECT_EQ(c.security.tls.client_ca_file, "/ca.pem");
    EXPECT_EQ(c.security.tls.client_auth, "require");
    EXPECT_EQ(c.security.tls.min_version, "1.3");
    EXPECT_EQ(c.security.tls.hsts_max_age, 8);
    EXPECT_DOUBLE_EQ(c.security.tls.reload_interval, 8);
    EXPECT_EQ(c.performance.workers, 8);
    EXPECT_EQ(c.performance.max_connections, 8);
    EXPECT_DOUBLE_EQ(c.performance.request_timeout, 8);
    EXPECT_EQ(c.performance.max_request_size.bytes, 8192);
    EXPECT_FALSE(c.performance.caching.enabled);
    EXPECT_EQ(c.performance.caching.max_memory.bytes, 8);
    EXPECT_EQ(c.performance.caching.redis_tls_ca_file, "/cache-ca.pem");
    EXPECT_EQ(c.performance.caching.redis_tls_cert_file, "/cache-client.pem");
    EXPECT_EQ(c.performance.caching.redis_tls_key_file, "/cache-client.key");
    EXPECT_EQ(c.security.rate_limiting.redis_tls_ca_file, "/rl-ca.pem");
    EXPECT_EQ(c.security.rate_limiting.redis_tls_cert_file, "/rl-client.pem");
    EXPECT_EQ(c.security.rate_limiting.redis_tls_key_file, "/rl-client.key");
    const ApiKeysConfig& k = c.security.api_keys;
    EXPECT_TRUE(k.enabled);
    EXPECT_EQ(k.storage, "vault");
    EXPECT_EQ(k.file, "8");
    EXPECT_EQ(k.pepper_env, "P");
    EXPECT_EQ(k.pepper_file, "8");
    EXPECT_DOUBLE_EQ(k.rotation_grace, 8);
    EXPECT_EQ(k.database_url, "postgresql://k/db");
    EXPECT_EQ(k.vault_url, "https://v:8200");
    EXPECT_EQ(k.vault_mount, "8");
    EXPECT_EQ(k.vault_path, "8");
    EXPECT_EQ(k.vault_auth, "kubernetes");
    EXPECT_EQ(k.vault_token_env, "T");
    EXPECT_EQ(k.vault_role, "8");
    EXPECT_EQ(k.vault_jwt_file, "8");
    EXPECT_EQ(k.vault_namespace, "8");
    EXPECT_EQ(k.vault_ca_file, "8");
    EXPECT_DOUBLE_EQ(k.cache_ttl, 8);
    EXPECT_EQ(c.security.audit_log, "/a");
    EXPECT_EQ(c.performance.caching.backend, "redis");
    EXPECT_EQ(c.performance.caching.redis_url, "rediss://cache:6380/1");
    EXPECT_DOUBLE_EQ(c.performance.caching.ttl, 8);
    const RateLimitingConfig& rl = c.security.rate_limiting;
    EXPECT_TRUE(rl.enabled);
    EXPECT_EQ(rl.backend, "redis");
    EXPECT_EQ(rl.redis_url, "rediss://:pw@rl:6379/2");
    EXPECT_EQ(rl.fail_mode, "closed");
    for (const RateLimitScope& scope : {rl.limits.search, rl.limits.index, rl.limits.admin, rl.limits.anonymous}) {
        EXPECT_DOUBLE_EQ(scope.requests_per_second, 8);
        EXPECT_EQ(scope.burst, 8);
    }
    EXPECT_EQ(c.monitoring.logging.level, "debug");
    EXPECT_EQ(c.monitoring.logging.format, "json");
    EXPECT_EQ(c.monitoring.logging.output, "8");
    EXPECT_TRUE(c.monitoring.metrics.enabled);
    EXPECT_EQ(c.monitoring.metrics.host, "0.0.0.0");
    EXPECT_EQ(c.monitoring.metrics.port, 9464);
    EXPECT_EQ(c.monitoring.metrics.path, "/m");
    EXPECT_TRUE(c.monitoring.tracing.enabled);
    EXPECT_EQ(c.monitoring.tracing.jaeger_endpoint, "https://otel.internal:4318");
    EXPECT_EQ(c.monitoring.tracing.service_name, "hub-blue");
    EXPECT_DOUBLE_EQ(c.monitoring.tracing.sample_ratio, 0.25);
    EXPECT_EQ(c.monitoring.tracing.max_queue_spans, 4096);
    EXPECT_EQ(c.monitoring.tracing.max_batch_spans, 256);
    EXPECT_DOUBLE_EQ(c.monitoring.tracing.export_interval, 2);
    EXPECT_DOUBLE_EQ(c.monitoring.tracing.export_timeout, 4);
}

TEST(Config, ApiKeyStorageIsValidatedWithTheKeyNamed) {
    auto problems = [](const std::string& yaml) {
        Result<Config> c = ParseConfig(yaml, "config.yaml", FakeEnv({}));
        if (!c.ok()) return c.status().message();
        Status valid = Validate(*c);
        return valid.ok() ? std::string("ok") : valid.message();
    };
    EXPECT_EQ(problems("security:\n  api_keys:\n    storage: ldap\n"),
              "security.api_keys.storage: must be one of file, database, vault, got 'ldap'");
    EXPECT_EQ(problems("security:\n  api_keys:\n    storage: vault\n"),
              "security.api_keys.vault_url: is required when security.api_keys.storage is vault: an https:// URL such "
              "as https://vault.internal:8200, got ''");
    EXPECT_EQ(problems("security:\n  api_keys:\n    storage: vault\n    vault_url: https://v:8200\n"
                       "    vault_auth: kubernetes\n"),
              "security.api_keys.vault_role: is required when vault_auth is kubernetes");
    EXPECT_EQ(problems("security:\n  api_keys:\n    storage: database\n"),
              "security.api_keys.database_url: is required when security.api_keys.storage is database and "
              "database.type is not postgresql (postgresql://USER@HOST:5432/DATABASE)");
    EXPECT_EQ(problems("security:\n  api_keys:\n    pepper_env: ''\n"),
              "security.api_keys.pepper_file: is required when security.api_keys.pepper_env is empty (the keys' "
              "hashing pepper)");
    EXPECT_EQ(problems("security:\n  api_keys:\n    rotation_grace: -1\n"),
              "security.api_keys.rotation_grace: must be a number of seconds from 0 to 7776000 (90 days), got "
              "-1.000000");
    EXPECT_EQ(problems("security:\n  api_keys:\n    storage: file\n    file: /etc/signal-hub/keys.json\n"), "ok");
}

TEST(Config, RateLimitingDefaultsAndParsing) {
    const RateLimitingConfig defaults;
    EXPECT_FALSE(defaults.enabled);
    EXPECT_EQ(defaults.backend, "memory");
    EXPECT_EQ(defaults.fail_mode, "open");
    EXPECT_EQ(defaults.limits.search, (RateLimitScope{20, 40}));
    EXPECT_EQ(defaults.limits.index, (RateLimitScope{2, 10}));
    EXPECT_EQ(defaults.limits.admin, (RateLimitScope{1, 5}));
    EXPECT_EQ(defaults.limits.anonymous, (RateLimitScope{5, 10}));

    Result<Config> parsed = Parse(
        "security:\n  rate_limiting:\n    enabled: true\n    backend: redis\n    redis_url: ${REDIS_URL}\n"
        "    fail_mode: closed\n    limits:\n      search: {requests_per_second: 0.5, burst: 3}\n",
        {{"REDIS_URL", "redis://:secret@127.0.0.1:6379/0"}});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    const RateLimitingConfig& rl = parsed->security.rate_limiting;
    EXPECT_TRUE(rl.enabled);
    EXPECT_EQ(rl.backend, "redis");
    EXPECT_EQ(rl.redis_url, "redis://:secret@127.0.0.1:6379/0");
    EXPECT_EQ(rl.fail_mode, "closed");
    EXPECT_EQ(rl.limits.search, (RateLimitScope{0.5, 3}));
    EXPECT_EQ(rl.limits.index, defaults.limits.index);
    EXPECT_TRUE(Validate(*parsed).ok());
}

TEST(Config, RateLimitingValidationNamesTheKey) {
    auto problems = [](const std::string& yaml) {
        Result<Config> parsed = Parse(yaml);
        EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
        return parsed.ok() ? Validate(*parsed).message() : std::string();
    };
    EXPECT_EQ(problems("security:\n  rate_limiting:\n    backend: memcached\n"),
              "security.rate_limiting.backend: must be one of memory, redis, got 'memcached'");
    EXPECT_EQ(problems("security:\n  rate_limiting:\n    fail_mode: maybe\n"),
              "security.rate_limiting.fail_mode: must be one of open, closed, got 'maybe'");
    EXPECT_EQ(problems("security:\n  rate_limiting:\n    backend: redis\n"),
              "security.rate_limiting.redis_url: is required when security.rate_limiting.backend is redis "
              "(redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB])");
    EXPECT_EQ(problems("security:\n  rate_limiting:\n    backend: redis\n    redis_url: rediss://h:6380\n"
                       "    redis_tls_ca_file: /etc/ssl/redis-ca.pem\n    redis_tls_cert_file: /c.pem\n"
                       "    redis_tls_key_file: /k.pem\n"),
              "");
    EXPECT_EQ(problems("security:\n  rate_limiting:\n    backend: redis\n    redis_url: http://h\n"),
              "security.rate_limiting.redis_url: must be a redis:// or rediss:// (TLS) URL "
              "(redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]), got a value starting 'http'");
    // TLS files with a plaintext URL would be ignored: refused; a certificate needs its key.
    EXPECT_EQ(problems("security:\n  rate_limiting:\n    backend: redis\n    redis_url: redis://h\n"
                       "    redis_tls_ca_file: /ca.pem\n"),
              "security.rate_limiting.redis_tls_ca_file: is set but security.rate_limiting.redis_url is a plaintext "
              "redis:// URL: use rediss:// for TLS, or remove redis_tls_ca_file");
    EXPECT_EQ(problems("performance:\n  caching:\n    backend: redis\n    redis_url: rediss://h\n"
                       "    redis_tls_cert_file: /c.pem\n"),
              "performance.caching.redis_tls_key_file: is required with performance.caching.redis_tls_cert_file (a "
              "client certificate needs its private key and the other way round)");
    EXPECT_EQ(problems("security:\n  rate_limiting:\n    limits:\n      admin: {requests_per_second: 0, burst: 0}\n"),
              "security.rate_limiting.limits.admin.requests_per_second: must be a number between 0.001 and 1000000, "
              "got 0.000000; security.rate_limiting.limits.admin.burst: must be between 1 and 1000000, got 0");
    // The memory backend does not need a URL; the file location is given for file values.
    Result<Config> loaded = Parse("security:\n  rate_limiting:\n    limits:\n      index:\n        burst: -1\n");
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(Validate(*loaded).message(),
              "security.rate_limiting.limits.index.burst: must be between 1 and 1000000, got -1");
}

TEST(Config, CachingBackendRedisNeedsAUrl) {
    auto problems = [](const std::string& yaml) {
        Result<Config> parsed = Parse(yaml);
        EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
        return parsed.ok() ? Validate(*parsed).message() : std::string();
    };
    EXPECT_EQ(problems("performance:\n  caching:\n    backend: redis\n"),
              "performance.caching.redis_url: is required when performance.caching.backend is redis "
              "(redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB])");
    EXPECT_EQ(problems("performance:\n  caching:\n    backend: disk\n"),
              "performance.caching.backend: must be one of memory, redis, got 'disk'");
    EXPECT_EQ(problems("performance:\n  caching:\n    ttl: 0\n"),
              "performance.caching.ttl: must be a number of seconds greater than 0 and at most 2592000, got 0.000000");
    EXPECT_EQ(problems("performance:\n  caching:\n    backend: redis\n    redis_url: redis://127.0.0.1:6379\n"
                       "    ttl: 60\n"),
              "");
}

// docs/configuration.md, "Defaults that follow from other keys".
TEST(Config, TheRedisNamedOnceBringsItsTlsFiles) {
    // rediss:// taken from the rate limiter comes with its CA file and client certificate.
    Result<Config> parsed =
        Parse("security:\n  rate_limiting:\n    backend: redis\n    redis_url: rediss://r:6380/0\n"
              "    redis_tls_ca_file: /ca.pem\n    redis_tls_cert_file: /c.pem\n    redis_tls_key_file: /k.pem\n"
              "performance:\n  caching:\n    backend: redis\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    const CachingConfig& cache = parsed->performance.caching;
    EXPECT_EQ(cache.redis_url, "rediss://r:6380/0");
    EXPECT_EQ(cache.redis_tls_ca_file, "/ca.pem");
    EXPECT_EQ(cache.redis_tls_cert_file, "/c.pem");
    EXPECT_EQ(cache.redis_tls_key_file, "/k.pem");
    EXPECT_TRUE(Validate(*parsed).ok()) << Validate(*parsed).ToString();
    // The section's own files win; a URL written down takes nothing from the other section.
    parsed = Parse("performance:\n  caching:\n    backend: redis\n    redis_url: rediss://c:6380/1\n"
                   "    redis_tls_ca_file: /cache-ca.pem\n"
                   "security:\n  rate_limiting:\n    backend: redis\n    redis_tls_ca_file: /rl-ca.pem\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->security.rate_limiting.redis_url, "rediss://c:6380/1");
    EXPECT_EQ(parsed->security.rate_limiting.redis_tls_ca_file, "/rl-ca.pem");
    EXPECT_EQ(parsed->performance.caching.redis_tls_ca_file, "/cache-ca.pem");
}

TEST(Config, CacheAndRateLimiterShareTheRedisNamedOnce) {
    const std::map<std::string, std::string> env = {{"REDIS_URL", "redis://:pw@redis:6379/0"}};
    Result<Config> parsed = Parse(
        "security:\n  rate_limiting:\n    backend: redis\n    redis_url: ${REDIS_URL}\n"
        "performance:\n  caching:\n    backend: redis\n",
        env);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->performance.caching.redis_url, "redis://:pw@redis:6379/0");
    EXPECT_TRUE(Validate(*parsed).ok()) << Validate(*parsed).ToString();
    // The other way round: the rate limiter takes the cache's Redis.
    parsed = Parse("performance:\n  caching:\n    backend: redis\n    redis_url: redis://c:6379/1\n"
                   "security:\n  rate_limiting:\n    backend: redis\n");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->security.rate_limiting.redis_url, "redis://c:6379/1");
    // A URL written down wins, an empty one included.
    parsed = Parse("performance:\n  caching:\n    backend: redis\n    redis_url: redis://c:6379/1\n"
                   "security:\n  rate_limiting:\n    backend: redis\n    redis_url: redis://r:6379/0\n");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->performance.caching.redis_url, "redis://c:6379/1");
    EXPECT_EQ(parsed->security.rate_limiting.redis_url, "redis://r:6379/0");
    parsed = Parse("performance:\n  caching:\n    backend: redis\n    redis_url: ''\n"
                   "security:\n  rate_limiting:\n    redis_url: redis://r:6379/0\n");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->performance.caching.redis_url, "");
    // Only the redis backend takes the default.
    parsed = Parse("security:\n  rate_limiting:\n    backend: redis\n    redis_url: redis://r:6379/0\n");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->performance.caching.redis_url, "");
    // Through LoadConfig, an override counts as given, and the default follows an overridden URL.
    TempDir dir;
    const std::string path = dir.Write("c.yaml",
                                       "security:\n  rate_limiting:\n    backend: redis\n    redis_url: redis://r/0\n"
                                       "performance:\n  caching:\n    backend: redis\n");
    std::map<std::string, std::string> vars = {{"SIGNAL_HUB_SECURITY__RATE_LIMITING__REDIS_URL", "redis://o/2"}};
    Result<Config> loaded = LoadConfig(path, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->performance.caching.redis_url, "redis://o/2");
    vars["SIGNAL_HUB_PERFORMANCE__CACHING__REDIS_URL"] = "redis://c/3";
    loaded = LoadConfig(path, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->performance.caching.redis_url, "redis://c/3");
}

TEST(Config, ConfiguredKeyStorageOrRateLimitBackendTurnsTheFeatureOn) {
    Result<Config> parsed = Parse("security:\n  api_keys:\n    storage: vault\n    vault_url: https://v:8200\n"
                                  "  rate_limiting:\n    backend: memory\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_TRUE(parsed->security.api_keys.enabled);
    EXPECT_TRUE(parsed->security.rate_limiting.enabled);
    // An explicit enabled: false still wins.
    parsed = Parse("security:\n  api_keys:\n    enabled: false\n    storage: file\n"
                   "  rate_limiting:\n    enabled: false\n    backend: redis\n    redis_url: redis://r/0\n");
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(parsed->security.api_keys.enabled);
    EXPECT_FALSE(parsed->security.rate_limiting.enabled);
    // Other keys of the sections do not turn them on.
    parsed = Parse("security:\n  api_keys:\n    file: /k.json\n  rate_limiting:\n    fail_mode: closed\n");
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(parsed->security.api_keys.enabled);
    EXPECT_FALSE(parsed->security.rate_limiting.enabled);
    // The environment: a storage override turns keys on, an enabled override wins over it.
    TempDir dir;
    const std::string path = dir.Write("c.yaml", "search:\n  k: 5\n");
    std::map<std::string, std::string> vars = {{"SIGNAL_HUB_SECURITY__API_KEYS__STORAGE", "file"},
                                               {"SIGNAL_HUB_SECURITY__API_KEYS__FILE", "/k.json"}};
    Result<Config> loaded = LoadConfig(path, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(loaded->security.api_keys.enabled);
    vars["SIGNAL_HUB_SECURITY__API_KEYS__ENABLED"] = "false";
    loaded = LoadConfig(path, FakeEnv(vars), FakeNames(vars));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_FALSE(loaded->security.api_keys.enabled);
}

// config/production.yaml, the guide's production configuration, as the repository ships it: valid
// as written given its variables, with the defaults above and every value it sets in effect.
TEST(Config, TheGuidesProductionConfigurationLoadsAsWritten) {
    const std::map<std::string, std::string> env = {
        {"DATABASE_URL", "postgresql://app:pw@db:5432/signalhub"}, {"VAULT_URL", "https://vault:8200"},
        {"REDIS_URL", "redis://:pw@redis:6379/0"},                  {"JAEGER_URL", "http://jaeger:4318"}};
    const std::string path = std::string(SIGNAL_HUB_SOURCE_DIR) + "/config/production.yaml";
    Result<Config> loaded = LoadConfig(path, FakeEnv(env), FakeNames(env));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    const Config& c = *loaded;
    EXPECT_EQ(c.database.type, "postgresql");
    EXPECT_EQ(c.database.url, "postgresql://app:pw@db:5432/signalhub");
    EXPECT_EQ(c.database.pool_size, 20);
    EXPECT_EQ(c.database.max_overflow, 40);
    EXPECT_TRUE(c.security.api_keys.enabled);
    EXPECT_EQ(c.security.api_keys.storage, "vault");
    EXPECT_EQ(c.security.api_keys.vault_url, "https://vault:8200");
    EXPECT_EQ(c.security.api_keys.vault_token_env, "VAULT_TOKEN");
    EXPECT_TRUE(c.security.tls.enabled);
    EXPECT_EQ(c.security.tls.cert_file, "/certs/server.crt");
    EXPECT_TRUE(c.security.rate_limiting.enabled);
    EXPECT_EQ(c.security.rate_limiting.backend, "redis");
    EXPECT_EQ(c.performance.caching.backend, "redis");
    EXPECT_EQ(c.performance.caching.redis_url, "redis://:pw@redis:6379/0");
    EXPECT_EQ(c.performance.caching.max_memory.bytes, 4'000'000'000);
    EXPECT_EQ(c.performance.workers, 4);
    EXPECT_EQ(c.performance.max_connections, 1000);
    EXPECT_EQ(c.performance.request_timeout, 30);
    EXPECT_TRUE(c.monitoring.metrics.enabled);
    EXPECT_EQ(c.monitoring.metrics.port, 9090);
    EXPECT_EQ(c.monitoring.logging.format, "json");
    EXPECT_EQ(c.monitoring.logging.output, "stdout");
    EXPECT_TRUE(c.monitoring.tracing.enabled);
    EXPECT_EQ(c.monitoring.tracing.jaeger_endpoint, "http://jaeger:4318");
    // ${WORKERS:-4}
    std::map<std::string, std::string> with_workers = env;
    with_workers["WORKERS"] = "16";
    loaded = LoadConfig(path, FakeEnv(with_workers), FakeNames(with_workers));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->performance.workers, 16);
}

std::string ReadReference() {
    std::ifstream in(std::string(SIGNAL_HUB_SOURCE_DIR) + "/docs/configuration.md");
    EXPECT_TRUE(in.good()) << "docs/configuration.md is missing";
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

TEST(Config, ReferenceDocumentCoversEveryKey) {
    const std::string doc = ReadReference();
    for (const std::string& path : KeyPaths()) {
        EXPECT_THAT(doc, HasSubstr("`" + path + "`")) << "docs/configuration.md does not document " << path;
        EXPECT_THAT(doc, HasSubstr(OverrideVariable(path))) << "docs/configuration.md lacks the override of " << path;
    }
}

TEST(Config, ReferenceDocumentExampleIsValid) {
    const std::string doc = ReadReference();
    const std::size_t start = doc.find("```yaml\n");
    ASSERT_NE(start, std::string::npos) << "docs/configuration.md has no YAML example";
    const std::size_t body = start + std::string("```yaml\n").size();
    const std::size_t end = doc.find("```", body);
    ASSERT_NE(end, std::string::npos);
    Result<Config> parsed = Parse(doc.substr(body, end - body));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_TRUE(Validate(*parsed).ok()) << Validate(*parsed).ToString();
    // The example lists every key with its default, apart from two exclude patterns.
    Config expected;
    expected.source = "config.yaml";
    expected.index.exclude = {"third_party/", "*.pb.go"};
    EXPECT_EQ(*parsed, expected);
}

}  // namespace
}  // namespace signalhub::config

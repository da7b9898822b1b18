#include "core/test_temp_dir.hpp"
#include "telemetry/log.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using signalhub::testing_util::TempDir;

namespace signalhub::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

// 2026-11-30T12:00:00.123Z
std::chrono::system_clock::time_point FixedTime() {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(1796040000123LL));
}

std::string Json(std::string_view message, std::vector<LogField> fields, LogLevel level = LogLevel::kInfo) {
    return FormatRecord(LogFormat::kJson, FixedTime(), level, message, fields);
}

std::string Text(std::string_view message, std::vector<LogField> fields, LogLevel level = LogLevel::kInfo) {
    return FormatRecord(LogFormat::kText, FixedTime(), level, message, fields);
}

std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}


std::string ReadFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// A logger over a temporary file, read back with contents().
class FileSink {
   public:
    FileSink() : path_(dir_ / "log") {
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        EXPECT_GE(fd_, 0);
    }
    ~FileSink() { ::close(fd_); }
    int fd() const { return fd_; }
    std::string contents() const { return ReadFile(path_); }

   private:
    TempDir dir_;
    fs::path path_;
    int fd_ = -1;
};

TEST(LogFormat, TimestampIsRfc3339UtcWithMilliseconds) {
    EXPECT_EQ(FormatTimestamp(FixedTime()), "2026-11-30T12:00:00.123Z");
    EXPECT_EQ(FormatTimestamp(std::chrono::system_clock::time_point()), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(FormatTimestamp(std::chrono::system_clock::time_point(std::chrono::microseconds(1999999))),
              "1970-01-01T00:00:01.999Z");
}

TEST(LogFormat, JsonRecordHasTsLevelMsgThenTheFieldsInOrder) {
    const std::string line = Json("serving", {{"url", "http://127.0.0.1:8080/mcp"},
                                              {"workers", 4},
                                              {"ratio", 0.5},
                                              {"tls", false},
                                              {"bytes", std::size_t{12}}});
    EXPECT_EQ(line,
              "{\"ts\":\"2026-11-30T12:00:00.123Z\",\"level\":\"info\",\"msg\":\"serving\","
              "\"url\":\"http://127.0.0.1:8080/mcp\",\"workers\":4,\"ratio\":0.5,\"tls\":false,\"bytes\":12}\n");
    EXPECT_THAT(Json("x", {}, LogLevel::kWarn), HasSubstr("\"level\":\"warn\""));
    EXPECT_THAT(Json("x", {}, LogLevel::kError), HasSubstr("\"level\":\"error\""));
    EXPECT_THAT(Json("x", {}, LogLevel::kDebug), HasSubstr("\"level\":\"debug\""));
}

TEST(LogFormat, TextRecordIsReadableAndQuotesValuesWithSpaces) {
    EXPECT_EQ(Text("serving over MCP Streamable HTTP", {{"url", "http://127.0.0.1:8080/mcp"},
                                                        {"store", "/srv/my repo/.signal-hub"},
                                                        {"workers", 4},
                                                        {"tls", true},
                                                        {"ratio", 0.25},
                                                        {"empty", ""}}),
              "2026-11-30T12:00:00.123Z INFO serving over MCP Streamable HTTP url=http://127.0.0.1:8080/mcp "
              "store=\"/srv/my repo/.signal-hub\" workers=4 tls=true ratio=0.25 empty=\"\"\n");
    EXPECT_EQ(Text("x", {}, LogLevel::kWarn), "2026-11-30T12:00:00.123Z WARN x\n");
    EXPECT_EQ(Text("x", {}, LogLevel::kError), "2026-11-30T12:00:00.123Z ERROR x\n");
    EXPECT_EQ(Text("x", {}, LogLevel::kDebug), "2026-11-30T12:00:00.123Z DEBUG x\n");
}

TEST(LogFormat, NewlinesQuotesAndControlCharactersStayOnOneLine) {
    const std::string nasty = "line one\nline two\r\n\t\"quoted\" back\\slash \x01 k=v";
    const std::string json = Json("bad\nmessage", {{"error", nasty}});
    ASSERT_EQ(Lines(json).size(), 1u) << json;
    const nlohmann::json parsed = nlohmann::json::parse(json);
    EXPECT_EQ(parsed["msg"], "bad\nmessage");
    EXPECT_EQ(parsed["error"], nasty);

    const std::string text = Text("bad\nmessage", {{"error", nasty}});
    ASSERT_EQ(Lines(text).size(), 1u) << text;
    EXPECT_EQ(text,
              "2026-11-30T12:00:00.123Z INFO bad\\nmessage error=\"line one\\nline two\\r\\n\\t\\\"quoted\\\" "
              "back\\\\slash \\x01 k=v\"\n");
    // A value cannot forge a field: '=' forces quotes.
    EXPECT_EQ(Text("m", {{"a", "b=c"}}), "2026-11-30T12:00:00.123Z INFO m a=\"b=c\"\n");
}

TEST(LogFormat, InvalidUtf8IsReplacedInsteadOfThrowing) {
    const std::string json = Json("m", {{"path", std::string("caf\xc3\xa9 \xff\xfe")}});
    const nlohmann::json parsed = nlohmann::json::parse(json);
    EXPECT_EQ(parsed["path"], "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD twice
}

TEST(LogFormat, FieldsCannotReplaceTheRecordKeysAndOddKeysAreCleaned) {
    const nlohmann::json parsed =
        nlohmann::json::parse(Json("real", {{"msg", "fake"}, {"level", "error"}, {"ts", 1}, {"a b\"c", 1}}));
    EXPECT_EQ(parsed["msg"], "real");
    EXPECT_EQ(parsed["level"], "info");
    EXPECT_EQ(parsed["ts"], "2026-11-30T12:00:00.123Z");
    EXPECT_EQ(parsed["_msg"], "fake");
    EXPECT_EQ(parsed["_level"], "error");
    EXPECT_EQ(parsed["_ts"], 1);
    EXPECT_EQ(parsed["a_b_c"], 1);
    EXPECT_THAT(Text("m", {{"a b", 1}}), HasSubstr(" a_b=1"));
}

TEST(LogFormat, NonFiniteNumbersAreNullInJson) {
    const nlohmann::json parsed = nlohmann::json::parse(Json("m", {{"x", std::nan("")}}));
    EXPECT_TRUE(parsed["x"].is_null());
    EXPECT_THAT(Text("m", {{"x", std::nan("")}}), HasSubstr(" x=NaN"));
}

TEST(LogFormat, LongValuesAreCutAtACharacterBoundary) {
    std::string long_value(kMaxValueBytes - 1, 'a');
    long_value += "\xc3\xa9";  // é straddles the limit
    long_value += std::string(100, 'b');
    const nlohmann::json parsed = nlohmann::json::parse(Json("m", {{"v", long_value}}));
    EXPECT_EQ(parsed["v"], std::string(kMaxValueBytes - 1, 'a') + "...");
    const std::string message(kMaxValueBytes + 10, 'm');
    EXPECT_EQ(nlohmann::json::parse(Json(message, {}))["msg"], std::string(kMaxValueBytes, 'm') + "...");
}

TEST(LogRedaction, RedactUrlMasksPasswordsInUserInfoAndQuery) {
    EXPECT_EQ(RedactUrl("postgresql://hub:s3cret@db:5432/hub"), "postgresql://hub:***@db:5432/hub");
    EXPECT_EQ(RedactUrl("redis://:pw@cache:6379/0"), "redis://:***@cache:6379/0");
    EXPECT_EQ(RedactUrl("postgresql://db/hub?sslmode=require&password=pw&x=1"),
              "postgresql://db/hub?sslmode=require&password=***&x=1");
    EXPECT_EQ(RedactUrl("chroma+https://c:8000?token=abc"), "chroma+https://c:8000?token=***");
    EXPECT_EQ(RedactUrl("postgresql://hub@db/hub"), "postgresql://hub@db/hub");
    EXPECT_EQ(RedactUrl("/var/lib/signal-hub"), "/var/lib/signal-hub");
}

TEST(LogRedaction, UrlsInMessagesAndValuesAreRedacted) {
    EXPECT_EQ(RedactText("cannot connect to postgresql://hub:pw@db/hub: refused; redis 'redis://:x@r:6379'"),
              "cannot connect to postgresql://hub:***@db/hub: refused; redis 'redis://:***@r:6379'");
    EXPECT_EQ(RedactText("no url here"), "no url here");
    const std::string json =
        Json("store postgresql://hub:hunter2@db/hub unreachable", {{"url", "redis://u:hunter2@r:6379/0"}});
    const std::string text =
        Text("store postgresql://hub:hunter2@db/hub unreachable", {{"url", "redis://u:hunter2@r:6379/0"}});
    for (const std::string& line : {json, text}) {
        EXPECT_THAT(line, Not(HasSubstr("hunter2"))) << line;
        EXPECT_THAT(line, HasSubstr("postgresql://hub:***@db/hub")) << line;
        EXPECT_THAT(line, HasSubstr("redis://u:***@r:6379/0")) << line;
    }
}

TEST(LogRedaction, FieldsNamedAsSecretsAreMasked) {
    for (const char* name : {"password", "db_password", "api_key", "X-Api-Key", "authorization", "pepper",
                             "vault_token", "client_secret", "cookie"}) {
        EXPECT_TRUE(IsSecretFieldName(name)) << name;
        const std::string line = Json("m", {{name, "sh_live_abcdef"}});
        EXPECT_THAT(line, Not(HasSubstr("sh_live_abcdef"))) << line;
        EXPECT_THAT(line, HasSubstr("\"***\"")) << line;
    }
    for (const char* name : {"key_id", "trace_id", "request_id", "route", "tokens", "token_budget", "keys"}) {
        EXPECT_FALSE(IsSecretFieldName(name)) << name;
    }
    EXPECT_THAT(Text("m", {{"key_id", "k_123"}}), HasSubstr("key_id=k_123"));
}

TEST(LogLevels, ParseNamesAndFormats) {
    EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
    EXPECT_EQ(ParseLogLevel("INFO"), LogLevel::kInfo);
    EXPECT_EQ(ParseLogLevel("Warn"), LogLevel::kWarn);
    EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarn);
    EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
    EXPECT_EQ(ParseLogLevel("trace"), std::nullopt);
    EXPECT_EQ(ParseLogFormat("JSON"), LogFormat::kJson);
    EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
    EXPECT_EQ(ParseLogFormat("logfmt"), std::nullopt);
    EXPECT_EQ(LogLevelName(LogLevel::kWarn), "warn");
}

TEST(LogLevels, RecordsBelowTheThresholdAreDropped) {
    FileSink sink;
    Logger logger(sink.fd(), LogLevel::kWarn, LogFormat::kText, FixedTime);
    logger.Log(LogLevel::kDebug, "d");
    logger.Log(LogLevel::kInfo, "i");
    logger.Log(LogLevel::kWarn, "w");
    logger.Log(LogLevel::kError, "e", {{"code", 7}});
    logger.Write(LogLevel::kInfo, "announced");  // Write ignores the threshold
    EXPECT_EQ(sink.contents(),
              "2026-11-30T12:00:00.123Z WARN w\n2026-11-30T12:00:00.123Z ERROR e code=7\n"
              "2026-11-30T12:00:00.123Z INFO announced\n");
    EXPECT_FALSE(logger.Enabled(LogLevel::kInfo));
    logger.set_level(LogLevel::kDebug);
    EXPECT_TRUE(logger.Enabled(LogLevel::kDebug));
    EXPECT_EQ(logger.write_failures(), 0u);
}

TEST(Logger, ConcurrentRecordsAreWholeValidJsonLines) {
    FileSink sink;
    Logger logger(sink.fd(), LogLevel::kInfo, LogFormat::kJson);
    constexpr int kThreads = 8;
    constexpr int kLines = 400;
    // Records of different lengths (up to ~3.8 KB), so that a torn or interleaved write would show.
    const std::string padding(4000, 'p');
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&logger, &padding, t] {
            for (int i = 0; i < kLines; ++i) {
                logger.Log(LogLevel::kInfo, "line",
                           {{"thread", t}, {"seq", i}, {"pad", padding.substr(0, 100 + 9 * i)}});
            }
        });
    }
    for (std::thread& t : threads) t.join();
    const std::vector<std::string> lines = Lines(sink.contents());
    ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
    std::set<std::pair<int, int>> seen;
    for (const std::string& line : lines) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line.substr(0, 200);
        ASSERT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg"));
        const int seq = j["seq"].get<int>();
        EXPECT_EQ(j["pad"].get<std::string>().size(), static_cast<size_t>(100 + 9 * seq));
        seen.emplace(j["thread"].get<int>(), seq);
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines));
}

TEST(Logger, FileOutputAppendsIsCreated0640AndReopens) {
    TempDir dir;
    const fs::path path = fs::path(dir / "signal-hub.log");
    {
        std::ofstream existing(path);
        existing << "earlier line\n";
    }
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    const mode_t old_mask = ::umask(022);
    const fs::path created = fs::path(dir / "new.log");
    {
        auto fresh = Logger::Open(LogOptions{.level = LogLevel::kInfo, .format = LogFormat::kText, .output = created});
        ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
    }
    ::umask(old_mask);
    struct stat st {};
    ASSERT_EQ(::stat(created.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);

    auto opened = Logger::Open(LogOptions{.level = LogLevel::kInfo, .format = LogFormat::kJson, .output = path});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Logger& logger = **opened;
    EXPECT_EQ(logger.output(), path.string());
    logger.Log(LogLevel::kInfo, "first");
    // logrotate: the file is moved away, then the process is told to reopen.
    const fs::path rotated = fs::path(dir / "signal-hub.log.1");
    fs::rename(path, rotated);
    logger.Log(LogLevel::kInfo, "second");  // still the old file
    ASSERT_TRUE(logger.Reopen().ok());
    logger.Log(LogLevel::kInfo, "third");

    const std::vector<std::string> old_lines = Lines(ReadFile(rotated));
    ASSERT_EQ(old_lines.size(), 3u);
    EXPECT_EQ(old_lines[0], "earlier line");
    EXPECT_EQ(nlohmann::json::parse(old_lines[1])["msg"], "first");
    EXPECT_EQ(nlohmann::json::parse(old_lines[2])["msg"], "second");
    const std::vector<std::string> new_lines = Lines(ReadFile(path));
    ASSERT_EQ(new_lines.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(new_lines[0])["msg"], "third");
}

TEST(Logger, OpenNamesTheProblem) {
    auto missing = Logger::Open(LogOptions{
        .level = LogLevel::kInfo, .format = LogFormat::kText, .output = "/nonexistent-signal-hub-dir/x.log"});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent-signal-hub-dir/x.log"));
    auto empty = Logger::Open(LogOptions{.level = LogLevel::kInfo, .format = LogFormat::kText, .output = ""});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.status().code(), ErrorCode::kInvalidArgument);
    auto out = Logger::Open(LogOptions{.level = LogLevel::kInfo, .format = LogFormat::kText, .output = "stdout"});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)->output(), "stdout");
    EXPECT_TRUE((*out)->Reopen().ok());  // nothing to reopen
}

TEST(Logger, ProcessWideLoggerIsReplaceable) {
    FileSink sink;
    const std::shared_ptr<Logger> previous = CurrentLogger();
    SetLogger(std::make_shared<Logger>(sink.fd(), LogLevel::kWarn, LogFormat::kText, FixedTime));
    Info("hidden");
    Warn("shown", {{"n", 1}});
    Error("failed", {{"error", "boom"}});
    Announce("serving", {{"url", "http://127.0.0.1:1/mcp"}});
    EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
    SetLogger(previous);
    EXPECT_EQ(sink.contents(),
              "2026-11-30T12:00:00.123Z WARN shown n=1\n2026-11-30T12:00:00.123Z ERROR failed error=boom\n"
              "2026-11-30T12:00:00.123Z INFO serving url=http://127.0.0.1:1/mcp\n");
}

TEST(RequestLog, OneRecordWithEveryFieldAndNoAbsentIds) {
    FileSink sink;
    Logger logger(sink.fd(), LogLevel::kInfo, LogFormat::kJson, FixedTime);
    RequestLogFields request;
    request.request_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    request.trace_id = "0af7651916cd43dd8448eb211c80319c";
    request.key_id = "k_7Hq2";
    request.remote = "10.0.0.7:51234";
    request.method = "POST";
    request.route = "/mcp";
    request.status = 200;
    request.latency_ms = 12.3456789;
    request.bytes = 1532;
    LogRequest(logger, request);
    RequestLogFields anonymous;
    anonymous.request_id = "r2";
    anonymous.remote = "127.0.0.1:1";
    anonymous.method = "GET";
    anonymous.route = "/health";
    anonymous.status = 200;
    LogRequest(logger, anonymous);

    const std::vector<std::string> lines = Lines(sink.contents());
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0],
              "{\"ts\":\"2026-11-30T12:00:00.123Z\",\"level\":\"info\",\"msg\":\"request\","
              "\"request_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\","
              "\"key_id\":\"k_7Hq2\",\"remote\":\"10.0.0.7:51234\",\"method\":\"POST\",\"route\":\"/mcp\","
              "\"status\":200,\"latency_ms\":12.346,\"bytes\":1532}");
    const nlohmann::json second = nlohmann::json::parse(lines[1]);
    EXPECT_FALSE(second.contains("trace_id"));
    EXPECT_FALSE(second.contains("key_id"));
    EXPECT_EQ(second["route"], "/health");
}

TEST(RequestLog, LevelFollowsTheStatus) {
    EXPECT_EQ(RequestLogLevel(200), LogLevel::kInfo);
    EXPECT_EQ(RequestLogLevel(401), LogLevel::kInfo);
    EXPECT_EQ(RequestLogLevel(429), LogLevel::kInfo);
    EXPECT_EQ(RequestLogLevel(503), LogLevel::kWarn);
    EXPECT_EQ(RequestLogLevel(500), LogLevel::kError);
    EXPECT_EQ(RequestLogLevel(504), LogLevel::kError);

    FileSink sink;
    Logger logger(sink.fd(), LogLevel::kWarn, LogFormat::kText, FixedTime);
    RequestLogFields request;
    request.request_id = "r";
    request.remote = "127.0.0.1:9";
    request.method = "POST";
    request.route = "/mcp";
    request.status = 200;
    LogRequest(logger, request);  // info: below the threshold
    request.status = 500;
    request.latency_ms = 2;
    request.bytes = 10;
    LogRequest(logger, request);
    EXPECT_EQ(sink.contents(),
              "2026-11-30T12:00:00.123Z ERROR request request_id=r remote=127.0.0.1:9 method=POST route=/mcp "
              "status=500 latency_ms=2 bytes=10\n");
}

TEST(RequestId, NewIdsAreRandom32HexDigits) {
    std::set<std::string> ids;
    for (int i = 0; i < 100; ++i) {
        const std::string id = NewRequestId();
        ASSERT_EQ(id.size(), 32u);
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 100u);
}

TEST(RequestId, IncomingIdsAreKeptOnlyWhenSafe) {
    EXPECT_EQ(AcceptRequestId("abc-123"), "abc-123");
    EXPECT_EQ(AcceptRequestId("req:2026.11_30-x"), "req:2026.11_30-x");
    const std::string longest(128, 'a');
    EXPECT_EQ(AcceptRequestId(longest), longest);
    for (const std::string& bad : {std::string(), std::string(129, 'a'), std::string("a b"),
                                   std::string("x\nINFO forged"), std::string("id\"}"), std::string("caf\xc3\xa9")}) {
        const std::string id = AcceptRequestId(bad);
        EXPECT_NE(id, bad);
        EXPECT_EQ(id.size(), 32u);
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    }
}

}  // namespace
}  // namespace signalhub::telemetry

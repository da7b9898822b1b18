#include "embed/builtin_embedder.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

namespace signalhub::embed {
namespace {

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

double Norm(const std::vector<float>& a) { return std::sqrt(Dot(a, a)); }

std::unique_ptr<BuiltinEmbedder> Make(int dimension = 0) {
    config::EmbeddingConfig cfg;
    cfg.dimension = dimension;
    auto r = BuiltinEmbedder::Create(cfg);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
}

const char* const kUrlParse = R"(def urlparse(url, scheme='', allow_fragments=True):
    url, scheme, _coerce_result = _coerce_args(url, scheme)
    splitresult = urlsplit(url, scheme, allow_fragments)
    scheme, netloc, url, query, fragment = splitresult
    if scheme in uses_params and ';' in url:
        url, params = _splitparams(url)
    else:
        params = ''
    result = ParseResult(scheme, netloc, url, params, query, fragment)
    return _coerce_result(result)
)";

const char* const kJsonEncode = R"(def encode(self, o):
    if isinstance(o, str):
        if self.ensure_ascii:
            return encode_basestring_ascii(o)
        else:
            return encode_basestring(o)
    chunks = self.iterencode(o, _one_shot=True)
    if not isinstance(chunks, (list, tuple)):
        chunks = list(chunks)
    return ''.join(chunks)
)";

const char* const kCopyFile = R"(def copyfile(src, dst, *, follow_symlinks=True):
    if _samefile(src, dst):
        raise SameFileError("{!r} and {!r} are the same file".format(src, dst))
    with open(src, 'rb') as fsrc:
        with open(dst, 'wb') as fdst:
            copyfileobj(fsrc, fdst)
    return dst
)";

const char* const kReadLines = R"(function readLines(path) {
  const content = fs.readFileSync(path, 'utf8');
  return content.split('\n').filter((line) => line.length > 0);
})";

TEST(BuiltinEmbedder, CreateValidatesConfig) {
    config::EmbeddingConfig cfg;
    auto def = BuiltinEmbedder::Create(cfg);
    ASSERT_TRUE(def.ok());
    EXPECT_EQ((*def)->dimension(), 512);
    EXPECT_EQ((*def)->model(), "builtin-hash-v1");
    EXPECT_EQ((*def)->batch_size(), 64U);
    EXPECT_EQ((*def)->SpecFor("c").dimension, 512);

    cfg.dimension = 4;
    EXPECT_EQ(BuiltinEmbedder::Create(cfg).status().code(), ErrorCode::kInvalidArgument);
    cfg.dimension = 8193;
    EXPECT_EQ(BuiltinEmbedder::Create(cfg).status().code(), ErrorCode::kInvalidArgument);
    cfg.dimension = 8;
    EXPECT_TRUE(BuiltinEmbedder::Create(cfg).ok());
    cfg.model = "text-embedding-3-small";
    auto bad_model = BuiltinEmbedder::Create(cfg);
    EXPECT_EQ(bad_model.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(bad_model.status().message(), ::testing::HasSubstr("builtin-hash-v1"));
    cfg.model = "builtin-hash-v1";
    cfg.batch_size = 0;
    EXPECT_EQ(BuiltinEmbedder::Create(cfg).status().code(), ErrorCode::kInvalidArgument);
}

TEST(BuiltinEmbedder, IsDeterministicWithKnownValues) {
    // Golden values: if these change, the embedding space changed and the
    // model name (builtin-hash-v1) must be bumped.
    auto e = Make(16);
    std::vector<float> v = e->EmbedOne("getUserName(id)");
    ASSERT_EQ(v.size(), 16U);
    const std::vector<float> expected = {0.142119154F, -0.406054765F, 0.426357478F,
                                         0.203027382F, -0.406054765F, 0.345146537F};
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(v[i], expected[i]) << "component " << i;
    EXPECT_EQ(e->EmbedOne("getUserName(id)"), v);
}

TEST(BuiltinEmbedder, VectorsAreNormalisedAndSized) {
    for (int dim : {8, 64, 512, 1000}) {
        auto e = Make(dim);
        std::vector<std::string> texts = {kUrlParse, kJsonEncode, "x", "the"};
        auto r = e->Embed(texts, Purpose::kDocument);
        ASSERT_TRUE(r.ok());
        ASSERT_EQ(r->size(), texts.size());
        for (const auto& v : *r) {
            EXPECT_EQ(v.size(), static_cast<size_t>(dim));
            EXPECT_NEAR(Norm(v), 1.0, 1e-5);
        }
    }
}

TEST(BuiltinEmbedder, ReportsNoTokenUsage) {
    auto e = Make();
    std::vector<std::string> texts = {kUrlParse};
    ASSERT_TRUE(e->Embed(texts, Purpose::kDocument).ok());
    EXPECT_EQ(e->tokens_used(), std::nullopt);  // no provider usage: no signal_hub_embedding_tokens_total
}

TEST(BuiltinEmbedder, EmptyTextGivesZeroVector) {
    auto e = Make();
    for (const char* text : {"", "   \n\t", "+-*/ (){}"}) {
        std::vector<float> v = e->EmbedOne(text);
        ASSERT_EQ(v.size(), 512U);
        EXPECT_EQ(Norm(v), 0.0) << "text '" << text << "'";
    }
}

TEST(BuiltinEmbedder, QueryRanksMatchingCodeFirst) {
    auto e = Make();
    std::vector<std::string> docs = {kJsonEncode, kCopyFile, kUrlParse, kReadLines};
    auto d = e->Embed(docs, Purpose::kDocument);
    ASSERT_TRUE(d.ok());
    auto best = [&](const std::string& query) {
        std::vector<std::string> q = {query};
        auto qv = e->Embed(q, Purpose::kQuery);
        EXPECT_TRUE(qv.ok());
        size_t best_index = 0;
        double best_score = -2;
        for (size_t i = 0; i < d->size(); ++i) {
            double s = Dot((*qv)[0], (*d)[i]);
            if (s > best_score) {
                best_score = s;
                best_index = i;
            }
        }
        return best_index;
    };
    EXPECT_EQ(best("parse a URL into components"), 2U);
    EXPECT_EQ(best("encode an object as JSON string"), 0U);
    EXPECT_EQ(best("copy a file to a destination"), 1U);
    EXPECT_EQ(best("read lines of a file"), 3U);
}

TEST(BuiltinEmbedder, CamelAndSnakeCaseIdentifiersAreClose) {
    auto e = Make();
    auto camel = e->EmbedOne("getUserName(userId)");
    auto snake = e->EmbedOne("get_user_name(user_id)");
    auto other = e->EmbedOne("parseHttpRequest(buffer)");
    EXPECT_GT(Dot(camel, snake), 0.95);
    EXPECT_LT(Dot(camel, other), 0.3);
}

TEST(BuiltinEmbedder, StemmingSharesStems) {
    EXPECT_EQ(StemSubWord("parse"), StemSubWord("parser"));
    EXPECT_EQ(StemSubWord("parse"), StemSubWord("parsing"));
    EXPECT_EQ(StemSubWord("parse"), StemSubWord("parsed"));
    EXPECT_EQ(StemSubWord("parse"), StemSubWord("parses"));
    EXPECT_EQ(StemSubWord("component"), StemSubWord("components"));
    EXPECT_EQ(StemSubWord("copy"), StemSubWord("copies"));
    EXPECT_EQ(StemSubWord("copy"), StemSubWord("copier"));
    EXPECT_EQ(StemSubWord("connect"), StemSubWord("connection"));
    EXPECT_EQ(StemSubWord("run"), StemSubWord("running"));
    EXPECT_EQ(StemSubWord("class"), "class");
    EXPECT_EQ(StemSubWord("string"), "string");
    EXPECT_EQ(StemSubWord("utf8"), "utf8");
}

TEST(BuiltinEmbedder, ConcurrentEmbedGivesIdenticalResults) {
    auto e = Make();
    std::vector<std::string> texts = {kUrlParse, kJsonEncode, kCopyFile, kReadLines, "", "x y z"};
    auto reference = e->Embed(texts, Purpose::kDocument);
    ASSERT_TRUE(reference.ok());
    std::vector<std::vector<std::vector<float>>> results(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 20; ++round) {
                auto r = e->Embed(texts, Purpose::kDocument);
                if (!r.ok()) return;
                results[t] = std::move(r).value();
                if (results[t] != *reference) return;
            }
        });
    }
    for (auto& th : threads) th.join();
    for (const auto& r : results) EXPECT_EQ(r, *reference);
}

}  // namespace
}  // namespace signalhub::embed

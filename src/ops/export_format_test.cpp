#include "core/test_temp_dir.hpp"
#include "ops/export_format.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "ops/export_reader.hpp"
#include "ops/line_io.hpp"

using signalhub::testing_util::TempDir;

namespace signalhub::ops {
namespace {

namespace fs = std::filesystem;


Record RoundTrip(const Record& r) {
    auto line = EncodeRecord(r);
    EXPECT_TRUE(line.ok()) << line.status().ToString();
    auto parsed = ParseLine(*line);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << *line;
    EXPECT_EQ(parsed->kind, LineKind::kRecord);
    return parsed->record;
}

void ExpectBitEqual(const std::vector<float>& a, const std::vector<float>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(std::bit_cast<std::uint32_t>(a[i]), std::bit_cast<std::uint32_t>(b[i])) << "index " << i << " " << a[i];
    }
}

TEST(ExportFormat, FloatEdgeValuesRoundTripBitExactly) {
    using L = std::numeric_limits<float>;
    Record r;
    r.id = "edge";
    r.embedding = {0.0f, -0.0f, L::denorm_min(), -L::denorm_min(), L::min(), -L::min(), L::max(), L::lowest(),
                   L::epsilon(), 1.0f, -1.0f, 0.1f, 1.0f / 3.0f, 16777216.0f, 16777215.0f, 1e-38f, 3.0e-39f,
                   std::nextafter(1.0f, 2.0f), std::nextafter(L::min(), 0.0f)};
    Record back = RoundTrip(r);
    ExpectBitEqual(r.embedding, back.embedding);
    EXPECT_TRUE(std::signbit(back.embedding[1]));
}

TEST(ExportFormat, RandomFloatBitPatternsRoundTrip) {
    std::mt19937 rng(42);
    Record r;
    r.id = "random";
    while (r.embedding.size() < 20000) {
        const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
        if (std::isfinite(f)) r.embedding.push_back(f);
    }
    ExpectBitEqual(r.embedding, RoundTrip(r).embedding);
}

TEST(ExportFormat, NonFiniteEmbeddingValuesAreRefused) {
    Record r;
    r.id = "nan";
    r.embedding = {1.0f, std::numeric_limits<float>::quiet_NaN()};
    auto line = EncodeRecord(r);
    ASSERT_FALSE(line.ok());
    EXPECT_EQ(line.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(line.status().message().find("not finite"), std::string::npos);
    r.embedding = {std::numeric_limits<float>::infinity()};
    EXPECT_FALSE(EncodeRecord(r).ok());
    // And on reading: a value that is not a float32 is refused.
    EXPECT_FALSE(ParseLine(R"({"type":"record","id":"x","metadata":{},"embedding":[1e39]})").ok());
    EXPECT_FALSE(ParseLine(R"({"type":"record","id":"x","metadata":{},"embedding":["nan"]})").ok());
}

TEST(ExportFormat, MetadataTypesStayExact) {
    Record r;
    r.id = "meta";
    r.metadata = {{"int", std::int64_t{1}},
                  {"float_one", 1.0},
                  {"float", 0.1},
                  {"big", std::int64_t{INT64_MAX}},
                  {"neg", std::int64_t{INT64_MIN}},
                  {"bool", true},
                  {"str", std::string("1")},
                  {"nan", std::numeric_limits<double>::quiet_NaN()},
                  {"ninf", -std::numeric_limits<double>::infinity()},
                  {"denorm", std::numeric_limits<double>::denorm_min()},
                  {"negzero", -0.0}};
    r.embedding = {1.0f};
    Record back = RoundTrip(r);
    ASSERT_EQ(back.metadata.size(), r.metadata.size());
    EXPECT_EQ(back.metadata.at("int"), MetadataValue(std::int64_t{1}));
    EXPECT_TRUE(std::holds_alternative<double>(back.metadata.at("float_one")));
    EXPECT_EQ(std::get<double>(back.metadata.at("float")), 0.1);
    EXPECT_EQ(back.metadata.at("big"), MetadataValue(std::int64_t{INT64_MAX}));
    EXPECT_EQ(back.metadata.at("neg"), MetadataValue(std::int64_t{INT64_MIN}));
    EXPECT_EQ(back.metadata.at("bool"), MetadataValue(true));
    EXPECT_EQ(back.metadata.at("str"), MetadataValue(std::string("1")));
    EXPECT_TRUE(std::isnan(std::get<double>(back.metadata.at("nan"))));
    EXPECT_EQ(std::get<double>(back.metadata.at("denorm")), std::numeric_limits<double>::denorm_min());
    EXPECT_TRUE(std::signbit(std::get<double>(back.metadata.at("negzero"))));
    EXPECT_EQ(RecordDigest(back), RecordDigest(r));
}

TEST(ExportFormat, UnicodeIdsWithSpacesAndSlashesAndNoDocument) {
    Record r;
    r.id = "src/dir with space/ünï cödé.py#0 \"quoted\" \\ back\tslash";
    r.metadata = {{"symbol", std::string("日本語 ✓ 🚀")}};
    r.embedding = {0.5f, -0.25f};
    Record back = RoundTrip(r);
    EXPECT_EQ(back.id, r.id);
    EXPECT_FALSE(back.document.has_value());
    EXPECT_EQ(back.metadata, r.metadata);
    r.document = std::string("line1\nline2\0with nul", 20);
    back = RoundTrip(r);
    ASSERT_TRUE(back.document.has_value());
    EXPECT_EQ(*back.document, *r.document);
    r.document = std::string("");
    back = RoundTrip(r);
    ASSERT_TRUE(back.document.has_value());
    EXPECT_EQ(*back.document, "");
}

TEST(ExportFormat, NonUtf8IdsAndDocumentsRoundTripAsBase64) {
    Record r;
    r.id = std::string("latin1-caf\xe9");
    r.embedding = {1.0f};
    for (std::string doc : {std::string("\xff\xfe"), std::string("Gr\xfc\xdf" "e\0x", 7), std::string("\xc0"),
                            std::string("ab\xc0"), std::string("abc\xc0")}) {
        r.document = doc;
        auto line = EncodeRecord(r);
        ASSERT_TRUE(line.ok()) << line.status().ToString();
        EXPECT_NE(line->find("{\"$base64\":\""), std::string::npos);
        Record back = RoundTrip(r);
        EXPECT_EQ(back.id, r.id);
        ASSERT_TRUE(back.document.has_value());
        EXPECT_EQ(*back.document, doc);
        EXPECT_EQ(RecordDigest(back), RecordDigest(r));
    }
    EXPECT_FALSE(ParseLine(R"({"type":"record","id":{"$base64":"a"},"metadata":{},"embedding":[]})").ok());
    // Metadata must be UTF-8 (as in every store): refused naming the record.
    r.metadata["k"] = std::string("\xff");
    auto line = EncodeRecord(r);
    ASSERT_FALSE(line.ok());
    EXPECT_NE(line.status().message().find("latin1-caf"), std::string::npos);
}

TEST(ExportFormat, HeaderAndTrailerRoundTrip) {
    ExportHeader h{"embedded", {"repo/x", "builtin-hash-v1", 384, DistanceMetric::kL2}, 12};
    auto p = ParseLine(EncodeHeader(h));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->kind, LineKind::kHeader);
    EXPECT_EQ(p->header.spec.name, "repo/x");
    EXPECT_EQ(p->header.spec.dimension, 384);
    EXPECT_EQ(p->header.spec.metric, DistanceMetric::kL2);
    EXPECT_EQ(p->header.records, 12);
    auto t = ParseLine(EncodeTrailer({"repo/x", 12, "00112233445566778899aabbccddeeff"}));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->trailer.checksum, "00112233445566778899aabbccddeeff");
    EXPECT_EQ(EncodeHeader(h).find("\"version\":1,"), EncodeHeader(h).find("\"version\""));  // no chroma: still 1
    auto v3 = ParseLine(R"({"format":"signal-hub-export","version":3,"type":"header"})");
    ASSERT_FALSE(v3.ok());
    EXPECT_NE(v3.status().message().find("version 3"), std::string::npos);
}

// Version 2: the header's optional "chroma" object (a Chroma collection's own metadata and configuration).
TEST(ExportFormat, ChromaCollectionMetadataRoundTrip) {
    ExportHeader h{"chromadb", {"orders.v2", "", 16, DistanceMetric::kCosine}, 3};
    h.chroma_metadata = R"({"hnsw:space":"cosine","owner":"team-a","public":true,"ratio":0.5,"version":3})";
    h.chroma_configuration = R"({"hnsw":{"ef_construction":150,"space":"cosine"},"spann":null})";
    const std::string line = EncodeHeader(h);
    EXPECT_NE(line.find("\"version\":2,"), std::string::npos) << line;
    auto p = ParseLine(line);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->header.chroma_metadata, h.chroma_metadata);  // int and float kept apart
    EXPECT_EQ(p->header.chroma_configuration, h.chroma_configuration);
    h.chroma_configuration.clear();  // metadata only
    auto q = ParseLine(EncodeHeader(h));
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    EXPECT_EQ(q->header.chroma_metadata, h.chroma_metadata);
    EXPECT_TRUE(q->header.chroma_configuration.empty());

    const std::string base =
        R"({"format":"signal-hub-export","type":"header","source":"chromadb","collection":"c","model":"",)"
        R"("dimension":4,"metric":"l2","records":0,)";
    for (const auto& [text, expect] : std::vector<std::pair<std::string, std::string>>{
             {base + R"("version":1,"chroma":{"metadata":{}}})", "needs format version 2"},
             {base + R"("version":2,"chroma":[1]})", "must be an object"},
             {base + R"("version":2,"chroma":{"metadata":"x"}})", "\"chroma\".metadata must be an object"},
             {base + R"("version":2,"chroma":{"other":{}}})", "unknown key"}}) {
        auto bad = ParseLine(text);
        ASSERT_FALSE(bad.ok()) << text;
        EXPECT_NE(bad.status().message().find(expect), std::string::npos) << bad.status().message();
    }
    auto without = ParseLine(base + R"("version":2})");  // version 2 without the object: fine
    ASSERT_TRUE(without.ok()) << without.status().ToString();
}

TEST(ExportFormat, DigestCoversEveryField) {
    Record a;
    a.id = "a";
    a.document = "doc";
    a.metadata = {{"k", std::int64_t{1}}};
    a.embedding = {1.0f, 2.0f};
    const Digest base = RecordDigest(a);
    Record b = a;
    b.metadata["k"] = 1.0;  // same number, other type
    EXPECT_NE(RecordDigest(b), base);
    b = a;
    b.document.reset();
    EXPECT_NE(RecordDigest(b), base);
    b = a;
    b.document = "";
    EXPECT_NE(RecordDigest(b), base);
    b = a;
    b.embedding[1] = std::nextafter(2.0f, 3.0f);
    EXPECT_NE(RecordDigest(b), base);
    b = a;
    b.embedding[0] = 0.0f;
    Record c = b;
    c.embedding[0] = -0.0f;
    EXPECT_NE(RecordDigest(b), RecordDigest(c));
    b = a;
    b.id = "b";
    EXPECT_NE(RecordDigest(b), base);
    EXPECT_EQ(RecordDigest(a), base);
    EXPECT_EQ(DigestHex(base).size(), 32u);
}

// Writes a file of `n` records in one collection with the given writer path.
void WriteExport(const std::string& path, int n, int dim = 8) {
    auto w = LineWriter::Open(path);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ExportHeader h{"embedded", {"c1", "m", dim, DistanceMetric::kCosine}, n};
    ASSERT_TRUE((*w)->WriteLine(EncodeHeader(h)).ok());
    CollectionChecksum sum;
    for (int i = 0; i < n; ++i) {
        Record r;
        char id[32];
        std::snprintf(id, sizeof id, "id%06d", i);
        r.id = id;
        r.document = "doc " + std::to_string(i);
        r.metadata = {{"i", std::int64_t{i}}};
        for (int d = 0; d < dim; ++d) r.embedding.push_back(static_cast<float>(i * dim + d) / 7.0f);
        sum.Add(RecordDigest(r));
        ASSERT_TRUE((*w)->WriteLine(*EncodeRecord(r)).ok());
    }
    ASSERT_TRUE((*w)->WriteLine(EncodeTrailer({"c1", n, sum.Hex()})).ok());
    ASSERT_TRUE((*w)->Close().ok());
}

class Counter : public ExportVisitor {
   public:
    Status OnRecord(const ExportHeader&, Record&&, const Digest&) override {
        ++records;
        return Status::Ok();
    }
    int records = 0;
};

TEST(ExportFile, PlainAndZstdRoundTrip) {
    TempDir dir;
    for (const std::string name : {"a.jsonl", "a.jsonl.zst"}) {
        const std::string path = dir / name;
        WriteExport(path, 5000);
        EXPECT_FALSE(fs::exists(path + ".partial"));
        Counter c;
        Status s = ReadExport(path, c);
        EXPECT_TRUE(s.ok()) << s.ToString();
        EXPECT_EQ(c.records, 5000);
    }
    EXPECT_LT(fs::file_size(dir / "a.jsonl.zst"), fs::file_size(dir / "a.jsonl") / 2);
    std::ifstream in(dir / "a.jsonl.zst", std::ios::binary);
    char magic[4];
    in.read(magic, 4);
    EXPECT_EQ(std::string(magic, 4), std::string("\x28\xb5\x2f\xfd", 4));
}

TEST(ExportFile, TruncatedFilesAreRefusedNamingTheLine) {
    TempDir dir;
    const std::string path = dir / "t.jsonl";
    WriteExport(path, 100);
    // Cut in the middle of line 51 (the 50th record).
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    size_t pos = 0;
    for (int i = 0; i < 50; ++i) pos = all.find('\n', pos) + 1;
    {
        std::ofstream out(path, std::ios::trunc);
        out << all.substr(0, pos + 20);
    }
    Counter c;
    Status s = ReadExport(path, c);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("t.jsonl:51:"), std::string::npos) << s.ToString();
    // Cut at a line boundary: the trailer is missing.
    {
        std::ofstream out(path, std::ios::trunc);
        out << all.substr(0, pos);
    }
    s = ReadExport(path, c);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
    EXPECT_NE(s.message().find("no trailer"), std::string::npos) << s.ToString();
    // Truncated zstd.
    const std::string zpath = dir / "t.jsonl.zst";
    WriteExport(zpath, 3000);
    fs::resize_file(zpath, fs::file_size(zpath) / 2);
    s = ReadExport(zpath, c);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kDataLoss) << s.ToString();
}

TEST(ExportFile, AlteredValuesFailTheChecksum) {
    TempDir dir;
    const std::string path = dir / "x.jsonl";
    WriteExport(path, 20);
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    const size_t at = all.find("\"doc 7\"");
    ASSERT_NE(at, std::string::npos);
    all.replace(at, 7, "\"doc 8\"");
    {
        std::ofstream out(path, std::ios::trunc);
        out << all;
    }
    Counter c;
    Status s = ReadExport(path, c);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
    EXPECT_NE(s.message().find("x.jsonl:22:"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos);
}

TEST(ExportFile, MalformedLinesAndOrderAreRefused) {
    TempDir dir;
    const std::string path = dir / "m.jsonl";
    WriteExport(path, 3);
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    auto write = [&](const std::vector<std::string>& ls) {
        std::ofstream out(path, std::ios::trunc);
        for (const auto& l : ls) out << l << "\n";
    };
    auto swapped = lines;
    std::swap(swapped[1], swapped[2]);
    write(swapped);
    Counter c;
    Status s = ReadExport(path, c);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("m.jsonl:3:"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("ascending"), std::string::npos);
    auto broken = lines;
    broken[2] = "{not json";
    write(broken);
    s = ReadExport(path, c);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.message().find("m.jsonl:3: not valid JSON"), std::string::npos) << s.ToString();
}

TEST(LineWriter, WithoutReplaceAnExistingFileIsKeptAndNothingIsLeftBehind) {
    TempDir dir;
    const std::string path = dir / "backup.jsonl";
    {
        std::ofstream old(path);
        old << "the old backup\n";
    }
    auto w = LineWriter::Open(path, /*replace=*/false);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->WriteLine("new").ok());
    const Status closed = (*w)->Close();
    EXPECT_EQ(closed.code(), ErrorCode::kAlreadyExists) << closed.ToString();
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "the old backup");
    EXPECT_FALSE(fs::exists(path + ".partial"));

    auto r = LineWriter::Open(path, /*replace=*/true);  // the default: replaced once complete
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*r)->WriteLine("new").ok());
    ASSERT_TRUE((*r)->Close().ok());
    std::ifstream again(path);
    std::getline(again, line);
    EXPECT_EQ(line, "new");
}

TEST(LineWriter, AnUnfinishedFileNeverReplacesTheOldOne) {
    TempDir dir;
    const std::string path = dir / "backup.jsonl";
    {
        std::ofstream old(path);
        old << "the old backup\n";
    }
    {
        auto w = LineWriter::Open(path, /*replace=*/true);
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE((*w)->WriteLine("half of a new export").ok());
        // destroyed without Close(): an export that failed part-way
    }
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "the old backup");
    EXPECT_FALSE(fs::exists(path + ".partial"));
}

}  // namespace
}  // namespace signalhub::ops

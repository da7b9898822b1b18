// Test tool: writes a valid export file of generated records (clustered random embeddings,
// typed metadata), for the migrate integration tests and measurements.
// Usage: gen_export_tool OUTPUT COLLECTION RECORDS DIMENSION [METRIC]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "ops/export_format.hpp"
#include "ops/line_io.hpp"

using namespace signalhub;

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s OUTPUT COLLECTION RECORDS DIMENSION [cosine|l2|ip]\n", argv[0]);
        return 2;
    }
    const std::string output = argv[1], collection = argv[2];
    const long n = std::atol(argv[3]);
    const int dim = std::atoi(argv[4]);
    auto metric = ParseDistanceMetric(argc > 5 ? argv[5] : "cosine");
    if (n < 0 || dim <= 0 || !metric.ok()) {
        std::fprintf(stderr, "bad arguments\n");
        return 2;
    }
    auto w = ops::LineWriter::Open(output);
    if (!w.ok()) {
        std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
        return 1;
    }
    std::mt19937 rng(12345);
    std::normal_distribution<float> noise(0.0f, 0.35f);
    std::vector<std::vector<float>> centers(64, std::vector<float>(static_cast<size_t>(dim)));
    for (auto& c : centers) {
        for (auto& x : c) x = noise(rng) / 0.35f;
    }
    ops::ExportHeader h{"embedded", {collection, "gen-test-v1", dim, *metric}, n};
    Status s = (*w)->WriteLine(ops::EncodeHeader(h));
    ops::CollectionChecksum sum;
    for (long i = 0; i < n && s.ok(); ++i) {
        Record r;
        char id[64];
        std::snprintf(id, sizeof id, "gen/dir %03ld/file_%06ld.py#%ld", i / 1000, i, i % 3);
        r.id = id;
        if (i % 10 != 0) r.document = "def f" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i) + "\n";
        r.metadata = {{"file_path", std::string(id).substr(0, std::string(id).find('#'))},
                      {"language", std::string("python")},
                      {"start_line", std::int64_t{i % 500}},
                      {"score", static_cast<double>(i) / 3.0},
                      {"generated", i % 2 == 0}};
        const auto& c = centers[static_cast<size_t>(rng() % centers.size())];
        r.embedding.resize(static_cast<size_t>(dim));
        for (int d = 0; d < dim; ++d) r.embedding[static_cast<size_t>(d)] = c[static_cast<size_t>(d)] + noise(rng);
        sum.Add(ops::RecordDigest(r));
        auto line = ops::EncodeRecord(r);
        s = line.ok() ? (*w)->WriteLine(*line) : line.status();
    }
    if (s.ok()) s = (*w)->WriteLine(ops::EncodeTrailer({collection, n, sum.Hex()}));
    if (s.ok()) s = (*w)->Close();
    if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
    }
    return 0;
}

#include "telemetry/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace signalhub::telemetry {
namespace {

TEST(RenderPrometheus, SmallRegistryExactText) {
    Registry registry;
    CounterFamily& requests = registry.AddCounter("app_requests_total", "Requests answered.", {"method", "code"});
    requests.WithLabels({"GET", "200"}).Inc();
    requests.WithLabels({"GET", "200"}).Inc(2);
    requests.WithLabels({"POST", "500"}).Inc();
    GaugeFamily& up = registry.AddGauge("app_up", "1 when up.");
    up.Get().Set(1);
    registry.AddCallback("app_items", "Items stored.", MetricType::kGauge, {"collection"}, [] {
        return std::vector<Sample>{{{"b"}, 2.5}, {{"a"}, 7}};
    });
    HistogramFamily& latency = registry.AddHistogram("app_seconds", "Latency.", {}, {0.1, 1});
    latency.Get().Observe(0.05);
    latency.Get().Observe(0.1);  // le is inclusive
    latency.Get().Observe(0.5);
    latency.Get().Observe(3);

    EXPECT_EQ(RenderPrometheus(registry.Collect()),
              "# HELP app_requests_total Requests answered.\n"
              "# TYPE app_requests_total counter\n"
              "app_requests_total{method=\"GET\",code=\"200\"} 3\n"
              "app_requests_total{method=\"POST\",code=\"500\"} 1\n"
              "# HELP app_up 1 when up.\n"
              "# TYPE app_up gauge\n"
              "app_up 1\n"
              "# HELP app_items Items stored.\n"
              "# TYPE app_items gauge\n"
              "app_items{collection=\"a\"} 7\n"
              "app_items{collection=\"b\"} 2.5\n"
              "# HELP app_seconds Latency.\n"
              "# TYPE app_seconds histogram\n"
              "app_seconds_bucket{le=\"0.1\"} 2\n"
              "app_seconds_bucket{le=\"1\"} 3\n"
              "app_seconds_bucket{le=\"+Inf\"} 4\n"
              "app_seconds_sum 3.65\n"
              "app_seconds_count 4\n");
}

TEST(RenderPrometheus, EscapesLabelValuesAndHelp) {
    Snapshot s;
    FamilySnapshot f;
    f.name = "x";
    f.help = "back\\slash\nnew \"quoted\"";
    f.type = MetricType::kGauge;
    f.label_names = {"v"};
    f.samples.push_back(Sample{{"a\"b\\c\nd"}, 1});
    s.families.push_back(f);
    EXPECT_EQ(RenderPrometheus(s),
              "# HELP x back\\\\slash\\nnew \"quoted\"\n"
              "# TYPE x gauge\n"
              "x{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(RenderPrometheus, HistogramBucketsAreCumulativeWithLabels) {
    Snapshot s;
    FamilySnapshot f;
    f.name = "h";
    f.help = "H.";
    f.type = MetricType::kHistogram;
    f.label_names = {"route"};
    f.bounds = {0.001, 0.5};
    HistogramSample h;
    h.label_values = {"mcp"};
    h.bucket_counts = {1, 0, 2};
    h.sum = 7.25;
    f.histograms.push_back(h);
    s.families.push_back(f);
    EXPECT_EQ(RenderPrometheus(s),
              "# HELP h H.\n"
              "# TYPE h histogram\n"
              "h_bucket{route=\"mcp\",le=\"0.001\"} 1\n"
              "h_bucket{route=\"mcp\",le=\"0.5\"} 1\n"
              "h_bucket{route=\"mcp\",le=\"+Inf\"} 3\n"
              "h_sum{route=\"mcp\"} 7.25\n"
              "h_count{route=\"mcp\"} 3\n");
}

TEST(RenderPrometheus, SpecialValues) {
    Snapshot s;
    FamilySnapshot f;
    f.name = "g";
    f.help = "G.";
    f.label_names = {"k"};
    f.samples = {Sample{{"nan"}, std::nan("")}, Sample{{"inf"}, std::numeric_limits<double>::infinity()},
                 Sample{{"neg"}, -2}, Sample{{"big"}, 1e20}, Sample{{"small"}, 0.000123}};
    s.families.push_back(f);
    EXPECT_EQ(RenderPrometheus(s),
              "# HELP g G.\n# TYPE g gauge\n"
              "g{k=\"nan\"} NaN\n"
              "g{k=\"inf\"} +Inf\n"
              "g{k=\"neg\"} -2\n"
              "g{k=\"big\"} 1e+20\n"
              "g{k=\"small\"} 0.000123\n");
}

TEST(Registry, FamilyWithoutSamplesRendersHelpAndType) {
    Registry registry;
    registry.AddCounter("c_total", "C.", {"reason"});
    EXPECT_EQ(RenderPrometheus(registry.Collect()), "# HELP c_total C.\n# TYPE c_total counter\n");
}

TEST(Registry, RejectsBadNamesDuplicatesAndLabelCounts) {
    Registry registry;
    EXPECT_THROW(registry.AddCounter("1bad", "x"), std::invalid_argument);
    EXPECT_THROW(registry.AddCounter("bad-name", "x"), std::invalid_argument);
    EXPECT_THROW(registry.AddGauge("g", "x", {"__reserved"}), std::invalid_argument);
    EXPECT_THROW(registry.AddHistogram("h", "x", {"le"}, {1}), std::invalid_argument);
    EXPECT_THROW(registry.AddHistogram("h2", "x", {}, {1, 1}), std::invalid_argument);
    CounterFamily& c = registry.AddCounter("ok_total", "x", {"a"});
    EXPECT_THROW(registry.AddGauge("ok_total", "x"), std::invalid_argument);
    EXPECT_THROW(c.WithLabels({"1", "2"}), std::invalid_argument);
}

TEST(Registry, ChildReferencesAreStableAndCountersNeverDecrease) {
    Registry registry;
    CounterFamily& c = registry.AddCounter("n_total", "N.", {"k"});
    Counter& a = c.WithLabels({"a"});
    for (int i = 0; i < 100; ++i) c.WithLabels({std::to_string(i)});
    EXPECT_EQ(&a, &c.WithLabels({"a"}));
    a.Inc(5);
    a.Inc(-3);
    EXPECT_EQ(a.Value(), 5);
    GaugeFamily& g = registry.AddGauge("g", "G.");
    g.Get().Add(2);
    g.Get().Add(-5);
    EXPECT_EQ(g.Get().Value(), -3);
}

TEST(Registry, ConcurrentRecordingAndCollection) {
    Registry registry;
    CounterFamily& c = registry.AddCounter("c_total", "C.", {"t"});
    HistogramFamily& h = registry.AddHistogram("h_seconds", "H.", {"t"}, LatencyBuckets());
    constexpr int kThreads = 4;
    constexpr int kEach = 5000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                c.WithLabels({std::to_string(i % 3)}).Inc();
                h.WithLabels({"x"}).Observe(0.001 * (t + 1));
            }
        });
    }
    threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
            Snapshot s = registry.Collect();
            for (const HistogramSample& hs : s.families[1].histograms) {
                std::uint64_t total = 0;
                for (auto n : hs.bucket_counts) total += n;
                EXPECT_LE(total, static_cast<std::uint64_t>(kThreads * kEach));
            }
            EXPECT_FALSE(RenderPrometheus(s).empty());
        }
    });
    for (auto& th : threads) th.join();
    double total = 0;
    const Snapshot final_snapshot = registry.Collect();
    for (const Sample& s : final_snapshot.families[0].samples) total += s.value;
    EXPECT_EQ(total, kThreads * kEach);
    const HistogramSample hs = registry.Collect().families[1].histograms.at(0);
    std::uint64_t count = 0;
    for (auto n : hs.bucket_counts) count += n;
    EXPECT_EQ(count, static_cast<std::uint64_t>(kThreads * kEach));
    EXPECT_EQ(hs.bucket_counts[0], static_cast<std::uint64_t>(kEach));  // t=0 observed 0.001 (le inclusive)
}

}  // namespace
}  // namespace signalhub::telemetry

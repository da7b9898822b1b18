#pragma once
// Metrics: a small thread-safe registry of counter, gauge and histogram
// families, and a pure renderer of the Prometheus text exposition format 0.0.4.
//
// A family has a name, a help text and fixed label names; its children (one
// per combination of label values) are created on first use by WithLabels()
// and live as long as the registry, so a hot call site looks its child up once
// and keeps the reference: recording is then one atomic operation (a counter's
// Inc, a gauge's Set) or three (a histogram's Observe).
//
// Values that already live elsewhere (the HTTP server's counters, the session
// count, the database pool, /proc) are callback families: the callback runs
// at collection time (on the scraping thread) and returns the samples.
//
// Collect() takes a Snapshot (plain data); RenderPrometheus() turns a Snapshot
// into text. Families are rendered in registration order, children in label
// value order.
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
// (not starting with "__"; "le" is reserved for histograms). Registering an
// invalid or duplicate name is a programming error: std::invalid_argument
// (start-up time only). WithLabels() with the wrong number of values throws
// std::invalid_argument too.
//
// Thread safety: everything is thread-safe. Collect() may run concurrently
// with recording; a histogram child's snapshot is then consistent in itself
// (its count is the sum of its buckets), its sum may lag by the observations
// in progress.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace signalhub::telemetry {

enum class MetricType { kCounter, kGauge, kHistogram };

// ---------------------------------------------------------------------------
// Snapshot: what the renderer needs, nothing else.

struct Sample {
    std::vector<std::string> label_values;  // one per family label name, in order
    double value = 0;
};

struct HistogramSample {
    std::vector<std::string> label_values;
    // bucket_counts[i]: observations <= bounds[i] and > bounds[i-1] (not
    // cumulative); one more entry at the end for those above the last bound.
    std::vector<std::uint64_t> bucket_counts;
    double sum = 0;
};

struct FamilySnapshot {
    std::string name;
    std::string help;
    MetricType type = MetricType::kGauge;
    std::vector<std::string> label_names;
    std::vector<double> bounds;                // histograms: upper bounds, increasing, finite
    std::vector<Sample> samples;               // counters and gauges
    std::vector<HistogramSample> histograms;   // histograms
};

struct Snapshot {
    std::vector<FamilySnapshot> families;
};

// Text format 0.0.4: "# HELP" and "# TYPE" lines, then one line per sample;
// histograms as cumulative NAME_bucket{le="..."} lines ending with le="+Inf",
// then NAME_sum and NAME_count. Label values escape \, " and newline; help
// texts escape \ and newline. A family without samples renders its HELP and
// TYPE lines only. Pure: no I/O, no clock.
std::string RenderPrometheus(const Snapshot& snapshot);

// The content type of that text.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Latency buckets (seconds) used by every *_duration_seconds histogram.
const std::vector<double>& LatencyBuckets();

// ---------------------------------------------------------------------------
// Instruments.

class Counter {
   public:
    // `v` must be >= 0 (negative increments are ignored: a counter never goes down).
    void Inc(double v = 1);
    double Value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<double> value_{0};
};

class Gauge {
   public:
    void Set(double v) { value_.store(v, std::memory_order_relaxed); }
    void Add(double v);
    double Value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<double> value_{0};
};

class Histogram {
   public:
    explicit Histogram(const std::vector<double>* bounds);
    void Observe(double v);
    // Per-bucket (not cumulative) counts, the last one above the last bound.
    std::vector<std::uint64_t> BucketCounts() const;
    double Sum() const { return sum_.load(std::memory_order_relaxed); }

   private:
    const std::vector<double>* bounds_;  // the family's
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    std::atomic<double> sum_{0};
};

template <class M>
class Family {
   public:
    // The child for these label values (as many as label names), created on
    // first use. The reference stays valid for the registry's lifetime.
    M& WithLabels(std::initializer_list<std::string_view> values);
    M& WithLabels(const std::vector<std::string>& values);
    // The child of a family without labels.
    M& Get() { return WithLabels(std::vector<std::string>{}); }

   private:
    friend class Registry;
    Family(std::string name, std::vector<std::string> label_names, std::vector<double> bounds)
        : name_(std::move(name)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}
    template <class F>
    void ForEach(F f) const {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& [values, child] : children_) f(values, *child);
    }

    const std::string name_;
    const std::vector<std::string> label_names_;
    const std::vector<double> bounds_;  // histograms only
    mutable std::mutex mu_;
    std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Returns the samples of a callback family at collection time. Runs on the
// collecting thread, possibly concurrently with itself; must not call back
// into the registry.
using SampleCallback = std::function<std::vector<Sample>()>;

class Registry {
   public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // A family without labels gets its single child at once, so it renders 0
    // before anything is recorded.
    CounterFamily& AddCounter(std::string name, std::string help, std::vector<std::string> label_names = {});
    GaugeFamily& AddGauge(std::string name, std::string help, std::vector<std::string> label_names = {});
    // `bounds`: increasing, finite upper bounds (the +Inf bucket is implicit).
    HistogramFamily& AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                  std::vector<double> bounds);
    // `type` is kCounter or kGauge.
    void AddCallback(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                     SampleCallback callback);

    // Every family's current values. Thread-safe.
    Snapshot Collect() const;

   private:
    struct Entry;
    void Register(std::unique_ptr<Entry> entry);

    mutable std::mutex mu_;
    std::vector<std::unique_ptr<Entry>> entries_;  // registration order
};

// ---------------------------------------------------------------------------

template <class M>
M& Family<M>::WithLabels(std::initializer_list<std::string_view> values) {
    std::vector<std::string> v;
    v.reserve(values.size());
    for (std::string_view s : values) v.emplace_back(s);
    return WithLabels(v);
}

void CheckLabelCount(const std::string& family, std::size_t expected, std::size_t got);

template <class M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
    CheckLabelCount(name_, label_names_.size(), values.size());
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(values);
    if (it == children_.end()) {
        std::unique_ptr<M> child;
        if constexpr (std::is_same_v<M, Histogram>) {
            child = std::make_unique<M>(&bounds_);
        } else {
            child = std::make_unique<M>();
        }
        it = children_.emplace(values, std::move(child)).first;
    }
    return *it->second;
}

}  // namespace signalhub::telemetry

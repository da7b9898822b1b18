#include "telemetry/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace signalhub::telemetry {

namespace {

bool ValidName(std::string_view name, bool allow_colon) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) return false;
    }
    return true;
}

void AppendDouble(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    if (v == std::floor(v) && std::fabs(v) < 1e15) {  // integral: no exponent, no ".0"
        out += std::to_string(static_cast<long long>(v));
        return;
    }
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
    out.append(buf, r.ptr);
}

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
    for (char c : s) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (quote && c == '"') {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

// {a="x",b="y"} plus an optional trailing le; nothing when there are no labels.
void AppendLabels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                  const std::string* le = nullptr) {
    if (names.empty() && !le) return;
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
        if (!first) out += ',';
        first = false;
        out += names[i];
        out += "=\"";
        AppendEscaped(out, values[i], true);
        out += '"';
    }
    if (le) {
        if (!first) out += ',';
        out += "le=\"";
        out += *le;
        out += '"';
    }
    out += '}';
}

std::string_view TypeName(MetricType type) {
    switch (type) {
        case MetricType::kCounter: return "counter";
        case MetricType::kGauge: return "gauge";
        case MetricType::kHistogram: return "histogram";
    }
    return "untyped";
}

void AtomicAdd(std::atomic<double>& a, double v) {
    double old = a.load(std::memory_order_relaxed);
    while (!a.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
    }
}

}  // namespace

std::string RenderPrometheus(const Snapshot& snapshot) {
    std::string out;
    for (const FamilySnapshot& f : snapshot.families) {
        out += "# HELP ";
        out += f.name;
        out += ' ';
        AppendEscaped(out, f.help, false);
        out += "\n# TYPE ";
        out += f.name;
        out += ' ';
        out += TypeName(f.type);
        out += '\n';
        if (f.type != MetricType::kHistogram) {
            for (const Sample& s : f.samples) {
                out += f.name;
                AppendLabels(out, f.label_names, s.label_values);
                out += ' ';
                AppendDouble(out, s.value);
                out += '\n';
            }
            continue;
        }
        for (const HistogramSample& h : f.histograms) {
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
                if (i < h.bucket_counts.size()) cumulative += h.bucket_counts[i];
                std::string le;
                if (i < f.bounds.size()) {
                    AppendDouble(le, f.bounds[i]);
                } else {
                    le = "+Inf";
                }
                out += f.name;
                out += "_bucket";
                AppendLabels(out, f.label_names, h.label_values, &le);
                out += ' ';
                out += std::to_string(cumulative);
                out += '\n';
            }
            out += f.name;
            out += "_sum";
            AppendLabels(out, f.label_names, h.label_values);
            out += ' ';
            AppendDouble(out, h.sum);
            out += '\n';
            out += f.name;
            out += "_count";
            AppendLabels(out, f.label_names, h.label_values);
            out += ' ';
            out += std::to_string(cumulative);
            out += '\n';
        }
    }
    return out;
}

const std::vector<double>& LatencyBuckets() {
    static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,     10};
    return kBuckets;
}

void CheckLabelCount(const std::string& family, std::size_t expected, std::size_t got) {
    if (expected != got) {
        throw std::invalid_argument("metric " + family + " has " + std::to_string(expected) + " labels, got " +
                                    std::to_string(got) + " values");
    }
}

void Counter::Inc(double v) {
    if (!(v > 0)) return;
    AtomicAdd(value_, v);
}

void Gauge::Add(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds->size() + 1]) {
    for (std::size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
    // The first bound >= v (le is inclusive); NaN lands in +Inf.
    const std::size_t i = static_cast<std::size_t>(
        std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin());
    AtomicAdd(sum_, v);
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::BucketCounts() const {
    std::vector<std::uint64_t> out(bounds_->size() + 1);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
    return out;
}

// ---------------------------------------------------------------------------

struct Registry::Entry {
    std::string name;
    std::string help;
    MetricType type = MetricType::kGauge;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    SampleCallback callback;
};

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::Register(std::unique_ptr<Entry> entry) {
    if (!ValidName(entry->name, true)) throw std::invalid_argument("invalid metric name '" + entry->name + "'");
    for (const std::string& label : entry->label_names) {
        if (!ValidName(label, false) || label.rfind("__", 0) == 0 ||
            (entry->type == MetricType::kHistogram && label == "le")) {
            throw std::invalid_argument("invalid label name '" + label + "' in metric " + entry->name);
        }
    }
    if (entry->type == MetricType::kHistogram) {
        const auto& b = entry->bounds;
        for (std::size_t i = 0; i < b.size(); ++i) {
            if (!std::isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1]))
                throw std::invalid_argument("histogram " + entry->name + ": bounds must be finite and increasing");
        }
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : entries_) {
        if (e->name == entry->name) throw std::invalid_argument("metric " + entry->name + " registered twice");
    }
    entries_.push_back(std::move(entry));
}

CounterFamily& Registry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
    auto e = std::make_unique<Entry>();
    e->name = std::move(name);
    e->help = std::move(help);
    e->type = MetricType::kCounter;
    e->label_names = std::move(label_names);
    e->counter.reset(new CounterFamily(e->name, e->label_names, {}));
    CounterFamily& family = *e->counter;
    const bool plain = e->label_names.empty();
    Register(std::move(e));
    if (plain) family.Get();
    return family;
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
    auto e = std::make_unique<Entry>();
    e->name = std::move(name);
    e->help = std::move(help);
    e->type = MetricType::kGauge;
    e->label_names = std::move(label_names);
    e->gauge.reset(new GaugeFamily(e->name, e->label_names, {}));
    GaugeFamily& family = *e->gauge;
    const bool plain = e->label_names.empty();
    Register(std::move(e));
    if (plain) family.Get();
    return family;
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
    auto e = std::make_unique<Entry>();
    e->name = std::move(name);
    e->help = std::move(help);
    e->type = MetricType::kHistogram;
    e->label_names = std::move(label_names);
    e->bounds = bounds;
    e->histogram.reset(new HistogramFamily(e->name, e->label_names, std::move(bounds)));
    HistogramFamily& family = *e->histogram;
    const bool plain = e->label_names.empty();
    Register(std::move(e));
    if (plain) family.Get();
    return family;
}

void Registry::AddCallback(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                           SampleCallback callback) {
    if (type == MetricType::kHistogram) {
        throw std::invalid_argument("callback metric " + name + " cannot be a histogram");
    }
    auto e = std::make_unique<Entry>();
    e->name = std::move(name);
    e->help = std::move(help);
    e->type = type;
    e->label_names = std::move(label_names);
    e->callback = std::move(callback);
    Register(std::move(e));
}

Snapshot Registry::Collect() const {
    std::vector<const Entry*> entries;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& e : entries_) entries.push_back(e.get());  // entries live as long as the registry
    }
    Snapshot snapshot;
    snapshot.families.reserve(entries.size());
    for (const Entry* e : entries) {
        FamilySnapshot f;
        f.name = e->name;
        f.help = e->help;
        f.type = e->type;
        f.label_names = e->label_names;
        f.bounds = e->bounds;
        if (e->callback) {
            f.samples = e->callback();
            for (Sample& s : f.samples) s.label_values.resize(f.label_names.size());
            std::sort(f.samples.begin(), f.samples.end(),
                      [](const Sample& a, const Sample& b) { return a.label_values < b.label_values; });
        } else if (e->counter) {
            e->counter->ForEach([&](const std::vector<std::string>& v, const Counter& c) {
                f.samples.push_back(Sample{v, c.Value()});
            });
        } else if (e->gauge) {
            e->gauge->ForEach(
                [&](const std::vector<std::string>& v, const Gauge& g) { f.samples.push_back(Sample{v, g.Value()}); });
        } else if (e->histogram) {
            e->histogram->ForEach([&](const std::vector<std::string>& v, const Histogram& h) {
                HistogramSample s;
                s.label_values = v;
                s.bucket_counts = h.BucketCounts();
                s.sum = h.Sum();
                f.histograms.push_back(std::move(s));
            });
        }
        snapshot.families.push_back(std::move(f));
    }
    return snapshot;
}

}  // namespace signalhub::telemetry

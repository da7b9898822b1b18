#include "store/embedded/hnsw_index.hpp"

#include <fcntl.h>
#include <hnswlib/hnswlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <thread>

#include "store/embedded/distance.hpp"
#include "store/embedded/file_util.hpp"
#include "store/store_util.hpp"

namespace signalhub::store {

namespace {

constexpr size_t kM = kHnswM;
// SIGNAL_HUB_HNSW_EF_CONSTRUCTION (an integer 8..1000) overrides it for measurements (ADR-29c).
size_t EfConstruction() {
    static const size_t value = [] {
        const char* text = std::getenv("SIGNAL_HUB_HNSW_EF_CONSTRUCTION");
        if (text == nullptr) return kHnswEfConstruction;
        char* end = nullptr;
        const long v = std::strtol(text, &end, 10);
        return end != text && *end == '\0' && v >= 8 && v <= 1000 ? static_cast<size_t>(v) : kHnswEfConstruction;
    }();
    return value;
}
constexpr size_t kMinCapacity = 1024;
constexpr size_t kParallelBuildMin = 4096;
constexpr size_t kLinkListSlack = 2 * sizeof(hnswlib::tableint);

using Graph = hnswlib::HierarchicalNSW<float>;

// Our run-time dispatched kernels (distance.hpp), not hnswlib's compile-time SSE ones: the same
// distances (1 - a.b, or squared L2), so files written by either load in the other.
class KernelSpace : public hnswlib::SpaceInterface<float> {
   public:
    KernelSpace(size_t dimension, DistanceMetric metric) : dimension_(dimension), func_(distance::HnswDistance(metric)) {}
    size_t get_data_size() override { return dimension_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return func_; }
    void* get_dist_func_param() override { return &dimension_; }

   private:
    size_t dimension_;
    hnswlib::DISTFUNC<float> func_;
};

std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(int dimension, DistanceMetric metric) {
    return std::make_unique<KernelSpace>(static_cast<size_t>(dimension), metric);
}

std::string ErrnoText() { return std::strerror(errno); }

// Reads the whole file once: XXH3-64 of its bytes, then fsync.
Result<HnswIndex::FileInfo> HashAndSync(const std::string& path, bool sync) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Internal("cannot open " + path + ": " + ErrnoText());
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    std::vector<char> buffer(1 << 20);
    HnswIndex::FileInfo info;
    Status status;
    while (true) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            status = Internal("cannot read " + path + ": " + ErrnoText());
            break;
        }
        if (n == 0) break;
        XXH3_64bits_update(state, buffer.data(), static_cast<size_t>(n));
        info.bytes += n;
    }
    info.xxh3 = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    if (status.ok() && sync && ::fsync(fd) != 0) status = Internal("cannot fsync " + path + ": " + ErrnoText());
    ::close(fd);
    if (!status.ok()) return status;
    return info;
}


constexpr char kGraphMagic[8] = {'S', 'H', 'H', 'N', 'S', 'W', 'G', '\n'};
constexpr std::uint32_t kGraphFormat = 2;

template <typename T>
void Put(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Reads a graph file front to back; every read is bounds-checked.
class Reader {
   public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}
    template <typename T>
    bool Get(T& value) {
        if (bytes_.size() - pos_ < sizeof value) return false;
        std::memcpy(&value, bytes_.data() + pos_, sizeof value);
        pos_ += sizeof value;
        return true;
    }
    const char* Take(size_t n) {
        if (bytes_.size() - pos_ < n) return nullptr;
        const char* p = bytes_.data() + pos_;
        pos_ += n;
        return p;
    }
    size_t remaining() const { return bytes_.size() - pos_; }

   private:
    std::string_view bytes_;
    size_t pos_ = 0;
};

}  // namespace

class HnswIndex::Impl {
   public:
    Impl(int dim, DistanceMetric m) : dimension(dim), metric(m), space(MakeSpace(dim, m)) {}
    int dimension;
    DistanceMetric metric;
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;  // must outlive graph
    std::unique_ptr<Graph> graph;
    int loaded_format = 0;

    double ToScore(float distance) const {
        if (metric == DistanceMetric::kL2) return -std::sqrt(std::max(0.0, static_cast<double>(distance)));
        return 1.0 - static_cast<double>(distance);
    }

    // Every link must point at an element that exists on that level, and the
    // entry point must be on the top level; hnswlib reads out of bounds otherwise.
    Status CheckStructure() const {
        const Graph& g = *graph;
        if (g.cur_element_count == 0) return Status::Ok();
        if (g.enterpoint_node_ >= g.cur_element_count || g.element_levels_[g.enterpoint_node_] != g.maxlevel_) {
            return DataLoss("inconsistent entry point");
        }
        for (size_t i = 0; i < g.cur_element_count; ++i) {
            const int levels = g.element_levels_[i];
            if (levels < 0 || levels > g.maxlevel_) return DataLoss("inconsistent element level");
            for (int level = 0; level <= levels; ++level) {
                const auto id = static_cast<hnswlib::tableint>(i);
                hnswlib::linklistsizeint* list = level == 0 ? g.get_linklist0(id) : g.get_linklist(id, level);
                const size_t count = g.getListCount(list);
                if (count > (level == 0 ? g.maxM0_ : g.maxM_)) return DataLoss("inconsistent link count");
                const auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
                for (size_t j = 0; j < count; ++j) {
                    if (links[j] >= g.cur_element_count || g.element_levels_[links[j]] < level) {
                        return DataLoss("inconsistent link at level " + std::to_string(level) + " of element " +
                                        std::to_string(i) + " to " + std::to_string(links[j]));
                    }
                }
            }
        }
        return Status::Ok();
    }

    // The graph file (format 2, see hnsw_index.hpp) of the current graph.
    std::string Serialise() const {
        const Graph& g = *graph;
        const size_t n = g.cur_element_count;
        const size_t vector_bytes = static_cast<size_t>(dimension) * sizeof(float);
        size_t upper = 0;
        for (size_t i = 0; i < n; ++i) upper += static_cast<size_t>(std::max(0, g.element_levels_[i]));
        std::string out;
        out.reserve(64 + n * (12 + g.size_links_level0_) + upper * g.size_links_per_element_ +
                    g.num_deleted_ * vector_bytes);
        out.append(kGraphMagic, sizeof kGraphMagic);
        Put<std::uint32_t>(out, kGraphFormat);
        Put<std::uint32_t>(out, static_cast<std::uint32_t>(dimension));
        Put<std::uint32_t>(out, static_cast<std::uint32_t>(g.M_));
        Put<std::uint32_t>(out, static_cast<std::uint32_t>(g.ef_construction_));
        Put<std::uint64_t>(out, n);
        Put<std::int32_t>(out, g.maxlevel_);
        Put<std::uint32_t>(out, g.enterpoint_node_);
        Put<std::uint64_t>(out, g.num_deleted_);
        for (size_t i = 0; i < n; ++i) {
            Put<std::uint64_t>(out, g.getExternalLabel(static_cast<hnswlib::tableint>(i)));
            Put<std::int32_t>(out, g.element_levels_[i]);
        }
        for (size_t i = 0; i < n; ++i) {
            out.append(reinterpret_cast<const char*>(g.get_linklist0(static_cast<hnswlib::tableint>(i))),
                       g.size_links_level0_);
        }
        for (size_t i = 0; i < n; ++i) {
            if (g.element_levels_[i] > 0) {
                out.append(g.linkLists_[i], g.size_links_per_element_ * static_cast<size_t>(g.element_levels_[i]));
            }
        }
        for (size_t i = 0; i < n; ++i) {
            const auto id = static_cast<hnswlib::tableint>(i);
            if (g.isMarkedDeleted(id)) out.append(g.getDataByInternalId(id), vector_bytes);
        }
        Put<std::uint64_t>(out, XXH3_64bits(out.data(), out.size()));
        return out;
    }

    // Builds the graph from a format-2 file's bytes; the live elements' vectors come from
    // `read_vectors`. Errors are DataLoss without the path (the caller adds it).
    Status LoadGraph(std::string_view bytes, const VectorReader& read_vectors) {
        if (bytes.size() < sizeof(kGraphMagic) + sizeof(std::uint64_t)) return DataLoss("truncated graph file");
        const std::string_view body = bytes.substr(0, bytes.size() - sizeof(std::uint64_t));
        std::uint64_t stored_hash = 0;
        std::memcpy(&stored_hash, bytes.data() + body.size(), sizeof stored_hash);
        if (XXH3_64bits(body.data(), body.size()) != stored_hash) return DataLoss("graph file checksum mismatch");
        Reader in(body.substr(sizeof kGraphMagic));
        std::uint32_t format = 0, dim = 0, m = 0, ef_construction = 0, entry = 0;
        std::uint64_t count = 0, deleted = 0;
        std::int32_t max_level = 0;
        if (!in.Get(format) || !in.Get(dim) || !in.Get(m) || !in.Get(ef_construction) || !in.Get(count) ||
            !in.Get(max_level) || !in.Get(entry) || !in.Get(deleted)) {
            return DataLoss("truncated graph file header");
        }
        if (format != kGraphFormat) return DataLoss("unknown graph file format " + std::to_string(format));
        if (dim != static_cast<std::uint32_t>(dimension)) return DataLoss("graph file has another dimension than its collection");
        if (m < 2 || m > 10000 || ef_construction == 0 || max_level < -1 || max_level > 64 || deleted > count ||
            count > in.remaining() / 12) {
            return DataLoss("inconsistent graph file header");
        }
        const size_t n = static_cast<size_t>(count);
        graph = std::make_unique<Graph>(space.get(), std::max(kMinCapacity, n + n / 4), m, ef_construction);
        Graph& g = *graph;
        std::vector<std::pair<std::uint64_t, std::int32_t>> elements(n);
        for (auto& [label, level] : elements) {
            in.Get(label);
            in.Get(level);
            if (level < 0 || level > max_level) return DataLoss("inconsistent element level");
        }
        const char* level0 = in.Take(n * g.size_links_level0_);
        if (level0 == nullptr) return DataLoss("truncated graph file (level-0 links)");
        g.cur_element_count = n;
        g.maxlevel_ = max_level;
        g.enterpoint_node_ = entry;
        const size_t vector_bytes = static_cast<size_t>(dimension) * sizeof(float);
        for (size_t i = 0; i < n; ++i) {
            const auto id = static_cast<hnswlib::tableint>(i);
            char* block = g.data_level0_memory_ + i * g.size_data_per_element_;
            std::memcpy(block, level0 + i * g.size_links_level0_, g.size_links_level0_);
            std::memset(block + g.offsetData_, 0, vector_bytes);
            const auto label = static_cast<hnswlib::labeltype>(elements[i].first);
            std::memcpy(block + g.label_offset_, &label, sizeof label);
            if (!g.label_lookup_.emplace(label, id).second) return DataLoss("duplicate label in graph file");
            g.linkLists_[i] = nullptr;
        }
        for (size_t i = 0; i < n; ++i) {
            if (elements[i].second == 0) continue;
            const size_t list_bytes = g.size_links_per_element_ * static_cast<size_t>(elements[i].second);
            const char* lists = in.Take(list_bytes);
            if (lists == nullptr) return DataLoss("truncated graph file (upper links)");
            // searchBaseLayer prefetches one link past a full list: keep the slack Build has.
            auto* copy = static_cast<char*>(std::malloc(list_bytes + kLinkListSlack));
            if (copy == nullptr) throw std::bad_alloc();
            std::memcpy(copy, lists, list_bytes);
            std::memset(copy + list_bytes, 0, kLinkListSlack);
            g.linkLists_[i] = copy;
            g.element_levels_[i] = elements[i].second;  // from now on the graph frees it
        }
        g.num_deleted_ = 0;
        for (size_t i = 0; i < n; ++i) {
            const auto id = static_cast<hnswlib::tableint>(i);
            if (!g.isMarkedDeleted(id)) continue;
            const char* v = in.Take(vector_bytes);
            if (v == nullptr) return DataLoss("truncated graph file (vectors of deleted elements)");
            std::memcpy(g.getDataByInternalId(id), v, vector_bytes);
            ++g.num_deleted_;
        }
        if (g.num_deleted_ != deleted || in.remaining() != 0) return DataLoss("inconsistent graph file length");
        std::vector<bool> filled(n, false);
        Status sink_status;
        SH_RETURN_IF_ERROR(read_vectors([&](std::int64_t label, std::span<const float> vector) {
            auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
            if (it == g.label_lookup_.end() || g.isMarkedDeleted(it->second)) return;
            if (vector.size() != static_cast<size_t>(dimension)) {
                sink_status = DataLoss("vector of label " + std::to_string(label) + " has another dimension");
                return;
            }
            std::vector<float> v = PrepareVector(metric, vector);
            std::memcpy(g.getDataByInternalId(it->second), v.data(), vector_bytes);
            filled[it->second] = true;
        }));
        SH_RETURN_IF_ERROR(sink_status);
        // A live element without a record: deleted after the file was saved (the change log
        // replays that too). It keeps a zero vector for routing until the graph is compacted.
        for (size_t i = 0; i < n; ++i) {
            const auto id = static_cast<hnswlib::tableint>(i);
            if (!filled[i] && !g.isMarkedDeleted(id)) g.markDeletedInternal(id);
        }
        return Status::Ok();
    }

    // hnswlib's updatePoint copies each link list of the element and of its neighbours with
    // memcpy(vector.data(), ...), which is undefined for an empty list (a null pointer; UBSan
    // stops there). It happens when an element is alone on one of its levels.
    bool UpdateIsDefined(hnswlib::tableint id) const {
        const Graph& g = *graph;
        auto list_empty = [&g](hnswlib::tableint e, int level) {
            hnswlib::linklistsizeint* list = level == 0 ? g.get_linklist0(e) : g.get_linklist(e, level);
            return g.getListCount(list) == 0;
        };
        for (int level = 0; level <= g.element_levels_[id]; ++level) {
            if (list_empty(id, level)) return false;
            hnswlib::linklistsizeint* list = level == 0 ? g.get_linklist0(id) : g.get_linklist(id, level);
            const auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
            for (size_t j = 0; j < g.getListCount(list); ++j) {
                if (list_empty(links[j], level)) return false;
            }
        }
        return true;
    }

    void EnsureCapacity(size_t extra) {
        size_t needed = graph->cur_element_count + extra;
        if (needed <= graph->max_elements_) return;
        graph->resizeIndex(std::max({needed, graph->max_elements_ * 2, kMinCapacity}));
    }
};

HnswIndex::HnswIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswIndex::~HnswIndex() = default;

Result<std::unique_ptr<HnswIndex>> HnswIndex::Build(int dimension, DistanceMetric metric,
                                                    const std::vector<std::int64_t>& labels,
                                                    const std::vector<float>& vectors) {
    const auto dim = static_cast<size_t>(dimension);
    if (vectors.size() != labels.size() * dim) return Internal("hnsw build: vector buffer size mismatch");
    try {
        auto impl = std::make_unique<Impl>(dimension, metric);
        size_t capacity = std::max(kMinCapacity, labels.size() + labels.size() / 4);
        impl->graph = std::make_unique<Graph>(impl->space.get(), capacity, kM, EfConstruction());
        auto add = [&](size_t i) {
            std::vector<float> v = PrepareVector(metric, std::span<const float>(vectors.data() + i * dim, dim));
            impl->graph->addPoint(v.data(), static_cast<hnswlib::labeltype>(labels[i]));
        };
        size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 8);
        if (labels.size() < kParallelBuildMin || threads == 1) {
            for (size_t i = 0; i < labels.size(); ++i) add(i);
        } else {
            // hnswlib supports concurrent addPoint of distinct labels into a pre-sized graph.
            std::atomic<size_t> next{0};
            std::atomic<bool> failed{false};
            std::string error;
            std::mutex error_mu;
            std::vector<std::thread> workers;
            for (size_t t = 0; t < threads; ++t) {
                workers.emplace_back([&] {
                    try {
                        for (size_t i = next++; i < labels.size() && !failed; i = next++) add(i);
                    } catch (const std::exception& e) {
                        std::lock_guard lock(error_mu);
                        failed = true;
                        error = e.what();
                    }
                });
            }
            for (auto& w : workers) w.join();
            if (failed) return Internal("hnsw build failed: " + error);
        }
        return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
    } catch (const std::exception& e) {
        return Internal(std::string("hnsw build failed: ") + e.what());
    }
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::Load(const std::string& path, int dimension, DistanceMetric metric,
                                                   const FileInfo& expected, const VectorReader& read_vectors) {
    {
        char magic[sizeof kGraphMagic] = {};
        std::ifstream probe(path, std::ios::binary);
        if (!probe.is_open()) return DataLoss("cannot open hnsw file " + path);
        probe.read(magic, sizeof magic);
        if (probe.gcount() == sizeof magic && std::memcmp(magic, kGraphMagic, sizeof magic) == 0) {
            probe.close();
            Result<std::string> bytes = ReadWholeFile(path);
            if (!bytes.ok()) return DataLoss(bytes.status().message());
            if (static_cast<std::int64_t>(bytes->size()) != expected.bytes ||
                XXH3_64bits(bytes->data(), bytes->size()) != expected.xxh3) {
                return DataLoss("hnsw file " + path + " does not match its sidecar (size or checksum)");
            }
            try {
                auto impl = std::make_unique<Impl>(dimension, metric);
                SH_RETURN_IF_ERROR(impl->LoadGraph(*bytes, read_vectors).WithContext("hnsw file " + path));
                SH_RETURN_IF_ERROR(impl->CheckStructure().WithContext("hnsw file " + path));
                impl->loaded_format = 2;
                return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
            } catch (const std::exception& e) {
                return DataLoss("cannot load hnsw file " + path + ": " + e.what());
            }
        }
    }
    return LoadLegacy(path, dimension, metric, expected);
}

// Format 1: hnswlib 0.6.2's saveIndex, vectors included.
Result<std::unique_ptr<HnswIndex>> HnswIndex::LoadLegacy(const std::string& path, int dimension,
                                                         DistanceMetric metric, const FileInfo& expected) {
    auto actual = HashAndSync(path, false);
    if (!actual.ok()) return DataLoss(actual.status().message());
    if (actual->bytes != expected.bytes || actual->xxh3 != expected.xxh3) {
        return DataLoss("hnsw file " + path + " does not match its sidecar (size or checksum)");
    }
    try {
        auto impl = std::make_unique<Impl>(dimension, metric);
        impl->graph = std::make_unique<Graph>(impl->space.get(), path, false, 0);
        Graph& g = *impl->graph;
        // hnswlib 0.6.2's loading constructor never initialises num_deleted_
        // (loadIndex only increments it): recount.
        g.num_deleted_ = 0;
        for (size_t i = 0; i < g.cur_element_count; ++i) {
            if (g.isMarkedDeleted(static_cast<hnswlib::tableint>(i))) ++g.num_deleted_;
        }
        // searchBaseLayer prefetches one link past a full list; loadIndex
        // allocates upper-level lists without slack. Pad them (hnswlib frees with free()).
        for (size_t i = 0; i < g.cur_element_count; ++i) {
            if (g.element_levels_[i] <= 0) continue;
            size_t bytes = g.size_links_per_element_ * static_cast<size_t>(g.element_levels_[i]);
            void* padded = std::realloc(g.linkLists_[i], bytes + kLinkListSlack);
            if (padded == nullptr) throw std::bad_alloc();
            std::memset(static_cast<char*>(padded) + bytes, 0, kLinkListSlack);
            g.linkLists_[i] = static_cast<char*>(padded);
        }
        if (g.label_offset_ - g.offsetData_ != static_cast<size_t>(dimension) * sizeof(float)) {
            return DataLoss("hnsw file " + path + " has another dimension than its collection");
        }
        SH_RETURN_IF_ERROR(impl->CheckStructure().WithContext("hnsw file " + path));
        impl->loaded_format = 1;
        return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
    } catch (const std::exception& e) {
        return DataLoss("cannot load hnsw file " + path + ": " + e.what());
    }
}

Result<HnswIndex::FileInfo> HnswIndex::Checksum(const std::string& path) { return HashAndSync(path, false); }

Result<HnswIndex::FileInfo> HnswIndex::Save(const std::string& path) const {
    std::string bytes;
    try {
        bytes = impl_->Serialise();
    } catch (const std::exception& e) {
        return Internal("cannot serialise the hnsw graph for " + path + ": " + e.what());
    }
    Status written = WriteFileAtomic(path, bytes);
    if (!written.ok()) {
        std::error_code ec;
        std::filesystem::remove(path + ".tmp", ec);
        return written;
    }
    FileInfo info;
    info.bytes = static_cast<std::int64_t>(bytes.size());
    info.xxh3 = XXH3_64bits(bytes.data(), bytes.size());
    return info;
}

Status HnswIndex::Upsert(std::int64_t label, std::span<const float> vector, bool relink) {
    try {
        Graph& g = *impl_->graph;
        std::vector<float> v = PrepareVector(impl_->metric, vector);
        auto key = static_cast<hnswlib::labeltype>(label);
        auto it = g.label_lookup_.find(key);
        if (it != g.label_lookup_.end()) {
            if (!relink && !g.isMarkedDeleted(it->second) &&
                std::memcmp(g.getDataByInternalId(it->second), v.data(), v.size() * sizeof(float)) == 0) {
                return Status::Ok();
            }
            if (g.cur_element_count > 1 && !impl_->UpdateIsDefined(it->second)) {
                // Only the vector changes; the links stay (as with a single element).
                if (g.isMarkedDeleted(it->second)) g.unmarkDeletedInternal(it->second);
                std::memcpy(g.getDataByInternalId(it->second), v.data(), v.size() * sizeof(float));
                return Status::Ok();
            }
        } else {
            impl_->EnsureCapacity(1);
        }
        g.addPoint(v.data(), key);
        return Status::Ok();
    } catch (const std::exception& e) {
        return Internal(std::string("hnsw insert failed: ") + e.what());
    }
}

void HnswIndex::Remove(std::int64_t label) {
    Graph& g = *impl_->graph;
    auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
    if (it == g.label_lookup_.end() || g.isMarkedDeleted(it->second)) return;
    g.markDeletedInternal(it->second);
}

Result<std::vector<HnswIndex::Scored>> HnswIndex::Search(std::span<const float> prepared_query, size_t k,
                                                          size_t ef) const {
    std::vector<Scored> out;
    if (k == 0 || live() == 0) return out;
    try {
        // searchKnn explores max(ef_, n) candidates; asking for n = max(k, ef)
        // and keeping k gives ef semantics without mutating the shared graph.
        size_t n = std::max(k, ef);
        auto queue = impl_->graph->searchKnn(prepared_query.data(), n);
        out.reserve(queue.size());
        while (!queue.empty()) {
            out.push_back({impl_->ToScore(queue.top().first), static_cast<std::int64_t>(queue.top().second)});
            queue.pop();
        }
        std::reverse(out.begin(), out.end());
        if (out.size() > k) out.resize(k);
        return out;
    } catch (const std::exception& e) {
        return Internal(std::string("hnsw search failed: ") + e.what());
    }
}

bool HnswIndex::Score(std::span<const float> prepared_query, std::int64_t label, double& score) const {
    const Graph& g = *impl_->graph;
    auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
    if (it == g.label_lookup_.end() || g.isMarkedDeleted(it->second)) return false;
    float d = g.fstdistfunc_(prepared_query.data(), g.getDataByInternalId(it->second), g.dist_func_param_);
    score = impl_->ToScore(d);
    return true;
}

std::vector<HnswIndex::Scored> HnswIndex::ExactSearch(std::span<const float> prepared_query, size_t k) const {
    const Graph& g = *impl_->graph;
    std::vector<std::pair<float, hnswlib::labeltype>> heap;  // max-heap: the worst kept hit on top
    if (k == 0) return {};
    heap.reserve(k + 1);
    const hnswlib::DISTFUNC<float> dist = g.fstdistfunc_;
    const void* param = g.dist_func_param_;
    const size_t n = g.cur_element_count;
    // hnswlib keeps each element's links, vector and label in one block of level-0 memory,
    // element after element: this reads it front to back, once.
    for (size_t i = 0; i < n; ++i) {
        const auto id = static_cast<hnswlib::tableint>(i);
        if (g.isMarkedDeleted(id)) continue;
        const float d = dist(prepared_query.data(), g.getDataByInternalId(id), param);
        if (heap.size() < k) {
            heap.emplace_back(d, g.getExternalLabel(id));
            std::push_heap(heap.begin(), heap.end());
        } else if (d <= heap.front().first) {
            const std::pair<float, hnswlib::labeltype> candidate(d, g.getExternalLabel(id));
            if (candidate < heap.front()) {
                std::pop_heap(heap.begin(), heap.end());
                heap.back() = candidate;
                std::push_heap(heap.begin(), heap.end());
            }
        }
    }
    std::sort_heap(heap.begin(), heap.end());
    std::vector<Scored> out;
    out.reserve(heap.size());
    for (const auto& [d, label] : heap) out.push_back({impl_->ToScore(d), static_cast<std::int64_t>(label)});
    return out;
}

size_t HnswIndex::live() const { return impl_->graph->cur_element_count - impl_->graph->num_deleted_; }
size_t HnswIndex::deleted() const { return impl_->graph->num_deleted_; }
size_t HnswIndex::elements() const { return impl_->graph->cur_element_count; }
int HnswIndex::loaded_format() const { return impl_->loaded_format; }

}  // namespace signalhub::store

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

}  // namespace

class HnswIndex::Impl {
   public:
    Impl(int dim, DistanceMetric m) : dimension(dim), metric(m), space(MakeSpace(dim, m)) {}
    int dimension;
    DistanceMetric metric;
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;  // must outlive graph
    std::unique_ptr<Graph> graph;

    double ToScore(float distance) const {
        if (metric == DistanceMetric::kL2) return -std::sqrt(std::max(0.0, static_cast<double>(distance)));
        return 1.0 - static_cast<double>(distance);
    }

    // The exact size hnswlib's saveIndex writes for the current graph.
    std::int64_t ExpectedFileSize() const {
        const Graph& g = *graph;
        size_t size = sizeof(g.offsetLevel0_) + sizeof(g.max_elements_) + sizeof(g.cur_element_count) +
                      sizeof(g.size_data_per_element_) + sizeof(g.label_offset_) + sizeof(g.offsetData_) +
                      sizeof(g.maxlevel_) + sizeof(g.enterpoint_node_) + sizeof(g.maxM_) + sizeof(g.maxM0_) +
                      sizeof(g.M_) + sizeof(g.mult_) + sizeof(g.ef_construction_);
        size += g.cur_element_count * g.size_data_per_element_;
        for (size_t i = 0; i < g.cur_element_count; ++i) {
            size += sizeof(unsigned int);
            if (g.element_levels_[i] > 0) size += g.size_links_per_element_ * static_cast<size_t>(g.element_levels_[i]);
        }
        return static_cast<std::int64_t>(size);
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
                                                   const FileInfo& expected) {
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
        return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
    } catch (const std::exception& e) {
        return DataLoss("cannot load hnsw file " + path + ": " + e.what());
    }
}

Result<HnswIndex::FileInfo> HnswIndex::Checksum(const std::string& path) { return HashAndSync(path, false); }

Result<HnswIndex::FileInfo> HnswIndex::Save(const std::string& path) const {
    const std::string tmp = path + ".tmp";
    try {
        impl_->graph->saveIndex(tmp);
    } catch (const std::exception& e) {
        return Internal("cannot write " + tmp + ": " + e.what());
    }
    // saveIndex does not report write errors (e.g. a full disk): verify the size.
    SH_ASSIGN_OR_RETURN(FileInfo info, HashAndSync(tmp, true));
    if (info.bytes != impl_->ExpectedFileSize()) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        return ResourceExhausted("incomplete write of " + tmp + " (" + std::to_string(info.bytes) + " of " +
                                 std::to_string(impl_->ExpectedFileSize()) + " bytes; disk full?)");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot rename " + tmp + ": " + ErrnoText());
    SH_RETURN_IF_ERROR(FsyncDirectory(std::filesystem::path(path).parent_path().string()));
    return info;
}

Status HnswIndex::Upsert(std::int64_t label, std::span<const float> vector) {
    try {
        Graph& g = *impl_->graph;
        std::vector<float> v = PrepareVector(impl_->metric, vector);
        auto key = static_cast<hnswlib::labeltype>(label);
        auto it = g.label_lookup_.find(key);
        if (it != g.label_lookup_.end()) {
            if (!g.isMarkedDeleted(it->second) &&
                std::memcmp(g.getDataByInternalId(it->second), v.data(), v.size() * sizeof(float)) == 0) {
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

}  // namespace signalhub::store

#include "store/chroma/chroma_store.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <functional>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "net/http_client.hpp"
#include "store/chroma/chroma_codec.hpp"
#include "store/store_util.hpp"

namespace signalhub::store {

using namespace chroma;  // NOLINT: the helpers of this store

class ChromaStore::Impl {
   public:
    Impl(StoreUrl url, bool read_only) : url_(std::move(url)), read_only_(read_only) {}

    std::string Where() const { return url_.origin.HostHeader(); }
    bool bookkeeping() const { return url_.bookkeeping; }

    // ---- HTTP -----------------------------------------------------------

    // One API call; the reply's JSON on 2xx, a Status otherwise. Chroma's
    // SQLite answers "database is locked" (HTTP 500) while another writer holds
    // it: such calls are retried with backoff (every call this store makes is
    // idempotent, see the header).
    Result<json> Call(std::string_view method, const std::string& api_path, const json* body) {
        std::chrono::milliseconds backoff(20);
        for (int attempt = 1;; ++attempt) {
            bool locked = false;
            Result<json> r = CallOnce(method, api_path, body, &locked);
            if (!locked || attempt >= kLockedAttempts) return r;
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        }
    }

    Result<json> CallOnce(std::string_view method, const std::string& api_path, const json* body, bool* locked) {
        std::unique_ptr<net::HttpClient> client = Acquire();
        std::vector<net::HttpHeader> headers = {{"Accept", "application/json"}};
        std::string payload;
        if (body != nullptr) {
            headers.push_back({"Content-Type", "application/json"});
            try {
                payload = body->dump();
            } catch (const json::exception&) {
                return InvalidArgument("chroma: request text is not valid UTF-8");
            }
        }
        if (!url_.token.empty()) {
            if (url_.x_chroma_token) {
                headers.push_back({"X-Chroma-Token", url_.token});
            } else {
                headers.push_back({"Authorization", "Bearer " + url_.token});
            }
        }
        Result<net::HttpResponse> r = client->Request(method, url_.origin.Target("/api/v2" + api_path), headers, payload);
        if (!r.ok()) {
            if (r.status().code() == ErrorCode::kDeadlineExceeded) {
                return DeadlineExceeded("chroma server at " + Where() + " did not answer in time");
            }
            return Unavailable("chroma server at " + Where() + " is unreachable: " + r.status().message());
        }
        Release(std::move(client));
        const int status = r->status;
        json reply = json::parse(r->body, nullptr, false);
        if (status >= 200 && status < 300) {
            if (reply.is_discarded()) return Internal("chroma server at " + Where() + ": reply is not JSON");
            return reply;
        }
        std::string message = "chroma server at " + Where() + ": HTTP " + std::to_string(status);
        if (auto m = JsonString(reply, "message")) {
            message += ": " + *m;
            *locked = status == 500 && m->find("database is locked") != std::string::npos;
        }
        if (status == 401 || status == 403) return Unauthenticated(message + " (check the token)");
        if (status == 404) return NotFound(message);
        if (status == 409) return AlreadyExists(message);
        if (status == 400 || status == 422) return InvalidArgument(message);
        if (status == 429 || status >= 500) return Unavailable(message);
        return Internal(message);
    }

    std::string DatabasePath() const {
        return "/tenants/" + PercentEncode(url_.tenant) + "/databases/" + PercentEncode(url_.database);
    }
    std::string CollectionsPath() const { return DatabasePath() + "/collections"; }
    std::string RecordsPath(const ChromaCollection& c, std::string_view op) const {
        return CollectionsPath() + "/" + PercentEncode(c.id) + "/" + std::string(op);
    }

    // ---- start-up -------------------------------------------------------

    Status Connect() {
        SH_ASSIGN_OR_RETURN(json beat, Call("GET", "/heartbeat", nullptr));
        (void)beat;
        SH_ASSIGN_OR_RETURN(json preflight, Call("GET", "/pre-flight-checks", nullptr));
        if (auto n = JsonInt(preflight, "max_batch_size"); n && *n > 0) max_batch_ = static_cast<size_t>(*n);
        Result<json> tenant = Call("GET", "/tenants/" + PercentEncode(url_.tenant), nullptr);
        if (!tenant.ok()) {
            if (tenant.status().code() == ErrorCode::kNotFound) {
                return NotFound("chroma tenant '" + url_.tenant + "' does not exist on " + Where());
            }
            return tenant.status();
        }
        Result<json> db = Call("GET", DatabasePath(), nullptr);
        if (!db.ok() && db.status().code() == ErrorCode::kNotFound) {
            if (read_only_) {
                return NotFound("chroma database '" + url_.database + "' does not exist on " + Where());
            }
            json body = {{"name", url_.database}};
            Result<json> made = Call("POST", "/tenants/" + PercentEncode(url_.tenant) + "/databases", &body);
            if (!made.ok() && made.status().code() != ErrorCode::kAlreadyExists) return made.status();
        } else if (!db.ok()) {
            return db.status();
        }
        return Status::Ok();
    }

    // ---- collections ----------------------------------------------------

    std::string ChromaName(std::string_view name) const { return url_.prefix + std::string(name); }
    std::string FilesName(std::string_view name) const { return ChromaName(name) + std::string(kFilesSuffix); }
    std::string MetaName() const { return url_.prefix + std::string(kMetaName); }

    static Status ValidateName(std::string_view name) {
        if (name.empty()) return InvalidArgument("empty collection name");
        if (name.ends_with(kFilesSuffix) || name == kMetaName) {
            return InvalidArgument("collection name '" + std::string(name) + "' is reserved by the chroma store");
        }
        return Status::Ok();
    }

    static Result<ChromaCollection> ParseCollection(const json& j) {
        ChromaCollection c;
        auto id = JsonString(j, "id");
        auto name = JsonString(j, "name");
        if (!id || !name) return Internal("chroma: collection without id or name");
        c.id = *id;
        c.name = *name;
        if (auto it = j.find("metadata"); it != j.end() && it->is_object()) c.metadata = *it;
        if (auto it = j.find("configuration_json"); it != j.end() && it->is_object()) c.configuration = *it;
        if (auto d = JsonInt(j, "dimension")) c.dimension = static_cast<int>(*d);
        return c;
    }

    Result<ChromaCollection> FindChroma(const std::string& chroma_name) {
        SH_ASSIGN_OR_RETURN(json j, Call("GET", CollectionsPath() + "/" + PercentEncode(chroma_name), nullptr));
        return ParseCollection(j);
    }

    // The Signal Hub collection `name` (NotFound naming it when absent).
    Result<ChromaCollection> Find(std::string_view name) {
        if (name.empty()) return NotFound("collection '' not found");
        Result<ChromaCollection> c = FindChroma(ChromaName(name));
        if (!c.ok() && (c.status().code() == ErrorCode::kNotFound || c.status().code() == ErrorCode::kInvalidArgument)) {
            return NotFound("collection '" + std::string(name) + "' not found in chroma database '" +
                            url_.database + "' on " + Where());
        }
        return c;
    }

    // `configuration`: Chroma's configuration_json of the collection being restored (null: only hnsw.space).
    Result<ChromaCollection> CreateChroma(const std::string& chroma_name, DistanceMetric metric, const json& metadata,
                                          bool get_or_create, const json& configuration = json(nullptr)) {
        json config = configuration.is_object() ? configuration : json::object();
        if (!config.contains("hnsw") || !config["hnsw"].is_object()) config["hnsw"] = json::object();
        config["hnsw"]["space"] = std::string(DistanceMetricName(metric));
        json body = {{"name", chroma_name}, {"get_or_create", get_or_create}, {"configuration", config}};
        if (!metadata.is_null()) body["metadata"] = metadata;
        SH_ASSIGN_OR_RETURN(json j, Call("POST", CollectionsPath(), &body));
        return ParseCollection(j);
    }

    std::string SignalHubName(const std::string& chroma_name) const {
        return chroma_name.substr(url_.prefix.size());
    }

    Result<CollectionSpec> SpecOf(const ChromaCollection& c) const {
        CollectionSpec spec;
        spec.name = SignalHubName(c.name);
        spec.model = JsonString(c.metadata, kModelKey).value_or("");
        if (auto d = JsonInt(c.metadata, kDimensionKey)) {
            spec.dimension = static_cast<int>(*d);
        } else if (c.dimension) {
            spec.dimension = *c.dimension;
        }
        std::string space = "l2";  // Chroma's default
        if (c.configuration.is_object()) {
            auto hnsw = c.configuration.find("hnsw");
            if (hnsw != c.configuration.end() && hnsw->is_object()) {
                if (auto s = JsonString(*hnsw, "space")) space = *s;
            }
        }
        if (auto legacy = JsonString(c.metadata, "hnsw:space"); legacy && !c.configuration.contains("hnsw")) {
            space = *legacy;
        }
        auto metric = ParseDistanceMetric(space);
        if (!metric.ok()) return FailedPrecondition("chroma collection '" + c.name + "' has an unknown space '" + space + "'");
        spec.metric = *metric;
        return spec;
    }

    Result<std::int64_t> Count(const ChromaCollection& c) {
        SH_ASSIGN_OR_RETURN(json n, Call("GET", RecordsPath(c, "count"), nullptr));
        if (!n.is_number_integer()) return Internal("chroma: count is not an integer");
        return n.get<std::int64_t>();
    }

    Result<CollectionInfo> InfoOf(const ChromaCollection& c) {
        CollectionInfo info;
        SH_ASSIGN_OR_RETURN(info.spec, SpecOf(c));
        SH_ASSIGN_OR_RETURN(info.records, Count(c));
        // Chroma reports no sizes: the float32 embeddings' bytes as the estimate.
        info.bytes = info.records * std::max(info.spec.dimension, 0) * static_cast<std::int64_t>(sizeof(float));
        info.last_indexed_unix = JsonInt(c.metadata, kLastIndexedKey);
        // A collection Signal Hub did not create (no signal_hub:model): its own Chroma metadata and
        // configuration, for the export format (a rollback recreates them, ADR-25).
        const bool foreign = !c.metadata.is_object() || !c.metadata.contains(std::string(kModelKey));
        if (foreign && c.metadata.is_object()) {
            json user = json::object();
            for (const auto& [key, value] : c.metadata.items()) {
                if (!std::string_view(key).starts_with(kReservedPrefix)) user[key] = value;
            }
            if (!user.empty()) info.properties.emplace(collection_property::kChromaMetadata, user.dump());
        }
        if (foreign && c.configuration.is_object()) {
            info.properties.emplace(collection_property::kChromaConfiguration, c.configuration.dump());
        }
        if (c.metadata.is_object()) {
            for (const auto& [key, value] : c.metadata.items()) {
                if (key.starts_with(kPropertyPrefix) && value.is_string()) {
                    info.properties.insert_or_assign(key.substr(kPropertyPrefix.size()), value.get<std::string>());
                }
            }
        }
        // The file states live in the companion collection (none when it does not exist).
        Result<ChromaCollection> fc = FindChroma(c.name + std::string(kFilesSuffix));
        if (fc.ok()) {
            SH_ASSIGN_OR_RETURN(info.files, Count(*fc));
        } else if (fc.status().code() != ErrorCode::kNotFound) {
            return fc.status();
        }
        return info;
    }

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec, const ChromaShape& shape = {}) {
        SH_RETURN_IF_ERROR(ValidateSpec(spec));
        SH_RETURN_IF_ERROR(ValidateName(spec.name));
        std::lock_guard lock(write_mu_);
        ForgetScan();
        Result<ChromaCollection> existing = Find(spec.name);
        if (existing.ok()) {
            SH_ASSIGN_OR_RETURN(CollectionSpec have, SpecOf(*existing));
            if (have.dimension == 0) have.dimension = spec.dimension;  // an empty foreign collection: not known yet
            SH_RETURN_IF_ERROR(CheckCompatible(have, spec));
            return InfoOf(*existing);
        }
        if (existing.status().code() != ErrorCode::kNotFound) return existing.status();
        if (read_only_) return RefuseReadOnly();
        json metadata, configuration;
        SH_RETURN_IF_ERROR(ParseCollectionShape(spec.name, shape.metadata, shape.configuration, &metadata, &configuration));
        if (url_.bookkeeping) {
            // File states first (see the header): get_or_create, so a re-run after a crash adopts it.
            SH_RETURN_IF_ERROR(CreateChroma(FilesName(spec.name), DistanceMetric::kL2, json(nullptr), true).status());
            if (metadata.is_null()) metadata = json::object();
            metadata[std::string(kModelKey)] = spec.model;
            metadata[std::string(kDimensionKey)] = spec.dimension;
        }
        Result<ChromaCollection> made = CreateChroma(ChromaName(spec.name), spec.metric, metadata, false, configuration);
        if (!made.ok()) {
            if (made.status().code() != ErrorCode::kAlreadyExists) return made.status();
            made = Find(spec.name);  // created meanwhile by another client
            if (!made.ok()) return made.status();
            SH_ASSIGN_OR_RETURN(CollectionSpec have, SpecOf(*made));
            SH_RETURN_IF_ERROR(CheckCompatible(have, spec));
            return InfoOf(*made);
        }
        if (url_.bookkeeping) SH_RETURN_IF_ERROR(BumpVersion());
        return InfoOf(*made);
    }

    Result<CollectionInfo> GetCollection(std::string_view name) {
        SH_ASSIGN_OR_RETURN(ChromaCollection c, Find(name));
        return InfoOf(c);
    }

    Result<std::vector<CollectionInfo>> ListCollections() {
        std::vector<CollectionInfo> out;
        for (size_t offset = 0;; offset += kMaxPage) {
            SH_ASSIGN_OR_RETURN(json page, Call("GET",
                                                CollectionsPath() + "?limit=" + std::to_string(kMaxPage) +
                                                    "&offset=" + std::to_string(offset),
                                                nullptr));
            if (!page.is_array()) return Internal("chroma: collection list is not an array");
            for (const auto& j : page) {
                SH_ASSIGN_OR_RETURN(ChromaCollection c, ParseCollection(j));
                if (!c.name.starts_with(url_.prefix) || c.name.ends_with(kFilesSuffix) || c.name == MetaName()) {
                    continue;
                }
                SH_ASSIGN_OR_RETURN(CollectionInfo info, InfoOf(c));
                out.push_back(std::move(info));
            }
            if (page.size() < kMaxPage) break;
        }
        std::sort(out.begin(), out.end(),
                  [](const CollectionInfo& a, const CollectionInfo& b) { return a.spec.name < b.spec.name; });
        return out;
    }

    Status DeleteChroma(const std::string& chroma_name) {
        return Call("DELETE", CollectionsPath() + "/" + PercentEncode(chroma_name), nullptr).status();
    }

    Status DropCollection(std::string_view name) {
        std::lock_guard lock(write_mu_);
        ForgetScan();
        SH_RETURN_IF_ERROR(Find(name).status());
        if (read_only_) return RefuseReadOnly();
        Status files = DeleteChroma(FilesName(name));
        if (!files.ok() && files.code() != ErrorCode::kNotFound) return files;
        Status main = DeleteChroma(ChromaName(name));
        if (!main.ok() && main.code() != ErrorCode::kNotFound) return main;
        return url_.bookkeeping ? BumpVersion() : Status::Ok();
    }

    // ---- the data version -----------------------------------------------

    Result<ChromaCollection> Meta(bool create) {
        {
            std::lock_guard lock(meta_mu_);
            if (meta_) return *meta_;
        }
        Result<ChromaCollection> c =
            create ? CreateChroma(MetaName(), DistanceMetric::kL2, json(nullptr), true) : FindChroma(MetaName());
        if (!c.ok()) return c.status();
        std::lock_guard lock(meta_mu_);
        meta_ = *c;
        return *c;
    }

    Result<std::int64_t> DataVersion() {
        Result<ChromaCollection> meta = Meta(false);
        if (!meta.ok()) {
            if (meta.status().code() == ErrorCode::kNotFound) return std::int64_t{0};
            return meta.status();
        }
        json body = {{"ids", {std::string(kVersionId)}}, {"include", {"metadatas"}}};
        Result<json> got = Call("POST", RecordsPath(*meta, "get"), &body);
        if (!got.ok()) {
            if (got.status().code() == ErrorCode::kNotFound) {  // the meta collection was dropped: start again
                std::lock_guard lock(meta_mu_);
                meta_.reset();
            }
            return got.status();
        }
        const json& metadatas = (*got)["metadatas"];
        if (!metadatas.is_array() || metadatas.empty()) return std::int64_t{0};
        return JsonInt(metadatas[0], "version").value_or(0);
    }

    // Called with write_mu_ held, after the data of a write is in place.
    Status BumpVersion() {
        SH_ASSIGN_OR_RETURN(std::int64_t current, DataVersion());
        SH_ASSIGN_OR_RETURN(ChromaCollection meta, Meta(true));
        json body = {{"ids", {std::string(kVersionId)}},
                     {"embeddings", {Base64Floats({0.0f})}},
                     {"metadatas", {{{"version", current + 1}}}}};
        return Call("POST", RecordsPath(meta, "upsert"), &body).status();
    }

    Status RefuseReadOnly() const { return FailedPrecondition("the chroma store was opened read-only"); }

    // ---- records --------------------------------------------------------

    // Paginated POST .../get: every record matching `where` (null: all), or
    // the given ids. `include` as Chroma's include list.
    Status ForEachRecord(const ChromaCollection& c, const json& where, const std::vector<std::string>* ids,
                         const std::vector<std::string>& include,
                         const std::function<Status(const std::string&, const json& reply, size_t row)>& fn) {
        const size_t page = std::min(max_batch_, kMaxPage);
        auto run = [&](json body) -> Result<size_t> {
            body["include"] = include;
            if (!where.is_null()) body["where"] = where;
            SH_ASSIGN_OR_RETURN(json reply, Call("POST", RecordsPath(c, "get"), &body));
            const json& got_ids = reply["ids"];
            if (!got_ids.is_array()) return Internal("chroma: get reply without ids");
            for (size_t i = 0; i < got_ids.size(); ++i) {
                SH_RETURN_IF_ERROR(fn(got_ids[i].get<std::string>(), reply, i));
            }
            return got_ids.size();
        };
        if (ids != nullptr) {
            for (size_t start = 0; start < ids->size(); start += page) {
                const size_t end = std::min(ids->size(), start + page);
                json body = {{"ids", std::vector<std::string>(ids->begin() + static_cast<long>(start),
                                                              ids->begin() + static_cast<long>(end))}};
                SH_RETURN_IF_ERROR(run(std::move(body)).status());
            }
            return Status::Ok();
        }
        for (size_t offset = 0;; offset += page) {
            json body = {{"limit", page}, {"offset", offset}};
            SH_ASSIGN_OR_RETURN(size_t n, run(std::move(body)));
            if (n < page) break;
        }
        return Status::Ok();
    }

    static Result<Record> RecordAt(const std::string& id, const json& reply, size_t row) {
        Record r;
        r.id = id;
        if (auto docs = reply.find("documents"); docs != reply.end() && docs->is_array()) {
            const json& d = (*docs)[row];
            if (d.is_string()) r.document = d.get<std::string>();
        }
        if (auto metas = reply.find("metadatas"); metas != reply.end() && metas->is_array()) {
            const json& m = (*metas)[row];
            SH_ASSIGN_OR_RETURN(r.metadata, DecodeMetadata(m));
            if (auto exact = JsonString(m, kEmbeddingKey)) {
                SH_ASSIGN_OR_RETURN(r.embedding, Base64ToFloats(*exact));
                return r;
            }
        }
        if (auto embs = reply.find("embeddings"); embs != reply.end() && embs->is_array()) {
            SH_ASSIGN_OR_RETURN(r.embedding, DecodeEmbedding((*embs)[row]));
        }
        return r;
    }

    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) {
        SH_ASSIGN_OR_RETURN(ChromaCollection c, Find(collection));
        return GetRecords(c, std::vector<std::string>(ids.begin(), ids.end()), true);
    }

    Result<std::vector<Record>> GetRecords(const ChromaCollection& c, const std::vector<std::string>& ids,
                                           bool embeddings) {
        std::unordered_map<std::string, Record> found;
        SH_ASSIGN_OR_RETURN(std::vector<std::string> include, RecordInclude(c, embeddings));
        SH_RETURN_IF_ERROR(ForEachRecord(c, json(nullptr), &ids, include,
                                         [&](const std::string& id, const json& reply, size_t row) -> Status {
                                             SH_ASSIGN_OR_RETURN(Record r, RecordAt(id, reply, row));
                                             found[id] = std::move(r);
                                             return Status::Ok();
                                         }));
        std::vector<Record> out;
        for (const auto& id : ids) {
            auto it = found.find(id);
            if (it != found.end()) out.push_back(it->second);
        }
        if (embeddings) SH_RETURN_IF_ERROR(FillEmbeddings(c, out));
        return out;
    }

    // What to ask Chroma for when reading records: cosine collections written by
    // this store carry their exact embedding in the metadata (kEmbeddingKey).
    Result<std::vector<std::string>> RecordInclude(const ChromaCollection& c, bool embeddings) const {
        std::vector<std::string> include = {"documents", "metadatas"};
        if (!embeddings) return include;
        SH_ASSIGN_OR_RETURN(CollectionSpec spec, SpecOf(c));
        if (spec.metric != DistanceMetric::kCosine) include.push_back("embeddings");
        return include;
    }

    // Records still without an embedding (written by another client into a
    // cosine collection): Chroma's own copy.
    template <typename Records>
    Status FillEmbeddings(const ChromaCollection& c, Records& records) {
        std::vector<std::string> missing;
        for (const auto& r : records) {
            if (RecordOf(r).embedding.empty()) missing.push_back(RecordOf(r).id);
        }
        if (missing.empty()) return Status::Ok();
        std::unordered_map<std::string, std::vector<float>> by_id;
        SH_RETURN_IF_ERROR(ForEachRecord(c, json(nullptr), &missing, {"embeddings"},
                                         [&](const std::string& id, const json& reply, size_t row) -> Status {
                                             SH_ASSIGN_OR_RETURN(by_id[id], DecodeEmbedding(reply["embeddings"][row]));
                                             return Status::Ok();
                                         }));
        for (auto& r : records) {
            if (RecordOf(r).embedding.empty()) RecordOf(r).embedding = by_id[RecordOf(r).id];
        }
        return Status::Ok();
    }
    static Record& RecordOf(Record& r) { return r; }
    static Record& RecordOf(Hit& h) { return h.record; }
    static const Record& RecordOf(const Record& r) { return r; }
    static const Record& RecordOf(const Hit& h) { return h.record; }

    Result<std::vector<std::string>> AllIds(const ChromaCollection& c, const json& where) {
        std::vector<std::string> ids;
        SH_RETURN_IF_ERROR(ForEachRecord(c, where, nullptr, {}, [&](const std::string& id, const json&, size_t) {
            ids.push_back(id);
            return Status::Ok();
        }));
        return ids;
    }

    // A Scan lists and sorts every id of the collection once (Chroma pages by insertion order,
    // not by id); the sorted list is kept for the scan that continues from its last page
    // (after_id == the previous page's last id), so a full scan costs one listing, not one per
    // page. A scan starting over, another collection, or a write through this store lists again.
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) {
        if (limit == 0) return InvalidArgument("scan limit must be > 0");
        SH_ASSIGN_OR_RETURN(ChromaCollection c, Find(collection));
        std::shared_ptr<const std::vector<std::string>> ids;
        {
            std::lock_guard lock(scan_mu_);
            if (!after_id.empty() && scan_ids_ != nullptr && scan_collection_ == c.id && scan_last_ == after_id) {
                ids = scan_ids_;
            }
        }
        if (ids == nullptr) {
            SH_ASSIGN_OR_RETURN(std::vector<std::string> listed, AllIds(c, json(nullptr)));
            std::sort(listed.begin(), listed.end());
            ids = std::make_shared<const std::vector<std::string>>(std::move(listed));
        }
        auto first = std::upper_bound(ids->begin(), ids->end(), after_id,
                                      [](std::string_view a, const std::string& b) { return a < b; });
        if (after_id.empty()) first = ids->begin();
        const size_t remaining = static_cast<size_t>(ids->end() - first);
        std::vector<std::string> page(first, first + static_cast<long>(std::min(limit, remaining)));
        ScanPage out;
        SH_ASSIGN_OR_RETURN(out.records, GetRecords(c, page, true));
        if (remaining > limit && !page.empty()) out.next_after = page.back();
        std::lock_guard lock(scan_mu_);
        if (!out.next_after) {
            scan_ids_.reset();
        } else {
            scan_ids_ = ids;
            scan_collection_ = c.id;
            scan_last_ = *out.next_after;
        }
        return out;
    }
    void ForgetScan() {
        std::lock_guard lock(scan_mu_);
        scan_ids_.reset();
    }

    // ---- commit ---------------------------------------------------------

    Status DeleteIds(const ChromaCollection& c, const std::vector<std::string>& ids) {
        for (size_t start = 0; start < ids.size(); start += max_batch_) {
            const size_t end = std::min(ids.size(), start + max_batch_);
            json body = {{"ids", std::vector<std::string>(ids.begin() + static_cast<long>(start),
                                                          ids.begin() + static_cast<long>(end))}};
            SH_RETURN_IF_ERROR(Call("POST", RecordsPath(c, "delete"), &body).status());
        }
        return Status::Ok();
    }

    struct Rows {
        std::vector<std::string> ids;
        std::vector<std::string> embeddings;  // base64
        std::vector<json> documents;
        std::vector<json> metadatas;
    };

    Status UpsertRows(const ChromaCollection& c, const Rows& rows) {
        for (size_t start = 0; start < rows.ids.size(); start += max_batch_) {
            const size_t end = std::min(rows.ids.size(), start + max_batch_);
            auto slice = [&](const auto& v) {
                using V = std::decay_t<decltype(v)>;
                return V(v.begin() + static_cast<long>(start), v.begin() + static_cast<long>(end));
            };
            json body = {{"ids", slice(rows.ids)},
                         {"embeddings", slice(rows.embeddings)},
                         {"documents", slice(rows.documents)},
                         {"metadatas", slice(rows.metadatas)}};
            SH_RETURN_IF_ERROR(Call("POST", RecordsPath(c, "upsert"), &body).status());
        }
        return Status::Ok();
    }

    Status Commit(std::string_view collection, const ChangeSet& changes) {
        std::lock_guard lock(write_mu_);
        ForgetScan();
        SH_ASSIGN_OR_RETURN(ChromaCollection c, Find(collection));
        SH_ASSIGN_OR_RETURN(CollectionSpec spec, SpecOf(c));
        if (spec.dimension == 0 && !changes.upserts.empty()) {
            // A collection without signal_hub:dimension (bookkeeping=off, or another client's) that
            // is still empty: Chroma knows no dimension until the first record; the first one sets it.
            spec.dimension = static_cast<int>(changes.upserts.front().embedding.size());
        }
        SH_RETURN_IF_ERROR(ValidateChangeSet(collection, spec.dimension, changes));
        if (read_only_) return RefuseReadOnly();
        if (changes.empty()) return Status::Ok();

        // Everything is encoded before the first request: a bad change set changes nothing.
        Rows records;
        std::vector<std::string> deletes = changes.delete_ids;
        for (const auto& r : changes.upserts) {
            SH_ASSIGN_OR_RETURN(json metadata, EncodeMetadata(r.id, r.metadata));
            if (!url_.bookkeeping && metadata.is_object() && metadata.contains(std::string(kFloatsKey))) {
                return InvalidArgument("record '" + r.id + "': a metadata value is NaN, infinite or -0.0, which Chroma "
                                       "cannot store; with bookkeeping=off there is no place to keep it (import with "
                                       "--bookkeeping to keep it in the signal_hub:floats key)");
            }
            if (url_.bookkeeping && spec.metric == DistanceMetric::kCosine) {
                if (metadata.is_null()) metadata = json::object();
                metadata[std::string(kEmbeddingKey)] = Base64Floats(r.embedding);
            }
            try {
                if (r.document) (void)json(*r.document).dump();
            } catch (const json::exception&) {
                return InvalidArgument("record '" + r.id + "': document is not valid UTF-8");
            }
            records.ids.push_back(r.id);
            records.embeddings.push_back(Base64Floats(r.embedding));
            records.documents.push_back(r.document ? json(*r.document) : json(nullptr));
            records.metadatas.push_back(std::move(metadata));
            deletes.push_back(r.id);
        }
        // A later upsert of an id wins (as in the other backends).
        {
            std::unordered_map<std::string, size_t> last;
            for (size_t i = 0; i < records.ids.size(); ++i) last[records.ids[i]] = i;
            if (last.size() != records.ids.size()) {
                Rows unique;
                for (size_t i = 0; i < records.ids.size(); ++i) {
                    if (last[records.ids[i]] != i) continue;
                    unique.ids.push_back(records.ids[i]);
                    unique.embeddings.push_back(records.embeddings[i]);
                    unique.documents.push_back(records.documents[i]);
                    unique.metadatas.push_back(records.metadatas[i]);
                }
                records = std::move(unique);
            }
        }
        std::sort(deletes.begin(), deletes.end());
        deletes.erase(std::unique(deletes.begin(), deletes.end()), deletes.end());

        Rows files;
        std::map<std::string, size_t> file_index;  // a later put of a path wins
        for (const auto& f : changes.put_files) {
            json metadata = {{"content_hash", f.content_hash},
                             {"size", f.size},
                             {"mtime_ns", f.mtime_ns},
                             {"record_ids", json(f.record_ids).dump()}};
            try {
                (void)metadata.dump();
            } catch (const json::exception&) {
                return InvalidArgument("file state '" + f.path + "' is not valid UTF-8");
            }
            if (f.path.empty()) return InvalidArgument("file state with an empty path");
            auto [it, inserted] = file_index.try_emplace(f.path, files.ids.size());
            if (!inserted) {
                files.metadatas[it->second] = std::move(metadata);
                continue;
            }
            files.ids.push_back(f.path);
            files.embeddings.push_back(Base64Floats({0.0f}));
            files.documents.push_back(json(nullptr));
            files.metadatas.push_back(std::move(metadata));
        }
        for (const auto& [key, value] : changes.set_properties) {
            try {
                (void)json({{key, value.value_or("")}}).dump();
            } catch (const json::exception&) {
                return InvalidArgument("collection property '" + key + "' is not valid UTF-8 (Chroma stores text)");
            }
        }
        std::vector<std::string> file_deletes;
        for (const auto& path : changes.delete_files) {
            if (!file_index.contains(path)) file_deletes.push_back(path);
        }

        // 1.-2. records.
        SH_RETURN_IF_ERROR(DeleteIds(c, deletes));
        SH_RETURN_IF_ERROR(UpsertRows(c, records));
        if (!url_.bookkeeping) return Status::Ok();  // no file states, properties nor data version (see the header)
        // 3.-4. file states.
        if (!file_deletes.empty() || !files.ids.empty()) {
            SH_ASSIGN_OR_RETURN(ChromaCollection fc,
                                CreateChroma(FilesName(collection), DistanceMetric::kL2, json(nullptr), true));
            SH_RETURN_IF_ERROR(DeleteIds(fc, file_deletes));
            SH_RETURN_IF_ERROR(UpsertRows(fc, files));
        }
        // 5. touch and properties: Chroma replaces the whole collection metadata.
        if (changes.touch_last_indexed || !changes.set_properties.empty()) {
            json metadata = c.metadata.is_object() ? c.metadata : json::object();
            if (changes.touch_last_indexed) {
                metadata[std::string(kLastIndexedKey)] =
                    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count();
            }
            for (const auto& [key, value] : changes.set_properties) {
                const std::string meta_key = std::string(kPropertyPrefix) + key;
                // A removed property becomes `false` (read as absent), whether Chroma replaces
                // or merges the metadata.
                if (value) metadata[meta_key] = *value;
                else metadata[meta_key] = false;
            }
            json body = {{"new_metadata", metadata}};
            SH_RETURN_IF_ERROR(Call("PUT", CollectionsPath() + "/" + PercentEncode(c.id), &body).status());
        }
        // 6. the data version, last.
        return BumpVersion();
    }

    Result<std::vector<FileState>> ListFiles(std::string_view collection) {
        SH_RETURN_IF_ERROR(Find(collection).status());
        std::vector<FileState> out;
        Result<ChromaCollection> fc = FindChroma(FilesName(collection));
        if (!fc.ok()) {
            // No file-state collection (a collection made by another Chroma client, or a drop
            // interrupted between its two deletes): no file states.
            if (fc.status().code() == ErrorCode::kNotFound) return out;
            return fc.status();
        }
        SH_RETURN_IF_ERROR(ForEachRecord(
            *fc, json(nullptr), nullptr, {"metadatas"}, [&](const std::string& id, const json& reply, size_t row) -> Status {
                const json& m = reply["metadatas"][row];
                FileState f;
                f.path = id;
                f.content_hash = JsonString(m, "content_hash").value_or("");
                f.size = JsonInt(m, "size").value_or(0);
                f.mtime_ns = JsonInt(m, "mtime_ns").value_or(0);
                json ids = json::parse(JsonString(m, "record_ids").value_or("[]"), nullptr, false);
                if (!ids.is_array()) return DataLoss("chroma: file state '" + id + "' has bad record_ids");
                for (const auto& rid : ids) {
                    if (!rid.is_string()) return DataLoss("chroma: file state '" + id + "' has bad record_ids");
                    f.record_ids.push_back(rid.get<std::string>());
                }
                out.push_back(std::move(f));
                return Status::Ok();
            }));
        std::sort(out.begin(), out.end(), [](const FileState& a, const FileState& b) { return a.path < b.path; });
        return out;
    }

    // ---- search ---------------------------------------------------------

    static json LanguageWhere(const Filter& filter) {
        if (!filter.language) return json(nullptr);
        return json{{std::string(meta::kLanguage), {{"$eq", *filter.language}}}};
    }

    // Every record matching the filter, with embeddings (the exact path).
    Result<std::vector<Hit>> ExactSearch(const ChromaCollection& c, const CollectionSpec& spec,
                                         std::span<const float> query, const SearchOptions& options) {
        const std::vector<float> q = PrepareVector(spec.metric, query);
        std::vector<Hit> hits;
        SH_ASSIGN_OR_RETURN(std::vector<std::string> include, RecordInclude(c, true));
        SH_RETURN_IF_ERROR(ForEachRecord(c, LanguageWhere(options.filter), nullptr, include,
                                         [&](const std::string& id, const json& reply, size_t row) -> Status {
                                             SH_ASSIGN_OR_RETURN(Record r, RecordAt(id, reply, row));
                                             if (!options.filter.Matches(r.metadata)) return Status::Ok();
                                             Hit h;
                                             h.record = std::move(r);
                                             hits.push_back(std::move(h));
                                             return Status::Ok();
                                         }));
        SH_RETURN_IF_ERROR(FillEmbeddings(c, hits));
        for (auto& h : hits) h.score = Similarity(spec.metric, q, PrepareVector(spec.metric, h.record.embedding));
        SortAndTrim(hits, options.k);
        if (!options.include_embeddings) {
            for (auto& h : hits) h.record.embedding.clear();
        }
        return hits;
    }

    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) {
        SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
        SH_ASSIGN_OR_RETURN(ChromaCollection c, Find(collection));
        SH_ASSIGN_OR_RETURN(CollectionSpec spec, SpecOf(c));
        SH_RETURN_IF_ERROR(ValidateQuery(collection, spec.dimension, query));
        if (options.k == 0) return std::vector<Hit>{};
        if (options.exact) return ExactSearch(c, spec, query, options);

        const json where = LanguageWhere(options.filter);
        std::optional<std::vector<std::string>> allowed;  // ids matching path_glob and symbol
        if (options.filter.path_glob || options.filter.symbol) {
            allowed.emplace();
            SH_RETURN_IF_ERROR(ForEachRecord(c, where, nullptr, {"metadatas"},
                                             [&](const std::string& id, const json& reply, size_t row) -> Status {
                                                 SH_ASSIGN_OR_RETURN(Metadata m, DecodeMetadata(reply["metadatas"][row]));
                                                 if (options.filter.Matches(m)) allowed->push_back(id);
                                                 return Status::Ok();
                                             }));
            if (allowed->empty()) return std::vector<Hit>{};
        }
        // Embeddings come along (cosine: in the metadata) to re-score the hits in double precision.
        std::vector<std::string> include = {"distances", "documents", "metadatas"};
        if (spec.metric != DistanceMetric::kCosine) include.push_back("embeddings");
        json body = {{"query_embeddings", json::array({QueryVector(query)})},
                     {"n_results", options.k},
                     {"include", include}};
        if (!where.is_null()) body["where"] = where;
        if (allowed) body["ids"] = *allowed;
        SH_ASSIGN_OR_RETURN(json reply, Call("POST", RecordsPath(c, "query"), &body));
        json flat;  // the first (only) query's rows, shaped like a get reply
        for (const char* field : {"ids", "documents", "metadatas", "embeddings", "distances"}) {
            auto it = reply.find(field);
            if (it != reply.end() && it->is_array() && !it->empty()) flat[field] = (*it)[0];
        }
        if (!flat.contains("ids") || !flat["ids"].is_array()) return Internal("chroma: query reply without ids");
        std::vector<Hit> hits;
        for (size_t i = 0; i < flat["ids"].size(); ++i) {
            Hit h;
            SH_ASSIGN_OR_RETURN(h.record, RecordAt(flat["ids"][i].get<std::string>(), flat, i));
            const json& d = flat["distances"][i];
            if (!d.is_number()) return Internal("chroma: query reply without distances");
            h.score = ScoreFromDistance(spec.metric, d.get<double>());
            hits.push_back(std::move(h));
        }
        SH_RETURN_IF_ERROR(FillEmbeddings(c, hits));
        {
            // Chroma's float32 distances, re-scored like every other backend's.
            const std::vector<float> q = PrepareVector(spec.metric, query);
            for (auto& h : hits) {
                if (h.record.embedding.size() == q.size()) {
                    h.score = Similarity(spec.metric, q, PrepareVector(spec.metric, h.record.embedding));
                }
            }
        }
        if (hits.size() < options.k) {
            // HNSW may return fewer than k under a filter: no silent loss.
            size_t matching = 0;
            if (allowed) {
                matching = allowed->size();
            } else if (!where.is_null()) {
                SH_ASSIGN_OR_RETURN(auto ids, AllIds(c, where));
                matching = ids.size();
            } else {
                SH_ASSIGN_OR_RETURN(std::int64_t n, Count(c));
                matching = static_cast<size_t>(n);
            }
            if (matching > hits.size()) return ExactSearch(c, spec, query, options);
        }
        SortAndTrim(hits, options.k);
        if (!options.include_embeddings) {
            for (auto& h : hits) h.record.embedding.clear();
        }
        return hits;
    }

    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) {
        SH_RETURN_IF_ERROR(ValidateFilter(options.filter));
        SH_ASSIGN_OR_RETURN(ChromaCollection c, Find(collection));
        std::vector<std::string> terms = LexicalQueryTerms(query, options.keep_stop_words);
        if (terms.empty() || options.k == 0) return std::vector<Hit>{};
        struct Entry {
            Record record;
            std::vector<double> tf;  // per query term
            double length = 0;
        };
        std::vector<Entry> matched;
        std::vector<double> n_hit(terms.size(), 0);
        double n_rows = 0;
        double total_tokens = 0;
        SH_RETURN_IF_ERROR(ForEachRecord(c, json(nullptr), nullptr, {"documents", "metadatas"},
                                         [&](const std::string& id, const json& reply, size_t row) -> Status {
                                             SH_ASSIGN_OR_RETURN(Record r, RecordAt(id, reply, row));
                                             std::vector<std::string> tokens = LexicalTokens(r);
                                             n_rows += 1;
                                             total_tokens += static_cast<double>(tokens.size());
                                             Entry e;
                                             e.tf.assign(terms.size(), 0);
                                             bool any = false;
                                             for (const auto& t : tokens) {
                                                 for (size_t i = 0; i < terms.size(); ++i) {
                                                     if (t == terms[i]) {
                                                         e.tf[i] += 1;
                                                         any = true;
                                                     }
                                                 }
                                             }
                                             for (size_t i = 0; i < terms.size(); ++i) n_hit[i] += e.tf[i] > 0 ? 1 : 0;
                                             if (!any || !options.filter.Matches(r.metadata)) return Status::Ok();
                                             e.length = static_cast<double>(tokens.size());
                                             e.record = std::move(r);
                                             matched.push_back(std::move(e));
                                             return Status::Ok();
                                         }));
        std::vector<Hit> hits;
        if (matched.empty()) return hits;
        // FTS5 bm25(), as the other backends: idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6.
        const double avgdl = total_tokens / n_rows;
        std::vector<double> idf;
        for (size_t i = 0; i < terms.size(); ++i) {
            double value = std::log((n_rows - n_hit[i] + 0.5) / (n_hit[i] + 0.5));
            idf.push_back(value <= 0 ? 1e-6 : value);
        }
        for (auto& e : matched) {
            double score = 0;
            for (size_t i = 0; i < terms.size(); ++i) {
                const double tf = e.tf[i];
                if (tf == 0) continue;
                score += idf[i] * (tf * (kBm25K1 + 1)) / (tf + kBm25K1 * (1 - kBm25B + kBm25B * e.length / avgdl));
            }
            Hit h;
            h.score = score;
            h.record = std::move(e.record);
            hits.push_back(std::move(h));
        }
        SortAndTrim(hits, options.k);
        if (options.include_embeddings) {
            SH_RETURN_IF_ERROR(FillEmbeddings(c, hits));
        } else {
            for (auto& h : hits) h.record.embedding.clear();
        }
        return hits;
    }

    Status CheckHealth() {
        Result<json> beat = Call("GET", "/heartbeat", nullptr);
        if (!beat.ok()) return beat.status();
        Result<json> db = Call("GET", DatabasePath(), nullptr);
        if (!db.ok() && db.status().code() == ErrorCode::kNotFound) {
            return Unavailable("chroma database '" + url_.database + "' is gone from " + Where());
        }
        return db.status();
    }

   private:
    std::unique_ptr<net::HttpClient> Acquire() {
        {
            std::lock_guard lock(pool_mu_);
            if (!idle_.empty()) {
                auto c = std::move(idle_.back());
                idle_.pop_back();
                return c;
            }
        }
        return std::make_unique<net::HttpClient>(url_.origin, url_.timeout);
    }
    void Release(std::unique_ptr<net::HttpClient> client) {
        std::lock_guard lock(pool_mu_);
        if (idle_.size() < 8) idle_.push_back(std::move(client));
    }

    StoreUrl url_;
    bool read_only_;
    size_t max_batch_ = 1000;
    std::mutex write_mu_;  // serialises writes through this store
    std::mutex scan_mu_;   // guards the sorted ids of the scan in progress (Scan)
    std::shared_ptr<const std::vector<std::string>> scan_ids_;
    std::string scan_collection_, scan_last_;
    std::mutex pool_mu_;
    std::vector<std::unique_ptr<net::HttpClient>> idle_;
    std::mutex meta_mu_;
    std::optional<ChromaCollection> meta_;  // the meta collection, once known
};

Result<std::unique_ptr<ChromaStore>> ChromaStore::Open(const std::string& url, const OpenOptions& options) {
    SH_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
    auto impl = std::make_unique<Impl>(std::move(parsed), options.read_only);
    SH_RETURN_IF_ERROR(impl->Connect());
    return std::unique_ptr<ChromaStore>(new ChromaStore(std::move(impl)));
}

ChromaStore::ChromaStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChromaStore::~ChromaStore() = default;

Result<CollectionInfo> ChromaStore::EnsureCollection(const CollectionSpec& spec) { return impl_->EnsureCollection(spec); }
Result<CollectionInfo> ChromaStore::EnsureCollection(const CollectionSpec& spec, const ChromaShape& shape) {
    return impl_->EnsureCollection(spec, shape);
}
bool ChromaStore::bookkeeping() const { return impl_->bookkeeping(); }
Result<CollectionInfo> ChromaStore::GetCollection(std::string_view name) { return impl_->GetCollection(name); }
Result<std::vector<CollectionInfo>> ChromaStore::ListCollections() { return impl_->ListCollections(); }
Status ChromaStore::DropCollection(std::string_view name) { return impl_->DropCollection(name); }
Status ChromaStore::Commit(std::string_view collection, const ChangeSet& changes) {
    return impl_->Commit(collection, changes);
}
Result<std::vector<FileState>> ChromaStore::ListFiles(std::string_view collection) {
    return impl_->ListFiles(collection);
}
Result<std::vector<Record>> ChromaStore::Get(std::string_view collection, std::span<const std::string> ids) {
    return impl_->Get(collection, ids);
}
Result<ScanPage> ChromaStore::Scan(std::string_view collection, std::string_view after_id, size_t limit) {
    return impl_->Scan(collection, after_id, limit);
}
Result<std::vector<Hit>> ChromaStore::VectorSearch(std::string_view collection, std::span<const float> query,
                                                   const SearchOptions& options) {
    return impl_->VectorSearch(collection, query, options);
}
Result<std::vector<Hit>> ChromaStore::LexicalSearch(std::string_view collection, std::string_view query,
                                                    const SearchOptions& options) {
    return impl_->LexicalSearch(collection, query, options);
}
Status ChromaStore::CheckHealth() { return impl_->CheckHealth(); }
Result<std::int64_t> ChromaStore::DataVersion() { return impl_->DataVersion(); }

}  // namespace signalhub::store

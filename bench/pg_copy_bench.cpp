// The peers of `signal-hub migrate import` into PostgreSQL: a minimal libpq program that loads the
// same export file's records into a plain table
//     (id text PRIMARY KEY, document text, metadata jsonb, embedding vector(DIM))
// in one of these ways, each into a freshly created table:
//   copy            COPY ... FROM STDIN (FORMAT binary), one COPY and one transaction per
//                   --batch-size records (the importer's batching), then the HNSW index is built
//                   once (same m / ef_construction / maintenance_work_mem as the importer);
//   insert-txn      one prepared INSERT per record (binary parameters), all in one transaction;
//   insert-autocommit  one prepared INSERT per record, each its own transaction (autocommit);
//   copy-store      the fair peer of the importer (issue 16, goal 8): COPY BINARY, one COPY and one
//                   transaction per --batch-size records, into a table with the store's exact
//                   definition (bytea id PRIMARY KEY, json metadata, vector, language, glob_path,
//                   tsvector lexemes, lexeme_count; store/pgvector/record_rows.hpp) and the very
//                   same row bytes the importer sends (prepared untimed, like the parse), then
//                   the store's secondary indexes built once (GIN on lexemes, language, HNSW;
//                   512MB) — the best a hand-written loader of that table does.
// The file is parsed and validated (ops::ReadExport) into memory once, before any timing of a
// load: the load figures are client-memory -> server. The parse time is reported on its own.
// With --index-variants, the HNSW index of the COPY-loaded table is rebuilt under several
// maintenance_work_mem / max_parallel_maintenance_workers settings (build time, index size).
//
// Usage: pg_copy_bench --input FILE --database URL [--modes copy,insert-txn,insert-autocommit]
//                      [--batch-size 1000] [--m 16] [--ef-construction 200]
//                      [--index-variants 512MB/2,512MB/0,64MB/2] [--json OUT]
// The database must allow CREATE EXTENSION vector (or have it already). Tables are named
// pg_copy_bench_<mode> in the database's default schema and are dropped first.

#include <libpq-fe.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ops/export_reader.hpp"
#include "store/metadata_json.hpp"
#include "store/pgvector/record_rows.hpp"

using namespace signalhub;
using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void Die(const std::string& what) {
    std::fprintf(stderr, "pg_copy_bench: %s\n", what.c_str());
    std::exit(1);
}

// The records of the file's first collection, with their metadata already as JSON text.
struct Loaded {
    ops::ExportHeader header;
    std::vector<Record> records;
    std::vector<std::string> metadata_json;
};

class Collect final : public ops::ExportVisitor {
   public:
    explicit Collect(Loaded& out) : out_(out) {}
    Status OnHeader(const ops::ExportHeader& header) override {
        if (!seen_header_) out_.header = header;
        seen_header_ = true;
        return Status::Ok();
    }
    Status OnRecord(const ops::ExportHeader& header, Record&& record, const ops::Digest& /*digest*/) override {
        if (header.spec.name != out_.header.spec.name) return Status::Ok();  // first collection only
        auto json = store::EncodeMetadataJson(record.id, record.metadata);
        if (!json.ok()) return json.status();
        out_.metadata_json.push_back(std::move(*json));
        out_.records.push_back(std::move(record));
        return Status::Ok();
    }

   private:
    Loaded& out_;
    bool seen_header_ = false;
};

// ---- libpq -----------------------------------------------------------------------------------

class Conn {
   public:
    explicit Conn(const std::string& url) : c_(PQconnectdb(url.c_str())) {
        if (PQstatus(c_) != CONNECTION_OK) Die(std::string("connect: ") + PQerrorMessage(c_));
    }
    ~Conn() { PQfinish(c_); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    PGconn* get() const { return c_; }

    // Runs SQL (simple protocol, may hold several statements); dies on an error.
    void Exec(const std::string& sql) const {
        PGresult* r = PQexec(c_, sql.c_str());
        const ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const std::string msg = PQresultErrorMessage(r);
            PQclear(r);
            Die(sql.substr(0, 80) + ": " + msg);
        }
        PQclear(r);
    }
    std::string Scalar(const std::string& sql) const {
        PGresult* r = PQexec(c_, sql.c_str());
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            const std::string msg = PQresultErrorMessage(r);
            PQclear(r);
            Die(sql.substr(0, 80) + ": " + msg);
        }
        std::string v = PQgetvalue(r, 0, 0);
        PQclear(r);
        return v;
    }

   private:
    PGconn* c_;
};

// ---- binary wire formats (network byte order) -------------------------------------------------

void PutU16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
}
void PutU32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void PutI32(std::string& out, std::int32_t v) { PutU32(out, static_cast<std::uint32_t>(v)); }

// pgvector's binary vector: int16 dim, int16 unused, float4[dim].
std::string VectorBinary(const std::vector<float>& v) {
    std::string out;
    out.reserve(4 + 4 * v.size());
    PutU16(out, static_cast<std::uint16_t>(v.size()));
    PutU16(out, 0);
    for (float f : v) PutU32(out, std::bit_cast<std::uint32_t>(f));
    return out;
}
// jsonb's binary format: version byte 1, then the JSON text.
std::string JsonbBinary(const std::string& json) { return std::string(1, '\x01') + json; }

void AppendField(std::string& out, const std::string* value) {
    if (value == nullptr) {
        PutI32(out, -1);
        return;
    }
    PutI32(out, static_cast<std::int32_t>(value->size()));
    out += *value;
}

std::string OpClass(DistanceMetric m) {
    switch (m) {
        case DistanceMetric::kL2:
            return "vector_l2_ops";
        case DistanceMetric::kInnerProduct:
            return "vector_ip_ops";
        case DistanceMetric::kCosine:
            break;
    }
    return "vector_cosine_ops";
}

void CreateTable(const Conn& c, const std::string& table, int dim) {
    c.Exec("SET client_min_messages = warning; DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table +
           " (id text PRIMARY KEY, document text, metadata jsonb NOT NULL, embedding vector(" + std::to_string(dim) +
           ") NOT NULL)");
}

double LoadCopy(const Conn& c, const std::string& table, const Loaded& data, size_t batch) {
    const auto t0 = Clock::now();
    const size_t n = data.records.size();
    for (size_t start = 0; start < n; start += batch) {
        const size_t end = std::min(n, start + batch);
        std::string buf("PGCOPY\n\xff\r\n\0", 11);
        PutI32(buf, 0);  // flags
        PutI32(buf, 0);  // header extension length
        for (size_t i = start; i < end; ++i) {
            const Record& r = data.records[i];
            PutU16(buf, 4);
            AppendField(buf, &r.id);
            AppendField(buf, r.document ? &*r.document : nullptr);
            const std::string jsonb = JsonbBinary(data.metadata_json[i]);
            AppendField(buf, &jsonb);
            const std::string vec = VectorBinary(r.embedding);
            AppendField(buf, &vec);
        }
        PutU16(buf, 0xffff);  // trailer: -1
        c.Exec("BEGIN");
        PGresult* r = PQexec(c.get(), ("COPY " + table + " FROM STDIN (FORMAT binary)").c_str());
        if (PQresultStatus(r) != PGRES_COPY_IN) Die(std::string("COPY: ") + PQresultErrorMessage(r));
        PQclear(r);
        if (PQputCopyData(c.get(), buf.data(), static_cast<int>(buf.size())) != 1 ||
            PQputCopyEnd(c.get(), nullptr) != 1) {
            Die(std::string("COPY data: ") + PQerrorMessage(c.get()));
        }
        while ((r = PQgetResult(c.get())) != nullptr) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK) Die(std::string("COPY end: ") + PQresultErrorMessage(r));
            PQclear(r);
        }
        c.Exec("COMMIT");
    }
    return Since(t0);
}

double LoadInsert(const Conn& c, const std::string& table, const Loaded& data, bool one_transaction) {
    const auto t0 = Clock::now();
    PGresult* p = PQprepare(c.get(), "ins", ("INSERT INTO " + table + " VALUES ($1, $2, $3, $4)").c_str(), 4, nullptr);
    if (PQresultStatus(p) != PGRES_COMMAND_OK) Die(std::string("PREPARE: ") + PQresultErrorMessage(p));
    PQclear(p);
    if (one_transaction) c.Exec("BEGIN");
    const int formats[4] = {1, 1, 1, 1};
    for (size_t i = 0; i < data.records.size(); ++i) {
        const Record& r = data.records[i];
        const std::string jsonb = JsonbBinary(data.metadata_json[i]);
        const std::string vec = VectorBinary(r.embedding);
        const char* values[4] = {r.id.data(), r.document ? r.document->data() : nullptr, jsonb.data(), vec.data()};
        const int lengths[4] = {static_cast<int>(r.id.size()), r.document ? static_cast<int>(r.document->size()) : 0,
                                static_cast<int>(jsonb.size()), static_cast<int>(vec.size())};
        PGresult* res = PQexecPrepared(c.get(), "ins", 4, values, lengths, formats, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) Die(std::string("INSERT: ") + PQresultErrorMessage(res));
        PQclear(res);
    }
    if (one_transaction) c.Exec("COMMIT");
    c.Exec("DEALLOCATE ins");
    return Since(t0);
}

struct IndexBuild {
    double seconds = 0;
    std::int64_t bytes = 0;
};

// `mem`: maintenance_work_mem ("" = server default); `workers` < 0: server default.
IndexBuild BuildIndex(const Conn& c, const std::string& table, DistanceMetric metric, int m, int ef_construction,
                      const std::string& mem, int workers) {
    c.Exec("SET client_min_messages = warning; DROP INDEX IF EXISTS " + table + "_hnsw");
    std::string sql = "BEGIN; SET LOCAL client_min_messages = warning; ";
    if (!mem.empty()) sql += "SET LOCAL maintenance_work_mem = '" + mem + "'; ";
    if (workers >= 0) sql += "SET LOCAL max_parallel_maintenance_workers = " + std::to_string(workers) + "; ";
    sql += "CREATE INDEX " + table + "_hnsw ON " + table + " USING hnsw (embedding " + OpClass(metric) +
           ") WITH (m = " + std::to_string(m) + ", ef_construction = " + std::to_string(ef_construction) + "); COMMIT";
    const auto t0 = Clock::now();
    c.Exec(sql);
    IndexBuild b;
    b.seconds = Since(t0);
    b.bytes = std::stoll(c.Scalar("SELECT pg_relation_size('" + table + "_hnsw')"));
    return b;
}

// The store's records-table definition (pgvector_store.cpp, EnsureCollection) without its secondary indexes.
void CreateStoreTable(const Conn& c, const std::string& table, int dim) {
    c.Exec("SET client_min_messages = warning; DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table +
           " (id bytea PRIMARY KEY, document bytea, metadata json NOT NULL, embedding vector(" + std::to_string(dim) +
           ") NOT NULL, language bytea, glob_path text, lexemes tsvector NOT NULL, lexeme_count integer NOT NULL)");
}

void CopyIn(const Conn& c, const std::string& sql, const std::string& buf) {
    PGresult* r = PQexec(c.get(), sql.c_str());
    if (PQresultStatus(r) != PGRES_COPY_IN) Die(std::string("COPY: ") + PQresultErrorMessage(r));
    PQclear(r);
    if (PQputCopyData(c.get(), buf.data(), static_cast<int>(buf.size())) != 1 || PQputCopyEnd(c.get(), nullptr) != 1) {
        Die(std::string("COPY data: ") + PQerrorMessage(c.get()));
    }
    while ((r = PQgetResult(c.get())) != nullptr) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) Die(std::string("COPY end: ") + PQresultErrorMessage(r));
        PQclear(r);
    }
}

// The row bytes of the importer, one COPY stream per batch.
std::vector<std::string> StoreCopyStreams(const Loaded& data, size_t batch) {
    std::vector<std::string> out;
    store::pg::CopyRows rows;
    for (const Record& r : data.records) {
        auto p = store::pg::PrepareRecord(r);
        if (!p.ok()) Die(p.status().ToString());
        rows.Add(*p);
        if (rows.rows() == batch) out.push_back(rows.Finish());
    }
    if (rows.rows() > 0) out.push_back(rows.Finish());
    return out;
}

double LoadStoreCopy(const Conn& c, const std::string& table, const std::vector<std::string>& streams) {
    const auto t0 = Clock::now();
    for (const std::string& buf : streams) {
        c.Exec("BEGIN");
        CopyIn(c, "COPY " + table + " FROM STDIN (FORMAT binary)", buf);
        c.Exec("COMMIT");
    }
    return Since(t0);
}

// GIN on the lexemes, the language index and HNSW, as the store defines them; seconds of each.
nlohmann::json BuildStoreIndexes(const Conn& c, const std::string& table, DistanceMetric metric, int m, int ef) {
    nlohmann::json out;
    const std::string prefix = "BEGIN; SET LOCAL client_min_messages = warning; SET LOCAL maintenance_work_mem = '512MB'; ";
    const std::pair<const char*, std::string> builds[] = {
        {"gin_s", "CREATE INDEX ON " + table + " USING gin (lexemes)"},
        {"language_s", "CREATE INDEX ON " + table + " (language)"},
        {"hnsw_s", "CREATE INDEX ON " + table + " USING hnsw (embedding " + OpClass(metric) + ") WITH (m = " +
                       std::to_string(m) + ", ef_construction = " + std::to_string(ef) + ")"}};
    for (const auto& [name, sql] : builds) {
        const auto t0 = Clock::now();
        c.Exec(prefix + sql + "; COMMIT");
        out[name] = Since(t0);
    }
    return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t end = s.find(sep, start);
        out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Raw libpq loaders (COPY BINARY, INSERT per row) of an export file: the peers of migrate import"};
    std::string input, url, modes = "copy,insert-txn,insert-autocommit", variants, json_out;
    size_t batch = 1000;
    int m = 16, ef_construction = 200;
    app.add_option("--input", input, "Export file (.jsonl.zst); its first collection is loaded")->required();
    app.add_option("--database", url, "postgresql:// URL (libpq)")->required();
    app.add_option("--modes", modes, "Comma-separated: copy, insert-txn, insert-autocommit, copy-store");
    app.add_option("--batch-size", batch, "COPY: records per COPY statement and transaction (default 1000)")
        ->check(CLI::Range(1, 100000000));
    app.add_option("--m", m, "HNSW m of the index built after the COPY load (default 16, as the store)");
    app.add_option("--ef-construction", ef_construction, "HNSW ef_construction (default 200, as the store)");
    app.add_option("--index-variants", variants,
                   "After the COPY load, rebuild the index under each MEM/WORKERS setting "
                   "(maintenance_work_mem / max_parallel_maintenance_workers, e.g. 512MB/2,512MB/0,64MB/2)");
    app.add_option("--json", json_out, "Write the results as JSON");
    CLI11_PARSE(app, argc, argv);

    Loaded data;
    const auto t_parse = Clock::now();
    Collect visitor(data);
    if (Status s = ops::ReadExport(input, visitor); !s.ok()) Die(s.ToString());
    const double parse_s = Since(t_parse);
    const size_t n = data.records.size();
    const int dim = data.header.spec.dimension;
    if (n == 0) Die("no records in " + input);
    std::printf("parsed %zu records x %d dims (%s) from %s in %.2f s (not part of the load times below)\n", n, dim,
                std::string(DistanceMetricName(data.header.spec.metric)).c_str(), input.c_str(), parse_s);

    Conn c(url);
    c.Exec("SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector");
    nlohmann::json out = {
        {"records", n},
        {"dimension", dim},
        {"metric", std::string(DistanceMetricName(data.header.spec.metric))},
        {"parse_s", parse_s},
        {"batch_size", batch},
        {"hnsw_m", m},
        {"hnsw_ef_construction", ef_construction},
        {"server_version", c.Scalar("SHOW server_version")},
        {"pgvector_version", c.Scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")},
        {"modes", nlohmann::json::object()}};
    std::printf("%-22s %10s %12s %12s %14s\n", "peer", "load s", "rows/s", "index s", "load+index s");
    for (const std::string& mode : Split(modes, ',')) {
        if (mode == "copy-store") {
            const std::string table = "pg_copy_bench_store";
            const auto t_prep = Clock::now();
            const std::vector<std::string> streams = StoreCopyStreams(data, batch);
            const double prep_s = Since(t_prep);
            CreateStoreTable(c, table, dim);
            const double load_s = LoadStoreCopy(c, table, streams);
            nlohmann::json idx = BuildStoreIndexes(c, table, data.header.spec.metric, m, ef_construction);
            const double index_s = idx["gin_s"].get<double>() + idx["language_s"].get<double>() + idx["hnsw_s"].get<double>();
            const std::string count = c.Scalar("SELECT count(*) FROM " + table);
            if (std::stoull(count) != n) Die(mode + ": table has " + count + " rows, expected " + std::to_string(n));
            out["modes"][mode] = {{"prepare_s", prep_s},
                                  {"load_s", load_s},
                                  {"rows_per_s", static_cast<double>(n) / load_s},
                                  {"index_s", index_s},
                                  {"indexes", idx},
                                  {"total_s", load_s + index_s},
                                  {"total_rows_per_s", static_cast<double>(n) / (load_s + index_s)},
                                  {"table_bytes", std::stoll(c.Scalar("SELECT pg_table_size('" + table + "')"))}};
            std::printf("%-22s %10.2f %12.0f %12.2f %14.2f   (rows prepared untimed in %.2f s; GIN %.2f s, HNSW %.2f s)\n",
                        mode.c_str(), load_s, static_cast<double>(n) / load_s, index_s, load_s + index_s, prep_s,
                        idx["gin_s"].get<double>(), idx["hnsw_s"].get<double>());
            c.Exec("DROP TABLE " + table);
            continue;
        }
        const std::string table = "pg_copy_bench_" + std::string(mode == "copy"         ? "copy"
                                                                 : mode == "insert-txn" ? "insert_txn"
                                                                                        : "insert_autocommit");
        CreateTable(c, table, dim);
        double load_s = 0;
        if (mode == "copy") {
            load_s = LoadCopy(c, table, data, batch);
        } else if (mode == "insert-txn") {
            load_s = LoadInsert(c, table, data, true);
        } else if (mode == "insert-autocommit") {
            load_s = LoadInsert(c, table, data, false);
        } else {
            Die("unknown mode '" + mode + "' (copy, insert-txn, insert-autocommit)");
        }
        const std::string count = c.Scalar("SELECT count(*) FROM " + table);
        if (std::stoull(count) != n) Die(mode + ": table has " + count + " rows, expected " + std::to_string(n));
        nlohmann::json r = {{"load_s", load_s}, {"rows_per_s", static_cast<double>(n) / load_s}};
        if (mode == "copy") {
            // As the importer's BuildVectorIndex: maintenance_work_mem 512MB, parallel workers as the server's.
            const IndexBuild b = BuildIndex(c, table, data.header.spec.metric, m, ef_construction, "512MB", -1);
            r["index_s"] = b.seconds;
            r["index_bytes"] = b.bytes;
            r["total_s"] = load_s + b.seconds;
            r["total_rows_per_s"] = static_cast<double>(n) / (load_s + b.seconds);
            r["table_bytes"] = std::stoll(c.Scalar("SELECT pg_table_size('" + table + "')"));
            std::printf("%-22s %10.2f %12.0f %12.2f %14.2f\n", mode.c_str(), load_s, static_cast<double>(n) / load_s,
                        b.seconds, load_s + b.seconds);
            if (!variants.empty()) {
                nlohmann::json vs = nlohmann::json::array();
                std::printf(
                    "  HNSW build variants (m=%d, ef_construction=%d; server max_parallel_maintenance_workers=%s):\n",
                    m, ef_construction, c.Scalar("SHOW max_parallel_maintenance_workers").c_str());
                for (const std::string& v : Split(variants, ',')) {
                    const auto parts = Split(v, '/');
                    if (parts.size() != 2) Die("bad --index-variants entry '" + v + "' (want MEM/WORKERS)");
                    const int workers = std::stoi(parts[1]);
                    const IndexBuild vb =
                        BuildIndex(c, table, data.header.spec.metric, m, ef_construction, parts[0], workers);
                    vs.push_back({{"maintenance_work_mem", parts[0]},
                                  {"max_parallel_maintenance_workers", workers},
                                  {"index_s", vb.seconds},
                                  {"index_bytes", vb.bytes}});
                    std::printf("    maintenance_work_mem=%-6s workers=%d  %7.2f s  index %.1f MB\n", parts[0].c_str(),
                                workers, vb.seconds, static_cast<double>(vb.bytes) / 1e6);
                }
                r["index_variants"] = vs;
            }
        } else {
            std::printf("%-22s %10.2f %12.0f %12s %14s\n", mode.c_str(), load_s, static_cast<double>(n) / load_s, "-",
                        "-");
        }
        c.Exec("DROP TABLE " + table);
        out["modes"][mode] = r;
    }
    if (!json_out.empty()) {
        std::ofstream f(json_out);
        f << out.dump(2) << "\n";
        if (!f) Die("cannot write " + json_out);
    }
    return 0;
}

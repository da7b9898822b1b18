#include "ops/export_reader.hpp"

#include <optional>

#include "ops/line_io.hpp"

namespace signalhub::ops {

Status ReadExport(const std::string& path, ExportVisitor& visitor,
                  const std::function<void(const ReadProgress&)>& progress) {
    SH_ASSIGN_OR_RETURN(auto reader, LineReader::Open(path));
    std::string line;
    std::optional<ExportHeader> header;  // the open block
    std::optional<CollectionChecksum> checksum;
    std::string last_id;
    std::int64_t count = 0, total = 0, blocks = 0;
    auto where = [&] { return path + ":" + std::to_string(reader->line_number()) + ": "; };
    for (;;) {
        SH_ASSIGN_OR_RETURN(bool more, reader->Next(line));
        if (!more) break;
        if (reader->missing_newline()) {
            return DataLoss(where() + "the file is truncated (its last line has no newline)");
        }
        auto parsed = ParseLine(line);
        if (!parsed.ok()) return InvalidArgument(where() + parsed.status().message());
        ParsedLine& p = *parsed;
        switch (p.kind) {
            case LineKind::kHeader:
                if (header) {
                    return DataLoss(where() + "a header inside collection '" + header->spec.name +
                                    "' (its trailer is missing)");
                }
                header = p.header;
                checksum.emplace();
                last_id.clear();
                count = 0;
                SH_RETURN_IF_ERROR(visitor.OnHeader(*header).WithContext(where()));
                break;
            case LineKind::kRecord: {
                if (!header) return InvalidArgument(where() + "a record outside a collection block (no header before it)");
                if (count > 0 && !(last_id < p.record.id)) {
                    return InvalidArgument(where() + "record id '" + p.record.id +
                                           "' is not after the previous id (records must be in strictly ascending "
                                           "bytewise id order)");
                }
                if (static_cast<int>(p.record.embedding.size()) != header->spec.dimension) {
                    return InvalidArgument(where() + "record '" + p.record.id + "' has " +
                                           std::to_string(p.record.embedding.size()) + " embedding values, collection '" +
                                           header->spec.name + "' has dimension " +
                                           std::to_string(header->spec.dimension));
                }
                const Digest d = RecordDigest(p.record);
                checksum->Add(d);
                last_id = p.record.id;
                ++count;
                ++total;
                SH_RETURN_IF_ERROR(visitor.OnRecord(*header, std::move(p.record), d).WithContext(where()));
                if (progress && total % 4096 == 0) progress({reader->bytes_read(), reader->file_size(), total});
                break;
            }
            case LineKind::kTrailer: {
                if (!header) return InvalidArgument(where() + "a trailer without a header");
                if (p.trailer.collection != header->spec.name) {
                    return DataLoss(where() + "the trailer names collection '" + p.trailer.collection +
                                    "' inside the block of '" + header->spec.name + "'");
                }
                if (p.trailer.records != count) {
                    return DataLoss(where() + "collection '" + header->spec.name + "': the file holds " +
                                    std::to_string(count) + " records, the trailer says " +
                                    std::to_string(p.trailer.records));
                }
                if (p.trailer.checksum != checksum->Hex()) {
                    return DataLoss(where() + "collection '" + header->spec.name + "': checksum mismatch (trailer " +
                                    p.trailer.checksum + ", records " + checksum->Hex() +
                                    "): the file was altered or corrupted");
                }
                SH_RETURN_IF_ERROR(visitor.OnTrailer(*header, p.trailer).WithContext(where()));
                header.reset();
                ++blocks;
                break;
            }
        }
    }
    if (header) {
        return DataLoss(path + ":" + std::to_string(reader->line_number()) + ": the file is truncated: collection '" +
                        header->spec.name + "' has no trailer (" + std::to_string(count) + " records read)");
    }
    if (blocks == 0) return InvalidArgument(path + ": empty file (no collection header)");
    if (progress) progress({reader->bytes_read(), reader->file_size(), total});
    return Status::Ok();
}

}  // namespace signalhub::ops

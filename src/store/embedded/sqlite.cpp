#include "store/embedded/sqlite.hpp"

namespace signalhub::store::sqlite {

Status Error(sqlite3* db, int rc, std::string_view what) {
    std::string message = std::string(what) + ": " + sqlite3_errstr(rc);
    if (db != nullptr && sqlite3_errcode(db) == rc) {
        message += " (";
        message += sqlite3_errmsg(db);
        message += ")";
    }
    switch (rc & 0xff) {
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB: return DataLoss(message);
        case SQLITE_FULL: return ResourceExhausted(message);
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return Unavailable(message);
        case SQLITE_CANTOPEN: return Unavailable(message);
        case SQLITE_READONLY: return FailedPrecondition(message);
        default: return Internal(message);
    }
}

Db& Db::operator=(Db&& other) noexcept {
    if (this != &other) {
        if (db_ != nullptr) sqlite3_close_v2(db_);
        db_ = other.db_;
        other.db_ = nullptr;
    }
    return *this;
}

Db::~Db() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<Db> Db::Open(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) return Error(raw, rc, "cannot open " + path);
    sqlite3_extended_result_codes(raw, 1);
    return db;
}

Status Db::Exec(std::string_view sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
    if (err != nullptr) sqlite3_free(err);
    if (rc != SQLITE_OK) return Error(db_, rc, "sql '" + std::string(sql.substr(0, 60)) + "'");
    return Status::Ok();
}

Result<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return Error(db, rc, "prepare '" + std::string(sql.substr(0, 80)) + "'");
    }
    return Stmt(db, stmt);
}

Stmt::Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_), bind_rc_(other.bind_rc_) {
    other.stmt_ = nullptr;
}

Stmt::~Stmt() {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Stmt& Stmt::Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Stmt& Stmt::Bind(int index, std::int64_t value) { return Check(sqlite3_bind_int64(stmt_, index, value)); }

Stmt& Stmt::Bind(int index, std::string_view text) {
    return Check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Stmt& Stmt::Bind(int index, const std::optional<std::string>& text) {
    return text ? Bind(index, std::string_view(*text)) : BindNull(index);
}

Stmt& Stmt::BindDouble(int index, double value) { return Check(sqlite3_bind_double(stmt_, index, value)); }

Stmt& Stmt::BindBlob(int index, std::span<const unsigned char> bytes) {
    // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
    static const unsigned char kEmpty = 0;
    const void* data = bytes.empty() ? &kEmpty : bytes.data();
    return Check(sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT));
}

Stmt& Stmt::BindNull(int index) { return Check(sqlite3_bind_null(stmt_, index)); }

Result<bool> Stmt::Step() {
    if (bind_rc_ != SQLITE_OK) return Error(db_, bind_rc_, "bind");
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error(db_, rc, "step '" + std::string(sqlite3_sql(stmt_)).substr(0, 80) + "'");
}

Status Stmt::Run() {
    while (true) {
        SH_ASSIGN_OR_RETURN(bool row, Step());
        if (!row) return Status::Ok();
    }
}

void Stmt::Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_rc_ = SQLITE_OK;
}

bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::Double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Stmt::Text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

std::span<const unsigned char> Stmt::Blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr) return {};
    return {static_cast<const unsigned char*>(p), static_cast<size_t>(n)};
}

Result<Txn> Txn::Begin(sqlite3* db, bool immediate) {
    int rc = sqlite3_exec(db, immediate ? "BEGIN IMMEDIATE" : "BEGIN", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Error(db, rc, "begin transaction");
    return Txn(db);
}

Txn::~Txn() {
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Txn::Commit() {
    int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Error(db_, rc, "commit");
    db_ = nullptr;
    return Status::Ok();
}

Result<std::int64_t> QueryInt(sqlite3* db, std::string_view sql, std::int64_t fallback) {
    SH_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, sql));
    SH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row || stmt.IsNull(0)) return fallback;
    return stmt.Int(0);
}

}  // namespace signalhub::store::sqlite

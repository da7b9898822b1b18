#pragma once
// Minimal RAII wrappers over the SQLite C API for the embedded store. Every
// failure becomes a Status (corruption: DataLoss; full disk: ResourceExhausted;
// busy: Unavailable; everything else: Internal). Internal to the store module.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace signalhub::store::sqlite {

Status Error(sqlite3* db, int rc, std::string_view what);

// An open connection (closed on destruction).
class Db {
   public:
    Db() = default;
    explicit Db(sqlite3* db) : db_(db) {}
    Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Db& operator=(Db&& other) noexcept;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db();

    // flags: SQLITE_OPEN_* (NOMUTEX is added: a Db is used by one thread at a time).
    static Result<Db> Open(const std::string& path, int flags);
    sqlite3* get() const { return db_; }
    Status Exec(std::string_view sql);

   private:
    sqlite3* db_ = nullptr;
};

// A prepared statement. Bind errors are reported by the next Step/Run.
class Stmt {
   public:
    static Result<Stmt> Prepare(sqlite3* db, std::string_view sql);
    Stmt(Stmt&& other) noexcept;
    Stmt& operator=(Stmt&&) = delete;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt();

    Stmt& Bind(int index, std::int64_t value);
    Stmt& Bind(int index, std::string_view text);
    Stmt& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
    Stmt& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
    Stmt& Bind(int index, const std::optional<std::string>& text);  // nullopt binds NULL
    Stmt& BindDouble(int index, double value);
    Stmt& BindBlob(int index, std::span<const unsigned char> bytes);
    Stmt& BindNull(int index);

    // true: a row is available; false: done.
    Result<bool> Step();
    // Steps until done (for statements without result rows).
    Status Run();
    // Resets and clears bindings for reuse.
    void Reset();

    bool IsNull(int col) const;
    std::int64_t Int(int col) const;
    double Double(int col) const;
    std::string Text(int col) const;
    std::span<const unsigned char> Blob(int col) const;  // valid until the next Step/Reset

   private:
    Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Stmt& Check(int rc);
    sqlite3* db_;
    sqlite3_stmt* stmt_;
    int bind_rc_ = SQLITE_OK;
};

// A transaction rolled back on destruction unless committed.
class Txn {
   public:
    // immediate: BEGIN IMMEDIATE (takes the write lock now); else BEGIN (deferred, a read snapshot).
    static Result<Txn> Begin(sqlite3* db, bool immediate);
    Txn(Txn&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Txn& operator=(Txn&&) = delete;
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    ~Txn();
    Status Commit();

   private:
    explicit Txn(sqlite3* db) : db_(db) {}
    sqlite3* db_;
};

// Reads a single integer (first column of the first row; `fallback` if no row or NULL).
Result<std::int64_t> QueryInt(sqlite3* db, std::string_view sql, std::int64_t fallback = 0);

}  // namespace signalhub::store::sqlite

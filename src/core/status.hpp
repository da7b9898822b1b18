#pragma once
// Status and Result<T>: expected failures as values (Abseil canonical codes).
// Exceptions stay at start-up/config time and inside adapters of throwing
// libraries; everything on the request path returns Status or Result<T>.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace signalhub {

enum class ErrorCode {
    kOk = 0,
    kCancelled = 1,
    kUnknown = 2,
    kInvalidArgument = 3,
    kDeadlineExceeded = 4,
    kNotFound = 5,
    kAlreadyExists = 6,
    kPermissionDenied = 7,
    kResourceExhausted = 8,
    kFailedPrecondition = 9,
    kAborted = 10,
    kOutOfRange = 11,
    kUnimplemented = 12,
    kInternal = 13,
    kUnavailable = 14,
    kDataLoss = 15,
    kUnauthenticated = 16,
};

std::string_view ErrorCodeName(ErrorCode code);

// The one table that maps an error code to the process exit code of the CLI
// (documented in docs/cli.md). 0 is success, 1 is reserved for "results found
// nothing / verification failed" style outcomes decided by a command itself.
int ExitCodeFor(ErrorCode code);

class [[nodiscard]] Status {
   public:
    Status() = default;
    Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status Ok() { return {}; }

    bool ok() const { return code_ == ErrorCode::kOk; }
    ErrorCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "INVALID_ARGUMENT: message"
    std::string ToString() const;

    // Returns a copy whose message is "context: message" (code unchanged).
    Status WithContext(std::string_view context) const;

   private:
    ErrorCode code_ = ErrorCode::kOk;
    std::string message_;
};

inline Status InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {ErrorCode::kFailedPrecondition, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {ErrorCode::kPermissionDenied, std::move(m)}; }
inline Status Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
inline Status DataLoss(std::string m) { return {ErrorCode::kDataLoss, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {ErrorCode::kResourceExhausted, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {ErrorCode::kDeadlineExceeded, std::move(m)}; }
inline Status Aborted(std::string m) { return {ErrorCode::kAborted, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {ErrorCode::kUnauthenticated, std::move(m)}; }
inline Status Cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }

// Result<T>: either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
   public:
    Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
        assert(!std::get<Status>(data_).ok() && "Result constructed from OK status");
    }

    bool ok() const { return std::holds_alternative<T>(data_); }
    const Status& status() const {
        static const Status kOkStatus;
        return ok() ? kOkStatus : std::get<Status>(data_);
    }
    T& value() & { return std::get<T>(data_); }
    const T& value() const& { return std::get<T>(data_); }
    T&& value() && { return std::get<T>(std::move(data_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

   private:
    std::variant<T, Status> data_;
};

}  // namespace signalhub

// Propagate a non-OK Status from an expression returning Status.
#define SH_RETURN_IF_ERROR(expr)                   \
    do {                                           \
        ::signalhub::Status sh_status_ = (expr);   \
        if (!sh_status_.ok()) return sh_status_;   \
    } while (false)

#define SH_CONCAT_INNER(a, b) a##b
#define SH_CONCAT(a, b) SH_CONCAT_INNER(a, b)
// SH_ASSIGN_OR_RETURN(auto x, ExprReturningResult());
#define SH_ASSIGN_OR_RETURN(lhs, expr) SH_ASSIGN_OR_RETURN_IMPL(SH_CONCAT(sh_result_, __LINE__), lhs, expr)
#define SH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                           \
    if (!tmp.ok()) return tmp.status();          \
    lhs = std::move(tmp).value()

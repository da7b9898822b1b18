#include "core/status.hpp"

namespace signalhub {

std::string_view ErrorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::kOk: return "OK";
        case ErrorCode::kCancelled: return "CANCELLED";
        case ErrorCode::kUnknown: return "UNKNOWN";
        case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
        case ErrorCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
        case ErrorCode::kNotFound: return "NOT_FOUND";
        case ErrorCode::kAlreadyExists: return "ALREADY_EXISTS";
        case ErrorCode::kPermissionDenied: return "PERMISSION_DENIED";
        case ErrorCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
        case ErrorCode::kFailedPrecondition: return "FAILED_PRECONDITION";
        case ErrorCode::kAborted: return "ABORTED";
        case ErrorCode::kOutOfRange: return "OUT_OF_RANGE";
        case ErrorCode::kUnimplemented: return "UNIMPLEMENTED";
        case ErrorCode::kInternal: return "INTERNAL";
        case ErrorCode::kUnavailable: return "UNAVAILABLE";
        case ErrorCode::kDataLoss: return "DATA_LOSS";
        case ErrorCode::kUnauthenticated: return "UNAUTHENTICATED";
    }
    return "UNKNOWN";
}

int ExitCodeFor(ErrorCode code) {
    switch (code) {
        case ErrorCode::kOk: return 0;
        case ErrorCode::kInvalidArgument:
        case ErrorCode::kOutOfRange: return 2;  // bad input: usage, config, arguments
        case ErrorCode::kNotFound: return 3;
        case ErrorCode::kFailedPrecondition:
        case ErrorCode::kAlreadyExists:
        case ErrorCode::kAborted: return 4;  // state conflict: locked store, model mismatch
        case ErrorCode::kPermissionDenied:
        case ErrorCode::kUnauthenticated: return 5;
        case ErrorCode::kUnavailable:
        case ErrorCode::kDeadlineExceeded:
        case ErrorCode::kResourceExhausted: return 6;  // a dependency is down or overloaded
        case ErrorCode::kDataLoss: return 7;
        case ErrorCode::kCancelled: return 130;
        case ErrorCode::kUnknown:
        case ErrorCode::kUnimplemented:
        case ErrorCode::kInternal: return 70;
    }
    return 70;
}

std::string Status::ToString() const {
    if (ok()) return "OK";
    std::string out(ErrorCodeName(code_));
    out += ": ";
    out += message_;
    return out;
}

Status Status::WithContext(std::string_view context) const {
    if (ok()) return *this;
    std::string m(context);
    m += ": ";
    m += message_;
    return {code_, std::move(m)};
}

}  // namespace signalhub

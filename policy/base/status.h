// The bottom floor's failure type: a code and a message an operator can act
// on, in the style of LevelDB's Status. The codes are gRPC's canonical codes
// with gRPC's numbers, so the gRPC edge maps one to the other 1:1
// (policy/result.h), but nothing here depends on gRPC.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace crigate::base {

enum class Code : int {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
};

// "PERMISSION_DENIED"; "CODE_<n>" for a number outside the table.
std::string CodeName(int code);
inline std::string CodeName(Code code) { return CodeName(static_cast<int>(code)); }

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::NOT_FOUND, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::INVALID_ARGUMENT, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::PERMISSION_DENIED, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::INTERNAL, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::UNAVAILABLE, std::move(m)}; }

  bool ok() const { return code_ == Code::OK; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }  // empty when ok()

 private:
  Code code_ = Code::OK;
  std::string message_;
};

// A value, or the Status that says why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  // A failed result. An OK status here is a bug; it becomes INTERNAL so that
  // it can never be read as success.
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit on purpose
    if (status_.ok()) status_ = Status::Internal("result without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const std::string& error() const { return status_.message(); }
  Code code() const { return status_.code(); }

  // Only when ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace crigate::base

// The one way policy/ reports failure: a grpc::Status (code + a message an
// operator can act on), or a value together with an OK status. No exception
// crosses a policy/ header; code that calls throwing libraries catches at
// its edge and returns one of these.
#pragma once

#include <grpcpp/support/status.h>

#include <optional>
#include <string>
#include <utility>

#include "policy/base/status.h"

namespace crigate::policy {

// base::Status at the gRPC edge: the same codes with the same numbers.
inline grpc::Status ToGrpcStatus(const base::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  // A failed result. An OK status here is a bug; it is turned into INTERNAL
  // so that it can never be read as success.
  Result(grpc::Status status) : status_(std::move(status)) {  // NOLINT: implicit on purpose
    if (status_.ok()) status_ = grpc::Status(grpc::StatusCode::INTERNAL, "result without a value");
  }

  // From the bottom floor's types (policy/base/status.h).
  Result(const base::Status& status) : Result(ToGrpcStatus(status)) {}  // NOLINT: implicit
  Result(base::Result<T> other)  // NOLINT: implicit on purpose
      : Result(other.ok() ? Result(std::move(other).value()) : Result(other.status())) {}

  bool ok() const { return value_.has_value(); }
  const grpc::Status& status() const { return status_; }
  std::string error() const { return status_.error_message(); }  // grpc returns a copy
  grpc::StatusCode code() const { return status_.error_code(); }

  // Only when ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  grpc::Status status_;
  std::optional<T> value_;
};

inline grpc::Status Fail(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

}  // namespace crigate::policy

// Errors are values at every boundary (file, network, user input): Status and Result<T>.
// Internal invariants use assert(); anything a user can cause returns an Error with a message
// they can act on.
#pragma once
#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace paddock {

// Broad classes, chosen so the server can map them to HTTP status codes.
enum class ErrorCode {
  kInvalidArgument,  // bad input from a user (400)
  kNotFound,         // (404)
  kAlreadyExists,
  kPermissionDenied,  // (403)
  kResourceExhausted, // queue full, out of memory (503 / 507)
  kCorrupt,           // a file or blob fails validation
  kUnsupported,       // valid but not implemented by us (architecture, tensor type)
  kIo,                // the OS said no
  kCancelled,
  kTimeout,
  kInternal,
};

const char* error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Prefix context: err.wrap("loading model x") -> "loading model x: <message>".
  Error wrap(const std::string& context) const { return Error(code_, context + ": " + message_); }

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename... Args>
Error make_error(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Error(code, fmt::format(f, std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)), has_(true) {}  // NOLINT
  static Status Ok() { return Status(); }
  bool ok() const { return !has_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(has_); return err_; }

 private:
  Error err_{ErrorCode::kInternal, ""};
  bool has_ = false;
};

}  // namespace paddock

// Propagate an error from a Status or Result expression.
#define PADDOCK_CONCAT_INNER(a, b) a##b
#define PADDOCK_CONCAT(a, b) PADDOCK_CONCAT_INNER(a, b)
#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    auto _st = (expr);                          \
    if (!_st.ok()) return _st.error();          \
  } while (0)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.error();          \
  lhs = std::move(tmp).value()
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(PADDOCK_CONCAT(_res_, __LINE__), lhs, expr)

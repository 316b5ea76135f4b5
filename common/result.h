// Result<T>: the expected-style error type of everything outside the per-packet path.
// A function that can fail returns Result<T>; each caller that passes an error up adds
// its context with .context("..."), so the final message reads outermost-first.
// To be replaced by std::expected once the project moves to C++23.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace eclb {

struct Error {
  std::string message;
};

template <typename... Args>
[[nodiscard]] Error make_error(fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...)};
}

template <typename T>
class Result;

namespace detail {
[[noreturn]] inline void converted_success() {
  std::fputs("eclb: a successful Result was converted to another type\n", stderr);
  std::abort();
}
}  // namespace detail

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  // Passes a failed Result<U> up as a Result<T> (`if (!r) return std::move(r);`).
  // Converting a successful one is a bug and aborts.
  template <typename U>
    requires(!std::is_same_v<U, T>)
  Result(Result<U>&& other) : state_(std::in_place_index<1>, take_error(std::move(other))) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

  // Prefixes the error message with "what: "; a no-op on success.
  Result context(std::string_view what) && {
    if (!ok()) std::get<1>(state_).message = fmt::format("{}: {}", what, std::get<1>(state_).message);
    return std::move(*this);
  }

 private:
  template <typename U>
  static Error take_error(Result<U>&& other) {
    if (other.ok()) detail::converted_success();
    return std::move(other).error();
  }

  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  template <typename U>
    requires(!std::is_void_v<U>)
  Result(Result<U>&& other) : error_(take_error(std::move(other))), failed_(true) {}  // NOLINT

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

  Result context(std::string_view what) && {
    if (failed_) error_.message = fmt::format("{}: {}", what, error_.message);
    return std::move(*this);
  }

 private:
  template <typename U>
  static Error take_error(Result<U>&& other) {
    if (other.ok()) detail::converted_success();
    return std::move(other).error();
  }

  Error error_;
  bool failed_ = false;
};

inline Result<void> success() { return {}; }

}  // namespace eclb

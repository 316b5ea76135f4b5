// Atomic access to plain integer fields of shared-memory regions. The ABI declares them
// as plain fixed-width integers (C-compatible); every access to a field the ABI marks
// "atomic" goes through these helpers. They work on read-only mappings (const), which
// std::atomic_ref cannot, and ThreadSanitizer understands them.
#pragma once

#include <cstdint>

namespace eclb {

template <typename T>
inline T load_acquire(const T* field) noexcept {
  return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}
template <typename T>
inline T load_relaxed(const T* field) noexcept {
  return __atomic_load_n(field, __ATOMIC_RELAXED);
}
template <typename T>
inline void store_release(T* field, T value) noexcept {
  __atomic_store_n(field, value, __ATOMIC_RELEASE);
}
template <typename T>
inline void store_relaxed(T* field, T value) noexcept {
  __atomic_store_n(field, value, __ATOMIC_RELAXED);
}
template <typename T>
inline bool compare_exchange(T* field, T& expected, T desired) noexcept {
  return __atomic_compare_exchange_n(field, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
template <typename T>
inline T fetch_add_relaxed(T* field, T value) noexcept {
  return __atomic_fetch_add(field, value, __ATOMIC_RELAXED);
}

}  // namespace eclb

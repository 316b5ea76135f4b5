// Invariant checks. A broken invariant is a bug, never bad input: ECLB_CHECK aborts with a
// message where carrying on would misforward traffic; ECLB_DCHECK does so in debug builds only.
#pragma once

#include <cstdio>
#include <cstdlib>

#define ECLB_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) [[unlikely]] {                                                             \
      std::fprintf(stderr, "eclb: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

#ifdef NDEBUG
#define ECLB_DCHECK(cond) \
  do {                    \
  } while (0)
#else
#define ECLB_DCHECK(cond) ECLB_CHECK(cond)
#endif

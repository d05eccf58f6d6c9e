#include "perturbfit/core/memory.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace perturbfit {

void return_freed_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);  // returns whole free pages from anywhere in the heap, not only its top
#endif
}

}  // namespace perturbfit

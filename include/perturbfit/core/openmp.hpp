// When a loop is worth OpenMP threads. A parallel region costs a fork/join (microseconds,
// and far more when cores are oversubscribed: ranks x threads > cores, as under `ctest -j`
// or several ranks per node); loops over fewer elements than this run on the calling
// thread (the `if` clause of `omp parallel for`). Results do not depend on it: the loops
// it guards write disjoint elements.
#pragma once
#include <cstddef>

namespace perturbfit {

inline constexpr std::size_t kOpenMpMinWork = 16384;

}  // namespace perturbfit

// The logistic function sigma(s), one value and many: with e = exp(-|s|), 1 / (1 + e) for
// s >= 0 and e / (1 + e) below, so nothing overflows; +-inf give 1 and 0, NaN stays NaN.
#pragma once
#include <cstddef>

namespace perturbfit::model {

double logistic(double s);

// out[i] = logistic(s[i]) for i < n (out may alias s). With glibc's vector math library
// (libmvec, found at configure time) two values per call of its SSE2 exp, within 4 ulp of
// the scalar form (the same formula around a different exp); the batched residuals spent
// most of their time in scalar exp.
void logistic_many(const double* s, double* out, std::size_t n);

}  // namespace perturbfit::model

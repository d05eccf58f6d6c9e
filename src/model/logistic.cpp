#include "perturbfit/model/logistic.hpp"

#include <cmath>

#if defined(PERTURBFIT_HAVE_LIBMVEC) && defined(__x86_64__)
#include <emmintrin.h>
// libmvec's SSE2 variant of exp (the x86_64 vector function ABI, 'b' = SSE, N2 = 2 lanes).
extern "C" __m128d _ZGVbN2v_exp(__m128d);
#define PERTURBFIT_VECTOR_EXP 1
#endif

namespace perturbfit::model {

double logistic(double s) {
  const double e = std::exp(-std::fabs(s));
  return (s >= 0 ? 1.0 : e) / (1.0 + e);
}

#ifdef PERTURBFIT_VECTOR_EXP
namespace {
__m128d logistic_pair(__m128d x) {
  const __m128d one = _mm_set1_pd(1.0);
  const __m128d e = _ZGVbN2v_exp(_mm_or_pd(x, _mm_set1_pd(-0.0)));  // exp(-|x|)
  const __m128d negative = _mm_cmplt_pd(x, _mm_setzero_pd());
  const __m128d numerator = _mm_or_pd(_mm_and_pd(negative, e), _mm_andnot_pd(negative, one));
  return _mm_div_pd(numerator, _mm_add_pd(one, e));
}
}  // namespace
#endif

void logistic_many(const double* s, double* out, std::size_t n) {
#ifdef PERTURBFIT_VECTOR_EXP
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(out + i, logistic_pair(_mm_loadu_pd(s + i)));
  // The last of an odd count through the same exp: a value's result never depends on n or
  // on its position (a batch's columns must not depend on the batch).
  if (i < n) out[i] = _mm_cvtsd_f64(logistic_pair(_mm_set_sd(s[i])));
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = logistic(s[i]);
#endif
}

}  // namespace perturbfit::model

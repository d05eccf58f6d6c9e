#include "perturbfit/model/relaxation.hpp"

#include <cstddef>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PERTURBFIT_AVX2_SWEEPS 1
#else
#define PERTURBFIT_AVX2_SWEEPS 0
#endif

namespace perturbfit::model {

namespace {
// Columns are independent in a sweep, so it runs block by block of NV columns, the block's
// sums in registers (as CsrMatrix::multiply_many): with a run-time width the sums would be
// loaded and stored at every nonzero.
template <std::size_t NV>
[[gnu::always_inline]] inline void sweep_columns(const VectorField& field, double* X, std::size_t nb,
                                                 std::size_t offset, const std::vector<const Condition*>& conds,
                                                 const double* factor, const char* step, double* sq) {
  const auto& p = field.params();
  const auto G = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media);
  const auto& W = p.W;
  const auto& self = field.self_weights();
  double s[NV], sig[NV];
  for (std::size_t g = 0; g < G; ++g) {
    for (std::size_t v = 0; v < NV; ++v) {
      const auto& medium = conds[offset + v]->medium;
      double sg = p.c[g];
      for (std::size_t q = 0; q < K && q < medium.size(); ++q) sg += p.U[g * K + q] * medium[q];
      s[v] = sg;
    }
    for (auto e = W.row_ptr[g]; e < W.row_ptr[g + 1]; ++e) {
      const double w = W.val[static_cast<std::size_t>(e)];
      const double* xj = X + static_cast<std::size_t>(W.col[static_cast<std::size_t>(e)]) * nb + offset;
      for (std::size_t v = 0; v < NV; ++v) s[v] += w * xj[v];
    }
    logistic_many(s, sig, NV);
    double* xg = X + g * nb + offset;
    const double* fg = factor + g * nb + offset;
    for (std::size_t v = 0; v < NV; ++v) {
      const double production = fg[v] * p.v[g];
      const double f = production * sig[v] + p.beta[g] - p.gamma[g] * xg[v];
      const double d = production * sig[v] * (1.0 - sig[v]) * self[g] - p.gamma[g];
      sq[offset + v] += f * f;
      if (step[offset + v]) xg[v] -= f / d;
    }
  }
}

template <std::size_t NV>
[[gnu::always_inline]] inline void adjoint_sweep_columns(const VectorField& field,
                                                         const VectorField::BatchLinearization& lin, const double* b,
                                                         double* L, double* M, std::size_t offset, const char* step,
                                                         double* sq) {
  const auto& p = field.params();
  const auto G = static_cast<std::size_t>(p.genes), nb = static_cast<std::size_t>(lin.nb);
  const auto& Wt = field.transposed_W();  // row g of W^T: the genes g regulates
  const auto& self = field.self_weights();
  for (std::size_t g = 0; g < G; ++g) {
    double acc[NV] = {};
    for (auto e = Wt.row_ptr[g]; e < Wt.row_ptr[g + 1]; ++e) {
      const double w = Wt.val[static_cast<std::size_t>(e)];
      const double* mi = M + static_cast<std::size_t>(Wt.col[static_cast<std::size_t>(e)]) * nb + offset;
      for (std::size_t v = 0; v < NV; ++v) acc[v] += w * mi[v];
    }
    const std::size_t o = g * nb + offset;
    for (std::size_t v = 0; v < NV; ++v) {
      const double r = b[o + v] - (acc[v] - p.gamma[g] * L[o + v]);  // (b - J^T l)_g
      sq[offset + v] += r * r;
      if (!step[offset + v]) continue;
      L[o + v] += r / (lin.a[o + v] * self[g] - p.gamma[g]);
      M[o + v] = lin.a[o + v] * L[o + v];
    }
  }
}

// Calls kernel.template operator()<NV>(offset) over blocks of 16, 8, 4, 2 and 1 columns.
template <class Kernel>
[[gnu::always_inline]] inline void by_blocks(std::size_t nb, const Kernel& kernel) {
  std::size_t offset = 0;
  for (; offset + 16 <= nb; offset += 16) kernel.template operator()<16>(offset);
  if (offset + 8 <= nb) kernel.template operator()<8>(offset), offset += 8;
  if (offset + 4 <= nb) kernel.template operator()<4>(offset), offset += 4;
  if (offset + 2 <= nb) kernel.template operator()<2>(offset), offset += 2;
  if (offset < nb) kernel.template operator()<1>(offset);
}

// Each sweep is compiled twice, for the baseline ISA and for AVX2 (4 doubles per instruction
// where SSE2 has 2), the second chosen where the processor has it. Everything a sweep does is
// inlined into the two (always_inline), so each is vectorised for its ISA. The same
// operations in the same order (no FMA: ISO C++ mode keeps -ffp-contract=off): both give
// the same bits (tests/test_relaxation.cpp).
[[gnu::always_inline]] inline void sweep(const VectorField& field, double* X, int nb,
                                         const std::vector<const Condition*>& conds, const double* factor,
                                         const char* step, double* sq) {
  const auto B = static_cast<std::size_t>(nb);
  by_blocks(
      B, [&]<std::size_t NV>(std::size_t offset)
             __attribute__((always_inline)) { sweep_columns<NV>(field, X, B, offset, conds, factor, step, sq); });
}

[[gnu::always_inline]] inline void adjoint_sweep(const VectorField& field, const VectorField::BatchLinearization& lin,
                                                 const double* b, double* L, double* M, const char* step, double* sq) {
  by_blocks(
      static_cast<std::size_t>(lin.nb), [&]<std::size_t NV>(std::size_t offset) __attribute__((always_inline)) {
        adjoint_sweep_columns<NV>(field, lin, b, L, M, offset, step, sq);
      });
}

#if PERTURBFIT_AVX2_SWEEPS
[[gnu::target("avx2")]] void sweep_avx2(const VectorField& field, double* X, int nb,
                                        const std::vector<const Condition*>& conds, const double* factor,
                                        const char* step, double* sq) {
  sweep(field, X, nb, conds, factor, step, sq);
}

[[gnu::target("avx2")]] void adjoint_sweep_avx2(const VectorField& field, const VectorField::BatchLinearization& lin,
                                                const double* b, double* L, double* M, const char* step, double* sq) {
  adjoint_sweep(field, lin, b, L, M, step, sq);
}
#endif

bool use_avx2(Isa isa) {
#if PERTURBFIT_AVX2_SWEEPS
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  return isa == Isa::kBest && has_avx2;
#else
  (void)isa;
  return false;
#endif
}
}  // namespace

bool supports_gauss_seidel(const VectorField& field) {
  return !field.has_low_rank() && field.params().kind != ModelKind::kNeural;
}

void gauss_seidel_sweep(const VectorField& field, double* X, int nb, const std::vector<const Condition*>& conds,
                        const double* factor, const char* step, double* sq, Isa isa) {
#if PERTURBFIT_AVX2_SWEEPS
  if (use_avx2(isa)) return sweep_avx2(field, X, nb, conds, factor, step, sq);
#else
  (void)isa;
#endif
  sweep(field, X, nb, conds, factor, step, sq);
}

void adjoint_gauss_seidel_sweep(const VectorField& field, const VectorField::BatchLinearization& lin, const double* b,
                                double* L, double* M, const char* step, double* sq, Isa isa) {
#if PERTURBFIT_AVX2_SWEEPS
  if (use_avx2(isa)) return adjoint_sweep_avx2(field, lin, b, L, M, step, sq);
#else
  (void)isa;
#endif
  adjoint_sweep(field, lin, b, L, M, step, sq);
}

bool has_avx2_sweeps() { return use_avx2(Isa::kBest); }

}  // namespace perturbfit::model

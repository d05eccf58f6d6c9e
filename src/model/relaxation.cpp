#include "perturbfit/model/relaxation.hpp"

#include <cstddef>

namespace perturbfit::model {

namespace {
// Columns are independent in a sweep, so it runs block by block of NV columns, the block's
// sums in registers (as CsrMatrix::multiply_many): with a run-time width the sums would be
// loaded and stored at every nonzero.
template <std::size_t NV>
void sweep_columns(const VectorField& field, double* X, std::size_t nb, std::size_t offset,
                   const std::vector<const Condition*>& conds, const double* factor, const char* step, double* sq) {
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
void adjoint_sweep_columns(const VectorField& field, const VectorField::BatchLinearization& lin, const double* b,
                           double* L, double* M, std::size_t offset, const char* step, double* sq) {
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
void by_blocks(std::size_t nb, const Kernel& kernel) {
  std::size_t offset = 0;
  for (; offset + 16 <= nb; offset += 16) kernel.template operator()<16>(offset);
  if (offset + 8 <= nb) kernel.template operator()<8>(offset), offset += 8;
  if (offset + 4 <= nb) kernel.template operator()<4>(offset), offset += 4;
  if (offset + 2 <= nb) kernel.template operator()<2>(offset), offset += 2;
  if (offset < nb) kernel.template operator()<1>(offset);
}
}  // namespace

bool supports_gauss_seidel(const VectorField& field) {
  return !field.has_low_rank() && field.params().kind != ModelKind::kNeural;
}

void gauss_seidel_sweep(const VectorField& field, double* X, int nb, const std::vector<const Condition*>& conds,
                        const double* factor, const char* step, double* sq) {
  const auto B = static_cast<std::size_t>(nb);
  by_blocks(
      B, [&]<std::size_t NV>(std::size_t offset) { sweep_columns<NV>(field, X, B, offset, conds, factor, step, sq); });
}

void adjoint_gauss_seidel_sweep(const VectorField& field, const VectorField::BatchLinearization& lin, const double* b,
                                double* L, double* M, const char* step, double* sq) {
  by_blocks(static_cast<std::size_t>(lin.nb), [&]<std::size_t NV>(std::size_t offset) {
    adjoint_sweep_columns<NV>(field, lin, b, L, M, offset, step, sq);
  });
}

}  // namespace perturbfit::model

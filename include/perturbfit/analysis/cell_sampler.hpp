// Cells drawn from predicted pseudo-bulk expression (`predict --cells N`), through a
// measurement estimated from the screen's control cells: each cell a library size factor s
// drawn from the control cells' (s = total counts / mean total), and per gene a negative
// binomial count of mean s (exp(X_g) - eps) and dispersion phi_g, the moment estimate
// max(0, (var - mean) / mean^2) of the control cells' normalised counts (X is predicted
// log(eps + normalised expression), normalised to the mean library size). A fit with
// data.likelihood = nb learned each gene's NB size r (phi = 1/r) and with fit.zero_inflation
// its dropout pi: those are used instead, the model's own measurement. Draws are keyed by
// (row, cell): the cells are the same at any rank count.
#pragma once
#include <cstdint>
#include <vector>

#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::analysis {

class CellSampler {
 public:
  // Collective: the control cells' size factors and per-gene moments (control: perturbation 0).
  // nb_size, dropout: the fitted measurement per gene (empty: the moment estimate, no dropout).
  CellSampler(const parallel::Comm& comm, const data::ScreenData& screen, double pseudocount,
              const std::vector<double>& nb_size = {}, const std::vector<double>& dropout = {});
  const std::vector<double>& dispersion() const { return dispersion_; }
  // Appends `cells` cells of predicted log expression X (genes) for global row `row` to a CSR
  // block (indptr continues from its last entry).
  void sample(const std::vector<double>& X, std::int64_t row, int cells, std::vector<std::int64_t>& indptr,
              std::vector<std::int32_t>& indices, std::vector<std::int32_t>& counts,
              std::vector<double>& size_factors) const;

 private:
  double pseudocount_;
  std::vector<double> size_factors_;  // of the control cells, sorted
  std::vector<double> dispersion_;    // per gene
  std::vector<double> dropout_;       // per gene, or empty
};

}  // namespace perturbfit::analysis

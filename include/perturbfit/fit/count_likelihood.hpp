// The per-cell (zero-inflated) negative-binomial likelihood of MODEL.md section 5, the data
// term of fits with data.likelihood = nb:
//   mu_ig = s_i m_g,   y_ig ~ ZINB(mu_ig, size r_g, dropout pi_g)
// m_g is the group's predicted mean in normalised units (counts per unit size factor:
// exp(delta_bg) S_g z_g, problem.cpp), s_i the cell's size factor (total counts / the mean
// total, data/screen_distribute.cpp), r_g the NB size (larger: closer to Poisson; the same
// quantity as simulate's measure.dispersion), pi_g the probability of a structural zero.
//
// Cost: one pass over the group's cells x genes (a zero's term depends on s_i, so the zeros
// cannot be summed per gene in closed form) plus one over its stored counts; nothing of
// size cells x genes is stored.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "perturbfit/data/screen_data.hpp"

namespace perturbfit::fit {

// psi(x) for x > 0 (recurrence up to 10, then the asymptotic series; |error| < 1e-13).
double digamma(double x);

// The local cells of each group held on this rank (rows of ScreenData's local CSR).
class GroupCells {
 public:
  GroupCells() = default;
  // The cells of `groups` (ids in ScreenData::groups()) that this rank holds.
  GroupCells(const data::ScreenData& data, const std::vector<int>& groups);
  std::span<const std::int32_t> of(int group) const;
  bool empty() const { return offsets_.empty(); }

 private:
  std::vector<int> slot_;                    // per group id: index into offsets_ (-1: not held)
  std::vector<std::int64_t> offsets_{};      // per held group: first entry in rows_, and the end
  std::vector<std::int32_t> rows_;           // local row indices, group by group
};

// The cells' sufficient data for the likelihood: the local CSR and size factors.
struct CountMatrix {
  std::span<const std::int64_t> indptr;
  std::span<const std::int32_t> cols;
  std::span<const double> values;
  std::span<const double> size_factors;
};

// dNLL of one group, per gene: with respect to m, to log r and to logit pi.
struct CountGradient {
  std::vector<double> mean, log_size, logit_dropout;
  explicit CountGradient(std::size_t genes = 0) : mean(genes, 0.0), log_size(genes, 0.0), logit_dropout(genes, 0.0) {}
};

// The negative log-likelihood, summed over `cells` (rows of `counts`) and every gene, of
// counts given m, r and pi (`genes` values each; pi = nullptr: no zero inflation). With grad,
// its derivatives are added into it. Cells with s <= 0 have mu = 0 and add nothing.
double count_nll(const CountMatrix& counts, std::span<const std::int32_t> cells, std::size_t genes, const double* m,
                 const double* r, const double* pi, CountGradient* grad);

// The empirical Fisher information of the NB parameters: per gene, the sum over `cells` of
// the squared derivative of each count's NLL with respect to log r (into log_size) and
// logit pi (into logit_dropout; pi = nullptr: not touched). For the fit's diagonal scaling.
void count_information(const CountMatrix& counts, std::span<const std::int32_t> cells, std::size_t genes,
                       const double* m, const double* r, const double* pi, CountGradient& info);

}  // namespace perturbfit::fit

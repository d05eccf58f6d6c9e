#include "perturbfit/analysis/cell_sampler.hpp"

#include <algorithm>
#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"

namespace perturbfit::analysis {

CellSampler::CellSampler(const parallel::Comm& comm, const data::ScreenData& screen, double pseudocount,
                         const std::vector<double>& nb_size, const std::vector<double>& dropout)
    : pseudocount_(pseudocount), dropout_(dropout) {
  const auto G = screen.genes().size();
  std::vector<double> moments(2 * G + 1, 0.0);  // sum y/s, sum (y/s)^2 per gene, control cells
  std::vector<double> local_s;
  const auto& rows = screen.local_rows();
  const auto& indptr = screen.local_indptr();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const int group = screen.cell_groups()[static_cast<std::size_t>(rows[r])];
    const double s = screen.local_size_factors()[r];
    if (group < 0 || s <= 0 ||
        !screen.perturbations()[static_cast<std::size_t>(screen.groups()[static_cast<std::size_t>(group)].perturbation)]
             .control)
      continue;
    local_s.push_back(s);
    moments[2 * G] += 1;
    for (auto q = indptr[r]; q < indptr[r + 1]; ++q) {
      const auto g = static_cast<std::size_t>(screen.local_cols()[static_cast<std::size_t>(q)]);
      const double y = screen.local_values()[static_cast<std::size_t>(q)] / s;
      moments[g] += y, moments[G + g] += y * y;
    }
  }
  comm.sum_in_place(moments);
  size_factors_ = comm.all_gather(local_s);
  if (size_factors_.empty()) throw DataError("the screen has no control cells to estimate the measurement from");
  std::sort(size_factors_.begin(), size_factors_.end());
  const double n = moments[2 * G];
  dispersion_.resize(G);
  for (std::size_t g = 0; g < G; ++g) {
    const double mean = moments[g] / n, var = std::max(0.0, moments[G + g] / n - mean * mean);
    dispersion_[g] = mean > 0 ? std::max(0.0, (var - mean) / (mean * mean)) : 0.0;
  }
  if (!nb_size.empty())
    for (std::size_t g = 0; g < G; ++g) dispersion_[g] = 1.0 / nb_size[g];
}

void CellSampler::sample(const std::vector<double>& X, std::int64_t row, int cells, std::vector<std::int64_t>& indptr,
                         std::vector<std::int32_t>& indices, std::vector<std::int32_t>& counts,
                         std::vector<double>& size_factors) const {
  for (int c = 0; c < cells; ++c) {
    RandomStream rng(1, StreamDomain::kPredictedCells, static_cast<std::uint64_t>(row) * 1000003ULL + static_cast<std::uint64_t>(c));
    const double s = size_factors_[rng.below(size_factors_.size())];
    size_factors.push_back(s);
    for (std::size_t g = 0; g < X.size(); ++g) {
      const double mean = s * std::max(0.0, std::exp(X[g]) - pseudocount_);
      if (!(mean > 0)) continue;
      if (!dropout_.empty() && rng.uniform() < dropout_[g]) continue;  // a structural zero
      const auto k = dispersion_[g] > 0 ? rng.negative_binomial(mean, 1.0 / dispersion_[g]) : rng.poisson(mean);
      if (k == 0) continue;
      indices.push_back(static_cast<std::int32_t>(g));
      counts.push_back(static_cast<std::int32_t>(std::min<std::uint64_t>(k, 2147483647ULL)));
    }
    indptr.push_back(static_cast<std::int64_t>(indices.size()));
  }
}

}  // namespace perturbfit::analysis

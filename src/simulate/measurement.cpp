#include "perturbfit/simulate/measurement.hpp"

#include <algorithm>
#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"

namespace perturbfit::simulate {

MeasurementModel::MeasurementModel(const MeasurementOptions& opt, int genes, double reference_total)
    : opt_(opt), genes_(genes), reference_total_(reference_total) {
  if (opt.dispersion <= 0.0) throw UsageError("measure.dispersion must be > 0");
  if (opt.dropout < 0.0 || opt.dropout >= 1.0) throw UsageError("measure.dropout must be in [0, 1)");
  if (opt.batch_sd < 0.0 || opt.depth_sd < 0.0) throw UsageError("measure.batch_sd and measure.depth_sd must be >= 0");
  if (!(reference_total > 0.0)) throw NumericalError("the unperturbed state has no expression; cannot set the sequencing depth");
  dispersion_.resize(static_cast<std::size_t>(genes));
  dropout_.resize(static_cast<std::size_t>(genes));
  for (int g = 0; g < genes; ++g) {
    RandomStream rs(opt.seed, StreamDomain::kMeasureGene, static_cast<std::uint64_t>(g));
    dispersion_[static_cast<std::size_t>(g)] = opt.dispersion * std::exp(opt.dispersion_sd * rs.normal());
    dropout_[static_cast<std::size_t>(g)] = std::min(0.95, opt.dropout * std::exp(0.5 * rs.normal() - 0.125));
  }
}

std::vector<double> MeasurementModel::batch_offsets(int batch) const {
  RandomStream rs(opt_.seed, StreamDomain::kBatch, static_cast<std::uint64_t>(batch));
  std::vector<double> delta(static_cast<std::size_t>(genes_));
  for (auto& d : delta) d = opt_.batch_sd * rs.normal();
  return delta;
}

MeasurementModel::Cell MeasurementModel::draw(std::uint64_t cell_id, const double* x,
                                              const std::vector<double>& batch_offsets, double depth) const {
  RandomStream rs(opt_.seed, StreamDomain::kCellCounts, cell_id);
  Cell cell;
  // Log-normal library size with mean depth / reference_total.
  cell.size_factor = depth / reference_total_ * std::exp(opt_.depth_sd * rs.normal() - 0.5 * opt_.depth_sd * opt_.depth_sd);
  for (int g = 0; g < genes_; ++g) {
    const auto gi = static_cast<std::size_t>(g);
    const double mu = cell.size_factor * std::exp(batch_offsets[gi]) * std::max(0.0, x[g]);
    const bool dropped = rs.uniform() < dropout_[gi];
    const std::uint64_t y = rs.negative_binomial(mu, dispersion_[gi]);
    if (!dropped && y > 0) {
      cell.genes.push_back(g);
      cell.counts.push_back(static_cast<std::int32_t>(std::min<std::uint64_t>(y, 2147483647ULL)));
    }
  }
  return cell;
}

}  // namespace perturbfit::simulate

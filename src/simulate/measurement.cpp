#include "perturbfit/simulate/measurement.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"

namespace perturbfit::simulate {

MeasurementModel::MeasurementModel(const MeasurementOptions& opt, int genes, double reference_total)
    : opt_(opt), genes_(genes), reference_total_(reference_total) {
  if (opt.dispersion <= 0.0) throw UsageError("measure.dispersion must be > 0");
  if (opt.dropout < 0.0 || opt.dropout >= 1.0) throw UsageError("measure.dropout must be in [0, 1)");
  if (opt.batch_sd < 0.0 || opt.depth_sd < 0.0) throw UsageError("measure.batch_sd and measure.depth_sd must be >= 0");
  if (!(reference_total > 0.0))
    throw NumericalError("the unperturbed state has no expression; cannot set the sequencing depth");
  dispersion_.resize(static_cast<std::size_t>(genes));
  dropout_.resize(static_cast<std::size_t>(genes));
  for (int g = 0; g < genes; ++g) {
    RandomStream rs(opt.seed, StreamDomain::kMeasureGene, static_cast<std::uint64_t>(g));
    dispersion_[static_cast<std::size_t>(g)] = opt.dispersion * std::exp(opt.dispersion_sd * rs.normal());
    dropout_[static_cast<std::size_t>(g)] = std::min(0.95, opt.dropout * std::exp(0.5 * rs.normal() - 0.125));
  }
}

std::vector<int> measured_panel(const MeasurementOptions& opt, const std::vector<std::string>& gene_names,
                                const std::vector<int>& targeted) {
  if (!(opt.panel_fraction > 0.0) || opt.panel_fraction > 1.0)
    throw UsageError("measure.panel_fraction must be in (0, 1]");
  std::vector<char> in(gene_names.size(), opt.panel_genes.empty() ? 1 : 0);
  std::unordered_map<std::string, std::size_t> index;  // a genome-scale panel: no G x panel search
  for (std::size_t g = 0; g < gene_names.size(); ++g) index.emplace(gene_names[g], g);
  for (const auto& name : opt.panel_genes) {
    const auto it = index.find(name);
    if (it == index.end())
      throw UsageError("measure.panel_genes names '" + name + "', which is not a gene of the model");
    in[it->second] = 1;
  }
  if (opt.panel_excludes_targets)
    for (int g : targeted) in[static_cast<std::size_t>(g)] = 0;
  std::vector<int> candidates;
  for (std::size_t g = 0; g < in.size(); ++g)
    if (in[g]) candidates.push_back(static_cast<int>(g));
  if (opt.panel_fraction < 1.0) {  // the genes with the smallest per-gene random keys
    std::vector<std::pair<double, int>> keyed;
    for (int g : candidates)
      keyed.emplace_back(RandomStream(opt.seed, StreamDomain::kPanel, static_cast<std::uint64_t>(g)).uniform(), g);
    std::sort(keyed.begin(), keyed.end());
    const auto keep =
        static_cast<std::size_t>(std::lround(opt.panel_fraction * static_cast<double>(candidates.size())));
    candidates.clear();
    for (std::size_t i = 0; i < keep; ++i) candidates.push_back(keyed[i].second);
    std::sort(candidates.begin(), candidates.end());
  }
  if (candidates.empty())
    throw UsageError("the measured panel is empty (measure.panel_genes, panel_fraction, panel_excludes_targets)");
  return candidates;
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
  cell.size_factor =
      depth / reference_total_ * std::exp(opt_.depth_sd * rs.normal() - 0.5 * opt_.depth_sd * opt_.depth_sd);
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

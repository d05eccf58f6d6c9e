// The per-group sufficient statistics of the Gaussian pseudo-bulk loss (MODEL.md section 8)
// from a rank's cells.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "perturbfit/data/design.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::data {

// Sums over the cells of each group of normalised expression y / s, of log-normalised
// expression z = log1p(y / s) and of z^2, per gene; s = the cell's total counts / the mean
// total over all cells.
struct GroupStatistics {
  std::vector<int> groups;              // group ids held here (owned groups, then control groups)
  std::vector<double> size_factor_sum;  // per held group
  std::vector<double> sum, sum_sq;      // held groups x genes, row-major (of z); empty unless requested
  std::vector<double> sum_linear;       // held groups x genes (of y / s)
  int genes = 0;
  const double* sum_row(std::size_t held) const { return sum.data() + held * static_cast<std::size_t>(genes); }
  const double* sum_sq_row(std::size_t held) const { return sum_sq.data() + held * static_cast<std::size_t>(genes); }
  const double* sum_linear_row(std::size_t held) const {
    return sum_linear.data() + held * static_cast<std::size_t>(genes);
  }
};

// What to sum. Each part is a dense held groups x genes array (at genome scale, gigabytes
// per rank), so callers ask only for what they use.
struct StatisticsRequest {
  bool log_moments = true;       // sum and sum_sq of z; sum_linear and size_factor_sum always
  bool perturbed_groups = true;  // the owned perturbations' groups; false: the control groups only
};

// A rank's cells: CSR rows with their global row ids and size factors.
struct CellSlice {
  std::span<const std::int64_t> rows;    // global row id of each local cell
  std::span<const std::int64_t> indptr;  // rows.size() + 1 offsets into cols/values
  std::span<const std::int32_t> cols;
  std::span<const double> values;
  std::span<const double> size_factors;  // per local cell
};

// Sums of this rank's cells into the statistics of `held` groups (no communication);
// cells of groups not held are skipped; a cell with s <= 0 adds only to size_factor_sum.
GroupStatistics sum_groups(std::vector<int> held, int genes, const CellSlice& cells,
                           std::span<const std::int32_t> cell_group, bool log_moments = true);

// Collective. The statistics of the owned perturbations' groups (excluded ones left out,
// all left out unless request.perturbed_groups) plus every control group, the same control rows on every rank: cells
// live on the rank that owns their perturbation, so the control rows are summed across ranks.
GroupStatistics group_statistics(const parallel::Comm& comm, const CellSlice& cells,
                                 std::span<const std::int32_t> cell_group, const std::vector<Group>& groups,
                                 const std::vector<Perturbation>& perturbations, parallel::Range owned, int genes,
                                 StatisticsRequest request = {});

}  // namespace perturbfit::data

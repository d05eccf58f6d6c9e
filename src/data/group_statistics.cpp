#include "perturbfit/data/group_statistics.hpp"

#include <algorithm>
#include <cmath>

namespace perturbfit::data {

GroupStatistics sum_groups(std::vector<int> held, int genes, const CellSlice& cells,
                           std::span<const std::int32_t> cell_group, bool log_moments) {
  const auto G = static_cast<std::size_t>(genes);
  GroupStatistics st;
  st.genes = genes;
  st.groups = std::move(held);
  st.size_factor_sum.assign(st.groups.size(), 0.0);
  if (log_moments) {
    st.sum.assign(st.groups.size() * G, 0.0);
    st.sum_sq.assign(st.groups.size() * G, 0.0);
  }
  st.sum_linear.assign(st.groups.size() * G, 0.0);
  int max_group = -1;
  for (const int g : st.groups) max_group = std::max(max_group, g);
  std::vector<int> slot(static_cast<std::size_t>(max_group + 1), -1);
  for (std::size_t h = 0; h < st.groups.size(); ++h) slot[static_cast<std::size_t>(st.groups[h])] = static_cast<int>(h);
  for (std::size_t r = 0; r < cells.rows.size(); ++r) {
    const auto g = static_cast<std::size_t>(cell_group[static_cast<std::size_t>(cells.rows[r])]);
    const int h = g < slot.size() ? slot[g] : -1;
    if (h < 0) continue;
    const double s = cells.size_factors[r];
    st.size_factor_sum[static_cast<std::size_t>(h)] += s;
    if (s <= 0) continue;
    double* lin = st.sum_linear.data() + static_cast<std::size_t>(h) * G;
    for (auto q = cells.indptr[r]; q < cells.indptr[r + 1]; ++q)
      lin[cells.cols[static_cast<std::size_t>(q)]] += cells.values[static_cast<std::size_t>(q)] / s;
    if (!log_moments) continue;
    double* sum = st.sum.data() + static_cast<std::size_t>(h) * G;
    double* sq = st.sum_sq.data() + static_cast<std::size_t>(h) * G;
    for (auto q = cells.indptr[r]; q < cells.indptr[r + 1]; ++q) {
      const double z = std::log1p(cells.values[static_cast<std::size_t>(q)] / s);
      const auto j = static_cast<std::size_t>(cells.cols[static_cast<std::size_t>(q)]);
      sum[j] += z, sq[j] += z * z;
    }
  }
  return st;
}

GroupStatistics group_statistics(const parallel::Comm& comm, const CellSlice& cells,
                                 std::span<const std::int32_t> cell_group, const std::vector<Group>& groups,
                                 const std::vector<Perturbation>& perturbations, parallel::Range owned, int genes,
                                 StatisticsRequest request) {
  std::vector<int> held, controls;  // controls: every control group, the same list on every rank
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto p = static_cast<std::size_t>(groups[g].perturbation);
    const bool wanted = request.perturbed_groups || perturbations[p].control;
    if (owned.contains(p) && !perturbations[p].excluded && wanted) held.push_back(static_cast<int>(g));
    if (perturbations[p].control) controls.push_back(static_cast<int>(g));
  }
  const bool own_controls = owned.contains(0);
  const std::size_t first_control = own_controls ? 0 : held.size();
  if (!own_controls) held.insert(held.end(), controls.begin(), controls.end());
  auto st = sum_groups(std::move(held), genes, cells, cell_group, request.log_moments);

  // Only the owner of the controls has control cells; summing the rows over ranks (zeros
  // elsewhere, an exact addition) gives every rank the owner's rows.
  const auto G = static_cast<std::size_t>(genes);
  const std::size_t nc = controls.size(), parts = request.log_moments ? 3 : 1, width = parts * G + 1;
  auto slot_of = [&](std::size_t c) {
    return own_controls ? static_cast<std::size_t>(std::find(st.groups.begin(), st.groups.end(), controls[c]) -
                                                   st.groups.begin())
                        : first_control + c;
  };
  std::vector<double> buf(nc * width, 0.0);
  for (std::size_t c = 0; c < nc; ++c) {
    const auto h = slot_of(c);
    double* row = buf.data() + c * width;
    row[0] = st.size_factor_sum[h];
    std::copy_n(st.sum_linear.data() + h * G, G, row + 1);
    if (!request.log_moments) continue;
    std::copy_n(st.sum.data() + h * G, G, row + 1 + G);
    std::copy_n(st.sum_sq.data() + h * G, G, row + 1 + 2 * G);
  }
  comm.sum_in_place(buf);
  for (std::size_t c = 0; c < nc; ++c) {
    const auto h = slot_of(c);
    const double* row = buf.data() + c * width;
    st.size_factor_sum[h] = row[0];
    std::copy_n(row + 1, G, st.sum_linear.data() + h * G);
    if (!request.log_moments) continue;
    std::copy_n(row + 1 + G, G, st.sum.data() + h * G);
    std::copy_n(row + 1 + 2 * G, G, st.sum_sq.data() + h * G);
  }
  return st;
}

}  // namespace perturbfit::data

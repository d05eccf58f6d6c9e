#include "perturbfit/data/stats_file.hpp"

#include "perturbfit/io/hdf5.hpp"

namespace perturbfit::data {

using io::H5File;

void write_group_labels(const io::H5File& f, const ScreenData& s, const std::vector<int>& ids) {
  std::vector<std::string> pert, batch, time, medium;
  std::vector<std::int64_t> cells;
  for (int id : ids) {
    const auto& g = s.groups()[static_cast<std::size_t>(id)];
    pert.push_back(s.perturbations()[static_cast<std::size_t>(g.perturbation)].label);
    batch.push_back(s.batches()[static_cast<std::size_t>(g.batch)]);
    time.push_back(s.times()[static_cast<std::size_t>(g.time)]);
    medium.push_back(s.media()[static_cast<std::size_t>(g.medium)]);
    cells.push_back(g.cells);
  }
  f.write_strings("/groups/perturbation", pert);
  f.write_strings("/groups/batch", batch);
  f.write_strings("/groups/time", time);
  f.write_strings("/groups/medium", medium);
  f.write("/groups/cells", cells);
}

void write_group_statistics(const parallel::Comm& comm, const ScreenData& s, const GroupStatistics& st,
                            const std::string& path) {
  const auto n_groups = static_cast<hsize_t>(s.groups().size()), G = static_cast<hsize_t>(s.genes().size());
  const auto structure = [&](const H5File& f) {
    f.attr_string("/", "description",
                  "pseudo-bulk statistics: z = log1p(y / s), s = total counts / mean total; sum and sum_sq over the "
                  "cells of each group (perturbation, batch, time, medium)");
    f.attr_double("/", "mean_total_counts", s.mean_total_counts());
    f.write_strings("/genes", s.genes());
    f.group("/groups");
    std::vector<int> ids(s.groups().size());
    std::vector<std::int64_t> control;
    for (std::size_t g = 0; g < ids.size(); ++g)
      ids[g] = static_cast<int>(g), control.push_back(s.groups()[g].control_group);
    write_group_labels(f, s, ids);
    f.write("/groups/control_group", control);
    f.create<double>("/groups/size_factor_sum", {n_groups});
    f.create<double>("/sum", {n_groups, G});
    f.create<double>("/sum_sq", {n_groups, G});
  };
  // Owned groups are one contiguous block (perturbations are owned in contiguous blocks and
  // groups are sorted by perturbation); replicated control groups are written by their owner only.
  std::vector<double> sf, sum, sq;
  std::int64_t first = -1;
  for (std::size_t h = 0; h < st.groups.size(); ++h) {
    const auto& g = s.groups()[static_cast<std::size_t>(st.groups[h])];
    if (!s.owned().contains(static_cast<std::size_t>(g.perturbation))) continue;
    if (first < 0) first = st.groups[h];
    sf.push_back(st.size_factor_sum[h]);
    sum.insert(sum.end(), st.sum_row(h), st.sum_row(h) + G);
    sq.insert(sq.end(), st.sum_sq_row(h), st.sum_sq_row(h) + G);
  }
  io::write_h5_collectively(comm, path, structure, [&](const H5File& f) {
    f.write_rows("/groups/size_factor_sum", std::max<std::int64_t>(first, 0), sf);
    f.write_rows("/sum", std::max<std::int64_t>(first, 0), sum);
    f.write_rows("/sum_sq", std::max<std::int64_t>(first, 0), sq);
  });
}

}  // namespace perturbfit::data

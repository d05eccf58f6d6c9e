// Writes the pseudo-bulk statistics of a screen (per group: cells, size factors, sums and
// sums of squares of log-normalised expression per gene) to HDF5, each rank its own groups.
#pragma once
#include <string>

#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/io/hdf5.hpp"

namespace perturbfit::data {

// The label columns of groups `ids` (in that order) under /groups: perturbation, batch,
// time, medium (strings) and cells. Shared by the statistics file and fit.h5.
void write_group_labels(const io::H5File& f, const ScreenData& screen, const std::vector<int>& ids);

void write_group_statistics(const parallel::Comm& comm, const ScreenData& screen, const GroupStatistics& stats,
                            const std::string& path);

}  // namespace perturbfit::data

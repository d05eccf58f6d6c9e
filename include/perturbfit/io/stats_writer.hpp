// Writes the pseudo-bulk statistics of a screen (per group: cells, size factors, sums and
// sums of squares of log-normalised expression per gene) to HDF5, each rank its own groups.
#pragma once
#include <string>

#include "perturbfit/data/screen_data.hpp"

namespace perturbfit::io {

void write_group_statistics(const parallel::Comm& comm, const data::ScreenData& screen,
                            const data::GroupStatistics& stats, const std::string& path);

}  // namespace perturbfit::io

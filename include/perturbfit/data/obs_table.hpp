// The obs columns a screen is read by (perturbation, batch, time, medium), as categories
// and per-cell codes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "perturbfit/data/options.hpp"
#include "perturbfit/io/h5ad_reader.hpp"

namespace perturbfit::data {

struct ObsColumn {
  std::vector<std::string> categories;
  std::vector<std::int32_t> codes;  // per cell, into categories
  std::string encoding;             // as io::Column, or "absent" (one category "all")
};

struct ObsTable {
  ObsColumn perturbation, batch, time, medium;
};

// Reads data.perturbation_key and data.batch_key (required unless the key is "") and
// data.time_key and data.medium_key (when present); with data.cell_type_key, every
// (medium, cell type) becomes one medium "medium/type" (the type alone without a medium column). Throws DataError naming the column and
// the first cell without a value; `perturbation_hint` is appended when the perturbation
// column cannot be read (which deck keys to set).
ObsTable read_obs_table(const io::H5adReader& reader, const DataOptions& options, std::int64_t cells,
                        const std::string& perturbation_hint);

}  // namespace perturbfit::data

// Guide-abundance read-outs (MODEL.md section 7: n_p(t) = sum of the weights of the cells
// carrying p) as a tab-separated table, one row per (guide, sample):
//   guide  perturbation  batch  medium  time  count
// batch is the animal (in vivo) or "population" (one culture), time the protocol time of
// the sample. Plain TSV so that count tables from any pipeline (MAGeCK count, a
// spreadsheet) can be given to `fit` after a reshape to long format.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/io/atomic_file.hpp"

namespace perturbfit::io {

struct GuideCountRow {
  std::string guide, perturbation, batch, medium;
  double time = 0;
  std::int64_t count = 0;
};

// The header line's columns, in order.
const std::vector<std::string>& guide_count_columns();

void write_guide_count_table(const std::filesystem::path& path, const std::vector<GuideCountRow>& rows,
                             OutputSet* staged = nullptr);
// DataError naming the file and line for a missing column, a malformed number or a
// negative count; IOError if the file cannot be read.
std::vector<GuideCountRow> read_guide_count_table(const std::filesystem::path& path);

}  // namespace perturbfit::io

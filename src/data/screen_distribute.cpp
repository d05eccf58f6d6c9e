// Reading the count matrix and moving each cell to the rank that owns its perturbation.
#include "perturbfit/data/screen_data.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <numeric>
#include <set>
#include <stdexcept>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/hash.hpp"
#include "perturbfit/parallel/decomposition.hpp"
#include "perturbfit/parallel/exchange.hpp"

namespace perturbfit::data {

void ScreenData::distribute(const io::H5adReader& reader) {
  const int P = comm_.size();
  std::vector<double> weight;
  for (const auto& p : perturbations_) weight.push_back(static_cast<double>(p.cells));
  const auto ranges = parallel::weighted_block_ranges(weight, P);
  owner_of_perturbation_.assign(perturbations_.size(), 0);
  for (int r = 0; r < P; ++r)
    for (std::size_t p = ranges[static_cast<std::size_t>(r)].begin; p < ranges[static_cast<std::size_t>(r)].end; ++p)
      owner_of_perturbation_[p] = r;
  owned_ = ranges[static_cast<std::size_t>(comm_.rank())];

  // The local CSR is allocated once, at its final size, from the per-row counts; entries
  // are streamed in bounded chunks and placed directly: memory stays near one copy of
  // this rank's share plus the chunk buffers.
  constexpr std::int64_t kChunk = std::int64_t{1} << 20;
  const auto counts = reader.row_counts(comm_, kChunk);
  const auto N = cell_perturbation_.size();
  std::vector<std::int32_t> local_index(N, -1);
  for (std::size_t i = 0; i < N; ++i)
    if (owned_.contains(static_cast<std::size_t>(cell_perturbation_[i]))) {
      local_index[i] = static_cast<std::int32_t>(local_rows_.size());
      local_rows_.push_back(static_cast<std::int64_t>(i));
      local_indptr_.push_back(local_indptr_.back() + counts[i]);
    }
  local_cols_.resize(static_cast<std::size_t>(local_indptr_.back()));
  local_values_.resize(local_cols_.size());
  std::vector<std::int64_t> cursor(local_indptr_.begin(), local_indptr_.end() - 1);

  std::string problem;
  const bool need_integer = opt_.likelihood == "nb";
  parallel::Exchange ex(comm_);
  const std::function<int(std::int64_t)> dest_of = [&](std::int64_t row) {
    return owner_of_perturbation_[static_cast<std::size_t>(cell_perturbation_[static_cast<std::size_t>(row)])];
  };
  auto place = [&] {
    const auto& got = ex.received();
    for (std::size_t k = 0; k < got.row.size(); ++k) {
      const auto li = static_cast<std::size_t>(local_index[static_cast<std::size_t>(got.row[k])]);
      const auto at = cursor[li]++;
      if (at >= local_indptr_[li + 1]) {
        if (problem.empty())
          problem = opt_.path + ": " + layout_.source + " has more stored values in row " + std::to_string(got.row[k]) +
                    " than its indptr says";
        continue;
      }
      local_cols_[static_cast<std::size_t>(at)] = got.col[k];
      local_values_[static_cast<std::size_t>(at)] = got.value[k];
    }
  };
  auto check_values = [&](const io::MatrixSlice& sl) {
    for (std::size_t k = 0; k < sl.value.size() && problem.empty(); ++k) {
      const double v = sl.value[k];
      const char* what = !std::isfinite(v)                      ? "non-finite"
                         : v < 0                                ? "negative"
                         : (need_integer && v != std::floor(v)) ? "non-integer"
                                                                : nullptr;
      if (!what) continue;
      problem = opt_.path + ": " + layout_.source + " has a " + what + " value (" + std::to_string(v) + ") at cell '" +
                reader.obs_names_slice(sl.row[k], 1).at(0) + "' (row " + std::to_string(sl.row[k]) + "), gene '" +
                genes_[static_cast<std::size_t>(sl.col[k])] + "'";
      problem +=
          std::string(what) == "non-integer"
              ? "; data.likelihood = nb needs raw counts (use data.layer for a counts layer, or data.likelihood = gaussian)"
              : "; counts must be finite and >= 0";
    }
  };
  try {
    reader.stream_share(comm_.rank(), P, kChunk, [&](const io::MatrixSlice& sl) {
      check_values(sl);
      ex.round(sl.row, sl.col, sl.value, true, dest_of);
      place();
    });
  } catch (const Error& e) {
    if (problem.empty()) problem = e.what();  // keep taking part in the rounds, then fail together
  }
  while (ex.round({}, {}, {}, false, dest_of)) place();
  ex.release();
  comm_.rethrow_any(problem, static_cast<int>(ExitCode::kData));

  // Columns in order within each row (sorted only where the file was not), duplicates summed.
  std::int64_t write = 0;
  for (std::size_t r = 0; r + 1 < local_indptr_.size(); ++r) {
    const auto b = static_cast<std::size_t>(local_indptr_[r]), e = static_cast<std::size_t>(local_indptr_[r + 1]);
    if (!std::is_sorted(local_cols_.begin() + static_cast<long>(b), local_cols_.begin() + static_cast<long>(e))) {
      std::vector<std::pair<std::int32_t, double>> row;
      for (std::size_t q = b; q < e; ++q) row.emplace_back(local_cols_[q], local_values_[q]);
      std::sort(row.begin(), row.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
      for (std::size_t q = b; q < e; ++q) local_cols_[q] = row[q - b].first, local_values_[q] = row[q - b].second;
    }
    const std::int64_t row_start = write;
    for (std::size_t q = b; q < e; ++q) {
      if (write > row_start && local_cols_[static_cast<std::size_t>(write - 1)] == local_cols_[q]) {
        local_values_[static_cast<std::size_t>(write - 1)] += local_values_[q];  // duplicate, as scipy sums them
      } else {
        local_cols_[static_cast<std::size_t>(write)] = local_cols_[q];
        local_values_[static_cast<std::size_t>(write)] = local_values_[q];
        ++write;
      }
    }
    local_indptr_[r] = row_start;
  }
  local_indptr_.back() = write;
  local_cols_.resize(static_cast<std::size_t>(write));
  local_values_.resize(static_cast<std::size_t>(write));

  std::vector<double> totals(local_rows_.size(), 0.0);
  for (std::size_t r = 0; r < totals.size(); ++r)
    for (auto q = local_indptr_[r]; q < local_indptr_[r + 1]; ++q)
      totals[r] += local_values_[static_cast<std::size_t>(q)];
  // Mean total counts, summed reproducibly so that size factors do not depend on the rank count.
  std::vector<double> sums{std::accumulate(totals.begin(), totals.end(), 0.0)};
  comm_.reproducible_sum_in_place(sums, 16);
  mean_total_ = layout_.rows > 0 ? sums[0] / static_cast<double>(layout_.rows) : 0.0;
  std::int64_t empty_cells = 0;
  local_size_factors_.resize(totals.size());
  for (std::size_t r = 0; r < totals.size(); ++r) {
    local_size_factors_[r] = mean_total_ > 0 ? totals[r] / mean_total_ : 0.0;
    empty_cells += totals[r] == 0.0;
  }
  empty_cells = comm_.sum(empty_cells);
  if (empty_cells > 0)
    reporter_.warn(std::to_string(empty_cells) +
                   " cell(s) have no counts; they count as cells but add nothing to the means");

  keep_listed_genes();  // after the size factors, which use all genes
}

std::string ScreenData::content_digest() const {
  if (perturbed_counts_released_) throw std::logic_error("ScreenData::content_digest: the counts were released");
  std::uint64_t rows = 0;  // XOR of per-cell hashes: independent of which rank holds a cell
  for (std::size_t r = 0; r < local_rows_.size(); ++r) {
    Fnv1a h;
    h.value(local_rows_[r]);
    for (auto k = local_indptr_[r]; k < local_indptr_[r + 1]; ++k)
      h.value(local_cols_[static_cast<std::size_t>(k)]).value(local_values_[static_cast<std::size_t>(k)]);
    rows ^= h.digest();
  }
  Fnv1a all;
  for (const auto& g : genes_) all.text(g);
  for (const auto& p : perturbations_) all.text(p.label);
  for (const auto& b : batches_) all.text(b);
  all.value(layout_.rows).value(comm_.xor_all(rows));
  for (const auto& o : abundance_) all.value(o.perturbation).value(o.batch).value(o.dt).value(o.log_ratio);
  return all.hex();
}

}  // namespace perturbfit::data

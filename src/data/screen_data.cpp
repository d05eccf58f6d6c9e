#include "perturbfit/data/screen_data.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/memory.hpp"
#include "perturbfit/core/text.hpp"
#include "perturbfit/io/corrupt_file_guard.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::data {

ScreenData::ScreenData(const parallel::Comm& comm, const DataOptions& options, const Reporter& reporter)
    : comm_(comm), opt_(options), reporter_(reporter) {
  // Metadata (layout, names, obs columns) is small: a read that takes far longer than its
  // size warrants means a damaged file (see CorruptFileGuard).
  auto metadata_guard = std::make_unique<io::CorruptFileGuard>(opt_.path, "its layout", 10);
  const io::H5adReader reader(opt_.path, comm.get(), opt_.layer);
  layout_ = reader.matrix();
  if (layout_.cols <= 0)
    throw DataError(opt_.path + ": the screen has no genes (var is empty); a screen needs measured genes");
  if (layout_.rows <= 0) throw DataError(opt_.path + ": the screen has no cells (obs is empty)");
  metadata_guard.reset();
  metadata_guard = std::make_unique<io::CorruptFileGuard>(
      opt_.path, "its names and obs columns", 10 + static_cast<unsigned>((layout_.rows + layout_.cols) / 10000));
  genes_ = reader.var_names();
  {
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t j = 0; j < genes_.size(); ++j) {
      auto [it, inserted] = seen.emplace(genes_[j], j);
      if (!inserted)
        throw DataError(opt_.path + ": var name '" + genes_[j] + "' appears twice (columns " +
                        std::to_string(it->second) + " and " + std::to_string(j) +
                        "); make var names unique (adata.var_names_make_unique())");
    }
  }
  conventions_ = detect_conventions(reader);
  auto obs = read_obs_table(reader, opt_, layout_.rows, "set data.perturbation_key" + convention_hint());
  metadata_guard.reset();
  column_encodings_ = {obs.perturbation.encoding, obs.batch.encoding, obs.time.encoding, obs.medium.encoding};
  batches_ = std::move(obs.batch.categories);
  times_ = std::move(obs.time.categories);
  media_ = std::move(obs.medium.categories);
  classify(obs.perturbation);
  auto grouping = group_cells(cell_perturbation_, obs.batch.codes, obs.time.codes, obs.medium.codes);
  groups_ = std::move(grouping.groups);
  cell_group_ = std::move(grouping.cell_group);
  check_design();
  {
    const io::CorruptFileGuard matrix_guard(opt_.path, "the count matrix " + layout_.source, 0);
    distribute(reader);
  }
  select_genes();
  // Targets are looked up in the final gene panel: a target the panel lacks is "not in var".
  const auto missing = targets_not_in_var();
  latent_ = assign_target_nodes(genes_, opt_.missing_targets, perturbations_);
  if (!missing.empty()) {
    const std::string what = std::to_string(missing.size()) + " perturbation target(s) are not in var of " + opt_.path +
                             ": " + join(missing);
    if (opt_.missing_targets == "latent")
      reporter_.info(what +
                     "; the model gives each a latent node (unmeasured, knocked down by its guides; "
                     "data.missing_targets = latent)");
    else if (opt_.missing_targets == "skip")
      reporter_.warn(what + "; their cells are skipped (data.missing_targets = skip)");
    else
      fail(what +
               "; set data.missing_targets = \"latent\" to model them as latent nodes or \"skip\" to drop their cells",
           true);
  }
  if (!opt_.guide_counts.empty()) read_abundance();
}

// Small (guides x samples rows): every rank reads it.
void ScreenData::read_abundance() {
  const auto table = abundance_observations(io::read_guide_count_table(opt_.guide_counts), opt_.guide_counts,
                                            perturbations_, batches_, media_, opt_.control_labels);
  abundance_ = table.observations;
  reporter_.info(opt_.guide_counts + ": " + std::to_string(abundance_.size()) + " guide-abundance change(s) in " +
                 std::to_string(table.series) + " series");
  if (table.unknown_perturbations > 0)
    reporter_.warn(opt_.guide_counts + ": " + std::to_string(table.unknown_perturbations) +
                   " perturbation label(s) of the guide count table have no cells in the screen; their counts are "
                   "not used");
}

void ScreenData::fail(const std::string& message, bool design_problem) {
  if (opt_.report_only && design_problem) {
    problems_.push_back(message);
    return;
  }
  throw DataError(message);
}

std::string ScreenData::column_encoding(const std::string& role) const {
  const std::vector<std::string> roles{"perturbation", "batch", "time", "medium"};
  const auto it = std::find(roles.begin(), roles.end(), role);
  return it == roles.end() ? "" : column_encodings_[static_cast<std::size_t>(it - roles.begin())];
}

std::string ScreenData::convention_hint() const {
  for (const auto& c : conventions_)
    if (c.perturbation_key != opt_.perturbation_key ||
        !std::count(opt_.control_labels.begin(), opt_.control_labels.end(), c.control_label) ||
        c.separator != opt_.separator)
      return "; the file looks like the " + c.name + " convention (" + c.evidence + "): " + c.deck_keys();
  return "";
}

void ScreenData::classify(const ObsColumn& column) {
  const std::set<std::string> control_set(opt_.control_labels.begin(), opt_.control_labels.end());
  auto c = classify_perturbations(column.categories, column.codes, control_set, opt_.separator);
  if (c.perturbations.empty())
    throw DataError("none of the control labels [" + join(opt_.control_labels) + "] occurs in obs column '" +
                    opt_.perturbation_key + "' of " + opt_.path + "; labels found: " + join(column.categories) +
                    ". Set data.control_labels to the label(s) of your control cells" + convention_hint());
  perturbations_ = std::move(c.perturbations);
  cell_perturbation_ = std::move(c.cell_perturbation);
  control_labels_found_ = std::move(c.control_labels_found);
  std::vector<std::string> empty;
  for (const auto& p : perturbations_)
    if (p.cells == 0) empty.push_back(p.label);
  if (!empty.empty() && !opt_.allow_empty_groups)
    fail(
        "obs column '" + opt_.perturbation_key + "' of " + opt_.path + " has " + std::to_string(empty.size()) +
            " perturbation(s) without cells: " + join(empty) +
            "; remove unused categories (adata.obs[...].cat.remove_unused_categories()) or set data.allow_empty_groups = true",
        true);
}

void ScreenData::check_design() {
  const auto bad = batches_without_controls();
  for (const auto& b : bad) {
    const std::string msg =
        "batch '" + b + "' has no control cells; the batch offset is unidentifiable (MODEL.md section 9)";
    if (opt_.allow_uncontrolled_batches)
      reporter_.warn(
          "!!! " + msg +
          ": its perturbations are contrasted with other batches' controls, a bias no number of cells removes");
    else
      fail(msg + ": add controls or set data.allow_uncontrolled_batches = true", true);
  }
}

GroupStatistics ScreenData::statistics(StatisticsRequest request) const {
  if (request.perturbed_groups && perturbed_counts_released_)
    throw std::logic_error("ScreenData::statistics: the perturbed groups' counts were released");
  const CellSlice cells{local_rows_, local_indptr_, local_cols_, local_values_, local_size_factors_};
  return group_statistics(comm_, cells, cell_group_, groups_, perturbations_, owned_, static_cast<int>(genes_.size()),
                          request);
}

void ScreenData::release_perturbed_counts() {
  std::vector<std::int64_t> rows, indptr{0};
  std::vector<std::int32_t> cols;
  std::vector<double> values, size_factors;
  for (std::size_t r = 0; r < local_rows_.size(); ++r) {
    const auto group = cell_group_[static_cast<std::size_t>(local_rows_[r])];
    if (group < 0 || !perturbations_[static_cast<std::size_t>(groups_[static_cast<std::size_t>(group)].perturbation)].control)
      continue;
    rows.push_back(local_rows_[r]);
    size_factors.push_back(local_size_factors_[r]);
    for (auto k = local_indptr_[r]; k < local_indptr_[r + 1]; ++k) {
      cols.push_back(local_cols_[static_cast<std::size_t>(k)]);
      values.push_back(local_values_[static_cast<std::size_t>(k)]);
    }
    indptr.push_back(static_cast<std::int64_t>(cols.size()));
  }
  // Moved in, so the old arrays' memory goes back (shrink_to_fit is only a request).
  local_rows_ = std::move(rows), local_indptr_ = std::move(indptr), local_cols_ = std::move(cols);
  local_values_ = std::move(values), local_size_factors_ = std::move(size_factors);
  perturbed_counts_released_ = true;
  return_freed_memory();  // the set-up's transients too (group statistics, support search)
}

}  // namespace perturbfit::data

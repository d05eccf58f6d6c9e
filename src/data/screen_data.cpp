#include "perturbfit/data/screen_data.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <tuple>
#include <unordered_map>

#include "perturbfit/core/error.hpp"
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
  read_obs(reader);
  metadata_guard.reset();
  classify_perturbations();
  build_groups();
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

void ScreenData::read_obs(const io::H5adReader& reader) {
  const auto n = static_cast<std::size_t>(layout_.rows);
  auto load = [&](const std::string& key, bool required, std::vector<std::string>& categories,
                  std::vector<std::int32_t>& codes, const std::string& hint) {
    if (key.empty() || (!required && !reader.has_obs_column(key))) {
      categories = {"all"};
      codes.assign(n, 0);
      column_encodings_.push_back("absent");
      return;
    }
    io::Column c;
    try {
      c = reader.obs_column(key);
    } catch (const DataError& e) {
      throw DataError(std::string(e.what()) + "; " + hint);
    }
    for (std::size_t i = 0; i < c.codes.size(); ++i)
      if (c.codes[i] < 0)
        throw DataError(opt_.path + ": obs column '" + key + "' has no value (NaN) for cell '" +
                        reader.obs_names_slice(static_cast<std::int64_t>(i), 1).at(0) + "' (row " + std::to_string(i) +
                        ")");
    categories = std::move(c.categories);
    codes = std::move(c.codes);
    column_encodings_.push_back(c.encoding);
  };
  std::vector<std::string> pert_categories;
  load(opt_.perturbation_key, true, pert_categories, cell_perturbation_,
       "set data.perturbation_key" + convention_hint());
  load(opt_.batch_key, true, batches_, cell_batch_, "set data.batch_key (\"\" treats all cells as one batch)");
  load(opt_.time_key, false, times_, cell_time_, "");
  load(opt_.medium_key, false, media_, cell_medium_, "");
  // Perturbations are set up from the categories; cell codes are remapped in classify.
  for (const auto& c : pert_categories) {
    Perturbation p;
    p.label = c;
    perturbations_.push_back(p);
  }
}

void ScreenData::classify_perturbations() {
  const std::set<std::string> control_set(opt_.control_labels.begin(), opt_.control_labels.end());
  std::vector<Perturbation> merged;
  std::vector<int> remap(perturbations_.size(), -1);
  // All control labels merge into one perturbation, placed first.
  for (std::size_t c = 0; c < perturbations_.size(); ++c)
    if (control_set.count(perturbations_[c].label)) {
      if (merged.empty()) {
        Perturbation ctrl;
        ctrl.label = perturbations_[c].label;
        ctrl.control = true;
        merged.push_back(ctrl);
      }
      remap[c] = 0;
      control_labels_found_.push_back(perturbations_[c].label);
    }
  if (merged.empty()) {
    std::vector<std::string> labels;
    for (const auto& p : perturbations_) labels.push_back(p.label);
    throw DataError("none of the control labels [" + join(opt_.control_labels) + "] occurs in obs column '" +
                    opt_.perturbation_key + "' of " + opt_.path + "; labels found: " + join(labels) +
                    ". Set data.control_labels to the label(s) of your control cells" + convention_hint());
  }
  for (std::size_t c = 0; c < perturbations_.size(); ++c) {
    if (remap[c] >= 0) continue;
    Perturbation p = perturbations_[c];
    p.targets = label_targets(p.label, opt_.separator, control_set);
    if (p.targets.empty()) {  // 'ctrl+ctrl': a control cell
      remap[c] = 0;
      control_labels_found_.push_back(p.label);
      continue;
    }
    remap[c] = static_cast<int>(merged.size());
    merged.push_back(p);
  }
  perturbations_ = std::move(merged);
  for (auto& code : cell_perturbation_) code = remap[static_cast<std::size_t>(code)];
  for (auto code : cell_perturbation_) ++perturbations_[static_cast<std::size_t>(code)].cells;
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

void ScreenData::build_groups() {
  auto grouping = group_cells(cell_perturbation_, cell_batch_, cell_time_, cell_medium_);
  groups_ = std::move(grouping.groups);
  cell_group_ = std::move(grouping.cell_group);
}

std::vector<std::string> ScreenData::batches_without_controls() const {
  std::vector<std::int64_t> controls(batches_.size(), 0), cells(batches_.size(), 0);
  for (const auto& g : groups_) {
    cells[static_cast<std::size_t>(g.batch)] += g.cells;
    if (perturbations_[static_cast<std::size_t>(g.perturbation)].control)
      controls[static_cast<std::size_t>(g.batch)] += g.cells;
  }
  std::vector<std::string> out;
  for (std::size_t b = 0; b < batches_.size(); ++b)
    if (cells[b] > 0 && controls[b] == 0) out.push_back(batches_[b]);
  return out;
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

GroupStatistics ScreenData::statistics() const {
  const auto G = genes_.size();
  GroupStatistics st;
  st.genes = static_cast<int>(G);
  std::vector<int> controls;  // every control group, the same list on every rank
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto p = static_cast<std::size_t>(groups_[g].perturbation);
    if (owned_.contains(p) && !perturbations_[p].excluded) st.groups.push_back(static_cast<int>(g));
    if (perturbations_[p].control) controls.push_back(static_cast<int>(g));
  }
  const bool own_controls = owned_.contains(0);
  const std::size_t owned_groups = st.groups.size();
  if (!own_controls) st.groups.insert(st.groups.end(), controls.begin(), controls.end());
  st.size_factor_sum.assign(st.groups.size(), 0.0);
  st.sum.assign(st.groups.size() * G, 0.0);
  st.sum_sq.assign(st.groups.size() * G, 0.0);
  st.sum_linear.assign(st.groups.size() * G, 0.0);
  std::vector<int> held(groups_.size(), -1);
  for (std::size_t h = 0; h < owned_groups; ++h) held[static_cast<std::size_t>(st.groups[h])] = static_cast<int>(h);
  for (std::size_t r = 0; r < local_rows_.size(); ++r) {
    const int h = held[static_cast<std::size_t>(cell_group_[static_cast<std::size_t>(local_rows_[r])])];
    const double s = local_size_factors_[r];
    if (h < 0) continue;
    st.size_factor_sum[static_cast<std::size_t>(h)] += s;
    if (s <= 0) continue;
    double* sum = st.sum.data() + static_cast<std::size_t>(h) * G;
    double* sq = st.sum_sq.data() + static_cast<std::size_t>(h) * G;
    double* lin = st.sum_linear.data() + static_cast<std::size_t>(h) * G;
    for (auto q = local_indptr_[r]; q < local_indptr_[r + 1]; ++q) {
      const double y = local_values_[static_cast<std::size_t>(q)] / s;
      const double z = std::log1p(y);
      const auto j = static_cast<std::size_t>(local_cols_[static_cast<std::size_t>(q)]);
      sum[j] += z, sq[j] += z * z, lin[j] += y;
    }
  }
  // Control groups beside every group: the owner's rows are copied to all ranks (adding
  // zeros elsewhere is exact, so every copy equals the owner's).
  const std::size_t nc = controls.size(), width = 3 * G + 1;
  std::vector<double> buf(nc * width, 0.0);
  if (own_controls)
    for (std::size_t c = 0; c < nc; ++c) {
      const auto h = static_cast<std::size_t>(held[static_cast<std::size_t>(controls[c])]);
      buf[c * width] = st.size_factor_sum[h];
      std::copy_n(st.sum.data() + h * G, G, buf.data() + c * width + 1);
      std::copy_n(st.sum_sq.data() + h * G, G, buf.data() + c * width + 1 + G);
      std::copy_n(st.sum_linear.data() + h * G, G, buf.data() + c * width + 1 + 2 * G);
    }
  comm_.sum_in_place(buf);
  if (!own_controls)
    for (std::size_t c = 0; c < nc; ++c) {
      const std::size_t h = owned_groups + c;
      st.size_factor_sum[h] = buf[c * width];
      std::copy_n(buf.data() + c * width + 1, G, st.sum.data() + h * G);
      std::copy_n(buf.data() + c * width + 1 + G, G, st.sum_sq.data() + h * G);
      std::copy_n(buf.data() + c * width + 1 + 2 * G, G, st.sum_linear.data() + h * G);
    }
  return st;
}

}  // namespace perturbfit::data

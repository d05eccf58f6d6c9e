// Gene selection: by a list (data.genes_file), by variability (data.top_variable).
#include "perturbfit/data/screen_data.hpp"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <set>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/text.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::data {

// data.genes_file: keep the listed genes.
void ScreenData::keep_listed_genes() {
  if (opt_.genes_file.empty()) return;
  std::ifstream in(opt_.genes_file);
  if (!in) throw DataError("cannot open data.genes_file '" + opt_.genes_file + "'");
  std::set<std::string> keep;
  for (std::string line; std::getline(in, line);)
    if (!trim(line).empty()) keep.insert(trim(line));
  std::vector<char> selected(genes_.size(), 0);
  for (std::size_t j = 0; j < genes_.size(); ++j) selected[j] = keep.count(genes_[j]) > 0;
  if (std::find(selected.begin(), selected.end(), 1) == selected.end())
    throw DataError("none of the genes in data.genes_file '" + opt_.genes_file + "' is in var of " + opt_.path);
  keep_selected(selected, "the " + std::to_string(keep.size()) + " genes of data.genes_file");
}

// Keeps the columns with map[j] >= 0, renumbered to map[j], in place.
void ScreenData::filter_columns(const std::vector<int>& map) {
  std::int64_t write = 0;
  for (std::size_t r = 0; r + 1 < local_indptr_.size(); ++r) {
    const auto b = local_indptr_[r], e = local_indptr_[r + 1];
    local_indptr_[r] = write;
    for (auto q = b; q < e; ++q) {
      const int j = map[static_cast<std::size_t>(local_cols_[static_cast<std::size_t>(q)])];
      if (j < 0) continue;
      local_cols_[static_cast<std::size_t>(write)] = j;
      local_values_[static_cast<std::size_t>(write)] = local_values_[static_cast<std::size_t>(q)];
      ++write;
    }
  }
  local_indptr_.back() = write;
  local_cols_.resize(static_cast<std::size_t>(write));
  local_values_.resize(static_cast<std::size_t>(write));
  local_cols_.shrink_to_fit();
  local_values_.shrink_to_fit();
}

void ScreenData::select_genes() {
  const auto G = genes_.size();
  if (opt_.top_variable <= 0 || static_cast<std::size_t>(opt_.top_variable) >= G) return;
  std::vector<double> moments(2 * G, 0.0);
  for (std::size_t r = 0; r < local_rows_.size(); ++r) {
    const double s = local_size_factors_[r];
    if (s <= 0) continue;
    for (auto q = local_indptr_[r]; q < local_indptr_[r + 1]; ++q) {
      const double z = std::log1p(local_values_[static_cast<std::size_t>(q)] / s);
      const auto j = static_cast<std::size_t>(local_cols_[static_cast<std::size_t>(q)]);
      moments[j] += z, moments[G + j] += z * z;
    }
  }
  comm_.reproducible_sum_in_place(moments, 20);
  const double n = static_cast<double>(layout_.rows);
  std::vector<std::size_t> order(G);
  std::iota(order.begin(), order.end(), 0);
  auto variance = [&](std::size_t j) { return moments[G + j] / n - (moments[j] / n) * (moments[j] / n); };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return variance(a) > variance(b); });
  order.resize(static_cast<std::size_t>(opt_.top_variable));
  std::vector<char> selected(G, 0);
  for (std::size_t j : order) selected[j] = 1;
  keep_selected(selected, "the " + std::to_string(opt_.top_variable) + " most variable genes");
}

void ScreenData::keep_selected(std::vector<char> selected, const std::string& what) {
  // Measured targets stay measured (data.keep_targets): their own knockdown is the most
  // direct evidence a screen has, and dropping them would turn them into latent nodes.
  std::size_t targets_added = 0;
  if (opt_.keep_targets) {
    std::set<std::string> targets;
    for (const auto& p : perturbations_) targets.insert(p.targets.begin(), p.targets.end());
    for (std::size_t j = 0; j < genes_.size(); ++j)
      if (!selected[j] && targets.count(genes_[j])) selected[j] = 1, ++targets_added;
  }
  std::vector<int> map(genes_.size(), -1);
  std::vector<std::string> kept;
  for (std::size_t j = 0; j < genes_.size(); ++j)
    if (selected[j]) map[j] = static_cast<int>(kept.size()), kept.push_back(genes_[j]);
  filter_columns(map);
  genes_ = std::move(kept);
  reporter_.info("kept " + what +
                 (targets_added ? " and " + std::to_string(targets_added) +
                                      " perturbation targets outside them (data.keep_targets)"
                                : std::string()) +
                 ": " + std::to_string(genes_.size()) + " genes");
}

}  // namespace perturbfit::data

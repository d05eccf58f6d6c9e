// Gene selection: by a list (data.genes_file), by variability (data.top_variable).
#include "perturbfit/data/screen_data.hpp"

#include <algorithm>
#include <fstream>
#include <set>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/text.hpp"
#include "perturbfit/data/gene_selection.hpp"
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
  const auto selected = listed_genes(genes_, keep);
  if (std::find(selected.begin(), selected.end(), 1) == selected.end())
    throw DataError("none of the genes in data.genes_file '" + opt_.genes_file + "' is in var of " + opt_.path);
  keep_selected(selected, "the " + std::to_string(keep.size()) + " genes of data.genes_file");
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
  const auto selected =
      most_variable_genes(moments, static_cast<double>(layout_.rows), static_cast<std::size_t>(opt_.top_variable));
  keep_selected(selected, "the " + std::to_string(opt_.top_variable) + " most variable genes");
}

void ScreenData::keep_selected(std::vector<char> selected, const std::string& what) {
  // Measured targets stay measured (data.keep_targets): their own knockdown is the most
  // direct evidence a screen has, and dropping them would turn them into latent nodes.
  const std::size_t targets_added = opt_.keep_targets ? add_targets(genes_, perturbations_, selected) : 0;
  std::vector<int> map(genes_.size(), -1);
  std::vector<std::string> kept;
  for (std::size_t j = 0; j < genes_.size(); ++j)
    if (selected[j]) map[j] = static_cast<int>(kept.size()), kept.push_back(genes_[j]);
  remap_columns(local_indptr_, local_cols_, local_values_, map);
  genes_ = std::move(kept);
  reporter_.info("kept " + what +
                 (targets_added ? " and " + std::to_string(targets_added) +
                                      " perturbation targets outside them (data.keep_targets)"
                                : std::string()) +
                 ": " + std::to_string(genes_.size()) + " genes");
}

}  // namespace perturbfit::data

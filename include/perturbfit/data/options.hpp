// How a screen is read: the deck's [data] keys, declared here beside the struct they fill.
#pragma once
#include <string>
#include <vector>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/config/schema.hpp"

namespace perturbfit::data {

struct DataOptions {
  std::string path, layer;
  std::string perturbation_key = "perturbation", separator = "+";
  std::vector<std::string> control_labels{"control", "non-targeting", "ctrl", "NT"};
  std::string batch_key = "batch", time_key = "time", medium_key = "medium";
  std::string cell_type_key;  // "" : no cell types
  std::string genes_file;
  std::string guide_counts;  // guide-abundance table (data/guide_abundance.hpp); "" if none
  int top_variable = 0;
  bool keep_targets = true;  // gene selection keeps the perturbation targets present in var
  std::string likelihood = "gaussian";
  std::string missing_targets = "latent";  // latent | skip | error
  bool allow_uncontrolled_batches = false;
  bool allow_empty_groups = false;
  int min_cells_per_group = 20;
  // inspect: report design problems (missing controls, targets, empty groups) instead of failing
  bool report_only = false;
  bool operator==(const DataOptions&) const = default;
};
// `path` and `layer` from the command line win over the deck's.
DataOptions data_options(const config::Deck& deck, const std::string& path, const std::string& layer);

// The deck's [data] keys, read by data_options.
config::SectionSpec data_section();

}  // namespace perturbfit::data

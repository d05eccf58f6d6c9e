#include "perturbfit/data/options.hpp"

#include <filesystem>

#include "perturbfit/core/error.hpp"

namespace perturbfit::data {

DataOptions data_options(const config::Deck& d, const std::string& path, const std::string& layer) {
  DataOptions o;
  o.path = path;
  if (o.path.empty()) {
    const auto p = d.get<std::string>("data.path");
    if (p.empty()) throw UsageError("no screen given: pass FILE.h5ad or set data.path in the deck");
    o.path = std::filesystem::path(p).is_absolute() ? p : (d.directory() / p).string();
  }
  o.layer = layer.empty() ? d.get<std::string>("data.layer") : layer;
  o.perturbation_key = d.get<std::string>("data.perturbation_key");
  o.control_labels = d.values().at("data").at("control_labels").get<std::vector<std::string>>();
  o.separator = d.get<std::string>("data.separator");
  o.batch_key = d.get<std::string>("data.batch_key");
  o.time_key = d.get<std::string>("data.time_key");
  o.medium_key = d.get<std::string>("data.medium_key");
  o.cell_type_key = d.get<std::string>("data.cell_type_key");
  o.genes_file = d.get<std::string>("data.genes_file");
  if (!o.genes_file.empty() && !std::filesystem::path(o.genes_file).is_absolute())
    o.genes_file = (d.directory() / o.genes_file).string();
  o.guide_counts = d.get<std::string>("data.guide_counts");
  if (!o.guide_counts.empty() && !std::filesystem::path(o.guide_counts).is_absolute())
    o.guide_counts = (d.directory() / o.guide_counts).string();
  o.top_variable = d.get<int>("data.top_variable");
  o.keep_targets = d.get<bool>("data.keep_targets");
  o.likelihood = d.get<std::string>("data.likelihood");
  o.missing_targets = d.get<std::string>("data.missing_targets");
  o.allow_uncontrolled_batches = d.get<bool>("data.allow_uncontrolled_batches");
  o.allow_empty_groups = d.get<bool>("data.allow_empty_groups");
  o.min_cells_per_group = d.get<int>("data.min_cells_per_group");
  if (o.likelihood != "gaussian" && o.likelihood != "nb")
    throw UsageError("data.likelihood = '" + o.likelihood + "' is unknown; use gaussian or nb");
  if (o.missing_targets != "latent" && o.missing_targets != "error" && o.missing_targets != "skip")
    throw UsageError("data.missing_targets = '" + o.missing_targets + "' is unknown; use latent, skip or error");
  if (o.separator.empty()) throw UsageError("data.separator must not be empty");
  if (o.top_variable < 0) throw UsageError("data.top_variable must be >= 0");
  if (!o.cell_type_key.empty() && !o.guide_counts.empty())
    throw UsageError("data.guide_counts with data.cell_type_key is not supported: guide reads come from DNA of every "
                     "cell type at once, and the fit's fitness term has one state per perturbation and medium; fit "
                     "them in two runs, or drop one of the keys");
  return o;
}

// A table, one line per key:
// clang-format off
config::SectionSpec data_section() {
  using namespace config::key_table;
  return {"data", "How a screen (.h5ad) is read: where counts are, which obs columns mean what (inspect, fit).",
       {
           {"path", VT::kString, "", "the screen (.h5ad); relative to the deck; the command line's FILE wins"},
           {"layer", VT::kString, "", "read counts from layers/<name> instead of X; \"raw\" reads raw/X"},
           {"perturbation_key", VT::kString, "perturbation", "obs column naming each cell's targets"},
           {"control_labels", VT::kStringList, json::array({"control", "non-targeting", "ctrl", "NT"}), "labels of control cells in the perturbation column"},
           {"separator", VT::kString, "+", "separator of combinatorial targets (\"A+B\")"},
           {"batch_key", VT::kString, "batch", "obs column of the experimental batch; \"\" treats all cells as one batch"},
           {"time_key", VT::kString, "time", "obs column of the time since perturbation; used if present"},
           {"medium_key", VT::kString, "medium", "obs column of the medium; used if present"},
           {"cell_type_key", VT::kString, "", "obs column of the cell type (\"\": none); each (medium, type) is then fitted as its own medium \"medium/type\": own controls and activation bias per type, W shared (simulate writes obs/cell_type with [cell_types])"},
           {"genes_file", VT::kString, "", "keep only the genes listed in this file (one per line)"},
           {"guide_counts", VT::kString, "", "guide-abundance read-outs (tab-separated: guide, perturbation, batch, medium, time, count; what simulate's count_guides writes); relative to the deck; fit then fits the fitness weights phi from them (fit.lambda_abundance)"},
           {"top_variable", VT::kInt, 0, "keep only the N genes of highest log-normalised variance (0: all)", range::count(0)},
           {"keep_targets", VT::kBool, true, "gene selection (genes_file, top_variable) keeps every perturbation target present in var, so that measured targets stay measured"},
           {"likelihood", VT::kString, "gaussian", "gaussian (the fit's data term: squared error of the pseudo-bulk log(eps + mean normalised expression)) | nb (the per-cell negative-binomial likelihood of raw counts, with each gene's NB size learned and with fit.zero_inflation its dropout; counts must be integers; docs/fit.md, Count likelihood)"},
           {"missing_targets", VT::kString, "latent", "a target absent from var: latent (the fit models it as an unmeasured node of the network, knocked down by its guides) | skip (drop its cells, with a warning) | error"},
           {"allow_uncontrolled_batches", VT::kBool, false, "accept batches without control cells (their offsets are then unidentifiable; a loud warning)"},
           {"allow_empty_groups", VT::kBool, false, "accept perturbation categories with no cells"},
           {"min_cells_per_group", VT::kInt, 20, "groups with fewer cells are reported by inspect", range::count(0)},
       }};
}
// clang-format on

}  // namespace perturbfit::data

#include "perturbfit/simulate/protocol.hpp"

#include <stdexcept>

namespace perturbfit::simulate {

using config::step_get;
using nlohmann::json;

namespace {
LibraryOptions library_options(const json& s) {
  LibraryOptions o;
  o.singles = step_get<int>(s, "singles");
  o.pairs = step_get<int>(s, "pairs");
  o.targets = step_get<std::vector<std::string>>(s, "targets");
  o.combinations = step_get<std::vector<std::string>>(s, "combinations");
  o.guides_per_target = step_get<int>(s, "guides_per_target");
  o.control_guides = step_get<int>(s, "control_guides");
  o.controls_fraction = step_get<double>(s, "controls_fraction");
  o.kappa = step_get<double>(s, "kappa");
  o.kappa_sd = step_get<double>(s, "kappa_sd");
  o.tau = step_get<double>(s, "tau");
  o.moi = step_get<double>(s, "moi");
  o.control_label = step_get<std::string>(s, "control_label");
  return o;
}

StepAction action_of(const std::string& kind, const json& s) {
  if (kind == "medium") return MediumStep{step_get<std::string>(s, "name"), step_get<std::vector<double>>(s, "values")};
  if (kind == "perturb") return PerturbStep{library_options(s)};
  if (kind == "evolve") return EvolveStep{step_get<double>(s, "dt")};
  if (kind == "equilibrate") return EquilibrateStep{};
  if (kind == "expand") return ExpandStep{step_get<double>(s, "dt")};
  if (kind == "passage") return PassageStep{step_get<int>(s, "cells")};
  if (kind == "transplant")
    return TransplantStep{step_get<int>(s, "animals"), step_get<int>(s, "cells"), step_get<double>(s, "engraftment_sd")};
  if (kind == "count_guides") return CountGuidesStep{step_get<double>(s, "reads")};
  if (kind == "measure")
    return MeasureStep{step_get<int>(s, "cells"), step_get<int>(s, "batches"), step_get<double>(s, "depth"),
                       step_get<std::string>(s, "batch_prefix")};
  throw std::logic_error("protocol step kind '" + kind + "' is in the schema but has no step struct");
}
}  // namespace

Protocol parse_protocol(const config::Deck& deck) {
  Protocol protocol;
  for (const auto& s : deck.protocol()) {
    const auto kind = step_get<std::string>(s, "step");
    protocol.push_back({static_cast<int>(protocol.size()), kind, action_of(kind, s)});
  }
  return protocol;
}

// A table, one line per key:
// clang-format off
std::vector<config::StepSpec> protocol_step_specs() {
  using namespace config::key_table;
  return {
      {"medium", "Sets the environment m (K values).",
       {
           {"name", VT::kString, "medium", "label written to obs/medium for cells measured in this medium"},
           {"values", VT::kFloatList, json::array(), "the K medium inputs; empty means all zero", range::any()},
       }},
      {"perturb", "Assigns guides to cells and switches kappa (MODEL.md section 3).",
       {
           {"singles", VT::kInt, 0, "number of single-gene targets drawn at random (in addition to `targets`)", range::count(0, 1000000)},
           {"pairs", VT::kInt, 0, "number of two-gene combinations drawn from the single targets (in addition to `combinations`)", range::count(0, 10000000)},
           {"targets", VT::kStringList, json::array(), "explicit single targets (gene names)"},
           {"combinations", VT::kStringList, json::array(), "explicit combinations, targets joined by '+'"},
           {"guides_per_target", VT::kInt, 2, "guides per library element, each with its own efficiency", range::count(1, 1000)},
           {"control_guides", VT::kInt, 4, "number of non-targeting guides", range::count(1, 100000)},
           {"controls_fraction", VT::kFloat, 0.1, "fraction of cells that receive a non-targeting guide", range::fraction()},
           {"kappa", VT::kFloat, 0.9, "mean guide efficiency: in (0, 1] knocks down, < 0 activates", range::between(-1e6, 1.0)},
           {"kappa_sd", VT::kFloat, 0.05, "standard deviation of guide efficiency around kappa", range::non_negative()},
           {"tau", VT::kFloat, 0.0, "onset time constant of the perturbation; 0 is instantaneous", range::non_negative()},
           {"moi", VT::kFloat, 0.0, "multiplicity of infection (Poisson); > 0 adds cells carrying two library elements", range::between(0.0, 100.0)},
           {"control_label", VT::kString, "control", "obs/perturbation label of control cells"},
       }},
      {"evolve", "Integrates dx/dt = f (and the weights) for dt with CVODES.",
       {
           {"dt", VT::kFloat, nullptr, "time to integrate (required, > 0)", range::positive()},
       }},
      {"equilibrate", "Replaces every state by its steady state (t -> infinity).", {}},
      {"expand", "Population growth with selection: weights grow as dw/dt = (r0 + phi.x) w for dt.",
       {
           {"dt", VT::kFloat, nullptr, "time to grow (required, > 0)", range::positive()},
       }},
      {"passage", "Bottleneck: resamples `cells` cells from the weighted population.",
       {
           {"cells", VT::kInt, nullptr, "bottleneck size (required, > 0)", range::count(1, 100000000)},
       }},
      {"transplant", "Transplants the population into animals (MODEL.md section 7): each animal receives `cells` cells drawn by weight and becomes one niche, m = m_ext + Gamma <x[ligands]>_w over its cells ([niche]); equilibrate then solves each animal's coupled steady state, and a measure step's batch is the animal. Comes after perturb; expand after it is quasi-steady (weights grow at the rates of the coupled steady states, then every animal's niche is solved again for its new composition); evolve after it is not supported yet.",
       {
           {"animals", VT::kInt, nullptr, "number of animals (niches; required)", range::count(1, 100000)},
           {"cells", VT::kInt, nullptr, "cells each animal receives (required); guide composition differs between animals by this draw", range::count(1, 100000000)},
           {"engraftment_sd", VT::kFloat, 0.0, "sd of the log engraftment efficiency of each guide class in each animal (0: every class takes in by its library weight); > 0 makes the animals' compositions, hence their niches, differ", range::between(0.0, 10.0)},
       }},
      {"count_guides", "Guide-abundance read-out (MODEL.md section 7): counts every guide in the population (in each animal after a transplant) by sequencing `reads` guide reads per sample (Poisson); cells are not consumed. Rows go to guide_counts.tsv beside the screen (guide, perturbation, batch, medium, time, count); `fit` reads them through data.guide_counts and fits the fitness weights phi from the change between two samples.",
       {
           {"reads", VT::kFloat, 1e6, "guide reads per sample (per animal after a transplant)", range::between(1.0, 1e12)},
       }},
      {"measure", "Sequences cells: draws cells by weight and applies the measurement operator.",
       {
           {"cells", VT::kInt, nullptr, "number of cells sequenced (required, > 0)", range::count(1, 100000000)},
           {"batches", VT::kInt, 1, "number of experimental batches; cells are spread evenly", range::count(1, 1000000)},
           {"depth", VT::kFloat, 2000.0, "mean UMIs per cell", range::between(1.0, 1e9)},
           {"batch_prefix", VT::kString, "batch", "batch labels are <prefix><index>; each measure step continues the numbering"},
       }},
  };
}
// clang-format on

}  // namespace perturbfit::simulate

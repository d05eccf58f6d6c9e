// The guide library of a perturb step: which genes are targeted, by which guides, with
// which efficiency, and in what proportion of cells (MODEL.md sections 3 and 4).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "perturbfit/model/parameters.hpp"

namespace perturbfit::simulate {

struct LibraryOptions {
  int singles = 0, pairs = 0;
  std::vector<std::string> targets, combinations;
  int guides_per_target = 2, control_guides = 4;
  double controls_fraction = 0.1, kappa = 0.9, kappa_sd = 0.05, tau = 0.0, moi = 0.0;
  std::string control_label = "control";
};

// A population class: all cells carrying the same guide(s). Cells of one class share
// their deterministic latent state; they differ in measurement (library size, noise).
struct PopulationClass {
  std::string perturbation;                   // targets joined by '+' in gene order, or the control label
  std::string guide;                          // guide names joined by '+'
  std::vector<std::pair<int, double>> knock;  // (gene, kappa)
  double log_weight = 0.0;                    // log of the class's share of the population
  bool control = false;
  int animal = -1;     // after a transplant step: the animal (niche) of these cells; -1 in vitro
  int cell_type = -1;  // with [cell_types]: index into cell_types.names; -1 without
};

// Throws UsageError for unknown genes or impossible requests (named, with the step).
std::vector<PopulationClass> build_library(const LibraryOptions& opt, const model::ModelParameters& params,
                                           std::uint64_t seed, const std::string& where);

}  // namespace perturbfit::simulate

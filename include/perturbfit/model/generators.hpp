// Ground-truth networks and parameters for simulation (MODEL.md section 3).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/model/niche.hpp"
#include "perturbfit/model/parameters.hpp"

namespace perturbfit::model {

struct GeneratorOptions {
  std::string generator = "random";  // random | modular | toggle | edgelist
  ModelKind kind = ModelKind::kMechanistic;
  int genes = 200;
  int media = 1;
  int neural_rank = 0;
  double neural_scale = 0.1;
  double mean_in_degree = 3.0;
  double activating_fraction = 0.5;
  double weight_scale = 1.0;
  int modules = 4;
  double between_module_fraction = 0.05;
  std::filesystem::path edge_list;
  double contraction = 0.8;
  double medium_gene_fraction = 0.1;
  double medium_weight = 1.0;
  double decay_mean = 1.0, decay_sd = 0.2;
  double production_mean = 2.0, basal_mean = 0.1, bias_sd = 0.5;
  double growth_rate = 0.03;
  int fitness_genes = 0;
  double fitness_scale = 0.01;
  std::uint64_t seed = 1;
  bool operator==(const GeneratorOptions&) const = default;
};

// Draws a model. Every draw is keyed by (seed, gene), so the result is the same on every
// rank. Throws UsageError for bad options and DataError for a malformed edge list.
ModelParameters generate_model(const GeneratorOptions& opt);

// The niche of an in vivo screen (MODEL.md section 7): the listed ligand genes plus
// `ligands` more drawn at random, and Gamma (K x L) with entries N(0, scale^2 / L).
struct NicheOptions {
  int ligands = 0;
  std::vector<std::string> ligand_genes;
  double coupling_scale = 1.0;
  bool operator==(const NicheOptions&) const = default;
};
// Keyed by seed only: the same on every rank. UsageError for an unknown ligand gene or
// more ligands than genes.
NicheCoupling draw_niche(const ModelParameters& p, const NicheOptions& opt, std::uint64_t seed);

// Cell types (MODEL.md section 7: populations with their own parameters, sharing W). Type t's
// activation bias is c + b_t, b_t ~ N(0, bias_sd^2) per gene, entered as one more medium
// channel per type: U gains T columns (b_t; p.media += T) whose input is 1 in the cells of
// type t and 0 elsewhere, and the niche coupling T rows of zeros (no niche factor moves a
// type). With production_sd > 0 each type also has its own maximal production
// v_g exp(q_t,g), q_t ~ N(0, production_sd^2) per gene, through the production response Q
// (zero on the other channels). Nothing changes with fewer than two types. Keyed by seed only.
struct CellTypeOptions {
  std::vector<std::string> names;
  std::vector<double> fractions;  // of the population; empty: equal
  double bias_sd = 0.5;
  double production_sd = 0.0;
  bool operator==(const CellTypeOptions&) const = default;
};
void add_cell_types(ModelParameters& p, NicheCoupling& niche, const CellTypeOptions& opt, std::uint64_t seed);

// The two-gene mutual-repression switch: bistable, with a saddle between its attractors.
ModelParameters toggle_switch(int media, double medium_weight);

std::string gene_name(int index, int total);  // "G001" style, zero-padded to the width of total

}  // namespace perturbfit::model

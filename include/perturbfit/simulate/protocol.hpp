// The experiment as typed steps (MODEL.md section 4): each [[protocol]] table of the deck
// read once into its step struct, its keys declared beside it (protocol_step_specs).
#pragma once
#include <string>
#include <variant>
#include <vector>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/config/schema.hpp"
#include "perturbfit/simulate/guide_library.hpp"

namespace perturbfit::simulate {

struct MediumStep {
  std::string name;            // obs/medium of cells measured in it
  std::vector<double> values;  // the K inputs; empty: all zero
};
struct PerturbStep {
  LibraryOptions library;  // library.tau: onset time constant of the knockdown
};
struct EvolveStep {
  double dt = 0;
};
struct EquilibrateStep {};
struct ExpandStep {
  double dt = 0;
};
struct PassageStep {
  int cells = 0;
};
// Into animals (MODEL.md section 7): each animal receives `cells` cells drawn by weight;
// from then on every animal is one niche, and one batch ("animal<a>") when measured.
struct TransplantStep {
  int animals = 1, cells = 0;
  double engraftment_sd = 0.0;  // sd of each class's log engraftment efficiency per animal
};
// Guide-abundance read-out: the guides of the population (of each animal after a
// transplant) sequenced at `reads` reads per sample; the cells are not consumed.
struct CountGuidesStep {
  double reads = 1e6;
};
struct MeasureStep {
  int cells = 0, batches = 1;
  double depth = 2000.0;
  std::string batch_prefix = "batch";
};

using StepAction = std::variant<MediumStep, PerturbStep, EvolveStep, EquilibrateStep, ExpandStep, PassageStep,
                                TransplantStep, CountGuidesStep, MeasureStep>;

struct ProtocolStep {
  int index = 0;     // position in the deck's [[protocol]] list, from 0
  std::string kind;  // the deck's `step`
  StepAction action;
  // "protocol step N (kind)", the prefix of every message about the step.
  std::string where() const { return "protocol step " + std::to_string(index) + " (" + kind + ")"; }
};

using Protocol = std::vector<ProtocolStep>;

// The deck's [[protocol]] (already validated against protocol_step_specs) as typed steps.
Protocol parse_protocol(const config::Deck& deck);

// The keys of every kind of step, for the deck schema and its reference.
std::vector<config::StepSpec> protocol_step_specs();

}  // namespace perturbfit::simulate

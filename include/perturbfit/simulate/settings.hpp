// Reads the deck sections the simulator uses into its option structs.
#pragma once
#include "perturbfit/config/schema.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/simulate/simulation.hpp"

namespace perturbfit::simulate {

model::GeneratorOptions generator_options(const config::Deck& deck);
SimulationSettings simulation_settings(const config::Deck& deck);

// The deck's keys that these readers (and `simulate`) consume: [network], [measure] and
// [output] (the [[protocol]] steps are in protocol.hpp).
config::SectionSpec network_section();
config::SectionSpec measure_section();
config::SectionSpec output_section();
config::SectionSpec niche_section();
config::SectionSpec cell_types_section();

}  // namespace perturbfit::simulate

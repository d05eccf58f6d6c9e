// Reads the deck sections the simulator uses into its option structs.
#pragma once
#include "perturbfit/config/deck.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/simulate/simulation.hpp"

namespace perturbfit::simulate {

model::GeneratorOptions generator_options(const config::Deck& deck);
SimulationSettings simulation_settings(const config::Deck& deck);

}  // namespace perturbfit::simulate

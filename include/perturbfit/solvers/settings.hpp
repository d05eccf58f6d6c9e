// Reads the deck's [solver] section (steady states, their fallback and stability test,
// CVODES tolerances) into the solvers' options; simulate and fit both start from it.
#pragma once
#include "perturbfit/config/schema.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/solvers/steady_state.hpp"

namespace perturbfit::solvers {

SteadyStateOptions steady_state_options(const config::Deck& deck);

// The deck's [solver] keys, read by steady_state_options.
config::SectionSpec solver_section();

}  // namespace perturbfit::solvers

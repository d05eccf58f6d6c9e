// Writes truth.h5: the ground truth behind a simulated screen (network, parameters,
// per-class latent states at each measurement, per-cell state index and library size).
#pragma once
#include <string>

#include "perturbfit/simulate/screen.hpp"
#include "perturbfit/simulate/simulation.hpp"

namespace perturbfit::io {

void write_truth(const simulate::Simulation& sim, const simulate::ScreenRows& rows, const std::string& path);

}  // namespace perturbfit::io

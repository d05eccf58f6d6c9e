// Writes truth.h5: the ground truth behind a simulated screen (network, parameters,
// per-class latent states at each measurement, per-cell state index and library size).
#pragma once
#include <string>

#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/simulate/screen.hpp"
#include "perturbfit/simulate/simulation.hpp"

namespace perturbfit::simulate {

void write_truth(const Simulation& sim, const ScreenRows& rows, const std::string& path,
                 io::OutputSet* staged = nullptr);

}  // namespace perturbfit::simulate

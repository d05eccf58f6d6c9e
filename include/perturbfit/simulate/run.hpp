// A whole simulation as one call: draw the model, run the protocol, measure, and write
// screen.h5ad (and truth.h5) into the output directory, published together. The `simulate`
// command only claims the directory, records provenance and prints the returned report.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/reporter.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::simulate {

struct SimulateReport {
  std::filesystem::path screen, truth;  // truth empty unless output.write_truth
  nlohmann::json summary;               // cells, genes, edges, classes, batches, solver tally
};

// Collective. Throws UsageError / NumericalError; a failure publishes nothing.
SimulateReport run_simulation(const parallel::Comm& comm, const config::Deck& deck, const std::filesystem::path& output,
                              const Reporter& reporter);

}  // namespace perturbfit::simulate

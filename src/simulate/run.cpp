#include "perturbfit/simulate/run.hpp"

#include "perturbfit/core/memory.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/io/guide_count_table.hpp"
#include "perturbfit/io/h5ad_writer.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/simulate/protocol.hpp"
#include "perturbfit/simulate/screen.hpp"
#include "perturbfit/simulate/settings.hpp"
#include "perturbfit/simulate/simulation.hpp"
#include "perturbfit/simulate/truth_file.hpp"

namespace perturbfit::simulate {

namespace fs = std::filesystem;
using nlohmann::json;

SimulateReport run_simulation(const parallel::Comm& comm, const config::Deck& deck, const fs::path& output,
                              const Reporter& reporter) {
  Simulation sim(comm, model::generate_model(generator_options(deck)), simulation_settings(deck), reporter);
  reporter.info("network: " + std::to_string(sim.params().genes) + " genes, " + std::to_string(sim.params().W.nnz()) +
                " edges, kind " + model::to_string(sim.params().kind));
  sim.run(parse_protocol(deck));

  const auto rows = assemble_screen(sim, reporter);
  return_freed_memory();  // the drawn cells' per-cell vectors
  SimulateReport report;
  report.screen = output / "screen.h5ad";
  const fs::path truth = output / "truth.h5";
  reporter.info("writing " + report.screen.string() + " (" + std::to_string(rows.h5ad.n_obs) + " cells x " +
                std::to_string(rows.h5ad.var_names.size()) + " measured genes)");
  io::OutputSet staged;  // the screen and its truth are published together, or neither
  io::write_h5ad(comm, report.screen.string(), rows.h5ad, &staged);
  json files{{"screen", report.screen.string()}};
  const bool with_truth = deck.get<bool>("output.write_truth");
  if (with_truth) {
    write_truth(sim, rows, truth.string(), &staged);
    report.truth = truth;
    files["truth"] = truth.string();
  }
  const fs::path counts = output / "guide_counts.tsv";
  if (!sim.guide_counts().empty()) {
    comm.run_on_root([&] { io::write_guide_count_table(counts, sim.guide_counts(), &staged); });
    files["guide_counts"] = counts.string();
  }
  comm.run_on_root([&] {
    staged.commit();
    if (sim.guide_counts().empty()) {
      std::error_code ec;
      fs::remove(counts, ec);  // an earlier run's counts would pose as this screen's
    }
    std::error_code ec;
    if (!with_truth) fs::remove(truth, ec);  // an earlier run's truth would pose as this screen's
  });
  report.summary = json{{"command", "simulate"},
                        {"status", "ok"},
                        {"output", output.string()},
                        {"files", files},
                        {"cells", rows.h5ad.n_obs},
                        {"measured_genes", rows.h5ad.var_names.size()},
                        {"genes", sim.params().genes},
                        {"edges", sim.params().W.nnz()},
                        {"classes", sim.classes().size()},
                        {"batches", sim.batch_names().size()},
                        {"nonzero_counts", comm.sum(rows.h5ad.indptr.back())},
                        {"control_attractors", sim.control_attractors().size()},
                        {"solver", sim.tally().to_json()}};
  return report;
}

}  // namespace perturbfit::simulate

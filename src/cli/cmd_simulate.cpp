// `perturbfit simulate DECK -o OUT`: ground truth, protocol, measurement, h5ad + truth.
#include <iostream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/output_directory.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/io/h5ad_writer.hpp"
#include "perturbfit/simulate/truth_file.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/simulate/screen.hpp"
#include "perturbfit/simulate/settings.hpp"

namespace perturbfit::cli {

namespace fs = std::filesystem;
using nlohmann::json;

int run_simulate(const CommandContext& ctx, const SimulateArgs& args) {
  const auto& comm = ctx.comm;
  Provenance provenance("simulate", ctx.argv, comm.size());
  const config::Deck deck = config::Deck::load(args.deck, args.overrides);
  provenance.set_deck(deck.values(), args.deck);
  const auto gen = simulate::generator_options(deck);
  const auto settings = simulate::simulation_settings(deck);
  std::vector<fs::path> inputs{args.deck};
  if (!gen.edge_list.empty()) inputs.emplace_back(gen.edge_list);
  claim_output_directory(comm, args.output, "simulate", args.force, inputs);

  return run_recorded(comm, provenance, args.output, [&]() -> int {
    ctx.reporter.info("simulate: deck " + args.deck + ", " + std::to_string(comm.size()) + " rank(s), output " +
                      args.output.string());
    simulate::Simulation sim(comm, model::generate_model(gen), settings, ctx.reporter);
    ctx.reporter.info("network: " + std::to_string(sim.params().genes) + " genes, " +
                      std::to_string(sim.params().W.nnz()) + " edges, kind " + model::to_string(sim.params().kind));
    sim.run(deck.protocol());

    const auto rows = simulate::assemble_screen(sim, ctx.reporter);
    const fs::path screen = args.output / "screen.h5ad", truth = args.output / "truth.h5";
    ctx.reporter.info("writing " + screen.string() + " (" + std::to_string(rows.h5ad.n_obs) + " cells x " +
                      std::to_string(rows.h5ad.var_names.size()) + " measured genes)");
    io::OutputSet staged;  // the screen and its truth are published together, or neither
    io::write_h5ad(comm, screen.string(), rows.h5ad, &staged);
    json outputs{{"screen", screen.string()}};
    const bool with_truth = deck.get<bool>("output.write_truth");
    if (with_truth) {
      simulate::write_truth(sim, rows, truth.string(), &staged);
      outputs["truth"] = truth.string();
    }
    comm.run_on_root([&] {
      staged.commit();
      std::error_code ec;
      if (!with_truth) fs::remove(truth, ec);  // an earlier run's truth would pose as this screen's
    });
    const std::int64_t nnz = comm.sum(rows.h5ad.indptr.back());
    json summary{{"command", "simulate"},
                 {"status", "ok"},
                 {"output", args.output.string()},
                 {"files", outputs},
                 {"cells", rows.h5ad.n_obs},
                 {"genes", sim.params().genes},
                 {"edges", sim.params().W.nnz()},
                 {"classes", sim.classes().size()},
                 {"batches", sim.batch_names().size()},
                 {"nonzero_counts", nnz},
                 {"control_attractors", sim.control_attractors().size()},
                 {"solver", sim.tally().to_json()}};
    provenance.set("summary", summary);
    summary["wall_seconds"] = provenance.elapsed_seconds();
    if (comm.is_root()) {
      provenance.write(args.output, "ok");
      if (ctx.json) {
        std::cout << json_text(summary) << std::endl;
      } else {
        std::cout << "simulated " << rows.h5ad.n_obs << " cells x " << rows.h5ad.var_names.size() << " measured genes ("
                  << sim.classes().size() << " guide classes, " << sim.batch_names().size() << " batches) in "
                  << summary["wall_seconds"].get<double>() << " s\n"
                  << "  " << screen.string() << "\n";
        if (outputs.contains("truth")) std::cout << "  " << truth.string() << "\n";
        std::cout << "  " << (args.output / "provenance.json").string() << "\n";
      }
    }
    return 0;
  });
}

}  // namespace perturbfit::cli

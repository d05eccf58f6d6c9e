// `perturbfit simulate DECK -o OUT`: claims OUT, runs simulate::run_simulation, records
// provenance.json and prints the report.
#include <iostream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/cli/output_directory.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/simulate/run.hpp"
#include "perturbfit/simulate/settings.hpp"

namespace perturbfit::cli {

namespace fs = std::filesystem;

int run_simulate(const CommandContext& ctx, const SimulateArgs& args) {
  const auto& comm = ctx.comm;
  Provenance provenance("simulate", ctx.argv, comm.size());
  const config::Deck deck = config::Deck::load(args.deck, deck_schema(), args.overrides);
  provenance.set_deck(deck.values(), args.deck);
  std::vector<fs::path> inputs{args.deck};
  if (const auto edge_list = simulate::generator_options(deck).edge_list; !edge_list.empty())
    inputs.push_back(edge_list);
  claim_output_directory(comm, args.output, "simulate", args.force, inputs);

  return run_recorded(comm, provenance, args.output, [&]() -> int {
    ctx.reporter.info("simulate: deck " + args.deck + ", " + std::to_string(comm.size()) + " rank(s), output " +
                      args.output.string());
    const auto report = simulate::run_simulation(comm, deck, args.output, ctx.reporter);
    auto summary = report.summary;
    provenance.set("summary", summary);
    summary["wall_seconds"] = provenance.elapsed_seconds();
    if (comm.is_root()) {
      provenance.write(args.output, "ok");
      if (ctx.json) {
        std::cout << json_text(summary) << std::endl;
      } else {
        std::cout << "simulated " << summary["cells"] << " cells x " << summary["measured_genes"] << " measured genes ("
                  << summary["classes"] << " guide classes, " << summary["batches"] << " batches) in "
                  << summary["wall_seconds"].get<double>() << " s\n"
                  << "  " << report.screen.string() << "\n";
        if (!report.truth.empty()) std::cout << "  " << report.truth.string() << "\n";
        if (summary["files"].contains("guide_counts"))
          std::cout << "  " << summary["files"]["guide_counts"].get<std::string>() << "\n";
        std::cout << "  " << (args.output / "provenance.json").string() << "\n";
      }
    }
    return 0;
  });
}

}  // namespace perturbfit::cli

// `perturbfit design DECK`: the precision of the deck's planned screen and the recommended
// controls (analysis/screen_design.hpp); with --simulate, simulate -> fit over a grid of
// allocations (analysis/design_study.hpp).
#include <iostream>

#include "perturbfit/analysis/design_study.hpp"
#include "perturbfit/analysis/screen_design.hpp"
#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/cli/output_directory.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/data/options.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/io/atomic_file.hpp"

namespace perturbfit::cli {

void add_design(CLI::App& app, DesignArgs& args) {
  auto* cmd = app.add_subcommand(
      "design",
      "the expected precision of the deck's planned screen (its protocol's perturb and measure steps) and the "
      "recommended controls per batch: OUTDIR/design.json; --simulate adds simulate -> fit over a grid");
  cmd->add_option("deck", args.deck, "the deck whose [[protocol]] plans the screen")->required();
  cmd->add_option("--set", args.overrides, "override a deck key: section.key=value or protocol.N.key=value")
      ->allow_extra_args(false);
  cmd->add_option("--from", args.from, "estimate sigma^2 from this screen's batch replicates (.h5ad)");
  cmd->add_option("--layer", args.layer, "with --from: read counts from layers/<name>");
  cmd->add_option("--guide-key", args.guide_key,
                  "with --from: the obs column of guides, for tau^2 (two guides of a perturbation in one batch)")
      ->capture_default_str();
  cmd->add_option("--sigma2", args.sigma2, "per-cell variance of the log pseudo-bulk scale (instead of --from)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tau2", args.tau2,
                  "variance of an effect between guides of one target (default: estimated with --from when its "
                  "screen has guides, else 0)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--simulate", args.simulate,
                "simulate and fit the plan over the grid (--grid-*), --seeds times each: the expected held-out error");
  cmd->add_option("--grid-cells-per-guide", args.grid_cells,
                  "cells per guide (default: the plan's total cells for every allocation)")
      ->delimiter(',');
  cmd->add_option("--grid-batches", args.grid_batches, "batches (default: the plan's)")->delimiter(',');
  cmd->add_option("--grid-controls", args.grid_controls,
                  "controls fractions (default: the plan's and the recommended one)")
      ->delimiter(',');
  cmd->add_option("--seeds", args.seeds, "simulations per grid point (run.seed 1..N)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("-o,--output", args.output, "output directory (created if missing)")->capture_default_str();
  cmd->add_flag("--force", args.force,
                "write into an output directory that holds another command's results, removing those results first");
  args.command = cmd;
}

int run_design(const CommandContext& ctx, const DesignArgs& args) {
  Provenance provenance("design", ctx.argv, ctx.comm.size());
  const config::Deck deck = config::Deck::load(args.deck, deck_schema(), args.overrides);
  provenance.set_deck(deck.values(), args.deck);
  const auto plan = analysis::planned_screen(deck);
  if (args.from.empty() && !(args.sigma2 > 0))
    throw UsageError("design needs the noise: --from SCREEN.h5ad (estimated from its batch replicates) or --sigma2");
  claim_output_directory(ctx.comm, args.output, "design", args.force, {args.deck, args.from});
  return run_recorded(ctx.comm, provenance, args.output, [&]() -> int {
    nlohmann::json source{{"source", "given (--sigma2)"}};
    double sigma2 = args.sigma2, tau2 = args.tau2;
    const auto tau2_given = args.command->count("--tau2");
    if (!args.from.empty()) {
      const auto noise = analysis::estimate_noise(ctx.comm, data::data_options(deck, args.from, args.layer),
                                                  fit::fit_options(deck).pseudocount, args.guide_key, ctx.reporter);
      sigma2 = noise.sigma2;
      if (noise.has_tau2 && tau2_given == 0) tau2 = noise.tau2;
      source = {{"source", noise.method + " of " + args.from},
                {"replicate_pairs", noise.replicate_pairs},
                {"genes", noise.genes},
                {"sigma2_median_gene", noise.sigma2_median},
                {"sigma2_p90_gene", noise.sigma2_p90},
                {"tau2_source", tau2_given > 0 ? "given (--tau2)"
                                : noise.has_tau2    ? "guide pairs of " + args.from + " (column " + args.guide_key + ")"
                                                    : "none: no guide column '" + args.guide_key + "' or no guide pairs; 0"},
                {"guide_pairs", noise.guide_pairs},
                {"tau2_unclipped", noise.has_tau2 ? nlohmann::json(noise.tau2_unclipped) : nlohmann::json(nullptr)}};
    }
    auto report = analysis::design_report(plan, sigma2, tau2, source);
    if (args.simulate) {
      analysis::DesignStudyRequest study;
      study.load_deck = [&](const std::vector<std::string>& extra) {
        auto all = args.overrides;
        all.insert(all.end(), extra.begin(), extra.end());
        return config::Deck::load(args.deck, deck_schema(), all);
      };
      study.cells_per_guide = args.grid_cells, study.batches = args.grid_batches;
      study.controls_fractions = args.grid_controls, study.seeds = args.seeds, study.output = args.output;
      report["simulation"] = analysis::run_design_study(ctx.comm, plan, study, ctx.reporter);
    }
    provenance.set("summary", report);
    ctx.comm.run_on_root([&] {
      io::write_file_atomically(args.output / "design.json", json_text(report) + "\n");
      provenance.write(args.output, "ok");
      if (ctx.json) {
        std::cout << json_text(report) << std::endl;
        return;
      }
      std::cout << analysis::design_table(report);
      if (report.contains("simulation")) {
        std::cout << "  simulate -> fit (test MSE of effects, mean over " << args.seeds << " seed(s)):\n";
        for (const auto& p : report["simulation"]["points"])
          std::cout << "    cells/guide " << p["cells_per_guide"] << ", batches " << p["batches"] << ", controls "
                    << p["controls_fraction"] << " (" << p["cells"] << " cells): model "
                    << p["test_mse_effect"]["model"]["mean"] << ", train_mean "
                    << p["test_mse_effect"]["train_mean"]["mean"] << "; effect noise floor "
                    << p["test_effect_noise_floor"] << "\n";
      }
      std::cout << "  " << (args.output / "design.json").string() << "\n";
    });
    return 0;
  });
}

}  // namespace perturbfit::cli

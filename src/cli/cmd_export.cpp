// `perturbfit export DECK --model OUT/fit.h5`: the fitted model as a structural causal model
// (analysis/export_run.hpp).
#include <iomanip>
#include <iostream>

#include "perturbfit/analysis/export_run.hpp"
#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/fitted_model.hpp"

namespace perturbfit::cli {

void add_export(CLI::App& app, ExportArgs& args) {
  auto* cmd = app.add_subcommand(
      "export",
      "export the fitted model as a structural causal model at its control state: OUTDIR/edges.tsv, "
      "OUTDIR/network.graphml, OUTDIR/total_effects.tsv ((I - B)^-1 for chosen genes), OUTDIR/summary.json "
      "(spectral radius of B)");
  add_model_options(cmd, args.model);
  cmd->add_option("--genes", args.genes, "sources of the total effects (comma-separated); default: --top largest "
                                         "out-strengths")
      ->delimiter(',');
  cmd->add_option("--top", args.top, "without --genes: this many sources by out-strength")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--min-effect", args.min_effect, "total_effects.tsv lists |total effect| at or above this")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--arnoldi-steps", args.arnoldi_steps,
                  "Arnoldi steps of the spectral-radius estimate (exact when >= the number of nodes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--medium", args.media, "export these media's contexts only; default: every one")->delimiter(',');
  args.command = cmd;
}

int run_export(const CommandContext& ctx, const ExportArgs& args) {
  Provenance provenance("export", ctx.argv, ctx.comm.size());
  FittedModel model(ctx, args.model, "export", provenance);
  analysis::ExportRequest request;
  request.genes = args.genes, request.top_sources = args.top, request.min_total_effect = args.min_effect;
  request.arnoldi_steps = args.arnoldi_steps, request.media = args.media, request.output = args.model.output;
  return run_recorded(ctx.comm, provenance, args.model.output, [&]() -> int {
    const auto summary = analysis::run_export(ctx.comm, model.problem(), request, ctx.reporter);
    report_summary(ctx, provenance, args.model.output, summary, [&] {
      for (const auto& c : summary["contexts"])
        std::cout << "export: medium " << c["medium"].get<std::string>() << ": " << c["edges"] << " edges, "
                  << "spectral radius of B " << std::setprecision(4) << c["spectral_radius"].get<double>()
                  << (c["spectral_radius"].get<double>() >= 1 ? " (>= 1: the sum over paths diverges)"
                      : c["near_unit_radius"].get<bool>()     ? " (near 1: total effects are amplified)"
                                                              : "")
                  << ", total effects of " << c["total_effect_sources"].size() << " genes\n";
      std::cout << "  " << (args.model.output / "edges.tsv").string() << "\n  "
                << (args.model.output / "network.graphml").string() << "\n  "
                << (args.model.output / "total_effects.tsv").string() << "\n";
    });
    return 0;
  });
}

}  // namespace perturbfit::cli

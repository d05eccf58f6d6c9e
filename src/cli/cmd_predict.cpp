// `perturbfit predict DECK --model OUT/fit.h5 (--perturbations A,B+C | --all-pairs A,B,C | --groups test)`:
// what the fitted model predicts (analysis/predict_run.hpp).
#include <fstream>
#include <iomanip>
#include <iostream>

#include "perturbfit/analysis/predict_run.hpp"
#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/fitted_model.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/text.hpp"

namespace perturbfit::cli {

namespace {
// A comma-separated list, or @FILE with one entry per line (blank lines and # comments skipped).
std::vector<std::string> list_argument(const std::string& value, const std::string& option) {
  std::vector<std::string> out;
  if (!value.empty() && value[0] == '@') {
    std::ifstream in(value.substr(1));
    if (!in) throw UsageError(option + ": cannot read the file '" + value.substr(1) + "'");
    for (std::string line; std::getline(in, line);) {
      line = trim(line);
      if (!line.empty() && line[0] != '#') out.push_back(line);
    }
  } else {
    for (const auto& item : split_trimmed(value, ","))
      if (!item.empty()) out.push_back(item);
  }
  if (out.empty()) throw UsageError(option + " lists nothing");
  return out;
}
}  // namespace

void add_predict(CLI::App& app, PredictArgs& args) {
  auto* cmd = app.add_subcommand(
      "predict",
      "predict perturbations with a fitted model: OUTDIR/predictions.h5ad (expression and effects per "
      "perturbation and context), OUTDIR/interactions.tsv (pairs ranked by deviation from additive), "
      "OUTDIR/summary.json");
  add_model_options(cmd, args.model);
  cmd->add_option("--perturbations", args.perturbations,
                  "perturbations to predict: A,B+C,... (targets joined by '+') or @FILE (one per line)");
  cmd->add_option("--all-pairs", args.all_pairs,
                  "genes G1,G2,... or @FILE: every single and every pair of them, pairs with the interaction view");
  cmd->add_option("--groups", args.groups,
                  "the screen's own groups (per batch) of a split: train, validation, test or all; their rows "
                  "are fit.h5's /groups rows");
  cmd->add_option("--medium", args.media, "predict in these media only (names in the screen); default: every one")
      ->delimiter(',');
  cmd->add_option("--protocol", args.protocol,
                  "predict under another protocol: 'medium=NAME[:v1,..]; perturb; equilibrate; ...' (cells start "
                  "at the screen's control state; effects against the same protocol without the perturbation)");
  cmd->add_option("--cells", args.cells,
                  "also OUTDIR/cells.h5ad: this many cells per row drawn through a measurement estimated from the "
                  "screen's control cells (library sizes, negative-binomial dispersions)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--starts", args.other_starts,
                  "other starts per row for the uniqueness test (the control state scaled by 0.3, 3, 0.1, 10)")
      ->capture_default_str()
      ->check(CLI::Range(0, 16));
  args.command = cmd;
}

int run_predict(const CommandContext& ctx, const PredictArgs& args) {
  Provenance provenance("predict", ctx.argv, ctx.comm.size());
  FittedModel model(ctx, args.model, "predict", provenance);
  analysis::PredictRequest request;
  if (!args.perturbations.empty()) request.perturbations = list_argument(args.perturbations, "--perturbations");
  if (!args.all_pairs.empty()) request.all_pairs = list_argument(args.all_pairs, "--all-pairs");
  request.groups = args.groups;
  request.media = args.media;
  request.protocol = args.protocol;
  request.cells_per_row = args.cells;
  request.other_starts = args.other_starts;
  request.output = args.model.output;
  return run_recorded(ctx.comm, provenance, args.model.output, [&]() -> int {
    const auto summary = analysis::run_predict(ctx.comm, model.problem(), request, ctx.reporter);
    report_summary(ctx, provenance, args.model.output, summary, [&] {
      std::cout << "predict: " << summary["rows"] << " rows, " << summary["failed"] << " failed, "
                << summary["unstable"] << " unstable, " << summary["non_unique"] << " with another attractor, "
                << summary["fallback"] << " by train_mean (nothing known of their targets)\n";
      if (summary.contains("top_interactions")) {
        std::cout << "  strongest interactions (RMS deviation from additive):\n";
        for (const auto& t : summary["top_interactions"])
          std::cout << "    " << std::left << std::setw(24) << t["pair"].get<std::string>() << std::setw(12)
                    << std::setprecision(4) << t["score"].get<double>() << t["interaction"].get<std::string>()
                    << "\n";
      }
      std::cout << "  " << (args.model.output / "predictions.h5ad").string() << "\n";
    });
    return 0;
  });
}

}  // namespace perturbfit::cli

// `perturbfit fit DECK -o OUT`: claims OUT, runs fit::run_fit (or the gradient check),
// records provenance.json and prints the report.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/cli/output_directory.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/fit/assumptions.hpp"
#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/run.hpp"

namespace perturbfit::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The command line that continues this fit: the same words, with --restart OUT (a path a
// shell reads back unchanged).
std::string resume_command(const std::vector<std::string>& argv, const fs::path& output) {
  auto quoted = [](const std::string& w) {
    if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@%") ==
                          std::string::npos)
      return w;
    std::string q = "'";
    for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string out;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--restart" || argv[i] == "--force") {
      if (argv[i] == "--restart") ++i;  // its value
      continue;
    }
    if (argv[i].rfind("--restart=", 0) == 0) continue;
    out += (out.empty() ? "" : " ") + quoted(argv[i]);
  }
  return out + " --restart " + quoted(output.string());
}

std::string fmt(const json& v) {
  if (v.is_null()) return "n/a";
  std::ostringstream os;
  os << std::setprecision(4) << v.get<double>();
  return os.str();
}

// The test split, then each kind of held-out perturbation present, then the held-out times
// (fit.heldout_times): model, baselines and the replicate ceiling side by side.
std::string metrics_table(const json& metrics) {
  std::ostringstream os;
  os << "held-out metrics (effects = contrast with same-batch controls, log scale; replicate = noise ceiling)\n";
  for (const auto& subset : fit::subset_names()) {
    const bool shown = subset.rfind("test", 0) == 0 || subset == "later times";
    if (!shown || !metrics.contains("model") || !metrics["model"].contains(subset)) continue;
    os << "  " << subset << "\n    " << std::left << std::setw(14) << "predictor" << std::setw(8) << "groups"
       << std::setw(12) << "MSE expr" << std::setw(12) << "MSE effect" << std::setw(12) << "Pearson"
       << "Pearson top-20\n";
    for (const auto& name : fit::predictor_names()) {
      if (!metrics.contains(name) || !metrics[name].contains(subset)) continue;
      const auto& m = metrics[name][subset];
      os << "    " << std::left << std::setw(14) << name << std::setw(8) << m["groups"].get<long>() << std::setw(12)
         << fmt(m["mse_expression"]) << std::setw(12) << fmt(m["mse_effect"]) << std::setw(12)
         << fmt(m["pearson_effect"]) << fmt(m["pearson_effect_top20"]);
      if (m.contains("noise_floor_mse_effect"))
        os << "   (noise floor of MSE effect " << fmt(m["noise_floor_mse_effect"]) << ")";
      if (m.contains("fallback_groups"))
        os << "   (" << m["fallback_groups"].get<long>() << " by train_mean: nothing is known of their targets)";
      os << "\n";
    }
  }
  return os.str();
}

std::string truth_recovery_lines(const json& t) {
  std::ostringstream os;
  os << "truth recovery: AUPRC(W) " << fmt(t["auprc_W"]) << " (random " << fmt(t["auprc_W_random"])
     << "), relative error W " << fmt(t["relative_error_W"]) << "\n";
  if (!t["latent_out_edges"].is_null()) {
    const auto& l = t["latent_out_edges"];
    os << "  edges from latent nodes to measured genes: AUPRC " << fmt(l["auprc"]) << " (random "
       << fmt(l["auprc_random"]) << "), " << l["true_edges_in_support"] << " of " << l["true_edges"]
       << " true edges in the support\n";
  }
  return os.str();
}

}  // namespace

int run_fit(const CommandContext& ctx, FitArgs args) {
  const auto& comm = ctx.comm;
  Provenance provenance("fit", ctx.argv, comm.size());
  const config::Deck deck = config::Deck::load(args.deck, deck_schema(), args.overrides);
  provenance.set_deck(deck.values(), args.deck);
  const fit::FitRequest request{deck, fit::fit_options(deck), data::data_options(deck, args.data, args.layer),
                                args.output, args.restart};
  const auto& options = request.options;
  claim_output_directory(
      comm, args.output, "fit", args.force,
      {args.deck, request.data.path, options.truth, options.support == "edgelist" ? options.edge_list : fs::path()});
  return run_recorded(comm, provenance, args.output, [&]() -> int {
    if (args.check_gradient) {
      const auto check = fit::run_gradient_check(comm, request, ctx.reporter);
      if (comm.is_root()) {
        if (ctx.json)
          std::cout << json_text(check.result) << std::endl;
        else
          std::cout << "gradient check: max relative error " << check.result["max_relative_error"].get<double>()
                    << " over " << check.result["directions"].size() << " directions (" << (check.pass ? "PASS" : "FAIL")
                    << ", threshold " << fit::kGradientCheckThreshold << ")\n";
      }
      return check.pass ? 0 : static_cast<int>(ExitCode::kNumerical);
    }
    const parallel::StopSignal stop;
    const auto report = fit::run_fit(comm, request, stop, ctx.reporter);
    if (report.interrupted) {
      provenance.set("summary", json{{"command", "fit"},
                                     {"status", "interrupted"},
                                     {"iteration", report.iteration},
                                     {"checkpoint", report.checkpoint.string()}});
      if (comm.is_root()) {
        provenance.write(args.output, "interrupted");
        std::cout << "interrupted by signal " << report.signal_number << " at iteration " << report.iteration
                  << "; checkpoint " << report.checkpoint.string()
                  << "\n  continue with: " << resume_command(ctx.argv, args.output) << "\n";
      }
      return 0;
    }
    const json& summary = report.summary;
    provenance.set("summary", summary);
    if (comm.is_root()) {
      provenance.write(args.output, "ok");
      if (ctx.json) {
        std::cout << json_text(summary) << std::endl;
      } else {
        std::cout << "fit: " << summary["iterations"].get<int>() << " iterations ("
                  << summary["stop_reason"].get<std::string>() << "), final loss " << std::setprecision(8)
                  << summary["final_loss"]["total"].get<double>() << ", kappa " << std::setprecision(4)
                  << summary["kappa"].get<double>() << ", " << summary["wall_seconds"].get<double>() << " s\n"
                  << metrics_table(summary["metrics"]);
        if (summary.contains("truth_recovery")) std::cout << truth_recovery_lines(summary["truth_recovery"]);
        std::cout << fit::assumption_table(summary["assumptions"]);
        std::cout << "  " << (args.output / "fit.h5").string() << "\n  " << (args.output / "metrics.json").string()
                  << "\n";
      }
    }
    return 0;
  });
}

}  // namespace perturbfit::cli

// `perturbfit fit DECK -o OUT`: read the screen, build the model, minimise the loss of
// MODEL.md section 8, evaluate on held-out perturbations against baselines, write fit.h5,
// metrics.json, checkpoint.h5 and provenance.json.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/output_directory.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/fit/checkpoint.hpp"
#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/fit_output.hpp"
#include "perturbfit/fit/gradient_check.hpp"
#include "perturbfit/fit/media_inputs.hpp"
#include "perturbfit/fit/optimizer.hpp"
#include "perturbfit/fit/truth_recovery.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/model/edge_list.hpp"
#include "perturbfit/parallel/stop_signal.hpp"

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

// The test split, then each kind of held-out perturbation present: model, baselines and
// the replicate ceiling side by side.
std::string metrics_table(const json& metrics) {
  std::ostringstream os;
  os << "held-out metrics (effects = contrast with same-batch controls, log scale; replicate = noise ceiling)\n";
  for (const auto& subset : fit::subset_names()) {
    if (subset.rfind("test", 0) != 0 || !metrics.contains("model") || !metrics["model"].contains(subset)) continue;
    os << "  " << subset << "\n    " << std::left << std::setw(14) << "predictor" << std::setw(8) << "groups"
       << std::setw(12) << "MSE expr" << std::setw(12) << "MSE effect" << std::setw(12) << "Pearson" << "Pearson top-20\n";
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

}  // namespace

int run_fit(const CommandContext& ctx, FitArgs args) {
  const auto& comm = ctx.comm;
  Provenance provenance("fit", ctx.argv, comm.size());
  const config::Deck deck = config::Deck::load(args.deck, args.overrides);
  provenance.set_deck(deck.values(), args.deck);
  auto options = fit::fit_options(deck);
  // Central differences of step h see the solver's stopping point through atol / h: the
  // check solves tighter than a fit needs (at 1e-10, 6e-5 relative error on fit_small).
  if (args.check_gradient) options.steady.atol = std::min(options.steady.atol, 1e-13);
  const auto data_opt = data::data_options(deck, args.data, args.layer);
  const bool prior = options.support == "edgelist";
  claim_output_directory(comm, args.output, "fit", args.force,
                         {args.deck, data_opt.path, options.truth, prior ? options.edge_list : fs::path()});
  const fs::path checkpoint_path = args.output / "checkpoint.h5";
  return run_recorded(comm, provenance, args.output, [&]() -> int {
    // Every file the fit reads is checked before any work. (--check-gradient never reads
    // the truth: a deck's stale fit.truth must not stop it.)
    comm.run_on_root([&] {
      if (!options.truth.empty() && !args.check_gradient) fit::check_truth_file(options.truth);
      if (prior) (void)model::read_edge_list(options.edge_list, "fit.edge_list", false);
    });
    ctx.reporter.info("fit: deck " + args.deck + ", screen " + data_opt.path + ", " + std::to_string(comm.size()) +
                      " rank(s), output " + args.output.string());
    const data::ScreenData screen(comm, data_opt, ctx.reporter);
    const fit::CheckpointIdentity identity{screen.genes(), fit::to_string(options.optimizer),
                                           fit::deck_fingerprint(deck), screen.content_digest()};
    fit::FitProblem problem(comm, screen, options, fit::media_inputs(deck, screen.media()), ctx.reporter);
    auto read_checkpoint = [&] {
      auto s = fit::read_checkpoint(args.restart / "checkpoint.h5", identity);
      if (s.theta.size() != problem.size())
        throw UsageError("the checkpoint in " + args.restart.string() + " has " + std::to_string(s.theta.size()) +
                         " parameters, this deck and screen " + std::to_string(problem.size()));
      return s;
    };
    std::array<std::int64_t, 3> split_counts{0, 0, 0};
    for (std::size_t p = 0; p < screen.perturbations().size(); ++p)
      if (!screen.perturbations()[p].control && !screen.perturbations()[p].excluded)
        ++split_counts[static_cast<std::size_t>(problem.splits()[p])];
    ctx.reporter.info("perturbations: " + std::to_string(split_counts[0]) + " train, " + std::to_string(split_counts[1]) +
                      " validation, " + std::to_string(split_counts[2]) + " test; " + std::to_string(problem.size()) +
                      " parameters; lambda_ss = " + std::to_string(options.lambda_ss));

    if (args.check_gradient) {
      std::vector<double> at;
      if (!args.restart.empty()) at = read_checkpoint().theta;
      const auto result = fit::check_gradient(problem, options.gradient_directions, 1e-5, ctx.reporter,
                                              at.empty() ? nullptr : &at);
      const bool pass = result["max_relative_error"].get<double>() < 1e-5;
      if (comm.is_root()) {
        io::write_file_atomically(args.output / "gradient_check.json", json_text(result) + "\n");
        if (ctx.json) std::cout << json_text(result) << std::endl;
        else
          std::cout << "gradient check: max relative error " << result["max_relative_error"].get<double>() << " over "
                    << options.gradient_directions << " directions (" << (pass ? "PASS" : "FAIL") << ", threshold 1e-5)\n";
      }
      return pass ? 0 : static_cast<int>(ExitCode::kNumerical);
    }

    fit::OptimizerState state;
    if (!args.restart.empty()) {
      state = read_checkpoint();
      ctx.reporter.info("restarting from " + (args.restart / "checkpoint.h5").string() + " at iteration " +
                        std::to_string(state.iteration));
    }
    const parallel::StopSignal stop;
    auto write_checkpoint = [&](const fit::OptimizerState& s) {
      comm.run_on_root([&] { fit::write_checkpoint(checkpoint_path, s, identity); });
    };
    const auto result = fit::optimize(problem, state, comm, stop, write_checkpoint, ctx.reporter);
    write_checkpoint(state);
    if (result.interrupted) {
      provenance.set("summary", json{{"command", "fit"}, {"status", "interrupted"}, {"iteration", state.iteration},
                                     {"checkpoint", checkpoint_path.string()}});
      if (comm.is_root()) {
        provenance.write(args.output, "interrupted");
        std::cout << "interrupted by signal " << stop.signal_number() << " at iteration " << state.iteration
                  << "; checkpoint " << checkpoint_path.string() << "\n  continue with: "
                  << resume_command(ctx.argv, args.output) << "\n";
      }
      return 0;
    }

    // Early stopping: the iterate it selected, where there was a validation set.
    const auto& es = state.early;
    const bool early = es.active() && es.selected_theta.size() == state.theta.size();
    const int selected = early ? es.selected_iteration : state.iteration;
    if (early && selected < state.iteration)
      ctx.reporter.info("early stopping: the fitted model is iteration " + std::to_string(selected) + " of " +
                        std::to_string(state.iteration) + " (validation loss lowest at iteration " +
                        std::to_string(es.best_iteration) + "; later iterates within its standard error are preferred)");
    const auto& fitted = early ? es.selected_theta : state.theta;
    const auto final_loss = problem.evaluate(fitted, nullptr);
    if (!std::isfinite(final_loss.total) || !std::all_of(fitted.begin(), fitted.end(), [](double x) { return std::isfinite(x); }))
      throw NumericalError("the fitted model's loss or parameters are not finite (loss " + std::to_string(final_loss.total) +
                           "); nothing is written but the last checkpoint. Check the screen or lower fit.learning_rate");
    const auto failed = problem.solve_all(true);
    std::int64_t unstable = 0;
    for (const auto& c : problem.conditions())
      if (c.solved && !c.stable && !c.generic && (!c.control || comm.is_root())) ++unstable;
    unstable = comm.sum(unstable);
    if (failed > 0) ctx.reporter.warn(std::to_string(failed) + " steady states of the fitted model failed; their groups are left out of the metrics");
    if (unstable > 0) ctx.reporter.warn(std::to_string(unstable) + " steady states of the fitted model are unstable (see fit.h5 steady_states)");
    std::vector<fit::GroupPrediction> rows;
    json metrics = fit::evaluate_predictions(problem, comm, rows);
    json report{{"final_loss", {{"total", final_loss.total}, {"data", final_loss.data}, {"steady_state", final_loss.steady_state},
                                {"l1", final_loss.l1}, {"l2", final_loss.l2}}},
                {"optimizer", identity.optimizer},
                {"stop_reason", result.reason},
                {"iterations", state.iteration},
                {"selected_iteration", selected},
                {"best_validation_iteration", early ? json(es.best_iteration) : json(nullptr)},
                {"best_validation_loss", early ? json(es.best) : json(nullptr)},
                {"kappa", problem.kappa()},
                {"lambda_ss", options.lambda_ss},
                {"perturbations", {{"train", split_counts[0]}, {"validation", split_counts[1]}, {"test", split_counts[2]}}},
                {"parameters", problem.size()},
                {"edges_in_support", problem.parameters().W.nnz()},
                {"failed_steady_states", failed},
                {"unstable_steady_states", unstable},
                {"metrics", metrics}};
    if (!options.truth.empty()) {
      json truth;
      comm.run_on_root([&] { truth = fit::truth_recovery(problem, options.truth); });
      report["truth_recovery"] = truth;
    }
    io::OutputSet staged;  // fit.h5 and metrics.json are published together, or neither
    fit::write_fit(comm, args.output / "fit.h5", problem, state, rows, json_text(metrics, -1), &staged);
    report["wall_seconds"] = provenance.elapsed_seconds();
    provenance.set("summary", report);
    comm.run_on_root([&] {
      io::write_file_atomically(args.output / "metrics.json", json_text(report) + "\n", &staged);
      staged.commit();
    });
    if (comm.is_root()) {
      provenance.write(args.output, "ok");
      if (ctx.json) {
        std::cout << json_text(report) << std::endl;
      } else {
        std::cout << "fit: " << state.iteration << " iterations (" << result.reason << "), final loss "
                  << std::setprecision(8) << final_loss.total << ", kappa " << std::setprecision(4) << problem.kappa()
                  << ", " << report["wall_seconds"].get<double>() << " s\n"
                  << metrics_table(metrics);
        if (report.contains("truth_recovery"))
          std::cout << "truth recovery: AUPRC(W) " << fmt(report["truth_recovery"]["auprc_W"]) << " (random "
                    << fmt(report["truth_recovery"]["auprc_W_random"]) << "), relative error W "
                    << fmt(report["truth_recovery"]["relative_error_W"]) << "\n";
        if (report.contains("truth_recovery") && !report["truth_recovery"]["latent_out_edges"].is_null()) {
          const auto& l = report["truth_recovery"]["latent_out_edges"];
          std::cout << "  edges from latent nodes to measured genes: AUPRC " << fmt(l["auprc"]) << " (random "
                    << fmt(l["auprc_random"]) << "), " << l["true_edges_in_support"] << " of " << l["true_edges"]
                    << " true edges in the support\n";
        }
        std::cout << "  " << (args.output / "fit.h5").string() << "\n  " << (args.output / "metrics.json").string() << "\n";
      }
    }
    return 0;
  });
}

}  // namespace perturbfit::cli

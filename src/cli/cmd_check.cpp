// `perturbfit check DECK --model OUT/fit.h5`: the assumption report (fit/assumptions.hpp),
// with the unique-attractor test's multistart (analysis/attractors.hpp).
#include <iostream>

#include "perturbfit/analysis/attractors.hpp"
#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/fitted_model.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/fit/assumptions.hpp"
#include "perturbfit/io/atomic_file.hpp"

namespace perturbfit::cli {

void add_check(CLI::App& app, CheckArgs& args) {
  auto* cmd = app.add_subcommand(
      "check",
      "test the hidden assumptions (controls at a steady state, a unique attractor per perturbation, instant "
      "perturbations, exchangeable batches, controls ignoring the medium) on a screen and its fitted model: "
      "OUTDIR/assumptions.json; exit 0 whatever the verdicts (--strict: exit 4 if one fails)");
  add_model_options(cmd, args.model);
  cmd->add_option("--starts", args.other_starts, "other starts per perturbation for the unique-attractor test")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  cmd->add_flag("--strict", args.strict, "exit 4 when an assumption fails");
  args.command = cmd;
}

int run_check(const CommandContext& ctx, const CheckArgs& args) {
  Provenance provenance("check", ctx.argv, ctx.comm.size());
  FittedModel model(ctx, args.model, "check", provenance);
  return run_recorded(ctx.comm, provenance, args.model.output, [&]() -> int {
    const auto attractors =
        analysis::unique_attractor_check(ctx.comm, model.problem(), args.other_starts, ctx.reporter);
    const auto checks = fit::assumption_checks(model.problem(), ctx.comm, attractors);
    int failed = 0;
    for (const auto& c : checks) failed += c["verdict"] == "fail" ? 1 : 0;
    const nlohmann::json report{{"command", "check"}, {"failed", failed}, {"assumptions", checks}};
    ctx.comm.run_on_root(
        [&] { io::write_file_atomically(args.model.output / "assumptions.json", json_text(report) + "\n"); });
    report_summary(ctx, provenance, args.model.output, report, [&] {
      std::cout << fit::assumption_table(checks) << "  " << (args.model.output / "assumptions.json").string() << "\n";
    });
    return args.strict && failed > 0 ? static_cast<int>(ExitCode::kNumerical) : 0;
  });
}

}  // namespace perturbfit::cli

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "perturbfit/cli/arguments.hpp"
#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/runtime.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/io/hdf5.hpp"

namespace perturbfit::cli {

namespace {
constexpr const char* kDescription =
    "perturbfit: simulate and fit semi-mechanistic gene-regulatory models of pooled CRISPR screens.\n"
    "Usage: perturbfit <command> [DECK.toml] [--set section.key=value ...] [-o OUTDIR] [PETSc options]\n"
    "PETSc options (e.g. -snes_monitor, -ksp_type gmres, -pc_type lu) tune the solvers.\n"
    "Exit codes: 0 success, 2 usage or deck error, 3 input-data error, 4 numerical failure, 5 I/O error.";

constexpr const char* kForceHelp =
    "write into an output directory that holds another command's results, removing those results first "
    "(never a file this run reads)";

void add_common(CLI::App* cmd, bool& json, bool& quiet) {
  cmd->add_flag("--json", json, "print a machine-readable JSON summary on stdout (human text goes to stderr)");
  cmd->add_flag("-q,--quiet", quiet, "no progress output (warnings and errors are still printed)");
}

void print_error(const parallel::Comm& comm, const std::string& message) {
  if (comm.is_root()) std::cerr << "perturbfit: error: " << message << std::endl;
}
}  // namespace

namespace {
int run_command_line(const SplitArguments& args, int argc, char** argv, const parallel::Comm& comm) {
  CLI::App app(kDescription, "perturbfit");
  app.require_subcommand(1);
  bool json = false, quiet = false;
  auto* version = app.add_subcommand("version", "print the version, git revision and library versions");
  add_common(version, json, quiet);
  auto* reference =
      app.add_subcommand("reference", "print the input-deck reference (Markdown; docs/deck.md is made from it)");
  SimulateArgs sim;
  auto* simulate = app.add_subcommand(
      "simulate", "simulate a screen from a deck: OUTDIR/screen.h5ad, OUTDIR/truth.h5, OUTDIR/provenance.json");
  simulate->add_option("deck", sim.deck, "input deck (TOML); see `perturbfit reference`")->required();
  simulate->add_option("--set", sim.overrides, "override a deck key: section.key=value or protocol.N.key=value")
      ->allow_extra_args(false);
  simulate->add_option("-o,--output", sim.output, "output directory (created if missing)")->capture_default_str();
  simulate->add_flag("--force", sim.force, kForceHelp);
  add_common(simulate, json, quiet);
  InspectArgs ins;
  auto* inspect = app.add_subcommand("inspect",
                                     "read, validate and summarise a screen (.h5ad): sizes, perturbations, "
                                     "controls per batch, groups, targets not in var, design warnings");
  inspect->add_option("file", ins.file, "the screen (.h5ad)")->required();
  inspect->add_option("--deck", ins.deck, "a deck whose [data] section names the obs columns and options");
  inspect->add_option("--set", ins.overrides, "override a deck key, e.g. data.batch_key=lane");
  inspect->add_option("--layer", ins.layer, "read counts from layers/<name> (\"raw\" for raw/X)");
  inspect->add_flag("--strict", ins.strict,
                    "fail (exit 3) on design problems, as fit will: batches without controls, "
                    "targets not in var, empty groups");
  inspect->add_option("--stats-out", ins.stats_out, "write the pseudo-bulk statistics per group to this HDF5 file");
  add_common(inspect, json, quiet);

  FitArgs fit;
  auto* fitcmd =
      app.add_subcommand("fit",
                         "fit the deck's model to a screen: OUTDIR/fit.h5, OUTDIR/metrics.json, OUTDIR/checkpoint.h5, "
                         "OUTDIR/provenance.json; SIGTERM or SIGUSR1 checkpoint and exit 0");
  fitcmd->add_option("deck", fit.deck, "input deck (TOML); [fit] and [data] sections, see `perturbfit reference`")
      ->required();
  fitcmd->add_option("--data", fit.data, "the screen (.h5ad); default: the deck's data.path");
  fitcmd->add_option("--layer", fit.layer, "read counts from layers/<name> (\"raw\" for raw/X)");
  fitcmd->add_option("--set", fit.overrides, "override a deck key: section.key=value")->allow_extra_args(false);
  fitcmd->add_option("-o,--output", fit.output, "output directory (created if missing)")->capture_default_str();
  fitcmd->add_flag("--force", fit.force, kForceHelp);
  fitcmd->add_option("--restart", fit.restart,
                     "continue the fit whose output directory this is, from its checkpoint.h5");
  fitcmd->add_flag("--check-gradient", fit.check_gradient,
                   "compare the adjoint gradient with central finite differences on random directions and exit");
  add_common(fitcmd, json, quiet);

  PredictArgs pred;
  add_predict(app, pred);
  add_common(pred.command, json, quiet);
  ExportArgs exp;
  add_export(app, exp);
  add_common(exp.command, json, quiet);
  CheckArgs chk;
  add_check(app, chk);
  add_common(chk.command, json, quiet);
  DesignArgs des;
  add_design(app, des);
  add_common(des.command, json, quiet);
  SweepArgs swp;
  add_sweep(app, swp);
  add_common(swp.command, json, quiet);
  CollectArgs col;
  add_collect(app, col);
  add_common(col.command, json, quiet);

  std::vector<std::string> own = args.own;
  if (own.size() > 1 && !own[1].empty() && own[1][0] != '-') {  // CLI11 would only say "a subcommand is required"
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), own[1]) == names.end()) {
      print_error(comm, "unknown command '" + own[1] + "'; did you mean '" + config::nearest(own[1], names) +
                            "'? (run 'perturbfit --help')");
      return static_cast<int>(ExitCode::kUsage);
    }
  }
  std::reverse(own.begin(), own.end());
  own.pop_back();  // argv[0]
  try {
    app.parse(own);
  } catch (const CLI::CallForHelp&) {
    if (comm.is_root()) std::cout << app.help("", CLI::AppFormatMode::Normal);
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    if (comm.is_root()) std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    // A subcommand's --help is reported as CallForHelp by the subcommand's parse.
    if (e.get_exit_code() == 0) {
      if (comm.is_root()) {
        for (auto* sub : app.get_subcommands()) std::cout << sub->help();
        if (app.get_subcommands().empty()) std::cout << app.help();
      }
      return 0;
    }
    print_error(comm, std::string(e.what()) + " (run 'perturbfit --help' or 'perturbfit <command> --help')");
    return static_cast<int>(ExitCode::kUsage);
  }

  CommandContext ctx{comm, Reporter(comm.is_root(), quiet || json), json, std::vector<std::string>(argv, argv + argc)};
  try {
    check_petsc_option_files(args.petsc);
    const PetscRuntime petsc(args.petsc);
    if (*version) return run_version(ctx);
    if (*reference) return run_reference(ctx);
    if (*simulate) return run_simulate(ctx, sim);
    if (*inspect) return run_inspect(ctx, ins);
    if (*pred.command) return run_predict(ctx, pred);
    if (*exp.command) return run_export(ctx, exp);
    if (*chk.command) return run_check(ctx, chk);
    if (*des.command) return run_design(ctx, des);
    if (*swp.command) return run_sweep(ctx, swp);
    if (*col.command) return run_collect(ctx, col);
    if (*fitcmd) {
      if (!fit.restart.empty() && fitcmd->count("--output") == 0) fit.output = fit.restart;
      return run_fit(ctx, fit);
    }
  } catch (const Error& e) {
    print_error(comm, e.what());
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    print_error(comm,
                "out of memory: the deck or the screen asks for more memory than a rank could get; "
                "reduce the sizes (network.genes, cells, fit.knn, data.top_variable) or run on more nodes");
    return static_cast<int>(ExitCode::kUsage);
  } catch (const std::exception& e) {
    print_error(comm, std::string("internal error: ") + e.what() + " (please report this)");
    return static_cast<int>(ExitCode::kInternal);
  }
  return static_cast<int>(ExitCode::kUsage);
}
}  // namespace

int main(int argc, char** argv) {
  const SplitArguments args = split_arguments(argc, argv);
  // A write past the file-size limit (ulimit -f) then fails with EFBIG, which the output
  // layer reports (exit 5), instead of killing the process with SIGXFSZ mid-file.
  std::signal(SIGXFSZ, SIG_IGN);
  const MpiRuntime mpi(&argc, &argv);
  const int code = run_command_line(args, argc, argv, parallel::Comm(mpi.world()));
  if (io::hdf5_file_close_failed()) {  // HDF5 cannot shut down now (io/hdf5.hpp): end here
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);
  }
  return code;
}

}  // namespace perturbfit::cli

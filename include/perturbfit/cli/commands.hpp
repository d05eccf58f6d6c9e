// The subcommands of the perturbfit executable. Each returns the process exit code.
#pragma once
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::cli {

struct CommandContext {
  parallel::Comm comm;
  Reporter reporter;
  bool json = false;              // machine-readable summary on stdout
  std::vector<std::string> argv;  // the whole command line, for provenance
};

struct SimulateArgs {
  std::string deck;
  std::vector<std::string> overrides;
  std::filesystem::path output = "out";
  bool force = false;  // replace another command's results in the output directory
};

struct InspectArgs {
  std::string file;
  std::string deck;  // optional: column names and options from its [data] section
  std::vector<std::string> overrides;
  std::string layer;
  bool strict = false;    // validate as fit does: design problems are errors, not warnings
  std::string stats_out;  // write the pseudo-bulk statistics here (HDF5)
};

struct FitArgs {
  std::string deck;
  std::vector<std::string> overrides;
  std::filesystem::path output = "out/fit";
  std::string data, layer;        // the screen; default: the deck's data.path
  std::filesystem::path restart;  // continue from restart/checkpoint.h5 (output defaults to it)
  bool check_gradient = false;
  bool force = false;  // replace another command's results in the output directory
};

// The options of commands that open a fitted model (predict, export, check).
struct ModelArgs {
  std::string deck;
  std::vector<std::string> overrides;
  std::string data, layer;  // the fit's screen; default: the deck's data.path
  std::filesystem::path model;
  std::filesystem::path output;
  bool force = false;
};

inline ModelArgs with_output(std::filesystem::path output) {
  ModelArgs a;
  a.output = std::move(output);
  return a;
}

struct PredictArgs {
  ModelArgs model = with_output("out/predict");
  std::string perturbations, all_pairs, groups, protocol;
  std::vector<std::string> media;
  int other_starts = 2;
  int cells = 0;  // per row, into cells.h5ad
  CLI::App* command = nullptr;
};

struct ExportArgs {
  ModelArgs model = with_output("out/export");
  std::vector<std::string> genes, media;
  int top = 10;
  double min_effect = 1e-4;
  int arnoldi_steps = 100;
  CLI::App* command = nullptr;
};

struct CheckArgs {
  ModelArgs model = with_output("out/check");
  int other_starts = 4;
  bool strict = false;
  CLI::App* command = nullptr;
};

struct DesignArgs {
  std::string deck, from, layer, guide_key = "guide";
  std::vector<std::string> overrides;
  double sigma2 = 0, tau2 = 0;
  bool simulate = false;
  std::vector<double> grid_cells, grid_controls;
  std::vector<int> grid_batches;
  int seeds = 1;
  std::filesystem::path output = "out/design";
  bool force = false;
  CLI::App* command = nullptr;
};

// `sweep`: a sweep file's grid, point by point (config/sweep.hpp).
struct SweepArgs {
  std::string file;
  std::filesystem::path output = "out/sweep";
  long point = -1;  // only this point (a job-array task); -1: every point
  bool count = false, list = false;
  CLI::App* command = nullptr;
};

// `collect`: a sweep's points into one CSV and Markdown table.
struct CollectArgs {
  std::filesystem::path dir;
  std::vector<std::string> columns;  // extra NAME=/json/pointer columns
  CLI::App* command = nullptr;
};

int run_version(const CommandContext& ctx);
int run_inspect(const CommandContext& ctx, const InspectArgs& args);
int run_reference(const CommandContext& ctx);
int run_simulate(const CommandContext& ctx, const SimulateArgs& args);
int run_fit(const CommandContext& ctx, FitArgs args);
void add_predict(CLI::App& app, PredictArgs& args);
int run_predict(const CommandContext& ctx, const PredictArgs& args);
void add_export(CLI::App& app, ExportArgs& args);
int run_export(const CommandContext& ctx, const ExportArgs& args);
void add_check(CLI::App& app, CheckArgs& args);
int run_check(const CommandContext& ctx, const CheckArgs& args);
void add_design(CLI::App& app, DesignArgs& args);
int run_design(const CommandContext& ctx, const DesignArgs& args);
void add_sweep(CLI::App& app, SweepArgs& args);
int run_sweep(const CommandContext& ctx, const SweepArgs& args);
void add_collect(CLI::App& app, CollectArgs& args);
int run_collect(const CommandContext& ctx, const CollectArgs& args);

// Entry point of the executable.
int main(int argc, char** argv);

}  // namespace perturbfit::cli

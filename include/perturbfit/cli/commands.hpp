// The subcommands of the perturbfit executable. Each returns the process exit code.
#pragma once
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

int run_version(const CommandContext& ctx);
int run_inspect(const CommandContext& ctx, const InspectArgs& args);
int run_reference(const CommandContext& ctx);
int run_simulate(const CommandContext& ctx, const SimulateArgs& args);
int run_fit(const CommandContext& ctx, FitArgs args);

// Entry point of the executable.
int main(int argc, char** argv);

}  // namespace perturbfit::cli

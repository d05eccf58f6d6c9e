// Splits the command line into perturbfit's own arguments and PETSc options.
// PETSc options are single-dash words longer than one letter (-snes_monitor,
// -ksp_type gmres); the next word is their value unless it starts with '-' (and is not a
// negative number) or names an input file (.toml, .h5ad, .h5).
#pragma once
#include <string>
#include <vector>

namespace perturbfit::cli {

struct SplitArguments {
  std::vector<std::string> own;    // including argv[0]
  std::vector<std::string> petsc;  // including argv[0]
};

SplitArguments split_arguments(int argc, const char* const* argv);

}  // namespace perturbfit::cli

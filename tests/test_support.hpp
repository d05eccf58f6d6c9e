// Helpers shared by the tests: small models, decks and running the executable.
#pragma once
#include <string>

#include "perturbfit/model/parameters.hpp"

namespace perturbfit::test_support {

// A random model with every feature switched on (media, low-rank correction).
model::ModelParameters small_model(model::ModelKind kind, int genes = 12, int rank = 3, int media = 2,
                                   std::uint64_t seed = 3);

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs a shell command, capturing stdout and stderr.
CommandResult run_command(const std::string& command);

std::string read_text(const std::string& path);
std::string temp_dir(const std::string& name);  // fresh, empty

}  // namespace perturbfit::test_support

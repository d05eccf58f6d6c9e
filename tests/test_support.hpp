// Helpers shared by the tests: small models, decks and running the executable.
#pragma once
#include <string>
#include <vector>

#include "perturbfit/model/vector_field.hpp"

namespace perturbfit::test_support {

// A random model with every feature switched on (media, low-rank correction).
model::ModelParameters small_model(model::ModelKind kind, int genes = 12, int rank = 3, int media = 2,
                                   std::uint64_t seed = 3);

// The same model with a production response Q (G x K, entries 0.3 N(0, 1)): v exp(Q m).
model::ModelParameters with_production_response(model::ModelParameters p, std::uint64_t seed = 5);

// The steady state of `cond` from x = 1, solved by SNES to ||f|| < 1e-13 (no stability
// test), for finite-difference checks; `converged` reports whether it was found.
std::vector<double> tight_steady_state(const model::ModelParameters& p, const model::Condition& cond, bool& converged);

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs a shell command, capturing stdout and stderr.
CommandResult run_command(const std::string& command);

std::string read_text(const std::string& path);
std::string temp_dir(const std::string& name);  // fresh, empty

}  // namespace perturbfit::test_support

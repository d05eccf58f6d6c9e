#include "test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "perturbfit/core/random.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/solvers/steady_state.hpp"

namespace perturbfit::test_support {

std::vector<double> tight_steady_state(const model::ModelParameters& p, const model::Condition& cond, bool& converged) {
  const model::VectorField f(p);
  solvers::SteadyStateOptions o;
  o.atol = 1e-13;
  o.stability = solvers::StabilityMode::kSkip;
  solvers::SteadyStateSolver solver(f, o);
  std::vector<double> x(static_cast<std::size_t>(p.genes), 1.0);
  converged = solver.solve(cond, x).converged;
  return x;
}

model::ModelParameters small_model(model::ModelKind kind, int genes, int rank, int media, std::uint64_t seed) {
  model::GeneratorOptions o;
  o.kind = kind;
  o.genes = genes;
  o.neural_rank = kind == model::ModelKind::kMechanistic ? 0 : rank;
  o.neural_scale = 0.5;
  o.media = media;
  o.medium_gene_fraction = 0.5;
  o.mean_in_degree = 3.0;
  o.seed = seed;
  return model::generate_model(o);
}

model::ModelParameters with_production_response(model::ModelParameters p, std::uint64_t seed) {
  RandomStream rs(seed, StreamDomain::kStart, 991);
  p.Q.resize(p.U.size());
  for (auto& q : p.Q) q = 0.3 * rs.normal();
  return p;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string temp_dir(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("perturbfit-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

CommandResult run_command(const std::string& command) {
  const std::string dir = temp_dir("cmd");
  const std::string out = dir + "/out.txt", err = dir + "/err.txt";
  // Clear MPI's environment so the child starts as a singleton, not as part of our job.
  const std::string full = "env -u OMPI_COMM_WORLD_SIZE -u OMPI_COMM_WORLD_RANK -u PMIX_RANK -u PMIX_NAMESPACE " +
                           command + " >" + out + " 2>" + err;
  const int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace perturbfit::test_support

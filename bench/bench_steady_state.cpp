// Steady states of P single knockdowns of a G-gene network with nnz(W) edges, split over
// the ranks (issue 3's benchmark). Newton (PETSc SNES, the production path) is timed on
// every perturbation; the reference, CVODES integration to the attractor, on a sample.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <iostream>

#include "bench_common.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/cli/runtime.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/parallel/decomposition.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"
#include "perturbfit/solvers/steady_state.hpp"

using namespace perturbfit;
using bench::Clock;
using bench::since;

int main(int argc, char** argv) {
  int genes = 5000, perturbations = 5000, reference_sample = 20, batch = 32;
  long nnz = 100000;
  std::string out;
  CLI::App app("steady-state benchmark");
  app.add_option("--genes", genes);
  app.add_option("--nnz", nnz, "target number of edges in W");
  app.add_option("--perturbations", perturbations);
  app.add_option("--reference-sample", reference_sample, "perturbations per rank solved by the CVODES reference");
  app.add_option("--batch", batch, "columns per batch of the batched solver");
  app.add_option("--out", out, "JSON file (rank 0)");
  app.allow_extras();  // PETSc options
  CLI11_PARSE(app, argc, argv);
  cli::PetscRuntime runtime(std::vector<std::string>(argv, argv + argc));
  const parallel::Comm comm(MPI_COMM_WORLD);

  const auto params = bench::benchmark_model(genes, nnz, 1);
  const model::VectorField field(params);
  solvers::SteadyStateOptions opt;
  solvers::SteadyStateSolver solver(field, opt);
  const model::Condition control;
  std::vector<double> x0(static_cast<std::size_t>(genes), 1.0);
  if (!solver.solve(control, x0).converged) throw std::runtime_error("control steady state failed");

  // Time of one pass over W: a plain SpMV, and batched (16 vectors per pass).
  std::vector<double> y(x0.size()), xs(x0.size() * 16, 1.0), ys(x0.size() * 16);
  auto t = Clock::now();
  const int reps = 200;
  for (int r = 0; r < reps; ++r) params.W.multiply(x0.data(), y.data());
  const double spmv = since(t) / reps;
  t = Clock::now();
  for (int r = 0; r < reps / 4; ++r) params.W.multiply_many(xs.data(), ys.data(), 16);
  const double spmm16 = since(t) / (reps / 4);

  const auto mine = parallel::block_range(static_cast<std::size_t>(perturbations), comm.size(), comm.rank());
  const auto conds = bench::single_knockdowns(mine, genes);
  std::int64_t newton_its = 0, linear_its = 0, failed = 0, fallback = 0, certified = 0, unstable = 0;
  std::vector<std::vector<double>> solutions;
  comm.barrier();
  t = Clock::now();
  for (const auto& c : conds) {
    std::vector<double> x = x0;
    const auto r = solver.solve(c, x);
    newton_its += r.newton_iterations;
    linear_its += r.linear_iterations;
    failed += r.converged ? 0 : 1;
    fallback += r.method == solvers::SolveMethod::kCvodesNewton;
    certified += r.stability_method == solvers::StabilityMethod::kGershgorin;
    unstable += (r.converged && !r.stable) ? 1 : 0;
    if (solutions.size() < static_cast<std::size_t>(reference_sample)) solutions.push_back(x);
  }
  const double local_newton = since(t);
  comm.barrier();
  const double wall_newton = since(t);

  // The batched Newton-GMRES (one pass over W serves `batch` perturbations) on the same share.
  std::vector<const model::Condition*> cp;
  for (const auto& c : conds) cp.push_back(&c);
  std::vector<std::vector<double>> xb(conds.size(), x0);
  solvers::BatchedSteadyStateSolver batched(field, opt);
  comm.barrier();
  t = Clock::now();
  const auto breports = batched.solve(cp, xb, batch);
  std::int64_t b_failed = 0, b_newton = 0, b_krylov = 0;
  for (const auto& r : breports)
    b_failed += !r.converged, b_newton += r.newton_iterations, b_krylov += r.krylov_iterations;
  comm.barrier();
  const double wall_batched = since(t);
  double b_diff = 0;
  for (std::size_t k = 0; k < solutions.size(); ++k)
    b_diff = std::max(b_diff, bench::relative_difference(xb[k], solutions[k]));
  std::vector<std::int64_t> bsums{b_failed, b_newton, b_krylov, batched.passes_over_w()};
  comm.sum_in_place(bsums);
  b_diff = comm.max(b_diff);

  // Reference: integrate to t = 60 (60 decay times of the median gene) with CVODES.
  solvers::OdeIntegrator ode(field, opt.ode);
  double ref_time = 0, ref_err = 0;
  std::int64_t ref_n = 0;
  t = Clock::now();
  for (std::size_t k = 0; k < solutions.size(); ++k) {
    std::vector<double> x = x0;
    ode.integrate(conds[k], 0.0, 60.0, x);
    ref_err = std::max(ref_err, bench::relative_difference(solutions[k], x));
    ++ref_n;
  }
  ref_time = since(t);

  std::vector<std::int64_t> sums{newton_its, linear_its, failed, fallback, certified, unstable, ref_n};
  comm.sum_in_place(sums);
  const double ref_total = comm.sum(ref_time), ref_err_max = comm.max(ref_err);
  const double slowest = comm.max(local_newton);
  if (comm.is_root()) {
    const double per_solve = wall_newton * comm.size() / perturbations;
    nlohmann::json j{{"benchmark", "steady_state"},
                     {"command", std::vector<std::string>(argv, argv + argc)},
                     {"ranks", comm.size()},
                     {"genes", genes},
                     {"nnz_W", params.W.nnz()},
                     {"perturbations", perturbations},
                     {"wall_seconds", wall_newton},
                     {"slowest_rank_seconds", slowest},
                     {"seconds_per_solve_per_rank", per_solve},
                     {"newton_iterations_total", sums[0]},
                     {"newton_iterations_per_solve", static_cast<double>(sums[0]) / perturbations},
                     {"linear_iterations_per_solve", static_cast<double>(sums[1]) / perturbations},
                     {"failed", sums[2]},
                     {"cvodes_fallbacks", sums[3]},
                     {"stability_certified_by_gershgorin", sums[4]},
                     {"unstable", sums[5]},
                     {"seconds_per_pass_over_W", spmv},
                     {"seconds_per_pass_over_W_serving_16_vectors", spmm16},
                     {"passes_over_W_per_solve_equivalent", per_solve / spmv},
                     {"batched",
                      {{"method", "lockstep Newton-GMRES, Jacobi, one pass over W per product for the whole batch"},
                       {"batch", batch},
                       {"wall_seconds", wall_batched},
                       {"failed", bsums[0]},
                       {"newton_iterations_per_solve", static_cast<double>(bsums[1]) / perturbations},
                       {"krylov_iterations_per_solve", static_cast<double>(bsums[2]) / perturbations},
                       {"batched_passes_over_W", bsums[3]},
                       {"max_relative_difference_to_snes", b_diff},
                       {"speedup_over_snes", wall_newton / wall_batched}}},
                     {"reference",
                      {{"method", "CVODES BDF + GMRES integration to t = 60 from the control state"},
                       {"solves", sums[6]},
                       {"seconds_per_solve", sums[6] ? ref_total / static_cast<double>(sums[6]) : 0.0},
                       {"max_relative_difference_to_newton", ref_err_max},
                       {"speedup_of_newton", sums[6] ? (ref_total / static_cast<double>(sums[6])) / per_solve : 0.0}}},
                     {"libraries", cli::library_versions()},
                     {"date", cli::utc_now()}};
    std::cout << j.dump(2) << std::endl;
    if (!out.empty()) io::write_file_atomically(out, j.dump(2) + "\n");
  }
  return 0;
}

// Baseline for issue 5's benchmark W1: one evaluation of a pseudo-bulk loss
//   L = sum_p 1/2 ||x*(p) - y_p||^2
// and its gradient with respect to all parameters (W, U, c, v, beta, gamma) by the
// implicit function theorem, over P single knockdowns split across ranks; the gradient is
// reduced with MPI_Allreduce. Steady states by the batched Newton-GMRES (SNES fallback),
// adjoints by the batched GMRES on the transposed operator (one pass over W^T per Krylov
// iteration for a whole batch). Reference in the same run: the same evaluation with PETSc
// SNES for every steady state and one PETSc KSP solve per adjoint. Targets y_p are the steady states of a
// perturbed copy of the model, so the loss is a realistic mismatch, not zero.
// Also measured: a warm evaluation, as in a fit iteration (parameters moved slightly, steady
// states started from the previous ones). src/fit/problem.cpp composes the same blocks.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
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
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/solvers/batched_adjoint.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"

using namespace perturbfit;
using bench::Clock;
using bench::since;

namespace {
constexpr double kAdjointRtol = 1e-8;


struct Evaluation {
  double loss = 0, seconds = 0, steady_seconds = 0, adjoint_seconds = 0;
  std::int64_t adjoint_iterations = 0, fallbacks = 0, adjoint_fallbacks = 0;
  std::int64_t newton_iterations = 0, krylov_iterations = 0, passes = 0;  // batched steady states only
  std::vector<double> gradient;                                           // W values then U, c, v, beta, gamma
  std::vector<double> runs;                                               // wall seconds of every repetition
};

std::vector<double> flatten(const solvers::ParameterGradient& g) {
  std::vector<double> out;
  for (const auto* v : {&g.W, &g.U, &g.c, &g.v, &g.beta, &g.gamma}) out.insert(out.end(), v->begin(), v->end());
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  int genes = 5000, perturbations = 5000, batch = 16, repeat = 1;
  long nnz = 100000;
  std::string out;
  CLI::App app("loss + gradient benchmark (W1 baseline)");
  app.add_option("--genes", genes);
  app.add_option("--nnz", nnz);
  app.add_option("--perturbations", perturbations);
  app.add_option("--batch", batch);
  app.add_option("--repeat", repeat, "run each evaluation this many times, report the median")
      ->check(CLI::PositiveNumber);
  app.add_option("--out", out);
  bool with_reference = true;
  app.add_flag("!--no-reference", with_reference, "skip the PETSc SNES/KSP reference (profiling the batched paths)");
  app.allow_extras();
  CLI11_PARSE(app, argc, argv);
  cli::PetscRuntime runtime(std::vector<std::string>(argv, argv + argc));
  const parallel::Comm comm(MPI_COMM_WORLD);

  const auto params = bench::benchmark_model(genes, nnz, 1);
  const auto truth = bench::benchmark_model(genes, nnz, 2);  // "observed" data from a different network
  const model::VectorField field(params), truth_field(truth);
  solvers::SteadyStateOptions opt;
  opt.stability = solvers::StabilityMode::kSkip;  // a fit checks stability at the end, not every evaluation
  const auto mine = parallel::block_range(static_cast<std::size_t>(perturbations), comm.size(), comm.rank());
  const auto conds = bench::single_knockdowns(mine, genes);
  std::vector<const model::Condition*> cp;
  for (const auto& c : conds) cp.push_back(&c);

  auto control_state = [&](const model::VectorField& f) {
    solvers::SteadyStateSolver s(f, opt);
    std::vector<double> x(static_cast<std::size_t>(genes), 1.0);
    if (!s.solve(model::Condition{}, x).converged) throw std::runtime_error("control steady state failed");
    return x;
  };
  std::vector<std::vector<double>> targets(conds.size(), control_state(truth_field));
  solvers::BatchedSteadyStateSolver tb(truth_field, opt);
  tb.solve(cp, targets, batch);
  const auto x0 = control_state(field);

  // One evaluation of `field`'s loss and gradient, steady states started from xs (the
  // control state for a cold evaluation, the previous iterate's states for a warm one).
  auto evaluate = [&](const model::VectorField& fld, bool batched, std::vector<std::vector<double>>& xs) {
    const auto& prm = fld.params();
    Evaluation e;
    comm.barrier();
    const auto t0 = Clock::now();
    solvers::SteadyStateSolver snes(fld, opt);
    if (batched) {
      solvers::BatchedSteadyStateSolver b(fld, opt);
      const auto reports = b.solve(cp, xs, batch);
      for (const auto& r : reports)
        e.newton_iterations += r.newton_iterations, e.krylov_iterations += r.krylov_iterations;
      e.passes = b.passes_over_w();
      for (std::size_t k = 0; k < xs.size(); ++k)
        if (!reports[k].converged) {
          ++e.fallbacks;
          snes.solve(conds[k], xs[k]);
        }
    } else {
      for (std::size_t k = 0; k < xs.size(); ++k) snes.solve(conds[k], xs[k]);
    }
    e.steady_seconds = since(t0);
    const auto t1 = Clock::now();
    solvers::ParameterGradient grad(prm);
    double loss = 0;
    std::vector<std::vector<double>> residuals(xs.size());
    for (std::size_t k = 0; k < xs.size(); ++k) {
      auto& r = residuals[k];
      r.resize(xs[k].size());
      for (std::size_t i = 0; i < r.size(); ++i) r[i] = xs[k][i] - targets[k][i], loss += 0.5 * r[i] * r[i];
    }
    if (batched) {  // all adjoints in batches, then the parameter products
      solvers::BatchedSteadyStateAdjoint adjoint(fld, kAdjointRtol, batch);
      std::vector<const std::vector<double>*> xp, rp;
      for (std::size_t k = 0; k < xs.size(); ++k) xp.push_back(&xs[k]), rp.push_back(&residuals[k]);
      const auto report = adjoint.accumulate(cp, xp, rp, grad);
      e.adjoint_iterations += report.iterations;
      e.adjoint_fallbacks += report.fallbacks;
    } else {
      solvers::SteadyStateAdjoint adjoint(fld, kAdjointRtol);
      for (std::size_t k = 0; k < xs.size(); ++k)
        e.adjoint_iterations += adjoint.accumulate(conds[k], xs[k], residuals[k], grad);
    }
    e.adjoint_seconds = since(t1);
    e.gradient = flatten(grad);
    comm.sum_in_place(e.gradient);
    e.loss = comm.sum(loss);
    comm.barrier();
    e.seconds = since(t0);
    e.adjoint_iterations = comm.sum(e.adjoint_iterations);
    e.fallbacks = comm.sum(e.fallbacks);
    e.adjoint_fallbacks = comm.sum(e.adjoint_fallbacks);
    e.newton_iterations = comm.sum(e.newton_iterations);
    e.krylov_iterations = comm.sum(e.krylov_iterations);
    e.passes = static_cast<std::int64_t>(comm.max(static_cast<double>(e.passes)));
    e.steady_seconds = comm.max(e.steady_seconds);
    e.adjoint_seconds = comm.max(e.adjoint_seconds);
    return e;
  };
  // Each evaluation `repeat` times from the same starting states; the run with the median wall
  // time is reported, with every run's wall time (this VM's speed varies from run to run).
  auto measured = [&](const model::VectorField& fld, bool batched, std::vector<std::vector<double>>& xs) {
    const auto start = xs;
    std::vector<Evaluation> runs;
    for (int r = 0; r < repeat; ++r) {
      xs = start;
      runs.push_back(evaluate(fld, batched, xs));
    }
    std::vector<double> walls;
    for (const auto& e : runs) walls.push_back(e.seconds);
    std::sort(runs.begin(), runs.end(), [](const Evaluation& a, const Evaluation& b) { return a.seconds < b.seconds; });
    auto median = runs[runs.size() / 2];
    median.runs = walls;
    return median;
  };
  std::vector<std::vector<double>> xs_batched(conds.size(), x0), xs_snes(with_reference ? conds.size() : 0, x0);
  const Evaluation batched = measured(field, true, xs_batched);
  const Evaluation reference = with_reference ? measured(field, false, xs_snes) : Evaluation{};
  // The next iterate of an optimiser: W moved by 0.1% (relative, random), every steady state
  // warm-started from the previous evaluation's. This is what one fit iteration costs.
  auto moved = params;
  RandomStream rng(3, StreamDomain::kNetwork, 99);
  for (auto& w : moved.W.val) w *= 1.0 + 1e-3 * rng.normal();
  const model::VectorField moved_field(moved);
  const Evaluation warm_batched = measured(moved_field, true, xs_batched);
  const Evaluation warm_snes = with_reference ? measured(moved_field, false, xs_snes) : Evaluation{};
  const nlohmann::json gradient_difference =
      with_reference ? nlohmann::json(bench::relative_difference(batched.gradient, reference.gradient)) : nlohmann::json();
  if (comm.is_root()) {
    auto js = [&](const Evaluation& e) {
      return nlohmann::json{
          {"wall_seconds", e.seconds},
          {"wall_seconds_of_each_run", e.runs},
          {"steady_state_seconds", e.steady_seconds},
          {"adjoint_seconds", e.adjoint_seconds},
          {"adjoint_gmres_iterations_per_perturbation", static_cast<double>(e.adjoint_iterations) / perturbations},
          {"loss", e.loss},
          {"steady_state_fallbacks", e.fallbacks},
          {"adjoint_fallbacks", e.adjoint_fallbacks},
          {"newton_iterations_per_perturbation", static_cast<double>(e.newton_iterations) / perturbations},
          {"newton_krylov_iterations_per_perturbation", static_cast<double>(e.krylov_iterations) / perturbations},
          {"batched_passes_over_w_per_rank", e.passes}};
    };
    nlohmann::json j{{"benchmark", "loss_gradient_W1_baseline"},
                     {"ranks", comm.size()},
                     {"genes", genes},
                     {"nnz_W", params.W.nnz()},
                     {"perturbations", perturbations},
                     {"parameters", batched.gradient.size()},
                     {"batched", js(batched)},
                     {"reference_snes", js(reference)},
                     {"warm_batched", js(warm_batched)},
                     {"warm_reference_snes", js(warm_snes)},
                     {"relative_gradient_difference", gradient_difference},
                     {"target_seconds_at_2_ranks", 10.0},
                     {"libraries", cli::library_versions()},
                     {"date", cli::utc_now()}};
    std::cout << j.dump(2) << std::endl;
    if (!out.empty()) io::write_file_atomically(out, j.dump(2) + "\n");
  }
  return 0;
}

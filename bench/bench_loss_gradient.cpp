// Baseline for issue 5's benchmark W1: one evaluation of a pseudo-bulk loss
//   L = sum_p 1/2 ||x*(p) - y_p||^2
// and its gradient with respect to all parameters (W, U, c, v, beta, gamma) by the
// implicit function theorem, over P single knockdowns split across ranks; the gradient is
// reduced with MPI_Allreduce. Every batched product, residual or sweep is one pass over W
// (or W^T) for a whole batch. Targets y_p are the steady states of a
// perturbed copy of the model, so the loss is a realistic mismatch, not zero.
// Three paths: batched with relaxation first (the default, solver.relaxation_rate = 0.5:
// nonlinear Gauss-Seidel sweeps for the steady states, Gauss-Seidel sweeps for the adjoints,
// Newton-GMRES / GMRES for the columns they leave), batched Newton-GMRES and GMRES from the
// start (relaxation_rate = 0, the path before issue 15), and the PETSc reference.
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
  std::int64_t adjoint_iterations = 0, adjoint_relaxation_sweeps = 0, fallbacks = 0, adjoint_fallbacks = 0;
  std::int64_t relaxation_sweeps = 0;                                     // batched steady states only
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

  // dl/dx* per perturbation, allocated once outside the timed evaluations: first touches of fresh
  // pages cost this VM about 0.2 s per evaluation, the same for every path.
  std::vector<std::vector<double>> residuals(conds.size(), std::vector<double>(static_cast<std::size_t>(genes)));
  // One evaluation of `field`'s loss and gradient, steady states started from xs (the
  // control state for a cold evaluation, the previous iterate's states for a warm one).
  // relaxation_rate < 0: the PETSc reference; else the batched path with that solver.relaxation_rate.
  // tight: steady states to 1e-13 and adjoints to 1e-13 relative, for the exact gradient.
  auto evaluate = [&](const model::VectorField& fld, double relaxation_rate, std::vector<std::vector<double>>& xs,
                      bool tight = false) {
    const auto& prm = fld.params();
    const bool batched = relaxation_rate >= 0;
    auto bopt = opt;
    bopt.relaxation_rate = std::max(0.0, relaxation_rate);
    if (tight) bopt.atol = 1e-13;
    const double adjoint_rtol = tight ? 1e-13 : kAdjointRtol;
    Evaluation e;
    comm.barrier();
    const auto t0 = Clock::now();
    solvers::SteadyStateSolver snes(fld, opt);
    if (batched) {
      solvers::BatchedSteadyStateSolver b(fld, bopt);
      const auto reports = b.solve(cp, xs, batch);
      for (const auto& r : reports)
        e.relaxation_sweeps += r.relaxation_sweeps, e.newton_iterations += r.newton_iterations,
            e.krylov_iterations += r.krylov_iterations;
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
    for (std::size_t k = 0; k < xs.size(); ++k) {
      auto& r = residuals[k];
      for (std::size_t i = 0; i < r.size(); ++i) r[i] = xs[k][i] - targets[k][i], loss += 0.5 * r[i] * r[i];
    }
    if (batched) {  // all adjoints in batches, then the parameter products
      solvers::BatchedSteadyStateAdjoint adjoint(fld, adjoint_rtol, batch, bopt.relaxation_rate);
      std::vector<const std::vector<double>*> xp, rp;
      for (std::size_t k = 0; k < xs.size(); ++k) xp.push_back(&xs[k]), rp.push_back(&residuals[k]);
      const auto report = adjoint.accumulate(cp, xp, rp, grad);
      e.adjoint_iterations += report.iterations;
      e.adjoint_relaxation_sweeps += report.relaxation_sweeps;
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
    e.adjoint_relaxation_sweeps = comm.sum(e.adjoint_relaxation_sweeps);
    e.relaxation_sweeps = comm.sum(e.relaxation_sweeps);
    e.fallbacks = comm.sum(e.fallbacks);
    e.adjoint_fallbacks = comm.sum(e.adjoint_fallbacks);
    e.newton_iterations = comm.sum(e.newton_iterations);
    e.krylov_iterations = comm.sum(e.krylov_iterations);
    e.passes = static_cast<std::int64_t>(comm.max(static_cast<double>(e.passes)));
    e.steady_seconds = comm.max(e.steady_seconds);
    e.adjoint_seconds = comm.max(e.adjoint_seconds);
    return e;
  };
  // Each path `repeat` times from the same starting states, the paths taking turns (this VM's
  // speed drifts within minutes, so a path's runs are spread over the same stretch as the
  // others'). Per path the run with the median wall time is reported, with every run's time.
  // relaxation_rates[i] < 0: the PETSc reference.
  auto measured = [&](const model::VectorField& fld, const std::vector<double>& relaxation_rates,
                      std::vector<std::vector<std::vector<double>>*> xs) {
    std::vector<std::vector<std::vector<double>>> starts;
    for (const auto* x : xs) starts.push_back(*x);
    std::vector<std::vector<Evaluation>> runs(xs.size());
    for (int r = 0; r < repeat; ++r)
      for (std::size_t i = 0; i < xs.size(); ++i) {
        *xs[i] = starts[i];
        runs[i].push_back(evaluate(fld, relaxation_rates[i], *xs[i]));
      }
    std::vector<Evaluation> medians;
    for (auto& path : runs) {
      std::vector<double> walls;
      for (const auto& e : path) walls.push_back(e.seconds);
      std::sort(path.begin(), path.end(),
                [](const Evaluation& a, const Evaluation& b) { return a.seconds < b.seconds; });
      medians.push_back(path[path.size() / 2]);
      medians.back().runs = walls;
    }
    return medians;
  };
  constexpr double kSnes = -1.0, kNewtonGmres = 0.0;
  const double relaxation = solvers::SteadyStateOptions{}.relaxation_rate;
  std::vector<std::vector<double>> xs_relaxation(conds.size(), x0), xs_batched(conds.size(), x0),
      xs_snes(with_reference ? conds.size() : 0, x0);
  std::vector<double> rates{relaxation, kNewtonGmres};
  std::vector<std::vector<std::vector<double>>*> starts{&xs_relaxation, &xs_batched};
  if (with_reference) rates.push_back(kSnes), starts.push_back(&xs_snes);
  const auto cold = measured(field, rates, starts);
  // The next iterate of an optimiser: W moved by 0.1% (relative, random), every steady state
  // warm-started from the previous evaluation's. This is what one fit iteration costs.
  auto moved = params;
  RandomStream rng(3, StreamDomain::kNetwork, 99);
  for (auto& w : moved.W.val) w *= 1.0 + 1e-3 * rng.normal();
  const model::VectorField moved_field(moved);
  const auto warm = measured(moved_field, rates, starts);
  // The exact gradient at the start, to say how far each path's is from it (not timed).
  std::vector<std::vector<double>> xs_tight(conds.size(), x0);
  const auto exact = evaluate(field, kNewtonGmres, xs_tight, true);
  const Evaluation& batched_relaxation = cold[0];
  const Evaluation& batched = cold[1];
  const Evaluation reference = with_reference ? cold[2] : Evaluation{};
  const Evaluation& warm_relaxation = warm[0];
  const Evaluation& warm_batched = warm[1];
  const Evaluation warm_snes = with_reference ? warm[2] : Evaluation{};
  const nlohmann::json gradient_difference =
      with_reference ? nlohmann::json(bench::relative_difference(batched.gradient, reference.gradient))
                     : nlohmann::json();
  if (comm.is_root()) {
    auto js = [&](const Evaluation& e) {
      return nlohmann::json{
          {"wall_seconds", e.seconds},
          {"wall_seconds_of_each_run", e.runs},
          {"steady_state_seconds", e.steady_seconds},
          {"adjoint_seconds", e.adjoint_seconds},
          {"adjoint_gmres_iterations_per_perturbation", static_cast<double>(e.adjoint_iterations) / perturbations},
          {"adjoint_richardson_iterations_per_perturbation",
           static_cast<double>(e.adjoint_relaxation_sweeps) / perturbations},
          {"relaxation_sweeps_per_perturbation", static_cast<double>(e.relaxation_sweeps) / perturbations},
          {"loss", e.loss},
          {"steady_state_fallbacks", e.fallbacks},
          {"adjoint_fallbacks", e.adjoint_fallbacks},
          {"newton_iterations_per_perturbation", static_cast<double>(e.newton_iterations) / perturbations},
          {"newton_krylov_iterations_per_perturbation", static_cast<double>(e.krylov_iterations) / perturbations},
          {"batched_passes_over_w_per_rank", e.passes}};
    };
    nlohmann::json j{
        {"benchmark", "loss_gradient_W1_baseline"},
        {"ranks", comm.size()},
        {"genes", genes},
        {"nnz_W", params.W.nnz()},
        {"perturbations", perturbations},
        {"parameters", batched.gradient.size()},
        {"batched_relaxation", js(batched_relaxation)},
        {"batched", js(batched)},
        {"reference_snes", js(reference)},
        {"warm_batched_relaxation", js(warm_relaxation)},
        {"warm_batched", js(warm_batched)},
        {"warm_reference_snes", js(warm_snes)},
        {"relaxation_rate", relaxation},
        {"speedup_of_batched_relaxation_over_batched", batched.seconds / batched_relaxation.seconds},
        {"warm_speedup_of_batched_relaxation_over_batched", warm_batched.seconds / warm_relaxation.seconds},
        {"relative_gradient_difference_batched_relaxation_vs_batched",
         bench::relative_difference(batched_relaxation.gradient, batched.gradient)},
        {"warm_relative_gradient_difference_batched_relaxation_vs_batched",
         bench::relative_difference(warm_relaxation.gradient, warm_batched.gradient)},
        {"relative_gradient_error_batched_relaxation",
         bench::relative_difference(batched_relaxation.gradient, exact.gradient)},
        {"relative_gradient_error_batched", bench::relative_difference(batched.gradient, exact.gradient)},
        {"relative_loss_difference_batched_relaxation_vs_batched",
         std::fabs(batched_relaxation.loss - batched.loss) / std::fabs(batched.loss)},
        {"relative_gradient_difference", gradient_difference},
        {"target_seconds_at_2_ranks", 10.0},
        {"libraries", cli::library_versions()},
        {"date", cli::utc_now()}};
    std::cout << j.dump(2) << std::endl;
    if (!out.empty()) io::write_file_atomically(out, j.dump(2) + "\n");
  }
  return 0;
}

// Issue 13's time-course benchmark: one evaluation of
//   L = sum_p sum_i 1/2 ||x_p(t_i) - y_p(t_i)||^2
// and its gradient over P single knockdowns with an onset (tau), each integrated from the
// control state through the sampled times (solvers::Trajectory: CVODES BDF forward, CVODES
// adjoint backward), split across ranks and reduced with MPI_Allreduce, as the fit does. The
// cost is split into the plain forward pass (the fit's solve), the recorded forward pass
// (the same with checkpoints stored in memory: its extra time is the checkpointing), and the
// backward pass (adjoint ODE, forward recomputation between checkpoints, quadrature). Beside it
// in the same run: the steady-state W1 evaluation of the same network and perturbations
// (batched Newton-GMRES and batched adjoint). Targets: trajectories of a different network.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <sstream>

#include "bench_common.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/cli/runtime.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/solvers/batched_adjoint.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"
#include "perturbfit/solvers/trajectory.hpp"

using namespace perturbfit;
using bench::Clock;
using bench::since;

int main(int argc, char** argv) {
  int genes = 2000, perturbations = 1000, batch = 16;
  long nnz = 40000;
  double tau = 1.0;
  std::string times_text = "1,2,4,8,16,24", out;
  solvers::TrajectoryOptions topt;
  CLI::App app("time-course loss + gradient benchmark (issue 13)");
  app.add_option("--genes", genes);
  app.add_option("--nnz", nnz);
  app.add_option("--perturbations", perturbations);
  app.add_option("--times", times_text, "sampled times, comma-separated");
  app.add_option("--tau", tau, "onset time constant");
  app.add_option("--rtol", topt.ode.rtol);
  app.add_option("--atol", topt.ode.atol);
  app.add_option("--checkpoint-steps", topt.checkpoint_steps);
  app.add_option("--out", out);
  app.allow_extras();
  CLI11_PARSE(app, argc, argv);
  cli::PetscRuntime runtime(std::vector<std::string>(argv, argv + argc));
  const parallel::Comm comm(MPI_COMM_WORLD);
  std::vector<double> times;
  {
    std::stringstream ss(times_text);
    for (std::string item; std::getline(ss, item, ',');) times.push_back(std::stod(item));
  }

  const auto params = bench::benchmark_model(genes, nnz, 1);
  const auto truth = bench::benchmark_model(genes, nnz, 2);
  const model::VectorField field(params), truth_field(truth);
  solvers::SteadyStateOptions opt;
  opt.stability = solvers::StabilityMode::kSkip;
  const auto mine = parallel::block_range(static_cast<std::size_t>(perturbations), comm.size(), comm.rank());
  auto conds = bench::single_knockdowns(mine, genes);
  for (auto& c : conds) c.tau = tau;
  auto control_state = [&](const model::VectorField& f) {
    solvers::SteadyStateSolver s(f, opt);
    std::vector<double> x(static_cast<std::size_t>(genes), 1.0);
    if (!s.solve(model::Condition{}, x).converged) throw std::runtime_error("control steady state failed");
    return x;
  };
  // The "observed" controls and time courses come from the other network; both start there.
  const auto x0 = control_state(truth_field);
  std::vector<std::vector<std::vector<double>>> targets(conds.size());
  {
    solvers::Trajectory tr(truth_field, topt);
    for (std::size_t k = 0; k < conds.size(); ++k)
      if (!tr.forward(conds[k], x0, times, targets[k], false).ok) throw std::runtime_error("target trajectory failed");
  }

  struct TimeCourseCost {
    double forward = 0, recorded = 0, backward = 0, wall = 0, loss = 0;
    long forward_steps = 0, backward_steps = 0, checkpoints = 0;
    std::vector<double> gradient;
  } tc;
  comm.barrier();
  const auto start = Clock::now();
  {
    solvers::Trajectory tr(field, topt);
    std::vector<std::vector<double>> states;
    solvers::ParameterGradient grad(params);
    std::vector<double> knock_grad, lambda0;
    std::vector<std::vector<double>> dl(times.size());
    auto t0 = Clock::now();
    for (std::size_t k = 0; k < conds.size(); ++k) {  // the fit's solve: states at the sampled times
      const auto r = tr.forward(conds[k], x0, times, states, false);
      if (!r.ok) throw std::runtime_error("forward failed: " + r.message);
      tc.forward_steps += r.steps;
      for (std::size_t i = 0; i < times.size(); ++i)
        for (std::size_t g = 0; g < states[i].size(); ++g) {
          const double d = states[i][g] - targets[k][i][g];
          tc.loss += 0.5 * d * d;
        }
    }
    tc.forward = since(t0);
    for (std::size_t k = 0; k < conds.size(); ++k) {  // the gradient: recorded forward, then backward
      t0 = Clock::now();
      const auto r = tr.forward(conds[k], x0, times, states, true);
      tc.recorded += since(t0);
      tc.checkpoints += r.checkpoints;
      for (std::size_t i = 0; i < times.size(); ++i) {
        dl[i].resize(states[i].size());
        for (std::size_t g = 0; g < states[i].size(); ++g) dl[i][g] = states[i][g] - targets[k][i][g];
      }
      t0 = Clock::now();
      const auto b = tr.gradient(dl, grad, knock_grad, lambda0);
      tc.backward += since(t0);
      if (!b.ok) throw std::runtime_error("adjoint failed: " + b.message);
      tc.backward_steps += b.steps;
    }
    tc.gradient = grad.flatten();
    comm.sum_in_place(tc.gradient);
  }
  tc.loss = comm.sum(tc.loss);
  comm.barrier();
  tc.wall = since(start);

  // The steady-state W1 evaluation of the same network and perturbations (no onset).
  double steady_wall = 0, steady_solve = 0, steady_adjoint = 0;
  {
    std::vector<model::Condition> sconds = bench::single_knockdowns(mine, genes);
    std::vector<const model::Condition*> cp;
    for (const auto& c : sconds) cp.push_back(&c);
    std::vector<std::vector<double>> steady_targets(sconds.size(), x0), xs(sconds.size(), control_state(field));
    solvers::BatchedSteadyStateSolver(truth_field, opt).solve(cp, steady_targets, batch);
    comm.barrier();
    const auto s0 = Clock::now();
    solvers::BatchedSteadyStateSolver solver(field, opt);
    solvers::SteadyStateSolver snes(field, opt);
    const auto reports = solver.solve(cp, xs, batch);
    for (std::size_t k = 0; k < xs.size(); ++k)
      if (!reports[k].converged) snes.solve(sconds[k], xs[k]);
    steady_solve = since(s0);
    const auto s1 = Clock::now();
    std::vector<std::vector<double>> residuals(xs.size());
    std::vector<const std::vector<double>*> xp, rp;
    for (std::size_t k = 0; k < xs.size(); ++k) {
      residuals[k].resize(xs[k].size());
      for (std::size_t g = 0; g < xs[k].size(); ++g) residuals[k][g] = xs[k][g] - steady_targets[k][g];
      xp.push_back(&xs[k]), rp.push_back(&residuals[k]);
    }
    solvers::ParameterGradient grad(params);
    solvers::BatchedSteadyStateAdjoint(field, 1e-8, batch, solvers::SteadyStateOptions{}.relaxation_rate).accumulate(cp, xp, rp, grad);
    auto flat = grad.flatten();
    comm.sum_in_place(flat);
    steady_adjoint = since(s1);
    comm.barrier();
    steady_wall = since(s0);
  }
  auto slowest = [&](double v) { return comm.max(v); };  // collective: every rank, before the root writes
  const double forward = slowest(tc.forward), recorded = slowest(tc.recorded), backward = slowest(tc.backward);
  const long fsteps = static_cast<long>(comm.sum(static_cast<std::int64_t>(tc.forward_steps)));
  const long bsteps = static_cast<long>(comm.sum(static_cast<std::int64_t>(tc.backward_steps)));
  const long checkpoints = static_cast<long>(comm.sum(static_cast<std::int64_t>(tc.checkpoints)));
  const double ss_solve = slowest(steady_solve), ss_adjoint = slowest(steady_adjoint), ss_wall = slowest(steady_wall);
  if (comm.is_root()) {
    double norm = 0;
    for (double g : tc.gradient) norm += g * g;
    nlohmann::json j{
        {"benchmark", "time_course_loss_gradient"},
        {"ranks", comm.size()},
        {"genes", genes},
        {"nnz_W", params.W.nnz()},
        {"perturbations", perturbations},
        {"times", times},
        {"onset_tau", tau},
        {"ode_rtol", topt.ode.rtol},
        {"ode_atol", topt.ode.atol},
        {"checkpoint_steps", topt.checkpoint_steps},
        {"time_course",
         {{"wall_seconds", tc.wall},
          {"forward_seconds", forward},
          {"recorded_forward_seconds", recorded},
          {"checkpointing_seconds", recorded - forward},
          {"backward_seconds", backward},
          {"forward_steps_per_perturbation", static_cast<double>(fsteps) / perturbations},
          {"backward_steps_per_perturbation", static_cast<double>(bsteps) / perturbations},
          {"checkpoints_per_perturbation", static_cast<double>(checkpoints) / perturbations},
          {"loss", tc.loss},
          {"gradient_norm", std::sqrt(norm)}}},
        {"steady_state_W1_same_network",
         {{"wall_seconds", ss_wall}, {"steady_state_seconds", ss_solve}, {"adjoint_seconds", ss_adjoint}}},
        {"libraries", cli::library_versions()},
        {"date", cli::utc_now()}};
    std::cout << j.dump(2) << std::endl;
    if (!out.empty()) io::write_file_atomically(out, j.dump(2) + "\n");
  }
  return 0;
}

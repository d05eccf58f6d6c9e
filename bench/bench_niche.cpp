// In vivo coupling cost (issue 12): steady states + gradient of a loss over A animals x P
// groups, coupled through K niche factors (solvers::NicheSteadyState) against the same
// groups uncoupled (solvers::SteadyStateProblem with the batched adjoint), side by side in
// one run. Groups are single knockdowns (target = global index mod G) plus a control per
// animal; the loss is l = sum_g c_g . x_g with fixed weights c_g, so its gradient is the
// parameter adjoint alone. Groups are split over ranks in contiguous blocks (animal-major).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "bench_common.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/cli/runtime.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/parallel/decomposition.hpp"
#include "perturbfit/solvers/niche_steady_state.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"

using namespace perturbfit;
using bench::Clock;
using bench::since;

int main(int argc, char** argv) {
  int genes = 5000, animals = 8, groups = 600, channels = 10, ligands = 10, batch = 16, repeat = 3;
  long nnz = 100000;
  double coupling_scale = 1.0;
  std::string out;
  CLI::App app("coupled (niche) vs uncoupled steady states + gradient");
  app.add_option("--genes", genes);
  app.add_option("--nnz", nnz);
  app.add_option("--animals", animals);
  app.add_option("--groups", groups, "groups per animal (one control, the rest single knockdowns)");
  app.add_option("--channels", channels, "K niche factors (medium channels)");
  app.add_option("--ligands", ligands);
  app.add_option("--coupling-scale", coupling_scale);
  app.add_option("--batch", batch);
  app.add_option("--repeat", repeat, "runs of both, alternating; the medians are reported");
  app.add_option("--out", out);
  app.allow_extras();
  CLI11_PARSE(app, argc, argv);
  cli::PetscRuntime runtime(std::vector<std::string>(argv, argv + argc));
  const parallel::Comm comm(MPI_COMM_WORLD);

  model::GeneratorOptions g;
  g.genes = genes;
  g.mean_in_degree = static_cast<double>(nnz) / genes;
  g.media = channels;
  g.medium_gene_fraction = 0.05;
  g.medium_weight = 1.5;
  g.seed = 1;
  const auto params = model::generate_model(g);
  model::NicheOptions no;
  no.ligands = ligands;
  no.coupling_scale = coupling_scale;
  const auto niche = model::draw_niche(params, no, 1);
  const model::VectorField field(params);
  solvers::SteadyStateOptions opt;
  opt.stability = solvers::StabilityMode::kSkip;  // as in a fit evaluation

  const auto total = static_cast<std::size_t>(animals) * static_cast<std::size_t>(groups);
  const auto mine = parallel::block_range(total, comm.size(), comm.rank());
  std::vector<model::Condition> conds;
  std::vector<solvers::NicheMember> members;
  for (std::size_t k = mine.begin; k < mine.end; ++k) {
    model::Condition c;
    c.medium.assign(static_cast<std::size_t>(channels), 0.0);
    if (k % static_cast<std::size_t>(groups) != 0)
      c.knock = {{static_cast<int>(k % static_cast<std::size_t>(genes)), 0.85}};
    conds.push_back(c);
  }
  for (std::size_t i = 0; i < conds.size(); ++i) {
    const auto k = mine.begin + i;
    members.push_back(
        {&conds[i], static_cast<int>(k / static_cast<std::size_t>(groups)), 1.0 + 0.1 * static_cast<double>(k % 7)});
  }
  std::vector<const model::Condition*> cp;
  for (const auto& c : conds) cp.push_back(&c);
  std::vector<std::vector<double>> rhs;
  for (std::size_t i = 0; i < conds.size(); ++i) {
    std::vector<double> c(static_cast<std::size_t>(genes));
    for (std::size_t j = 0; j < c.size(); ++j)
      c[j] = std::sin(1.0 + static_cast<double>(j) + 0.37 * static_cast<double>(mine.begin + i));
    rhs.push_back(std::move(c));
  }
  std::vector<const std::vector<double>*> rp;
  for (const auto& r : rhs) rp.push_back(&r);

  // Control steady state (no niche) as every group's start.
  std::vector<double> x0(static_cast<std::size_t>(genes), 1.0);
  solvers::SteadyStateProblem control(field, opt, 0);
  if (!control.solve_one(conds.empty() ? model::Condition{} : conds[0], x0).converged)
    throw std::runtime_error("control steady state failed");

  // Each repeat runs both, uncoupled first, each from the same cold start (a fresh solver: no
  // warm start or Jacobian estimate carried over); the ratio is of the medians. The machine's
  // speed drifts between runs (uncoupled forward 8.5 s to 11.6 s in five runs of one hour), so
  // one pair of timings is not a measurement.
  struct Timing {
    double forward = 0.0, gradient = 0.0;
    double total() const { return forward + gradient; }
  };
  std::vector<Timing> uncoupled_runs, coupled_runs;
  std::int64_t failed = 0;
  solvers::NicheReport report;
  solvers::NicheGradientReport adjoint;
  std::vector<double> factors;
  for (int rep = 0; rep < repeat; ++rep) {
    // Uncoupled: every group in the external medium.
    comm.barrier();
    Timing u;
    auto t = Clock::now();
    std::vector<std::vector<double>> xs(conds.size(), x0);
    solvers::SteadyStateProblem problem(field, opt, batch);
    failed = 0;
    for (const auto& r : problem.solve(cp, xs)) failed += r.converged ? 0 : 1;
    comm.barrier();
    u.forward = since(t);
    t = Clock::now();
    solvers::ParameterGradient grad(params);
    std::vector<const std::vector<double>*> xp;
    for (const auto& x : xs) xp.push_back(&x);
    problem.accumulate_gradient(cp, xp, rp, 1e-8, grad, nullptr);
    auto flat = grad.flatten();
    comm.sum_in_place(flat);
    comm.barrier();
    u.gradient = since(t);
    uncoupled_runs.push_back(u);

    // Coupled: the same groups, each animal one niche.
    Timing c;
    t = Clock::now();
    std::vector<std::vector<double>> ys(conds.size(), x0);
    factors.clear();
    solvers::NicheSteadyState coupled(comm, field, niche, opt, batch, animals);
    report = coupled.solve(members, ys, factors, 30, 1e-10);
    comm.barrier();
    c.forward = since(t);
    t = Clock::now();
    solvers::ParameterGradient cgrad(params);
    std::vector<double> dgamma;
    adjoint = coupled.accumulate_gradient(members, ys, factors, rhs, 1e-8, cgrad, dgamma);
    auto cflat = cgrad.flatten();
    cflat.insert(cflat.end(), dgamma.begin(), dgamma.end());
    comm.sum_in_place(cflat);
    comm.barrier();
    c.gradient = since(t);
    coupled_runs.push_back(c);
  }
  const auto median = [](std::vector<Timing> runs, double (*part)(const Timing&)) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(part(r));
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  const auto fwd = [](const Timing& r) { return r.forward; };
  const auto grd = [](const Timing& r) { return r.gradient; };
  const auto tot = [](const Timing& r) { return r.total(); };
  const double uncoupled_forward = median(uncoupled_runs, fwd), uncoupled_gradient = median(uncoupled_runs, grd);
  const double coupled_forward = median(coupled_runs, fwd), coupled_gradient = median(coupled_runs, grd);
  std::vector<double> ratios;
  for (int rep = 0; rep < repeat; ++rep)
    ratios.push_back(coupled_runs[static_cast<std::size_t>(rep)].total() / uncoupled_runs[static_cast<std::size_t>(rep)].total());
  double largest = 0.0;
  for (double v : factors) largest = std::max(largest, std::abs(v));

  if (comm.is_root()) {
    const double u = median(uncoupled_runs, tot), c = median(coupled_runs, tot);
    nlohmann::json j{{"benchmark", "niche_coupling"},
                     {"ranks", comm.size()},
                     {"genes", genes},
                     {"nnz_W", params.W.nnz()},
                     {"animals", animals},
                     {"groups_per_animal", groups},
                     {"channels", channels},
                     {"ligands", ligands},
                     {"uncoupled",
                      {{"forward_seconds", uncoupled_forward},
                       {"gradient_seconds", uncoupled_gradient},
                       {"total_seconds", u},
                       {"failed", comm.sum(failed)}}},
                     {"coupled",
                      {{"forward_seconds", coupled_forward},
                       {"gradient_seconds", coupled_gradient},
                       {"total_seconds", c},
                       {"converged", report.converged},
                       {"newton_iterations", report.iterations},
                       {"coarse_iterations", report.coarse_iterations},
                       {"residual", report.residual},
                       {"jacobian_groups", report.jacobian_groups},
                       {"inner_solve_seconds_rank0", report.inner_seconds},
                       {"sampled_jacobian_seconds_rank0", report.jacobian_seconds},
                       {"residuals", report.residuals},
                       {"inner_seconds_by_iteration_rank0", report.inner_seconds_by_iteration},
                       {"adjoint_sweeps", adjoint.sweeps},
                       {"adjoint_residuals", adjoint.residuals},
                       {"adjoint_first_solve_seconds_rank0", adjoint.first_solve_seconds},
                       {"adjoint_sweep_seconds_rank0", adjoint.sweep_seconds},
                       {"largest_factor", largest}}},
                     {"repeats", repeat},
                     {"ratio_per_repeat", ratios},
                     {"coupled_over_uncoupled", c / u},
                     {"forward_ratio", coupled_forward / uncoupled_forward},
                     {"gradient_ratio", coupled_gradient / uncoupled_gradient},
                     {"target_ratio", 2.0},
                     {"libraries", cli::library_versions()},
                     {"date", cli::utc_now()}};
    std::cout << j.dump(2) << std::endl;
    if (!out.empty()) io::write_file_atomically(out, j.dump(2) + "\n");
  } else {
    comm.sum(failed);
  }
  return 0;
}

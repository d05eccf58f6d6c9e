#include "perturbfit/fit/fit_output.hpp"

#include "perturbfit/core/error.hpp"
#include "perturbfit/data/stats_file.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/parameter_file.hpp"

namespace perturbfit::fit {

using io::H5File;

namespace fs = std::filesystem;

namespace {
template <class F>
std::vector<double> column(const std::vector<IterationRecord>& h, F&& f) {
  std::vector<double> out;
  for (const auto& r : h) out.push_back(static_cast<double>(f(r)));
  return out;
}

void write_history(const H5File& f, const std::vector<IterationRecord>& h) {
  f.group("/history");
  f.write("/history/iteration", column(h, [](const auto& r) { return r.iteration; }));
  f.write("/history/loss", column(h, [](const auto& r) { return r.loss; }));
  f.write("/history/data", column(h, [](const auto& r) { return r.data; }));
  f.write("/history/steady_state", column(h, [](const auto& r) { return r.steady_state; }));
  f.write("/history/regulariser", column(h, [](const auto& r) { return r.regulariser; }));
  f.write("/history/gradient_norm", column(h, [](const auto& r) { return r.gradient_norm; }));
  f.write("/history/seconds", column(h, [](const auto& r) { return r.seconds; }));
  f.write("/history/failed_steady_states", column(h, [](const auto& r) { return r.failed_steady_states; }));
  f.write("/history/batch", column(h, [](const auto& r) { return r.batch; }));
  f.write("/history/validation", column(h, [](const auto& r) { return r.validation; }));
}

std::vector<IterationRecord> read_history(const H5File& f) {
  const auto it = f.read<double>("/history/iteration"), loss = f.read<double>("/history/loss"),
             data = f.read<double>("/history/data"), ss = f.read<double>("/history/steady_state"),
             reg = f.read<double>("/history/regulariser"), gn = f.read<double>("/history/gradient_norm"),
             sec = f.read<double>("/history/seconds"), failed = f.read<double>("/history/failed_steady_states"),
             batch = f.read<double>("/history/batch"), validation = f.read<double>("/history/validation");
  std::vector<IterationRecord> h;
  for (std::size_t i = 0; i < it.size(); ++i)
    h.push_back({static_cast<int>(it[i]), loss[i], data[i], ss[i], reg[i], gn[i], sec[i],
                 static_cast<std::int64_t>(failed[i]), static_cast<std::int64_t>(batch[i]), validation.at(i)});
  return h;
}
}  // namespace

void write_checkpoint(const fs::path& path, const OptimizerState& state, const std::vector<std::string>& genes,
                      const std::string& optimizer) {
  io::write_h5_serially(path, [&](const H5File& f) {
    f.write_strings("/optimizer", {optimizer});
    f.write_strings("/genes", genes);
    f.write("/theta", state.theta);
    f.write("/iteration", std::vector<std::int64_t>{state.iteration});
    f.write("/adam_m", state.adam_m);
    f.write("/adam_v", state.adam_v);
    const auto& lb = state.lbfgs;  // lbfgs: point, gradient, the matrix's updates (oldest first)
    f.group("/lbfgs");
    f.write("/lbfgs/x", lb.x), f.write("/lbfgs/g", lb.g);
    f.write("/lbfgs/f", std::vector<double>{lb.f, lb.evaluated ? 1.0 : 0.0});
    std::vector<double> points, gradients;
    for (std::size_t k = 0; k < lb.points.size(); ++k) {
      points.insert(points.end(), lb.points[k].begin(), lb.points[k].end());
      gradients.insert(gradients.end(), lb.gradients[k].begin(), lb.gradients[k].end());
    }
    const std::vector<hsize_t> dims{static_cast<hsize_t>(lb.points.size()), static_cast<hsize_t>(lb.x.size())};
    f.write("/lbfgs/points", points, dims), f.write("/lbfgs/gradients", gradients, dims);
    f.write("/lbfgs/deltas", lb.deltas);
    f.group("/early_stopping");
    const auto& es = state.early;  // early stopping
    f.write("/early_stopping/best_groups", es.best_groups);
    f.write("/early_stopping/selected_theta", es.selected_theta);
    f.write("/early_stopping/state", std::vector<double>{es.best, static_cast<double>(es.best_iteration),
                                                          static_cast<double>(es.selected_iteration),
                                                          static_cast<double>(es.checks_since_best)});
    write_history(f, state.history);
  });
}

OptimizerState read_checkpoint(const fs::path& path, const std::vector<std::string>& genes, const std::string& optimizer) {
  if (!fs::exists(path))
    throw IOError("no checkpoint at '" + path.string() + "': --restart needs the output directory of an earlier fit");
  const auto f = H5File::open_read(path.string());
  if (f.read_strings("/genes") != genes)
    throw UsageError("checkpoint '" + path.string() + "' was written for other genes; restart with the same deck and screen");
  OptimizerState s;
  s.theta = f.read<double>("/theta");
  s.iteration = static_cast<int>(f.read<std::int64_t>("/iteration").at(0));
  s.adam_m = f.read<double>("/adam_m");
  s.adam_v = f.read<double>("/adam_v");
  auto& lb = s.lbfgs;
  lb.x = f.read<double>("/lbfgs/x"), lb.g = f.read<double>("/lbfgs/g");
  const auto fe = f.read<double>("/lbfgs/f");
  if (fe.size() == 2) lb.f = fe[0], lb.evaluated = fe[1] != 0;
  const auto points = f.read<double>("/lbfgs/points"), gradients = f.read<double>("/lbfgs/gradients");
  lb.deltas = f.read<double>("/lbfgs/deltas");
  const std::size_t n = lb.x.size();
  if ((n == 0 && !points.empty()) || (n > 0 && (points.size() != lb.deltas.size() * n || gradients.size() != points.size())))
    throw IOError("checkpoint '" + path.string() + "' holds an inconsistent L-BFGS state");
  for (std::size_t k = 0; k < lb.deltas.size(); ++k) {
    lb.points.emplace_back(points.begin() + static_cast<long>(k * n), points.begin() + static_cast<long>((k + 1) * n));
    lb.gradients.emplace_back(gradients.begin() + static_cast<long>(k * n), gradients.begin() + static_cast<long>((k + 1) * n));
  }
  s.history = read_history(f);
  auto& es = s.early;
  es.best_groups = f.read<double>("/early_stopping/best_groups");
  es.selected_theta = f.read<double>("/early_stopping/selected_theta");
  const auto es_state = f.read<double>("/early_stopping/state");
  if (es_state.size() != 4) throw IOError("checkpoint '" + path.string() + "' holds no early-stopping state");
  es.best = es_state[0], es.best_iteration = static_cast<int>(es_state[1]);
  es.selected_iteration = static_cast<int>(es_state[2]), es.checks_since_best = static_cast<int>(es_state[3]);
  const auto written_by = f.read_strings("/optimizer");
  if (written_by.empty() || written_by[0] != optimizer)
    throw UsageError("checkpoint '" + path.string() + "' was written by fit.optimizer = " +
                     (written_by.empty() ? std::string("?") : written_by[0]) + "; restart with the same optimizer");
  return s;
}

void write_fit(const parallel::Comm& comm, const fs::path& path, const FitProblem& problem,
               const OptimizerState& state, const std::vector<GroupPrediction>& rows,
               const std::string& metrics_json) {
  const auto& p = problem.parameters();
  const auto& data = problem.data();
  const auto G = static_cast<hsize_t>(problem.measured_genes());
  std::vector<int> local_ids, local_fallback;
  for (const auto& r : rows) local_ids.push_back(r.group), local_fallback.push_back(r.fallback ? 1 : 0);
  const auto ids = comm.all_gather(local_ids);
  const auto fallback = comm.all_gather(local_fallback);
  // Steady-state reports of the final model: every condition once (controls from the root).
  std::vector<int> cond_pert;
  std::vector<double> cond_report;  // solved, stable, leading eigenvalue, newton iterations
  for (const auto& c : problem.conditions()) {
    if (c.generic || (c.control && !comm.is_root())) continue;
    cond_pert.push_back(c.perturbation);
    cond_report.insert(cond_report.end(), {c.solved ? 1.0 : 0.0, c.stable ? 1.0 : 0.0, c.leading_eigenvalue,
                                           static_cast<double>(c.newton_iterations)});
  }
  const auto all_pert = comm.all_gather(cond_pert);
  const auto all_report = comm.all_gather(cond_report);
  const auto structure = [&](const H5File& f) {
    f.attr_string("/", "description",
                  "perturbfit fit: parameters of f (MODEL.md section 3), per-group observed and predicted log(eps + "
                  "mean normalised expression) and effects (contrast with the same batch's controls), loss history");
    f.attr_string("/", "model_kind", model::to_string(p.kind));
    f.attr_double("/", "pseudocount", problem.options().pseudocount);
    f.attr_string("/", "metrics", metrics_json);
    // Parameters are indexed by model node: the measured genes (/genes, the columns of
    // /groups/*), then the unobserved nodes (/latent_nodes: targets not in var, then the
    // shared-response nodes). The state is in model units: expression = scale * z.
    f.write_strings("/genes", data.genes());
    f.write_strings("/latent_nodes", problem.unmeasured_nodes());
    f.write("/scale", problem.scale());
    f.attr_string("/scale", "description", "normalised expression of one model unit of each node (its mean control level)");
    model::write_parameters(f, p);
    f.write("/parameters/kappa", std::vector<double>{problem.kappa()});
    write_history(f, state.history);
    f.group("/groups");
    data::write_group_labels(f, data, ids);
    std::vector<std::string> split;
    for (int id : ids)
      split.push_back(to_string(problem.splits()[static_cast<std::size_t>(data.groups()[static_cast<std::size_t>(id)].perturbation)]));
    f.write_strings("/groups/split", split);
    f.write("/groups/fallback", std::vector<std::int32_t>(fallback.begin(), fallback.end()));
    f.attr_string("/groups/fallback", "description",
                  "1: the model knows nothing of the group's targets (latent, untrained, no prior edge); its "
                  "predicted rows are train_mean's (with fit.shared_response)");
    const auto n = static_cast<hsize_t>(ids.size());
    for (const char* name : {"observed", "predicted", "observed_effect", "predicted_effect"})
      f.create<double>(std::string("/groups/") + name, {n, G});
    f.group("/steady_states");
    std::vector<std::string> cond_label;
    std::vector<std::int32_t> solved, stable, newton;
    std::vector<double> eig;
    for (std::size_t i = 0; i < all_pert.size(); ++i) {
      cond_label.push_back(data.perturbations()[static_cast<std::size_t>(all_pert[i])].label);
      solved.push_back(static_cast<std::int32_t>(all_report[4 * i])), stable.push_back(static_cast<std::int32_t>(all_report[4 * i + 1]));
      eig.push_back(all_report[4 * i + 2]), newton.push_back(static_cast<std::int32_t>(all_report[4 * i + 3]));
    }
    f.attr_string("/steady_states", "description",
                  "one row per (perturbation, medium) at the fitted parameters: converged, stable (leading eigenvalue < 0; "
                  "the eigenvalue is reported when the Gershgorin certificate did not suffice), Newton iterations");
    f.write_strings("/steady_states/perturbation", cond_label);
    f.write("/steady_states/converged", solved);
    f.write("/steady_states/stable", stable);
    f.write("/steady_states/leading_eigenvalue", eig);
    f.write("/steady_states/newton_iterations", newton);
  };
  const std::int64_t first = comm.exclusive_prefix_sum(static_cast<std::int64_t>(rows.size()));
  io::write_h5_collectively(comm, path, structure, [&](const H5File& f) {
    auto stack = [&](auto member) {
      std::vector<double> out;
      for (const auto& r : rows) out.insert(out.end(), (r.*member).begin(), (r.*member).end());
      return out;
    };
    f.write_rows("/groups/observed", first, stack(&GroupPrediction::observed));
    f.write_rows("/groups/predicted", first, stack(&GroupPrediction::predicted));
    f.write_rows("/groups/observed_effect", first, stack(&GroupPrediction::observed_effect));
    f.write_rows("/groups/predicted_effect", first, stack(&GroupPrediction::predicted_effect));
  });
}

}  // namespace perturbfit::fit

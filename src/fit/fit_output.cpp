#include "perturbfit/fit/fit_output.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/fit/baselines.hpp"
#include "perturbfit/fit/checkpoint.hpp"
#include "perturbfit/data/stats_file.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/parameter_file.hpp"

namespace perturbfit::fit {

using io::H5File;

namespace fs = std::filesystem;

namespace {
void write_niche(const H5File& f, const FitProblem& problem) {
  const auto& coupling = problem.coupling();
  const auto K = static_cast<hsize_t>(problem.parameters().media), L = static_cast<hsize_t>(coupling.ligands());
  std::vector<std::string> ligands;
  for (int node : coupling.ligand_genes) ligands.push_back(problem.data().genes()[static_cast<std::size_t>(node)]);
  f.group("/niche");
  f.attr_string("/niche", "description",
                "fit.niche = coupled: n_a = gamma <x[ligand_genes]>_w, x in model units (/scale), added to the medium "
                "channels; the first external_channels rows of gamma are fixed at 0");
  f.attr_double("/niche", "external_channels", problem.external_channels());
  f.write_strings("/niche/ligand_genes", ligands);
  f.write("/niche/gamma", coupling.gamma, {K, L});
  const auto& n = problem.niche_factors();
  f.write("/niche/factors", n, {static_cast<hsize_t>(n.size()) / std::max<hsize_t>(K, 1), K});
  f.write_strings("/niche/animals", problem.data().batches());
}
}  // namespace

void write_fit(const parallel::Comm& comm, const fs::path& path, const FitProblem& problem,
               const std::vector<double>& fitted, const CheckpointIdentity& identity,
               const std::vector<IterationRecord>& history, const std::vector<GroupPrediction>& rows,
               const std::string& metrics_json, io::OutputSet* staged, std::size_t rows_per_write) {
  if (rows_per_write == 0) throw std::invalid_argument("write_fit: rows_per_write must be positive");
  const auto& p = problem.parameters();
  const auto& data = problem.data();
  const auto G = static_cast<hsize_t>(problem.measured_genes());
  std::vector<int> local_ids, local_fallback;
  for (const auto& r : rows) local_ids.push_back(r.group), local_fallback.push_back(r.fallback ? 1 : 0);
  const auto ids = comm.all_gather(local_ids);
  const auto fallback = comm.all_gather(local_fallback);
  // Steady-state reports of the final model: every condition once (controls from the root).
  std::vector<int> cond_pert;
  std::vector<double> cond_report;  // solved, stable, leading eigenvalue, newton iterations, time
  for (const auto& c : problem.conditions()) {
    // Coupled, one row per group (its condition in its animal), from the rank that owns it.
    if (problem.niche_coupled() ? !c.member : (c.generic || (c.control && !comm.is_root()))) continue;
    cond_pert.push_back(c.perturbation);
    cond_report.insert(cond_report.end(), {c.solved ? 1.0 : 0.0, c.stable ? 1.0 : 0.0, c.leading_eigenvalue,
                                           static_cast<double>(c.newton_iterations), c.time});
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
    f.attr_string("/scale", "description",
                  "normalised expression of one model unit of each node (its mean control level)");
    model::write_parameters(f, p);
    f.write("/parameters/kappa", std::vector<double>{problem.kappa()});
    if (problem.niche_coupled()) write_niche(f, problem);
    if (problem.count_likelihood()) {
      f.group("/measurement");
      f.attr_string("/measurement", "description",
                    "data.likelihood = nb: per measured gene (/genes) the NB size r (larger: closer to Poisson; "
                    "simulate's measure.dispersion) and with fit.zero_inflation the dropout pi, as fitted");
      f.write("/measurement/nb_size", problem.nb_size());
      if (!problem.nb_dropout().empty()) f.write("/measurement/dropout", problem.nb_dropout());
    }
    f.write("/theta", fitted);
    f.attr_string("/theta", "description",
                  "the fitted optimisation variables (FitProblem's theta: c-bar in place of c, kappa, coupling, "
                  "fitness); `perturbfit predict/export/check --model` read them back");
    f.write_strings("/identity", {identity.deck_fingerprint, identity.screen_digest});
    write_history(f, history);
    f.group("/groups");
    data::write_group_labels(f, data, ids);
    std::vector<std::string> split;
    for (int id : ids)
      split.push_back(to_string(
          problem.splits()[static_cast<std::size_t>(data.groups()[static_cast<std::size_t>(id)].perturbation)]));
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
    std::vector<double> eig, time;
    constexpr std::size_t kColumns = 5;
    for (std::size_t i = 0; i < all_pert.size(); ++i) {
      const double* r = all_report.data() + kColumns * i;
      cond_label.push_back(data.perturbations()[static_cast<std::size_t>(all_pert[i])].label);
      solved.push_back(static_cast<std::int32_t>(r[0])), stable.push_back(static_cast<std::int32_t>(r[1]));
      eig.push_back(r[2]), newton.push_back(static_cast<std::int32_t>(r[3])), time.push_back(r[4]);
    }
    f.attr_string(
        "/steady_states", "description",
        "one row per (perturbation, medium) at the fitted parameters: converged, stable (leading eigenvalue < 0; "
        "the eigenvalue is reported when the Gershgorin certificate did not suffice), Newton iterations; in a "
        "time-course fit also one row per (perturbation, medium, time) of its time courses: time is finite there "
        "(converged: the integration succeeded; stable 1, no eigenvalue, 0 Newton iterations), infinite for a "
        "steady state");
    f.write_strings("/steady_states/perturbation", cond_label);
    f.write("/steady_states/converged", solved);
    f.write("/steady_states/stable", stable);
    f.write("/steady_states/leading_eigenvalue", eig);
    f.write("/steady_states/newton_iterations", newton);
    f.write("/steady_states/time", time);
  };
  const std::int64_t first = comm.exclusive_prefix_sum(static_cast<std::int64_t>(rows.size()));
  io::write_h5_collectively(
      comm, path, structure,
      [&](const H5File& f) {
        // A block of rows at a time, each row derived from its group as evaluate_predictions
        // did: at genome scale every dataset is gigabytes per rank.
        std::unordered_map<int, const ObservedGroup*> group_of;
        for (const auto& o : problem.groups()) group_of[o.group] = &o;
        auto write = [&](const std::string& name, auto&& row_of) {
          f.write_row_blocks<double>(
              name, first, rows.size(),
              [&](std::size_t r, std::vector<double>& out) {
                const auto& row = row_of(rows[r], *group_of.at(rows[r].group));
                out.insert(out.end(), row.begin(), row.end());
              },
              rows_per_write);
        };
        write("/groups/observed",
              [](const GroupPrediction&, const ObservedGroup& o) { return o.y; });
        write("/groups/predicted",
              [](const GroupPrediction& r, const ObservedGroup&) -> const std::vector<double>& { return r.predicted; });
        write("/groups/observed_effect",
              [&](const GroupPrediction&, const ObservedGroup& o) { return observed_effect(problem, o); });
        write("/groups/predicted_effect", [&](const GroupPrediction& r, const ObservedGroup& o) {
          const auto& control = problem.control_group(o.control).y;
          std::vector<double> e(r.predicted.size());
          for (std::size_t g = 0; g < e.size(); ++g) e[g] = r.predicted[g] - control[g];
          return e;
        });
      },
      staged);
}

}  // namespace perturbfit::fit

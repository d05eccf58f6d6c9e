#include "perturbfit/fit/truth_recovery.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/parameter_file.hpp"

namespace perturbfit::fit {

double average_precision(const std::vector<double>& scores, const std::vector<char>& positive,
                         std::size_t total_positive) {
  if (total_positive == 0) return 0.0;
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  double hits = 0, ap = 0;
  for (std::size_t r = 0; r < order.size(); ++r)
    if (positive[order[r]]) hits += 1, ap += hits / static_cast<double>(r + 1);
  return ap / static_cast<double>(total_positive);  // true edges outside the support count as missed
}

namespace {
double relative_error(const std::vector<double>& fit, const std::vector<double>& truth) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < fit.size(); ++i) d += (fit[i] - truth[i]) * (fit[i] - truth[i]), n += truth[i] * truth[i];
  return n > 0 ? std::sqrt(d / n) : std::sqrt(d);
}
}  // namespace

void check_truth_file(const std::filesystem::path& truth) {
  const std::string fix = "; give the truth.h5 that `perturbfit simulate` wrote beside the screen, or remove fit.truth";
  if (!std::filesystem::is_regular_file(truth))
    throw UsageError("fit.truth = '" + truth.string() + "' is not a file" + fix);
  try {
    const auto file = io::H5File::open_read(truth.string());
    (void)model::read_parameters(file);
    (void)file.read<double>("/control/steady_state");
  } catch (const Error& e) {
    throw UsageError("fit.truth = '" + truth.string() + "' is not a truth file (" + e.what() + ")" + fix);
  }
}

nlohmann::json truth_recovery(const FitProblem& problem, const std::filesystem::path& path) {
  const auto file = io::H5File::open_read(path.string());
  const auto truth = model::read_parameters(file);
  const auto& true_genes = truth.gene_names;
  const auto& indptr = truth.W.row_ptr;
  const auto& data = truth.W.val;
  const auto& indices = truth.W.col;
  const auto &v = truth.v, &beta = truth.beta, &gamma = truth.gamma, &c = truth.c;
  const auto x_true = file.read<double>("/control/steady_state");
  const auto knock_kappa = file.read<double>("/classes/knock_kappa");
  const auto& p = problem.parameters();
  // Nodes the truth knows: measured genes and latent targets (the shared-response nodes,
  // last, are the fit's own and have no counterpart).
  auto G = static_cast<std::size_t>(p.genes);
  while (G > 0 && problem.is_shared(static_cast<int>(G) - 1)) --G;
  std::unordered_map<std::string, int> true_index;
  for (std::size_t g = 0; g < true_genes.size(); ++g) true_index[true_genes[g]] = static_cast<int>(g);
  std::vector<int> map(G, -1);  // fit gene -> truth gene
  for (std::size_t g = 0; g < G; ++g) {
    const auto it = true_index.find(p.gene_names[g]);
    if (it == true_index.end())
      throw DataError("gene '" + p.gene_names[g] + "' of the screen is not in " + path.string() +
                      " (fit.truth of another screen?)");
    map[g] = it->second;
  }
  std::vector<int> fit_index(true_genes.size(), -1);
  for (std::size_t g = 0; g < G; ++g) fit_index[static_cast<std::size_t>(map[g])] = static_cast<int>(g);
  // Units: S_g = fitted control state / true control state.
  const auto& control = problem.conditions()[static_cast<std::size_t>(problem.references().front().condition)];
  std::vector<double> S(G, 1.0);
  for (std::size_t g = 0; g < G; ++g) {
    const double xt = x_true[static_cast<std::size_t>(map[g])];
    S[g] = xt > 0 ? std::max(control.x[g], 1e-12) / xt : 1.0;
  }
  // W in true units on the union of both patterns (fit genes only).
  std::unordered_map<std::int64_t, double> true_w;
  std::size_t true_edges = 0, true_latent_out = 0;
  const auto measured = static_cast<std::size_t>(problem.measured_genes());  // nodes from here on are latent
  for (std::size_t t = 0; t + 1 < indptr.size(); ++t) {
    const int gt = fit_index[t];
    if (gt < 0) continue;
    for (auto k = indptr[t]; k < indptr[t + 1]; ++k) {
      const int gr = fit_index[static_cast<std::size_t>(indices[static_cast<std::size_t>(k)])];
      if (gr < 0 || gr == gt) continue;
      true_w[static_cast<std::int64_t>(gt) * static_cast<std::int64_t>(G) + gr] = data[static_cast<std::size_t>(k)];
      ++true_edges;
      if (static_cast<std::size_t>(gr) >= measured && static_cast<std::size_t>(gt) < measured) ++true_latent_out;
    }
  }
  std::vector<double> w_fit, w_true, scores, latent_scores;
  std::vector<char> positive, latent_positive;  // latent_*: edges from a latent node to a measured gene
  std::size_t found = 0, latent_found = 0;
  for (std::size_t g = 0; g < G; ++g)
    for (auto k = p.W.row_ptr[g]; k < p.W.row_ptr[g + 1]; ++k) {
      const auto j = static_cast<std::size_t>(p.W.col[static_cast<std::size_t>(k)]);
      if (j >= G) continue;  // from a shared-response node: not a regulatory edge
      const double w = p.W.val[static_cast<std::size_t>(k)] * S[j];
      const auto it = true_w.find(static_cast<std::int64_t>(g * G + j));
      w_fit.push_back(w), scores.push_back(std::abs(w));
      w_true.push_back(it == true_w.end() ? 0.0 : it->second);
      positive.push_back(it != true_w.end());
      if (it != true_w.end()) ++found;
      if (j >= measured && g < measured) {
        latent_scores.push_back(std::abs(w)), latent_positive.push_back(it != true_w.end());
        if (it != true_w.end()) ++latent_found;
      }
    }
  for (const auto& [key, w] : true_w) {  // true edges outside the support: predicted zero
    const auto g = static_cast<std::size_t>(key) / G, j = static_cast<std::size_t>(key) % G;
    bool in_support =
        std::binary_search(p.W.col.begin() + p.W.row_ptr[g], p.W.col.begin() + p.W.row_ptr[g + 1], static_cast<int>(j));
    if (!in_support) w_fit.push_back(0.0), w_true.push_back(w);
  }
  std::vector<double> vg_fit(G), vg_true(G), bg_fit(G), bg_true(G), c_fit(p.c), c_true(G);
  for (std::size_t g = 0; g < G; ++g) {
    const auto t = static_cast<std::size_t>(map[g]);
    vg_fit[g] = p.v[g] / p.gamma[g] / S[g], vg_true[g] = v[t] / gamma[t];
    bg_fit[g] = p.beta[g] / p.gamma[g] / S[g], bg_true[g] = beta[t] / gamma[t];
    c_true[g] = c[t];
  }
  const double true_kappa = knock_kappa.empty() ? 0.0
                                                : std::accumulate(knock_kappa.begin(), knock_kappa.end(), 0.0) /
                                                      static_cast<double>(knock_kappa.size());
  const double ap = average_precision(scores, positive, true_edges);
  nlohmann::json latent = nullptr;
  if (measured < G)  // what the fit learned of the unmeasured targets: which measured genes they regulate
    latent = {
        {"true_edges", true_latent_out},
        {"true_edges_in_support", latent_found},
        {"candidate_edges", latent_scores.size()},
        {"auprc", average_precision(latent_scores, latent_positive, true_latent_out)},
        {"auprc_random",
         latent_scores.empty() ? 0.0 : static_cast<double>(latent_found) / static_cast<double>(latent_scores.size())}};
  // data.likelihood = nb: the learned measurement against the simulated one (per measured gene).
  nlohmann::json measurement = nullptr;
  if (problem.count_likelihood() && file.exists("/measurement") && file.exists("/measurement/dispersion")) {
    const auto true_size = file.read<double>("/measurement/dispersion"), true_dropout = file.read<double>("/measurement/dropout");
    std::vector<double> log_fit, log_true, ratio, pi_fit, pi_true;
    for (std::size_t g = 0; g < measured; ++g) {
      const auto t = static_cast<std::size_t>(map[g]);
      log_fit.push_back(std::log(problem.nb_size()[g])), log_true.push_back(std::log(true_size[t]));
      ratio.push_back(problem.nb_size()[g] / true_size[t]);
      if (!problem.nb_dropout().empty()) pi_fit.push_back(problem.nb_dropout()[g]), pi_true.push_back(true_dropout[t]);
    }
    std::nth_element(ratio.begin(), ratio.begin() + static_cast<long>(ratio.size() / 2), ratio.end());
    measurement = {{"pearson_log_nb_size", pearson(log_fit, log_true)},
                   {"median_nb_size_ratio", ratio.empty() ? 0.0 : ratio[ratio.size() / 2]}};
    if (!pi_fit.empty()) {
      measurement["pearson_dropout"] = pearson(pi_fit, pi_true);
      measurement["mean_dropout_fit"] = std::accumulate(pi_fit.begin(), pi_fit.end(), 0.0) / static_cast<double>(pi_fit.size());
      measurement["mean_dropout_true"] =
          std::accumulate(pi_true.begin(), pi_true.end(), 0.0) / static_cast<double>(pi_true.size());
    }
  }
  return {{"truth", path.string()},
          {"measurement", measurement},
          {"latent_out_edges", latent},
          {"true_edges", true_edges},
          {"true_edges_in_support", found},
          {"candidate_edges", scores.size()},
          {"auprc_W", ap},
          {"auprc_W_random", scores.empty() ? 0.0 : static_cast<double>(found) / static_cast<double>(scores.size())},
          {"pearson_W", pearson(w_fit, w_true)},
          {"relative_error_W", relative_error(w_fit, w_true)},
          {"relative_error_c", relative_error(c_fit, c_true)},
          {"relative_error_v_over_gamma", relative_error(vg_fit, vg_true)},
          {"relative_error_beta_over_gamma", relative_error(bg_fit, bg_true)},
          {"kappa_fit", problem.kappa()},
          {"kappa_true_mean", true_kappa}};
}

}  // namespace perturbfit::fit

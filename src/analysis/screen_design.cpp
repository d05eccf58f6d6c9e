#include "perturbfit/analysis/screen_design.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>
#include <tuple>

#include "perturbfit/core/error.hpp"
#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/io/h5ad_reader.hpp"
#include "perturbfit/simulate/protocol.hpp"

namespace perturbfit::analysis {

using nlohmann::json;

PlannedScreen planned_screen(const config::Deck& deck) {
  PlannedScreen plan;
  for (const auto& step : simulate::parse_protocol(deck)) {
    if (const auto* p = std::get_if<simulate::PerturbStep>(&step.action)) {
      const auto& lib = p->library;
      plan.perturbations = lib.singles + lib.pairs + static_cast<int>(lib.targets.size() + lib.combinations.size());
      plan.guides_per_target = lib.guides_per_target;
      plan.controls_fraction = lib.controls_fraction;
      plan.perturb_step = step.index;
    }
    if (const auto* m = std::get_if<simulate::MeasureStep>(&step.action)) {
      plan.cells = m->cells, plan.batches = m->batches, plan.measure_step = step.index;
    }
  }
  if (plan.perturb_step < 0 || plan.measure_step < 0 || plan.perturbations == 0)
    throw UsageError("the deck plans no screen: design reads the [[protocol]]'s perturb step (singles, pairs, "
                     "guides_per_target, controls_fraction) and measure step (cells, batches)");
  return plan;
}

namespace {

// tau^2 from pairs of guides of one perturbation in one batch (screen_design.hpp). Sums of
// this rank's cells (whole perturbations live on one rank), a block of groups at a time.
void estimate_guide_variance(const parallel::Comm& comm, const data::ScreenData& screen,
                             const data::DataOptions& options, double pseudocount, const std::string& guide_key,
                             NoiseEstimate& out) {
  const io::H5adReader reader(options.path, comm.get(), options.layer);
  if (!reader.has_obs_column(guide_key)) return;
  const auto guide = reader.obs_column(guide_key);
  const auto G = screen.genes().size();
  const auto& rows = screen.local_rows();
  // Sub-groups (group, guide) of this rank's targeting cells: a group is one perturbation in
  // one batch, time and medium, so two of its guides share their controls.
  std::map<std::pair<int, int>, int> id_of;
  std::vector<std::int32_t> cell_group(static_cast<std::size_t>(screen.cells()), -1);
  std::vector<double> cells;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto row = static_cast<std::size_t>(rows[r]);
    const int group = screen.cell_groups()[row], g = guide.codes[row];
    if (group < 0 || g < 0 || screen.local_size_factors()[r] <= 0) continue;
    const auto p = screen.groups()[static_cast<std::size_t>(group)].perturbation;
    if (screen.perturbations()[static_cast<std::size_t>(p)].control) continue;
    const auto key = std::make_pair(group, g);
    if (!id_of.count(key)) id_of[key] = static_cast<int>(cells.size()), cells.push_back(0);
    cell_group[row] = id_of[key];
    cells[static_cast<std::size_t>(id_of[key])] += 1;
  }
  // The sub-groups in runs of one group; pairs within a run.
  std::vector<std::pair<int, int>> keys;
  for (const auto& [k, id] : id_of) keys.push_back(k);
  const data::CellSlice slice{screen.local_rows(), screen.local_indptr(), screen.local_cols(), screen.local_values(),
                              screen.local_size_factors()};
  double sq = 0, weight = 0, pairs = 0;
  const std::size_t block = std::max<std::size_t>(2, (std::size_t{1} << 22) / std::max<std::size_t>(G, 1));
  for (std::size_t begin = 0; begin < keys.size();) {
    // A block that ends at a run's end, so that every pair lies in one block.
    std::size_t end = std::min(keys.size(), begin + block);
    while (end < keys.size() && keys[end].first == keys[end - 1].first) ++end;
    std::vector<int> held;
    for (std::size_t k = begin; k < end; ++k) held.push_back(id_of[keys[k]]);
    const auto stats = data::sum_groups(held, static_cast<int>(G), slice, cell_group);
    for (std::size_t i = begin; i < end; ++i)
      for (std::size_t j = i + 1; j < end; ++j) {
        if (keys[i].first != keys[j].first) continue;
        const auto ni = cells[static_cast<std::size_t>(id_of[keys[i]])], nj = cells[static_cast<std::size_t>(id_of[keys[j]])];
        const double* li = stats.sum_linear_row(i - begin);
        const double* lj = stats.sum_linear_row(j - begin);
        for (std::size_t g = 0; g < G; ++g) {
          const double d = std::log(pseudocount + li[g] / ni) - std::log(pseudocount + lj[g] / nj);
          sq += d * d / static_cast<double>(G);
        }
        weight += 1 / ni + 1 / nj, pairs += 1;
      }
    begin = end;
  }
  sq = comm.sum(sq), weight = comm.sum(weight), pairs = comm.sum(pairs);
  if (pairs == 0) return;
  out.has_tau2 = true;
  out.guide_pairs = static_cast<std::int64_t>(pairs);
  out.tau2_unclipped = (sq - out.sigma2 * weight) / (2 * pairs);
  out.tau2 = std::max(0.0, out.tau2_unclipped);
}

}  // namespace

NoiseEstimate estimate_noise(const parallel::Comm& comm, const data::DataOptions& options, double pseudocount,
                             const std::string& guide_key, const Reporter& reporter) {
  const data::ScreenData screen(comm, options, reporter);
  const auto stats = screen.statistics();
  const auto G = static_cast<std::size_t>(stats.genes);
  const auto& groups = screen.groups();
  const auto& perts = screen.perturbations();
  // Each held group's log pseudo-bulk, as the fit forms it: log(eps + mean of y / s).
  std::map<int, std::vector<double>> y;
  for (std::size_t h = 0; h < stats.groups.size(); ++h) {
    const auto n = static_cast<double>(groups[static_cast<std::size_t>(stats.groups[h])].cells);
    if (n < 1) continue;
    std::vector<double> row(G);
    for (std::size_t g = 0; g < G; ++g) row[g] = std::log(pseudocount + stats.sum_linear_row(h)[g] / n);
    y[stats.groups[h]] = std::move(row);
  }
  // The owned perturbed groups with same-batch controls, by (perturbation, medium, time).
  std::map<std::tuple<int, int, int>, std::vector<int>> replicates;
  for (std::size_t h = 0; h < stats.groups.size(); ++h) {
    const int id = stats.groups[h];
    const auto& gr = groups[static_cast<std::size_t>(id)];
    if (perts[static_cast<std::size_t>(gr.perturbation)].control || gr.control_group < 0 || !y.count(id) ||
        !y.count(gr.control_group))
      continue;
    replicates[{gr.perturbation, gr.medium, gr.time}].push_back(id);
  }
  std::vector<double> sums(G + 2, 0.0);  // per gene sum of d^2, then the sum of weights and the pair count
  for (const auto& [key, ids] : replicates)
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (std::size_t j = i + 1; j < ids.size(); ++j) {
        const auto& a = groups[static_cast<std::size_t>(ids[i])];
        const auto& b = groups[static_cast<std::size_t>(ids[j])];
        if (a.batch == b.batch) continue;
        const auto &ya = y[ids[i]], &yb = y[ids[j]], &ca = y[a.control_group], &cb = y[b.control_group];
        for (std::size_t g = 0; g < G; ++g) {
          const double d = (ya[g] - ca[g]) - (yb[g] - cb[g]);
          sums[g] += d * d;
        }
        auto cells = [&](int id) { return static_cast<double>(groups[static_cast<std::size_t>(id)].cells); };
        sums[G] += 1 / cells(ids[i]) + 1 / cells(ids[j]) + 1 / cells(a.control_group) + 1 / cells(b.control_group);
        sums[G + 1] += 1;
      }
  comm.sum_in_place(sums);
  std::string method = "batch replicates";
  if (sums[G + 1] == 0) {
    // No batch replicates: each group's cells in two halves by row parity.
    method = "split halves";
    std::fill(sums.begin(), sums.end(), 0.0);
    std::vector<std::int32_t> half(screen.cell_groups().size(), -1);
    std::vector<double> count(2 * groups.size(), 0.0);
    const auto& rows = screen.local_rows();
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const auto row = static_cast<std::size_t>(rows[r]);
      const int g = screen.cell_groups()[row];
      if (g < 0 || screen.local_size_factors()[r] <= 0) continue;
      half[row] = 2 * g + static_cast<int>(row % 2);
      count[static_cast<std::size_t>(half[row])] += 1;
    }
    std::vector<int> held;
    for (std::size_t h = 0; h < count.size(); h += 2)
      if (count[h] >= 2 && count[h + 1] >= 2) held.insert(held.end(), {static_cast<int>(h), static_cast<int>(h + 1)});
    const data::CellSlice slice{screen.local_rows(), screen.local_indptr(), screen.local_cols(),
                                screen.local_values(), screen.local_size_factors()};
    const std::size_t block = std::max<std::size_t>(2, ((std::size_t{1} << 22) / std::max<std::size_t>(G, 1)) & ~std::size_t{1});
    for (std::size_t begin = 0; begin < held.size(); begin += block) {
      const std::vector<int> part(held.begin() + static_cast<long>(begin),
                                  held.begin() + static_cast<long>(std::min(held.size(), begin + block)));
      const auto halves = data::sum_groups(part, static_cast<int>(G), slice, half);
      for (std::size_t k = 0; k + 1 < part.size(); k += 2) {
        const double n1 = count[static_cast<std::size_t>(part[k])], n2 = count[static_cast<std::size_t>(part[k + 1])];
        for (std::size_t g = 0; g < G; ++g) {
          const double d = std::log(pseudocount + halves.sum_linear_row(k)[g] / n1) -
                           std::log(pseudocount + halves.sum_linear_row(k + 1)[g] / n2);
          sums[g] += d * d;
        }
        sums[G] += 1 / n1 + 1 / n2, sums[G + 1] += 1;
      }
    }
    comm.sum_in_place(sums);
  }
  if (sums[G + 1] == 0)
    throw DataError("the screen '" + options.path +
                    "' has no group with 4 or more cells: sigma^2 cannot be estimated; give it with --sigma2");
  NoiseEstimate out;
  out.genes = static_cast<int>(G);
  out.replicate_pairs = static_cast<std::int64_t>(sums[G + 1]);
  out.method = method;
  std::vector<double> per_gene(G);
  for (std::size_t g = 0; g < G; ++g) per_gene[g] = sums[g] / sums[G], out.sigma2 += per_gene[g] / static_cast<double>(G);
  std::sort(per_gene.begin(), per_gene.end());
  out.sigma2_median = per_gene[G / 2];
  out.sigma2_p90 = per_gene[std::min(G - 1, G * 9 / 10)];
  if (!guide_key.empty()) estimate_guide_variance(comm, screen, options, pseudocount, guide_key, out);
  return out;
}

EffectPrecision effect_precision(const PlannedScreen& plan, double sigma2, double tau2) {
  EffectPrecision e;
  const auto N = static_cast<double>(plan.cells);
  e.cells_per_perturbation = (1 - plan.controls_fraction) * N / plan.perturbations;
  e.control_cells = plan.controls_fraction * N;
  e.variance = sigma2 / e.cells_per_perturbation + sigma2 / e.control_cells + tau2 / plan.guides_per_target;
  e.standard_error = std::sqrt(e.variance);
  const double B = plan.batches;
  e.replicate_difference_variance = 2 * sigma2 * (B / e.cells_per_perturbation + B / e.control_cells);
  return e;
}

double recommended_controls_fraction(int perturbations) {
  const double r = std::sqrt(static_cast<double>(perturbations));
  return r / (perturbations + r);
}

json design_report(const PlannedScreen& plan, double sigma2, double tau2, const json& noise_source) {
  auto precision = [&](const PlannedScreen& p) {
    const auto e = effect_precision(p, sigma2, tau2);
    const double per_batch_perturbed = e.cells_per_perturbation / p.batches;
    return json{{"controls_fraction", p.controls_fraction},
                {"cells_per_perturbation", e.cells_per_perturbation},
                {"cells_per_guide", e.cells_per_perturbation / p.guides_per_target},
                {"control_cells_per_batch", e.control_cells / p.batches},
                {"perturbed_cells_per_batch_and_perturbation", per_batch_perturbed},
                {"variance", e.variance},
                {"standard_error", e.standard_error},
                {"replicate_difference_variance", e.replicate_difference_variance}};
  };
  PlannedScreen best = plan;
  best.controls_fraction = recommended_controls_fraction(plan.perturbations);
  const auto at_plan = precision(plan), at_best = precision(best);
  // Curves: the standard error against the budget (all cells, controls included, per
  // perturbation), at the plan's and at the recommended allocation of that budget.
  json curves = json::array();
  for (double fraction : {plan.controls_fraction, best.controls_fraction}) {
    json c{{"controls_fraction", fraction}, {"cells_per_perturbation", json::array()}, {"standard_error", json::array()}};
    for (double budget : {25.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0}) {
      PlannedScreen p = plan;
      p.controls_fraction = fraction;
      p.cells = static_cast<std::int64_t>(budget * plan.perturbations);
      c["cells_per_perturbation"].push_back(budget);
      c["standard_error"].push_back(effect_precision(p, sigma2, tau2).standard_error);
    }
    curves.push_back(c);
  }
  const double sqrt_k = std::sqrt(static_cast<double>(plan.perturbations));
  return {{"command", "design"},
          {"plan",
           {{"perturbations", plan.perturbations},
            {"guides_per_target", plan.guides_per_target},
            {"cells", plan.cells},
            {"batches", plan.batches},
            {"controls_fraction", plan.controls_fraction}}},
          {"sigma2", sigma2},
          {"tau2", tau2},
          {"noise_source", noise_source},
          {"at_plan", at_plan},
          {"recommended",
           {{"rule", "control cells per batch = perturbed cells per batch and perturbation x sqrt(k), k = " +
                         std::to_string(plan.perturbations) + " perturbations sharing them"},
            {"controls_fraction", best.controls_fraction},
            {"control_cells_per_batch",
             at_plan["perturbed_cells_per_batch_and_perturbation"].get<double>() * sqrt_k},
            {"precision", at_best},
            {"variance_ratio_plan_over_recommended", at_plan["variance"].get<double>() / at_best["variance"].get<double>()}}},
          {"curves", curves}};
}

std::string design_table(const json& r) {
  std::ostringstream os;
  const auto& plan = r["plan"];
  os << std::setprecision(4) << "design: " << plan["perturbations"] << " perturbations x " << plan["guides_per_target"]
     << " guides, " << plan["cells"] << " cells in " << plan["batches"] << " batches, controls fraction "
     << plan["controls_fraction"].get<double>() << "\n  sigma^2 " << r["sigma2"].get<double>() << " ("
     << r["noise_source"]["source"].get<std::string>() << "), tau^2 " << r["tau2"].get<double>() << "\n"
     << "  " << std::left << std::setw(14) << "allocation" << std::setw(10) << "controls" << std::setw(16)
     << "controls/batch" << std::setw(14) << "cells/guide" << std::setw(14) << "SE(effect)"
     << "variance\n";
  for (const auto& [name, p] : {std::pair<std::string, json>{"plan", r["at_plan"]},
                                std::pair<std::string, json>{"recommended", r["recommended"]["precision"]}})
    os << "  " << std::setw(14) << name << std::setw(10) << p["controls_fraction"].get<double>() << std::setw(16)
       << p["control_cells_per_batch"].get<double>() << std::setw(14) << p["cells_per_guide"].get<double>()
       << std::setw(14) << p["standard_error"].get<double>() << p["variance"].get<double>() << "\n";
  os << "  recommended: " << r["recommended"]["rule"].get<std::string>() << "; the plan's variance is "
     << r["recommended"]["variance_ratio_plan_over_recommended"].get<double>() << "x the recommended allocation's\n";
  return os.str();
}

}  // namespace perturbfit::analysis

#include "perturbfit/data/inspect_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace perturbfit::data {

using nlohmann::json;

json inspect_report(const ScreenData& s, const DataOptions& o) {
  json r;
  const auto& L = s.matrix();
  r["file"] = o.path;
  r["cells"] = L.rows;
  r["genes"] = s.genes().size();
  r["genes_in_file"] = L.cols;
  r["matrix"] = {{"source", L.source},
                 {"encoding", io::to_string(L.encoding)},
                 {"dtype", L.dtype},
                 {"stored_values", L.nnz},
                 {"density", L.rows && L.cols ? static_cast<double>(L.nnz) /
                                                    (static_cast<double>(L.rows) * static_cast<double>(L.cols))
                                              : 0.0}};
  r["obs_columns"] = {{"perturbation", {{"key", o.perturbation_key}, {"encoding", s.column_encoding("perturbation")}}},
                      {"batch", {{"key", o.batch_key}, {"encoding", s.column_encoding("batch")}}},
                      {"time", {{"key", o.time_key}, {"encoding", s.column_encoding("time")}}},
                      {"medium", {{"key", o.medium_key}, {"encoding", s.column_encoding("medium")}}}};
  std::int64_t singles = 0, combos = 0, control_cells = 0;
  std::set<std::string> targets;
  for (const auto& p : s.perturbations()) {
    if (p.control) {
      control_cells += p.cells;
      continue;
    }
    (p.targets.size() > 1 ? combos : singles) += 1;
    targets.insert(p.targets.begin(), p.targets.end());
  }
  r["perturbations"] = {{"total", singles + combos},
                        {"single", singles},
                        {"combinatorial", combos},
                        {"control_labels", s.control_labels_found()},
                        {"control_cells", control_cells}};
  const auto missing = s.targets_not_in_var();
  const auto& action = o.missing_targets;
  r["targets"] = {{"distinct", targets.size()},
                  {"in_var", targets.size() - missing.size()},
                  {"not_in_var", missing},
                  {"not_in_var_action", missing.empty()      ? "none"
                                        : action == "latent" ? "latent nodes"
                                        : action == "skip"   ? "cells skipped"
                                                             : "error"}};

  // Per batch: cells, control cells, perturbations present, square-root allocation.
  const auto nb = s.batches().size();
  std::vector<std::int64_t> cells(nb, 0), controls(nb, 0), pert_groups(nb, 0), pert_cells(nb, 0);
  std::vector<std::int64_t> group_cells;
  for (const auto& g : s.groups()) {
    const auto b = static_cast<std::size_t>(g.batch);
    cells[b] += g.cells;
    if (s.perturbations()[static_cast<std::size_t>(g.perturbation)].control)
      controls[b] += g.cells;
    else
      pert_groups[b] += 1, pert_cells[b] += g.cells, group_cells.push_back(g.cells);
  }
  json batches = json::array(), warnings = json::array();
  for (std::size_t b = 0; b < nb; ++b) {
    const double n = pert_groups[b] ? static_cast<double>(pert_cells[b]) / static_cast<double>(pert_groups[b]) : 0.0;
    const double recommended = n * std::sqrt(static_cast<double>(pert_groups[b]));
    batches.push_back({{"name", s.batches()[b]},
                       {"cells", cells[b]},
                       {"control_cells", controls[b]},
                       {"perturbation_groups", pert_groups[b]},
                       {"recommended_control_cells", std::lround(recommended)}});
    if (controls[b] > 0 && static_cast<double>(controls[b]) < 0.5 * recommended)
      warnings.push_back("batch '" + s.batches()[b] + "' has " + std::to_string(controls[b]) +
                         " control cells; the square-root rule n_c = n*sqrt(k) (MODEL.md section 9) suggests about " +
                         std::to_string(std::lround(recommended)) + " for its " + std::to_string(pert_groups[b]) +
                         " perturbations of ~" + std::to_string(std::lround(n)) + " cells");
  }
  r["batches"] = batches;
  const auto uncontrolled = s.batches_without_controls();
  r["batches_without_controls"] = uncontrolled;
  for (const auto& b : uncontrolled)
    warnings.push_back("batch '" + b +
                       "' has no control cells: its offset is unidentifiable and its perturbations can only be "
                       "contrasted with other batches' controls, a bias no number of cells removes");
  // Per (medium, time): a time point with perturbed cells and no controls has no time-matched
  // reference (controls of differentiating cells move: another time's are not a substitute).
  std::map<std::pair<int, int>, std::pair<std::int64_t, std::int64_t>> per_time;  // perturbed, control cells
  for (const auto& g : s.groups()) {
    auto& [perturbed, control] = per_time[{g.medium, g.time}];
    (s.perturbations()[static_cast<std::size_t>(g.perturbation)].control ? control : perturbed) += g.cells;
  }
  json untimed = json::array();
  for (const auto& [key, n] : per_time) {
    if (n.first == 0 || n.second > 0) continue;
    const auto& time = s.times()[static_cast<std::size_t>(key.second)];
    const auto& medium = s.media()[static_cast<std::size_t>(key.first)];
    untimed.push_back({{"medium", medium}, {"time", time}});
    warnings.push_back("time '" + time + "' in medium '" + medium +
                       "' has perturbed cells but no control cells: no time-matched controls; its effects can only be "
                       "taken against another time's controls (biased if the controls change over time)");
  }
  r["times_without_controls"] = untimed;
  std::sort(group_cells.begin(), group_cells.end());
  std::int64_t small = 0;
  for (auto c : group_cells) small += c < o.min_cells_per_group;
  r["groups"] = {{"count", s.groups().size()},
                 {"perturbed_groups", group_cells.size()},
                 {"cells_min", group_cells.empty() ? 0 : group_cells.front()},
                 {"cells_median", group_cells.empty() ? 0 : group_cells[group_cells.size() / 2]},
                 {"cells_max", group_cells.empty() ? 0 : group_cells.back()},
                 {"below_min_cells", small},
                 {"min_cells_per_group", o.min_cells_per_group}};
  if (small > 0)
    warnings.push_back(std::to_string(small) + " perturbation group(s) have fewer than " +
                       std::to_string(o.min_cells_per_group) +
                       " cells (data.min_cells_per_group): their effects are noisy");
  if (!missing.empty() && action == "latent")
    warnings.push_back(std::to_string(missing.size()) + " target(s) are not in var (e.g. '" + missing.front() +
                       "'): the fit models each as a latent node, seen only through the measured genes it regulates "
                       "(data.missing_targets = latent; skip drops their cells)");
  else if (!missing.empty() && action == "skip")
    warnings.push_back(std::to_string(missing.size()) + " target(s) are not in var (e.g. '" + missing.front() +
                       "'): their cells are skipped (data.missing_targets = skip)");
  json conventions = json::array();
  for (const auto& c : s.conventions()) {
    const bool used = c.perturbation_key == o.perturbation_key && c.separator == o.separator &&
                      std::count(o.control_labels.begin(), o.control_labels.end(), c.control_label);
    conventions.push_back({{"name", c.name},
                           {"evidence", c.evidence},
                           {"perturbation_key", c.perturbation_key},
                           {"control_label", c.control_label},
                           {"separator", c.separator},
                           {"deck_keys", c.deck_keys()},
                           {"matches_deck", used}});
  }
  r["conventions"] = conventions;
  if (!conventions.empty() && !conventions.front()["matches_deck"].get<bool>())
    warnings.push_back("the file follows the " + conventions.front()["name"].get<std::string>() + " convention (" +
                       conventions.front()["evidence"].get<std::string>() +
                       "), which the deck does not use: " + conventions.front()["deck_keys"].get<std::string>());
  if (!s.abundance().empty()) {  // data.guide_counts: what the fit's fitness term will see
    std::set<std::string> series;
    std::set<int> perturbations;
    for (const auto& a : s.abundance()) series.insert(a.series), perturbations.insert(a.perturbation);
    r["guide_counts"] = {{"file", o.guide_counts},
                         {"changes", s.abundance().size()},
                         {"series", series.size()},
                         {"perturbations", perturbations.size()}};
  }
  for (const auto& p : s.problems()) warnings.push_back(p);
  r["warnings"] = warnings;
  return r;
}

std::string inspect_text(const json& r) {
  std::ostringstream os;
  os << r["file"].get<std::string>() << "\n"
     << "  cells x genes     " << r["cells"] << " x " << r["genes"] << "  (" << r["matrix"]["source"].get<std::string>()
     << ", " << r["matrix"]["encoding"].get<std::string>() << ", " << r["matrix"]["dtype"].get<std::string>()
     << ", density " << r["matrix"]["density"].get<double>() << ")\n"
     << "  perturbations     " << r["perturbations"]["total"] << " (" << r["perturbations"]["single"] << " single, "
     << r["perturbations"]["combinatorial"] << " combinatorial); control cells " << r["perturbations"]["control_cells"]
     << "\n"
     << "  targets           " << r["targets"]["distinct"] << " distinct, " << r["targets"]["in_var"] << " in var"
     << (r["targets"]["not_in_var"].empty()
             ? std::string()
             : ", " + std::to_string(r["targets"]["not_in_var"].size()) + " not in var (" +
                   r["targets"]["not_in_var_action"].get<std::string>() + ")")
     << "\n"
     << "  cells per group   min " << r["groups"]["cells_min"] << ", median " << r["groups"]["cells_median"] << ", max "
     << r["groups"]["cells_max"] << " (" << r["groups"]["perturbed_groups"] << " perturbed groups)\n"
     << "  batches           name: cells / controls (square-root suggestion)\n";
  for (const auto& b : r["batches"])
    os << "    " << b["name"].get<std::string>() << ": " << b["cells"] << " / " << b["control_cells"] << " ("
       << b["recommended_control_cells"] << ")\n";
  if (r.contains("guide_counts"))
    os << "  guide counts      " << r["guide_counts"]["changes"] << " changes of " << r["guide_counts"]["perturbations"]
       << " perturbations in " << r["guide_counts"]["series"] << " series ("
       << r["guide_counts"]["file"].get<std::string>() << ")\n";
  for (const auto& c : r["conventions"])
    os << "  convention        " << c["name"].get<std::string>()
       << (c["matches_deck"].get<bool>() ? " (the deck's)" : "") << ": " << c["deck_keys"].get<std::string>() << "\n";
  for (const auto& w : r["warnings"]) os << "  warning: " << w.get<std::string>() << "\n";
  return os.str();
}

}  // namespace perturbfit::data

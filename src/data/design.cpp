#include "perturbfit/data/design.hpp"

#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "perturbfit/core/text.hpp"

namespace perturbfit::data {

std::vector<std::string> label_targets(const std::string& label, const std::string& separator,
                                       const std::set<std::string>& control_labels) {
  std::vector<std::string> targets;
  for (const auto& t : split_trimmed(label, separator))
    if (!t.empty() && !control_labels.count(t)) targets.push_back(t);
  return targets;
}

Classification classify_perturbations(const std::vector<std::string>& labels,
                                      const std::vector<std::int32_t>& cell_label,
                                      const std::set<std::string>& control_labels, const std::string& separator) {
  Classification out;
  std::vector<int> remap(labels.size(), -1);
  for (std::size_t c = 0; c < labels.size(); ++c)
    if (control_labels.count(labels[c])) {
      if (out.perturbations.empty()) {
        Perturbation ctrl;
        ctrl.label = labels[c];
        ctrl.control = true;
        out.perturbations.push_back(ctrl);
      }
      remap[c] = 0;
      out.control_labels_found.push_back(labels[c]);
    }
  if (out.perturbations.empty()) return out;
  for (std::size_t c = 0; c < labels.size(); ++c) {
    if (remap[c] >= 0) continue;
    Perturbation p;
    p.label = labels[c];
    p.targets = label_targets(p.label, separator, control_labels);
    if (p.targets.empty()) {  // 'ctrl+ctrl': a control cell
      remap[c] = 0;
      out.control_labels_found.push_back(p.label);
      continue;
    }
    remap[c] = static_cast<int>(out.perturbations.size());
    out.perturbations.push_back(std::move(p));
  }
  out.cell_perturbation.reserve(cell_label.size());
  for (const auto code : cell_label) {
    const int p = remap.at(static_cast<std::size_t>(code));
    out.cell_perturbation.push_back(p);
    ++out.perturbations[static_cast<std::size_t>(p)].cells;
  }
  return out;
}

Grouping group_cells(const std::vector<std::int32_t>& perturbation, const std::vector<std::int32_t>& batch,
                     const std::vector<std::int32_t>& time, const std::vector<std::int32_t>& medium) {
  const std::size_t n = perturbation.size();
  auto key = [&](std::size_t i) { return std::make_tuple(perturbation[i], batch[i], time[i], medium[i]); };
  std::map<std::tuple<int, int, int, int>, int> index;
  for (std::size_t i = 0; i < n; ++i) index.emplace(key(i), 0);
  Grouping out;
  int next = 0;
  for (auto& [k, id] : index) {
    id = next++;
    Group g;
    std::tie(g.perturbation, g.batch, g.time, g.medium) = k;
    out.groups.push_back(g);
  }
  out.cell_group.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int g = index.at(key(i));
    out.cell_group[i] = g;
    ++out.groups[static_cast<std::size_t>(g)].cells;
  }
  for (auto& g : out.groups) {
    const auto it = index.find(std::make_tuple(0, g.batch, g.time, g.medium));
    g.control_group = it == index.end() ? -1 : it->second;
  }
  return out;
}

std::vector<std::string> batches_without_controls(const std::vector<Group>& groups,
                                                  const std::vector<Perturbation>& perturbations,
                                                  const std::vector<std::string>& batches) {
  std::vector<std::int64_t> controls(batches.size(), 0), cells(batches.size(), 0);
  for (const auto& g : groups) {
    cells.at(static_cast<std::size_t>(g.batch)) += g.cells;
    if (perturbations.at(static_cast<std::size_t>(g.perturbation)).control)
      controls[static_cast<std::size_t>(g.batch)] += g.cells;
  }
  std::vector<std::string> out;
  for (std::size_t b = 0; b < batches.size(); ++b)
    if (cells[b] > 0 && controls[b] == 0) out.push_back(batches[b]);
  return out;
}

std::vector<std::string> missing_targets(const std::vector<std::string>& genes,
                                         const std::vector<Perturbation>& perturbations) {
  const std::set<std::string> panel(genes.begin(), genes.end());
  std::set<std::string> missing;
  for (const auto& p : perturbations)
    for (const auto& t : p.targets)
      if (!panel.count(t)) missing.insert(t);
  return {missing.begin(), missing.end()};
}

std::vector<std::string> assign_target_nodes(const std::vector<std::string>& genes, const std::string& missing_policy,
                                             std::vector<Perturbation>& perturbations) {
  std::vector<std::string> latent;
  if (missing_policy == "latent") latent = missing_targets(genes, perturbations);
  std::unordered_map<std::string, int> node;
  for (std::size_t j = 0; j < genes.size(); ++j) node.emplace(genes[j], static_cast<int>(j));
  const auto measured = node.size();
  for (std::size_t l = 0; l < latent.size(); ++l) node.emplace(latent[l], static_cast<int>(genes.size() + l));
  for (auto& p : perturbations) {
    p.target_genes.clear();
    p.target_nodes.clear();
    for (const auto& t : p.targets) {
      const auto it = node.find(t);
      const int n = it == node.end() ? -1 : it->second;
      const bool is_gene = n >= 0 && static_cast<std::size_t>(n) < measured;
      p.target_genes.push_back(is_gene ? n : -1);
      p.target_nodes.push_back(n);
      if (n < 0 && missing_policy == "skip") p.excluded = true;
    }
  }
  return latent;
}

}  // namespace perturbfit::data

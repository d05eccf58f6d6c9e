#include "perturbfit/data/design.hpp"

#include <set>
#include <unordered_map>

namespace perturbfit::data {

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

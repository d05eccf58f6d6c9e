#include "perturbfit/model/niche.hpp"

#include <set>

#include "perturbfit/core/error.hpp"

namespace perturbfit::model {

void NicheCoupling::validate(int genes, int media) const {
  if (media <= 0 && !ligand_genes.empty())
    throw UsageError("a niche needs medium channels for its factors (network.media = 0)");
  if (gamma.size() != static_cast<std::size_t>(media) * ligand_genes.size())
    throw UsageError("the niche coupling has " + std::to_string(gamma.size()) + " entries; " + std::to_string(media) +
                     " channels x " + std::to_string(ligand_genes.size()) + " ligand genes expected");
  std::set<int> seen;
  for (const int g : ligand_genes) {
    if (g < 0 || g >= genes)
      throw UsageError("niche ligand gene " + std::to_string(g) + " is not one of the model's " +
                       std::to_string(genes) + " genes");
    if (!seen.insert(g).second) throw UsageError("niche ligand gene " + std::to_string(g) + " is listed twice");
  }
}

}  // namespace perturbfit::model

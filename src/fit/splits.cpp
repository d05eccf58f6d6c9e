#include "perturbfit/fit/splits.hpp"

#include <map>

#include "perturbfit/core/random.hpp"

namespace perturbfit::fit {

const char* to_string(Split s) {
  switch (s) {
    case Split::kTrain:
      return "train";
    case Split::kValidation:
      return "validation";
    case Split::kTest:
      return "test";
  }
  return "?";
}

std::vector<Split> assign_splits(const std::vector<data::Perturbation>& perturbations, double validation_fraction,
                                 double test_fraction, std::uint64_t seed) {
  std::vector<Split> splits(perturbations.size(), Split::kTrain);
  for (std::size_t p = 0; p < perturbations.size(); ++p) {
    if (perturbations[p].control || perturbations[p].excluded) continue;
    RandomStream rng(seed, StreamDomain::kSplit, stream_id(perturbations[p].label));
    const double u = rng.uniform();
    splits[p] = u < test_fraction                         ? Split::kTest
                : u < test_fraction + validation_fraction ? Split::kValidation
                                                          : Split::kTrain;
  }
  return splits;
}

std::string holdout_category(const std::vector<data::Perturbation>& perturbations, const std::vector<Split>& splits,
                             std::size_t p) {
  const auto& targets = perturbations[p].target_nodes;  // measured or latent
  if (targets.size() < 2) return "single";
  std::map<int, bool> seen;
  for (std::size_t q = 0; q < perturbations.size(); ++q)
    if (splits[q] == Split::kTrain && perturbations[q].target_nodes.size() == 1 && !perturbations[q].excluded)
      seen[perturbations[q].target_nodes[0]] = true;
  for (int t : targets)
    if (!seen.count(t)) return "combination (unseen single)";
  return "combination (singles seen)";
}

}  // namespace perturbfit::fit

#include "perturbfit/analysis/contexts.hpp"

#include <algorithm>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/text.hpp"

namespace perturbfit::analysis {

const std::vector<std::string>& node_names(const fit::FitProblem& problem) {
  return problem.field().params().gene_names;
}

int resolve_node(const fit::FitProblem& problem, const std::string& name, const std::string& where) {
  // Measured genes and latent targets only: the shared-response nodes are not genes.
  const auto& genes = problem.data().genes();
  const auto& latent = problem.data().latent_targets();
  std::vector<std::string> known = genes;
  known.insert(known.end(), latent.begin(), latent.end());
  const auto it = std::find(known.begin(), known.end(), name);
  if (it == known.end())
    throw UsageError("unknown gene '" + name + "' in " + where +
                     ": not a measured gene or latent target of this model; did you mean '" +
                     config::nearest(name, known) + "'?");
  return static_cast<int>(it - known.begin());
}

std::vector<int> resolve_targets(const fit::FitProblem& problem, const std::string& label) {
  std::vector<int> nodes;
  for (const auto& name : split_trimmed(label, "+")) {
    if (name.empty())
      throw UsageError("perturbation '" + label + "' has an empty target (targets are joined by '+', e.g. A+B)");
    nodes.push_back(resolve_node(problem, name, "perturbation '" + label + "'"));
  }
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

std::vector<int> selected_references(const fit::FitProblem& problem, const std::vector<std::string>& media) {
  const auto& names = problem.data().media();
  for (const auto& m : media)
    if (std::find(names.begin(), names.end(), m) == names.end())
      throw UsageError("--medium '" + m + "' is not a medium of the screen; did you mean '" +
                       config::nearest(m, names) + "'?");
  std::vector<int> out;
  const auto& refs = problem.references();
  for (std::size_t r = 0; r < refs.size(); ++r)
    if (media.empty() ||
        std::find(media.begin(), media.end(), names[static_cast<std::size_t>(refs[r].medium)]) != media.end())
      out.push_back(static_cast<int>(r));
  if (out.empty()) throw UsageError("no control reference in the selected media: nothing to do");
  return out;
}

}  // namespace perturbfit::analysis

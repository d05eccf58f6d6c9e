// How the analysis commands name things of a fitted problem: nodes by gene name, contexts
// (control references: medium and time) by medium name. The condition of a context is
// FitProblem::context_condition.
#pragma once
#include <string>
#include <vector>

#include "perturbfit/fit/problem.hpp"

namespace perturbfit::analysis {

// The model node of a measured gene or latent target; UsageError naming the nearest one.
int resolve_node(const fit::FitProblem& problem, const std::string& name, const std::string& where);
// The nodes of the '+'-separated targets of `label`, sorted and unique.
std::vector<int> resolve_targets(const fit::FitProblem& problem, const std::string& label);
// Node names: the measured genes, the latent targets, the shared-response nodes.
const std::vector<std::string>& node_names(const fit::FitProblem& problem);

// The control references in the named media (empty: all); UsageError for an unknown medium.
std::vector<int> selected_references(const fit::FitProblem& problem, const std::vector<std::string>& media);

}  // namespace perturbfit::analysis

// The support pattern of W (which regulator -> target weights the fit may use): a prior
// edge list, all-to-all for small G, or the k most co-expressed regulators of each gene.
// Never a dense G x G matrix: co-expression is computed a block of targets at a time.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/model/csr.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::fit {

// Nodes: `measured` genes, then `latent` latent targets, then any further unobserved
// nodes (the shared response). rows: this rank's training group profiles (log mean
// expression, `measured` values each); the co-expression of support = knn is the
// correlation of genes across all ranks' rows (row_ids: their groups' ids, which key the
// random sketch a genome-scale panel uses, so the support does not depend on the ranks).
// response_edges: (target gene, regulator node) candidates from the training responses
// (FitProblem::response_edges), replicated; with support = edgelist they are added only
// for regulators the prior gives no out-edge.
// Self-loops are excluded. The values of the returned matrix are zero.
model::CsrMatrix support_pattern(const FitOptions& options, const std::vector<std::string>& nodes, int measured,
                                 int latent, const std::vector<std::pair<int, int>>& response_edges,
                                 const std::vector<const double*>& rows, const std::vector<int>& row_ids,
                                 const parallel::Comm& comm, const Reporter& reporter);

// Above this many multiply-adds (G^2 n training groups) the exact co-expression scan would
// dominate a fit's set-up (hours at G = 20k); knn then ranks pairs by a random sketch and
// scores the best candidates exactly (support.cpp).
constexpr double kExactScanWork = 2e10;

// support = knn: for each gene its k regulators of largest |correlation| across the
// training groups' rows (see support_pattern).
model::CsrMatrix nearest_coexpressed(int G, int k, const std::vector<const double*>& rows,
                                     const std::vector<int>& row_ids, const parallel::Comm& comm,
                                     const Reporter& reporter, double exact_work_limit = kExactScanWork);

// The (at most) k genes of largest positive response, largest first (ties: lower index),
// leaving out `self` (a node does not regulate itself).
std::vector<int> top_responders(const double* response, int genes, int self, int k);

}  // namespace perturbfit::fit

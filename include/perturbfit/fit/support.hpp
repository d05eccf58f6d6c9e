// The support pattern of W (which regulator -> target weights the fit may use): a prior
// edge list, all-to-all for small G, or the k most co-expressed regulators of each gene.
// Never a dense G x G matrix: co-expression is computed a block of targets at a time.
#pragma once
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/model/csr.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::fit {

// rows: this rank's training group profiles (log mean expression, G values each); the
// co-expression of support = knn is the correlation of genes across all ranks' rows.
// Self-loops are excluded. The values of the returned matrix are zero. Nodes: the G
// measured genes, then the L latent ones (targets not in var). A latent node that the edge
// list gives no out-edge gets edges to the fit.latent_out_degree measured genes with the
// largest latent_response (L x G, replicated: how strongly each gene responds to the
// node's knockdown in the training groups; zero: no out-edge).
model::CsrMatrix support_pattern(const FitOptions& options, const std::vector<std::string>& genes,
                                 const std::vector<std::string>& latent, const std::vector<double>& latent_response,
                                 const std::vector<const double*>& rows, const parallel::Comm& comm,
                                 const Reporter& reporter);

}  // namespace perturbfit::fit

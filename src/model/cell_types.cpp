#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/model/generators.hpp"

namespace perturbfit::model {

void add_cell_types(ModelParameters& p, NicheCoupling& niche, const CellTypeOptions& opt, std::uint64_t seed) {
  const auto T = opt.names.size();
  if (T < 2) return;
  if (!opt.fractions.empty() && opt.fractions.size() != T)
    throw UsageError("cell_types.fractions has " + std::to_string(opt.fractions.size()) + " entries for " +
                     std::to_string(T) + " cell_types.names");
  const auto G = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media);
  std::vector<double> U(G * (K + T), 0.0);
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < K; ++k) U[g * (K + T) + k] = p.U[g * K + k];
  for (std::size_t t = 0; t < T; ++t) {
    RandomStream rs(seed, StreamDomain::kCellTypes, t);
    for (std::size_t g = 0; g < G; ++g) U[g * (K + T) + K + t] = opt.bias_sd * rs.normal();
  }
  p.U = std::move(U);
  if (opt.production_sd > 0 || !p.Q.empty()) {
    std::vector<double> Q(G * (K + T), 0.0);
    for (std::size_t g = 0; g < G && !p.Q.empty(); ++g)
      for (std::size_t k = 0; k < K; ++k) Q[g * (K + T) + k] = p.Q[g * K + k];
    for (std::size_t t = 0; opt.production_sd > 0 && t < T; ++t) {
      RandomStream rs(seed, StreamDomain::kCellTypes, T + t);  // after the biases' streams 0..T-1
      for (std::size_t g = 0; g < G; ++g) Q[g * (K + T) + K + t] = opt.production_sd * rs.normal();
    }
    p.Q = std::move(Q);
  }
  // The neural correction reads the medium through C (h x K): the type channels add nothing there.
  const auto h = static_cast<std::size_t>(p.neural_rank);
  std::vector<double> C(h * (K + T), 0.0);
  for (std::size_t r = 0; r < h; ++r)
    for (std::size_t k = 0; k < K; ++k) C[r * (K + T) + k] = p.C[r * K + k];
  p.C = std::move(C);
  p.media = static_cast<int>(K + T);
  niche.gamma.resize(niche.gamma.size() + T * niche.ligand_genes.size(), 0.0);  // row-major: zero rows last
}

}  // namespace perturbfit::model

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
  // A rows x K row-major matrix with T more columns, the type channels, drawn at sd from
  // the streams first_stream + t (sd 0: zero).
  const auto widen = [&](const std::vector<double>& m, std::size_t rows, double sd, std::uint64_t first_stream) {
    std::vector<double> out(rows * (K + T), 0.0);
    for (std::size_t r = 0; r < rows && !m.empty(); ++r)
      for (std::size_t k = 0; k < K; ++k) out[r * (K + T) + k] = m[r * K + k];
    for (std::size_t t = 0; sd > 0 && t < T; ++t) {
      RandomStream rs(seed, StreamDomain::kCellTypes, first_stream + t);
      for (std::size_t r = 0; r < rows; ++r) out[r * (K + T) + K + t] = sd * rs.normal();
    }
    return out;
  };
  p.U = widen(p.U, G, opt.bias_sd, 0);
  // Production only where asked for (or already there): Q empty means none.
  if (opt.production_sd > 0 || !p.Q.empty()) p.Q = widen(p.Q, G, opt.production_sd, T);  // after the biases' streams
  // The neural correction reads the medium through C (h x K): the type channels add nothing there.
  p.C = widen(p.C, static_cast<std::size_t>(p.neural_rank), 0.0, 0);
  p.media = static_cast<int>(K + T);
  niche.gamma.resize(niche.gamma.size() + T * niche.ligand_genes.size(), 0.0);  // row-major: zero rows last
}

}  // namespace perturbfit::model

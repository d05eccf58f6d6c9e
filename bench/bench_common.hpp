// Setup shared by the benchmarks: a wall clock; the G-gene random network with about nnz edges, and one
// single knockdown (kappa = 0.85) per perturbation index, target = index mod G.
#pragma once
#include <chrono>
#include <cmath>
#include <vector>

#include "perturbfit/model/generators.hpp"
#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::bench {

using Clock = std::chrono::steady_clock;
// Wall seconds since t.
inline double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

inline model::ModelParameters benchmark_model(int genes, long nnz, std::uint64_t seed) {
  model::GeneratorOptions g;
  g.genes = genes;
  g.mean_in_degree = static_cast<double>(nnz) / genes;
  g.media = 0;
  g.seed = seed;
  return model::generate_model(g);
}

// ||a - b|| / ||b||
inline double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]) * (a[i] - b[i]), n += b[i] * b[i];
  return n > 0 ? std::sqrt(d / n) : std::sqrt(d);
}

inline std::vector<model::Condition> single_knockdowns(parallel::Range range, int genes) {
  std::vector<model::Condition> conds;
  for (std::size_t p = range.begin; p < range.end; ++p) {
    model::Condition c;
    c.knock = {{static_cast<int>(p % static_cast<std::size_t>(genes)), 0.85}};
    conds.push_back(c);
  }
  return conds;
}

}  // namespace perturbfit::bench

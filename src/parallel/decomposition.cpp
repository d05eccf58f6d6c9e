#include "perturbfit/parallel/decomposition.hpp"

#include <numeric>

namespace perturbfit::parallel {

Range block_range(std::size_t n, int nranks, int rank) {
  const std::size_t p = static_cast<std::size_t>(nranks), r = static_cast<std::size_t>(rank);
  const std::size_t base = n / p, extra = n % p;
  const std::size_t begin = r * base + (r < extra ? r : extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

std::vector<Range> weighted_block_ranges(const std::vector<double>& weights, int nranks) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<Range> ranges(static_cast<std::size_t>(nranks));
  std::size_t item = 0;
  double running = 0.0;
  for (int r = 0; r < nranks; ++r) {
    auto& range = ranges[static_cast<std::size_t>(r)];
    range.begin = item;
    const double goal = total * static_cast<double>(r + 1) / nranks;
    while (item < weights.size() && (r == nranks - 1 || running + 0.5 * weights[item] < goal)) {
      running += weights[item];
      ++item;
    }
    range.end = item;
  }
  return ranges;
}

}  // namespace perturbfit::parallel

#include "perturbfit/data/gene_selection.hpp"

#include <algorithm>
#include <numeric>

namespace perturbfit::data {

std::vector<char> most_variable_genes(const std::vector<double>& moments, double n, std::size_t k) {
  const std::size_t G = moments.size() / 2;
  std::vector<char> selected(G, 0);
  std::vector<std::size_t> order(G);
  std::iota(order.begin(), order.end(), 0);
  auto variance = [&](std::size_t j) { return moments[G + j] / n - (moments[j] / n) * (moments[j] / n); };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return variance(a) > variance(b); });
  order.resize(std::min(k, G));
  for (std::size_t j : order) selected[j] = 1;
  return selected;
}

std::vector<char> listed_genes(const std::vector<std::string>& genes, const std::set<std::string>& keep) {
  std::vector<char> selected(genes.size(), 0);
  for (std::size_t j = 0; j < genes.size(); ++j) selected[j] = keep.count(genes[j]) > 0;
  return selected;
}

std::size_t add_targets(const std::vector<std::string>& genes, const std::vector<Perturbation>& perturbations,
                        std::vector<char>& selected) {
  std::set<std::string> targets;
  for (const auto& p : perturbations) targets.insert(p.targets.begin(), p.targets.end());
  std::size_t added = 0;
  for (std::size_t j = 0; j < genes.size(); ++j)
    if (!selected[j] && targets.count(genes[j])) selected[j] = 1, ++added;
  return added;
}

void remap_columns(std::vector<std::int64_t>& indptr, std::vector<std::int32_t>& cols, std::vector<double>& values,
                   const std::vector<int>& map) {
  std::int64_t write = 0;
  for (std::size_t r = 0; r + 1 < indptr.size(); ++r) {
    const auto b = indptr[r], e = indptr[r + 1];
    indptr[r] = write;
    for (auto q = b; q < e; ++q) {
      const int j = map[static_cast<std::size_t>(cols[static_cast<std::size_t>(q)])];
      if (j < 0) continue;
      cols[static_cast<std::size_t>(write)] = j;
      values[static_cast<std::size_t>(write)] = values[static_cast<std::size_t>(q)];
      ++write;
    }
  }
  indptr.back() = write;
  cols.resize(static_cast<std::size_t>(write));
  values.resize(static_cast<std::size_t>(write));
  cols.shrink_to_fit();
  values.shrink_to_fit();
}

}  // namespace perturbfit::data

// Choosing the genes a fit sees (data.genes_file, data.top_variable, data.keep_targets) and
// dropping the others from a rank's rows: pure functions, so each is tested on its own.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "perturbfit/data/design.hpp"

namespace perturbfit::data {

// The k genes of largest variance of z = log1p(y / s): moments holds sum z per gene, then
// sum z^2 per gene, over n cells. Ties keep the lower gene index. All genes when k >= G.
std::vector<char> most_variable_genes(const std::vector<double>& moments, double n, std::size_t k);

// The genes of `genes` listed in `keep`.
std::vector<char> listed_genes(const std::vector<std::string>& genes, const std::set<std::string>& keep);

// Adds every gene that a perturbation targets (data.keep_targets); returns how many it added.
std::size_t add_targets(const std::vector<std::string>& genes, const std::vector<Perturbation>& perturbations,
                        std::vector<char>& selected);

// Column j of each row becomes map[j], or is dropped when map[j] < 0 (row-compressed
// storage, in place, rows in order).
void remap_columns(std::vector<std::int64_t>& indptr, std::vector<std::int32_t>& cols, std::vector<double>& values,
                   const std::vector<int>& map);

}  // namespace perturbfit::data

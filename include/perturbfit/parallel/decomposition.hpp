// How work is split over MPI ranks. Pure functions of (sizes, rank count): no MPI calls,
// so the decomposition can be unit-tested and every rank computes the same answer.
#pragma once
#include <cstddef>
#include <vector>

namespace perturbfit::parallel {

struct Range {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
  bool contains(std::size_t i) const { return i >= begin && i < end; }
};

// Contiguous blocks of n items, sizes differing by at most one.
Range block_range(std::size_t n, int nranks, int rank);

// Contiguous blocks of items balanced by weight (e.g. perturbation groups by cell count):
// block r ends at the first item where the running weight reaches (r+1)/nranks of the total.
std::vector<Range> weighted_block_ranges(const std::vector<double>& weights, int nranks);

}  // namespace perturbfit::parallel

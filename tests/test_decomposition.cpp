#include <gtest/gtest.h>

#include "perturbfit/parallel/decomposition.hpp"

using namespace perturbfit::parallel;

TEST(Decomposition, BlocksCoverEverythingOnce) {
  for (std::size_t n : {0u, 1u, 7u, 100u})
    for (int p : {1, 2, 3, 8}) {
      std::size_t next = 0;
      for (int r = 0; r < p; ++r) {
        const Range b = block_range(n, p, r);
        EXPECT_EQ(b.begin, next);
        EXPECT_LE(b.size(), n / static_cast<std::size_t>(p) + 1);
        next = b.end;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(Decomposition, WeightedBlocksBalanceAndCover) {
  std::vector<double> w{10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};  // one heavy group
  const auto r = weighted_block_ranges(w, 2);
  EXPECT_EQ(r[0].begin, 0u);
  EXPECT_EQ(r[0].end, r[1].begin);
  EXPECT_EQ(r[1].end, w.size());
  EXPECT_EQ(r[0].end, 1u);  // the heavy group alone is half the weight
}

#include <gtest/gtest.h>

#include <cmath>

#include "perturbfit/core/random.hpp"

using perturbfit::RandomStream;
using perturbfit::StreamDomain;

TEST(RandomStream, SameKeySameSequenceDifferentKeyDifferent) {
  RandomStream a(7, StreamDomain::kCellCounts, 42), b(7, StreamDomain::kCellCounts, 42),
      c(7, StreamDomain::kCellCounts, 43), d(8, StreamDomain::kCellCounts, 42);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
    EXPECT_NE(x, d.next_u64());
  }
}

namespace {
template <class F>
std::pair<double, double> moments(F draw, int n) {
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = draw();
    s += x, s2 += x * x;
  }
  const double m = s / n;
  return {m, s2 / n - m * m};
}
}  // namespace

TEST(RandomStream, DistributionsHaveTheirMoments) {
  const int n = 200000;
  RandomStream rs(1, StreamDomain::kNetwork, 0);
  auto [mu, var] = moments([&] { return rs.uniform(); }, n);
  EXPECT_NEAR(mu, 0.5, 0.005);
  EXPECT_NEAR(var, 1.0 / 12, 0.002);
  std::tie(mu, var) = moments([&] { return rs.normal(); }, n);
  EXPECT_NEAR(mu, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.015);
  for (double shape : {0.5, 3.0}) {
    std::tie(mu, var) = moments([&] { return rs.gamma(shape); }, n);
    EXPECT_NEAR(mu, shape, 0.02 * shape + 0.01);
    EXPECT_NEAR(var, shape, 0.05 * shape + 0.01);
  }
  for (double lambda : {0.3, 5.0, 40.0, 1000.0}) {  // both the inversion and the PTRS branch
    std::tie(mu, var) = moments([&] { return static_cast<double>(rs.poisson(lambda)); }, n);
    EXPECT_NEAR(mu, lambda, 0.01 * lambda + 0.01) << lambda;
    EXPECT_NEAR(var, lambda, 0.03 * lambda + 0.01) << lambda;
  }
  // negative binomial: variance mu + mu^2 / size
  std::tie(mu, var) = moments([&] { return static_cast<double>(rs.negative_binomial(20.0, 4.0)); }, n);
  EXPECT_NEAR(mu, 20.0, 0.3);
  EXPECT_NEAR(var, 20.0 + 400.0 / 4.0, 3.0);
}

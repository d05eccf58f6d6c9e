// The genetic-interaction classes on pairs built from their singles with known coefficients.
#include <gtest/gtest.h>

#include <cmath>

#include "perturbfit/analysis/interactions.hpp"

using perturbfit::analysis::classify_interaction;

namespace {
// Two orthogonal singles of equal size over 6 genes, and a direction orthogonal to both.
const std::vector<double> kA{1, 0.5, 0, 0, 0, 0}, kB{0, 0, 1, -0.5, 0, 0}, kNew{0, 0, 0, 0, 1, 1};

std::vector<double> combine(double ca, double cb, double cn = 0) {
  std::vector<double> out(kA.size());
  for (std::size_t g = 0; g < out.size(); ++g) out[g] = ca * kA[g] + cb * kB[g] + cn * kNew[g];
  return out;
}
}  // namespace

TEST(Interactions, AdditivePairHasZeroScoreAndUnitCoefficients) {
  const auto i = classify_interaction(kA, kB, combine(1, 1));
  EXPECT_NEAR(i.score, 0.0, 1e-15);
  EXPECT_NEAR(i.c_a, 1.0, 1e-12);
  EXPECT_NEAR(i.c_b, 1.0, 1e-12);
  EXPECT_NEAR(i.fit_r2, 1.0, 1e-12);
  EXPECT_EQ(i.kind, "additive");
}

TEST(Interactions, ClassesFollowTheCoefficients) {
  EXPECT_EQ(classify_interaction(kA, kB, combine(2, 2)).kind, "synergy");
  EXPECT_EQ(classify_interaction(kA, kB, combine(0.6, 0.6)).kind, "buffering");
  EXPECT_EQ(classify_interaction(kA, kB, combine(0.3, 0.3)).kind, "suppression");
  const auto d = classify_interaction(kA, kB, combine(0.1, 1.0));
  EXPECT_EQ(d.kind, "dominance");
  EXPECT_EQ(d.dominant, 1);
  EXPECT_EQ(classify_interaction(kA, kB, combine(0.2, 0.2, 1.0)).kind, "neomorphic");
}

TEST(Interactions, ScoreIsTheRmsDeviationFromAdditive) {
  const auto i = classify_interaction(kA, kB, combine(2, 1));
  double sq = 0;
  for (double a : kA) sq += a * a;  // the deviation is one more kA
  EXPECT_NEAR(i.score, std::sqrt(sq / 6.0), 1e-14);
  EXPECT_NEAR(i.magnitude, 1.5, 1e-12);
}

TEST(Interactions, SinglesWithoutEffectAreAdditive) {
  const std::vector<double> zero(6, 0.0);
  const auto i = classify_interaction(zero, zero, kNew);
  EXPECT_EQ(i.kind, "additive");
  EXPECT_GT(i.score, 0.0);
}

TEST(Interactions, MismatchedLengthsThrow) {
  EXPECT_THROW(classify_interaction(kA, kB, {1.0}), std::invalid_argument);
}
